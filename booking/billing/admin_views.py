"""Invoices in the Wagtail admin: the list, the detail with payments, refunds and history, the actions, receipts.

These are thin views over ``booking.billing.services``: each action calls one service with ``actor=request.user``
so the same rules and the same history apply as for the patient's own payments. A refused action
(``PaymentError``) or a mistyped form comes back as a message on the page, never a 500, and nothing is half
written. Invoices are never added or edited through a generic form.

Permissions are Django's model permissions, each action its own:

==========================  =========================
see the list and detail      ``billing.view_invoice``
record an offline payment    ``billing.add_payment``
refund                       ``billing.add_refund``
void, record the tax folio,  ``billing.change_invoice``
send the receipt again
==========================  =========================

The detail's stable URL is ``reverse("billing_invoices:detail", args=[invoice.reference])``.
"""

import datetime
from collections import defaultdict
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.paginator import Paginator
from django.db.models import F, Prefetch, Sum, Value
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse, reverse_lazy
from django.utils import timezone, translation
from django.utils.functional import cached_property
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.generic import View
from wagtail.admin.menu import MenuItem
from wagtail.admin.ui.components import Component
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.viewsets.base import ViewSet

from booking.scheduling.money import format_money

from . import receipts, services
from .admin_forms import (
    InvoiceFilterForm,
    RecordPaymentForm,
    RefundForm,
    TaxDocumentForm,
    VoidInvoiceForm,
    clinic_day_bounds,
    clinic_today,
    clinic_zone,
)
from .errors import PaymentError
from .models import (
    Invoice,
    InvoiceEvent,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundStatus,
    TaxDocumentType,
)

VIEW_PERMISSION = "billing.view_invoice"
CHANGE_PERMISSION = "billing.change_invoice"
PAYMENT_PERMISSION = "billing.add_payment"
REFUND_PERMISSION = "billing.add_refund"

STATUS_BADGES = {
    InvoiceStatus.DRAFT: "w-status--label",
    InvoiceStatus.OPEN: "w-status--primary",
    InvoiceStatus.PAID: "",
    InvoiceStatus.PARTIALLY_REFUNDED: "w-status--label",
    InvoiceStatus.REFUNDED: "w-status--label",
    InvoiceStatus.VOID: "w-status--label",
}
UNISSUED = (InvoiceStatus.DRAFT, InvoiceStatus.VOID)


class InvoiceAdminView(PermissionRequiredMixin, WagtailAdminTemplateMixin, View):
    # A 403 for a signed-in user without the permission, as Wagtail's own views answer; Wagtail's admin URLs have
    # already sent anonymous visitors to the admin login, so Django's redirect to LOGIN_URL is never wanted here.
    raise_exception = True
    permission_required = VIEW_PERMISSION
    header_icon = "doc-full-inverse"

    def get_breadcrumbs_items(self):
        return [
            *self.breadcrumbs_items,
            {"url": reverse("billing_invoices:index"), "label": gettext("Invoices")},
            {"url": "", "label": self.get_page_title()},
        ]


# --- The list ----------------------------------------------------------------------------------------------


def list_queryset():
    """Everything a row shows: the series for the number, the succeeded payments for the methods."""
    succeeded = Payment.objects.filter(status=PaymentStatus.SUCCEEDED).only("pk", "invoice_id", "method")
    return Invoice.objects.select_related("series").prefetch_related(
        Prefetch("payments", queryset=succeeded, to_attr="succeeded_payments")
    )


def invoice_rows(invoices):
    zone = clinic_zone()
    rows = []
    for invoice in invoices:
        methods = {payment.get_method_display(): None for payment in invoice.succeeded_payments}
        rows.append(
            {
                "invoice": invoice,
                "local_issued_at": local_time(invoice.issued_at, zone),
                "methods": ", ".join(methods),
                "badge": STATUS_BADGES.get(invoice.status, ""),
            }
        )
    return rows


class InvoiceIndexView(InvoiceAdminView):
    template_name = "billing/admin/invoice_index.html"
    page_title = _("Invoices")
    per_page = 50

    def get_breadcrumbs_items(self):
        return [*self.breadcrumbs_items, {"url": "", "label": self.get_page_title()}]

    def get(self, request):
        filter_form = InvoiceFilterForm(request.GET)
        invoices = Invoice.objects.none()
        if filter_form.is_valid():
            invoices = filter_form.filter(list_queryset()).order_by("-created_at", "-pk")
        page = Paginator(invoices, self.per_page).get_page(request.GET.get("p"))
        query = request.GET.copy()
        query.pop("p", None)
        context = self.get_context_data(
            filter_form=filter_form,
            page=page,
            rows=invoice_rows(page.object_list),
            query_string=query.urlencode(),
        )
        return self.render_to_response(context)


# --- The detail and its actions ----------------------------------------------------------------------------


def detail_queryset():
    lines = InvoiceLine.objects.select_related(
        "service", "appointment__professional", "appointment__service", "appointment__location"
    )
    refunds = Refund.objects.select_related("actor").order_by("created_at", "pk")
    payments = Payment.objects.select_related("recorded_by").prefetch_related(Prefetch("refunds", queryset=refunds))
    events = InvoiceEvent.objects.select_related("actor").order_by("at", "pk")
    return Invoice.objects.select_related("series", "patient__user", "created_by").prefetch_related(
        Prefetch("lines", queryset=lines),
        Prefetch("payments", queryset=payments),
        Prefetch("events", queryset=events),
        "coupon_redemptions__coupon",
    )


def local_time(moment, zone):
    return timezone.localtime(moment, zone) if moment else None


def succeeded_payments(invoice: Invoice) -> list[Payment]:
    """From the prefetched payments (with their refunds), the ones that can be refunded from."""
    return [payment for payment in invoice.payments.all() if payment.status == PaymentStatus.SUCCEEDED]


# The details an invoice's history entries record (``services._log``), in the order they are listed; keys not
# named here follow, alphabetically, under their own name.
EVENT_DETAIL_LABELS = {
    "appointment": _("Appointment"),
    "number": _("Number"),
    "code": _("Discount code"),
    "discount": _("Discount"),
    "total": _("Total"),
    "payment": _("Payment"),
    "refund": _("Refund"),
    "method": _("Method"),
    "amount": _("Amount"),
    "external_reference": _("Reference"),
    "session": _("Online payment session"),
    "previous_type": _("Previous tax document"),
    "previous_folio": _("Previous folio"),
    "type": _("Tax document"),
    "folio": _("Folio"),
    "to": _("Sent to"),
    "language": _("Language"),
}
EVENT_DETAIL_ORDER = {key: position for position, key in enumerate(EVENT_DETAIL_LABELS)}
MONEY_DETAILS = ("discount", "total", "amount")


def language_name(code: str) -> str:
    """``es`` or ``es-cl`` → "Spanish", translated; a code the site does not offer as it is."""
    if not code:
        return "—"
    try:
        variant = translation.get_supported_language_variant(code)
    except LookupError:
        return code
    return str(dict(settings.LANGUAGES).get(variant, code))


def _payment_text(payment: Payment) -> str:
    return f"{payment.get_method_display()} · {format_money(payment.amount, payment.currency)}"


def _event_detail_value(key: str, value, invoice: Invoice, payments: dict, refunds: dict) -> str:
    """One recorded detail as staff read it: money formatted, choices by their label, payments by method and amount.

    Payments and refunds come from the invoice's prefetched rows, so a long history costs no query."""
    if value is None or value == "":
        return "—"
    if key in MONEY_DETAILS:
        return format_money(value, invoice.currency) or str(value)
    if key == "method":
        return str(dict(PaymentMethod.choices).get(value, value))
    if key in ("type", "previous_type"):
        return str(dict(TaxDocumentType.choices).get(value, value))
    if key == "language":
        return language_name(value)
    if key == "payment":
        payment = payments.get(value)
        return _payment_text(payment) if payment else gettext("(deleted #%(id)s)") % {"id": value}
    if key == "refund":
        if value not in refunds:
            return gettext("(deleted #%(id)s)") % {"id": value}
        refund, payment = refunds[value]
        return format_money(refund.amount, payment.currency)
    return str(value)


def event_details(event: InvoiceEvent, invoice: Invoice, payments: dict, refunds: dict) -> list[tuple[str, str]]:
    """The (label, value) pairs of one history entry, instead of its raw ``data`` (``amount: 35000.00``)."""
    data = event.data if isinstance(event.data, dict) else {}
    keys = sorted(data, key=lambda key: (EVENT_DETAIL_ORDER.get(key, len(EVENT_DETAIL_ORDER)), key))
    return [
        (str(EVENT_DETAIL_LABELS.get(key, key)), _event_detail_value(key, data[key], invoice, payments, refunds))
        for key in keys
    ]


class InvoiceDetailView(InvoiceAdminView):
    """The invoice with everything about it; its action forms post to ``InvoiceActionView``."""

    template_name = "billing/admin/invoice_detail.html"

    @cached_property
    def invoice(self) -> Invoice:
        return get_object_or_404(detail_queryset(), reference=self.kwargs["reference"])

    def get_page_title(self):
        return gettext("Invoice %(number)s") % {"number": self.invoice.display_number}

    def get(self, request, reference):
        return self.render_detail()

    def render_detail(self, *, bound_forms=None):
        """The page; ``bound_forms`` replaces an action's empty form with the one that failed, errors and all."""
        request, invoice = self.request, self.invoice
        user = request.user
        zone = clinic_zone()
        payments = list(invoice.payments.all())
        payments_by_id = {payment.pk: payment for payment in payments}
        refunds_by_id = {refund.pk: (refund, payment) for payment in payments for refund in payment.refunds.all()}
        forms = {
            "record_payment": RecordPaymentForm(prefix="payment", invoice=invoice),
            "refund": RefundForm(prefix="refund", payments=succeeded_payments(invoice)),
            "void": VoidInvoiceForm(prefix="void"),
            "tax_document": TaxDocumentForm(
                prefix="tax",
                initial={"document_type": invoice.tax_document_type, "folio": invoice.tax_document_folio},
            ),
        }
        forms.update(bound_forms or {})
        can_change = user.has_perm(CHANGE_PERMISSION)
        issued = invoice.status not in UNISSUED
        context = self.get_context_data(
            invoice=invoice,
            badge=STATUS_BADGES.get(invoice.status, ""),
            local_issued_at=local_time(invoice.issued_at, zone),
            local_paid_at=local_time(invoice.paid_at, zone),
            lines=[
                {
                    "line": line,
                    "appointment": line.appointment,
                    "local_start": local_time(line.appointment.start, zone) if line.appointment else None,
                }
                for line in invoice.lines.all()
            ],
            coupon_redemptions=list(invoice.coupon_redemptions.all()),
            payments=[
                {
                    "payment": payment,
                    "local_received_at": local_time(payment.received_at, zone),
                    "refunds": [
                        {"refund": refund, "local_at": timezone.localtime(refund.created_at, zone)}
                        for refund in payment.refunds.all()
                    ],
                }
                for payment in payments
            ],
            events=[
                {
                    "event": event,
                    "local_at": local_time(event.at, zone),
                    "data": event_details(event, invoice, payments_by_id, refunds_by_id),
                }
                for event in invoice.events.all()
            ],
            language_name=language_name(invoice.language),
            forms=forms,
            show_record_payment=user.has_perm(PAYMENT_PERMISSION) and invoice.is_payable,
            show_refund=user.has_perm(REFUND_PERMISSION) and forms["refund"].has_choices,
            show_void=can_change and invoice.status != InvoiceStatus.VOID and invoice.refundable_amount <= 0,
            show_tax_document=can_change and issued,
            show_send_receipt=can_change and issued and bool(invoice.billing_email),
            show_receipt=invoice.status != InvoiceStatus.DRAFT,
            appointment_url_name="clinic_appointments:detail",
        )
        return self.render_to_response(context)


class InvoiceActionView(InvoiceDetailView):
    """POST-only actions on one invoice, each checked against its own permission and done by one service.

    Success: a message and back to the detail (Post/Redirect/Get). A mistyped form or a refusal from the service:
    the detail page again, with the form as typed and the reason shown.
    """

    http_method_names = ["post"]
    permissions = {
        "record_payment": PAYMENT_PERMISSION,
        "refund": REFUND_PERMISSION,
        "void": CHANGE_PERMISSION,
        "tax_document": CHANGE_PERMISSION,
        "send_receipt": CHANGE_PERMISSION,
    }
    success_messages = {
        "record_payment": _("The payment was recorded."),
        "refund": _("The refund was recorded."),
        "void": _("The invoice was voided."),
        "tax_document": _("The tax document was recorded."),
        "send_receipt": _("The receipt was sent to %(email)s."),
    }

    def dispatch(self, request, *args, **kwargs):
        self.permission_required = self.permissions[kwargs["action"]]
        return super().dispatch(request, *args, **kwargs)

    def post(self, request, reference, action):
        form = self.bound_form(action)
        if form is not None and not form.is_valid():
            messages.error(request, gettext("Nothing was changed: please correct the form below."))
            return self.render_detail(bound_forms={action: form})
        try:
            self.perform(action, form)
        except PaymentError as error:
            messages.error(request, error.message)
            self.__dict__.pop("invoice", None)  # show the invoice as it is now, whatever the service did
            return self.render_detail(bound_forms={action: form} if form is not None else None)
        message = self.success_messages[action]
        if action == "send_receipt":
            message = message % {"email": self.invoice.billing_email}
        messages.success(request, message)
        return HttpResponseRedirect(reverse("billing_invoices:detail", args=[reference]))

    def bound_form(self, action):
        """The action's form filled with what was posted (None for actions without one)."""
        data = self.request.POST
        if action == "record_payment":
            return RecordPaymentForm(data, prefix="payment", invoice=self.invoice)
        if action == "refund":
            return RefundForm(data, prefix="refund", payments=succeeded_payments(self.invoice))
        if action == "void":
            return VoidInvoiceForm(data, prefix="void")
        if action == "tax_document":
            return TaxDocumentForm(data, prefix="tax")
        return None

    def perform(self, action, form) -> None:
        """Calls the one service behind ``action``; raises ``PaymentError`` when it refuses."""
        actor, invoice = self.request.user, self.invoice
        data = form.cleaned_data if form is not None else {}
        if action == "record_payment":
            services.record_offline_payment(
                invoice=invoice,
                method=data["method"],
                amount=data["amount"],
                external_reference=data["external_reference"],
                actor=actor,
            )
        elif action == "refund":
            services.refund_payment(
                payment=data["payment"], amount=form.refund_amount(), reason=data["reason"], actor=actor
            )
        elif action == "void":
            services.void_invoice(invoice=invoice, reason=data["reason"], actor=actor)
        elif action == "tax_document":
            services.record_tax_document(
                invoice=invoice, document_type=data["document_type"], folio=data["folio"], actor=actor
            )
        elif action == "send_receipt":
            receipts.send_receipt(invoice=invoice, actor=actor)
        else:  # the URL patterns only let the actions above through
            raise PaymentError("invalid_request")


class InvoiceReceiptView(PermissionRequiredMixin, View):
    raise_exception = True  # as InvoiceAdminView
    permission_required = VIEW_PERMISSION
    http_method_names = ["get"]

    def get(self, request, reference):
        invoice = get_object_or_404(Invoice.objects.select_related("series"), reference=reference)
        if invoice.status == InvoiceStatus.DRAFT:
            raise Http404
        return receipts.receipt_response(invoice)


class InvoiceMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm(VIEW_PERMISSION)


class InvoiceViewSet(ViewSet):
    """The invoice screens, under the "Billing" menu (see ``BillingViewSetGroup``)."""

    name = "billing_invoices"
    url_prefix = "billing/invoices"
    icon = "doc-full-inverse"
    menu_label = _("Invoices")
    menu_name = "invoices"
    menu_url = reverse_lazy("billing_invoices:index")
    menu_item_class = InvoiceMenuItem

    def get_urlpatterns(self):
        return [
            path("", InvoiceIndexView.as_view(), name="index"),
            path("<str:reference>/", InvoiceDetailView.as_view(), name="detail"),
            path("<str:reference>/receipt.pdf", InvoiceReceiptView.as_view(), name="receipt"),
            *(
                path(f"<str:reference>/{action}/", InvoiceActionView.as_view(), {"action": action}, name=action)
                for action in InvoiceActionView.permissions
            ),
        ]


# --- Dashboard -------------------------------------------------------------------------------------------


def todays_sales(now: datetime.datetime | None = None) -> dict:
    """Takings of the clinic's current day, per currency: payments received minus refunds completed.

    The day runs from midnight to midnight in the clinic's zone. Payments and refunds come from one query
    (a UNION of two grouped sums), the count of open invoices from a second.
    """
    start, end = clinic_day_bounds(clinic_today(now))
    received = (
        Payment.objects.filter(status=PaymentStatus.SUCCEEDED, received_at__gte=start, received_at__lt=end)
        .order_by()
        .values("currency")
        .annotate(total=Sum("amount"), sign=Value(1))
    )
    refunded = (
        Refund.objects.filter(status=RefundStatus.SUCCEEDED, completed_at__gte=start, completed_at__lt=end)
        .order_by()
        .values(currency=F("payment__currency"))
        .annotate(total=Sum("amount"), sign=Value(-1))
    )
    sums = defaultdict(lambda: {"received": Decimal(0), "refunded": Decimal(0)})
    for row in received.union(refunded, all=True):
        sums[row["currency"]]["received" if row["sign"] > 0 else "refunded"] += Decimal(row["total"])
    totals = [
        {"currency": currency, **amounts, "net": amounts["received"] - amounts["refunded"]}
        for currency, amounts in sorted(sums.items())
    ]
    return {
        "day": start.date(),
        "totals": totals,
        "open_invoices": Invoice.objects.filter(status=InvoiceStatus.OPEN).count(),
    }


class TodaysSalesPanel(Component):
    """The dashboard's "Today's sales" panel, for staff who may see invoices."""

    name = "todays_sales"
    template_name = "billing/admin/todays_sales_panel.html"
    order = 90

    def __init__(self, request):
        self.request = request

    def get_context_data(self, parent_context):
        context = super().get_context_data(parent_context)
        context.update(todays_sales())
        context["open_invoices_url"] = reverse("billing_invoices:index") + f"?status={InvoiceStatus.OPEN}"
        return context
