"""Pack purchases in the Wagtail admin: the list, and the detail with balances, ledger, sessions and adjustment.

Purchases are never added or edited through a generic form: they are made by the sale (billing) and changed only
by ``booking.packs.services``. The actions here, "adjust credits" (``adjust_credits``) and "book a session from
this pack" (``book_from_pack``), run with ``actor=request.user``; a refusal (``PackError``, ``BookingError``) or a
mistyped form comes back as a message, never a 500.

==========================  ==============================
see the list and detail      ``packs.view_packagepurchase``
adjust credits               ``packs.add_packcreditentry``
book a session from a pack   the above and ``scheduling.add_appointment``
use a pack, cancel a pack    see ``booking.packs.admin_sales``
==========================  ==============================
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse, reverse_lazy
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.generic import View
from wagtail.admin.menu import MenuItem
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.viewsets.base import ViewSet

from booking.billing.models import Payment
from booking.scheduling.admin_views import ADD_PERMISSION as BOOK_PERMISSION
from booking.scheduling.admin_views import add_booking_error
from booking.scheduling.errors import BookingError
from booking.scheduling.models import Appointment, AppointmentSource, Service

from . import services
from .admin_forms import AdjustCreditsForm, BookFromPackForm
from .errors import PackError
from .models import LIVE_STATUSES, PackagePurchase, PackCreditEntry, PurchaseStatus
from .selectors import balances, balances_for_purchases

VIEW_PERMISSION = "packs.view_packagepurchase"
ADJUST_PERMISSION = services.ADJUST_PERMISSION

STATUS_BADGES = {
    PurchaseStatus.PENDING_PAYMENT: "w-status--label",
    PurchaseStatus.ACTIVE: "w-status--primary",
    PurchaseStatus.EXHAUSTED: "",
    PurchaseStatus.EXPIRED: "w-status--label",
    PurchaseStatus.CANCELLED: "w-status--label",
}


class PurchaseAdminView(WagtailAdminTemplateMixin, View):
    header_icon = "list-ul"
    permission_required = VIEW_PERMISSION

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm(self.permission_required):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_breadcrumbs_items(self):
        return [
            *self.breadcrumbs_items,
            {"url": reverse("packs_purchases:index"), "label": gettext("Pack purchases")},
            {"url": "", "label": self.get_page_title()},
        ]


class PurchaseFilterForm(forms.Form):
    q = forms.CharField(label=_("Patient or reference"), required=False, max_length=200)
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status")), *PurchaseStatus.choices]
    )

    def filter(self, purchases):
        query = (self.cleaned_data.get("q") or "").strip()
        if query:
            purchases = purchases.filter(
                Q(reference__iexact=query)
                | Q(patient__user__email__icontains=query)
                | Q(patient__user__first_name__icontains=query)
                | Q(patient__user__last_name__icontains=query)
            )
        if self.cleaned_data.get("status"):
            purchases = purchases.filter(status=self.cleaned_data["status"])
        return purchases


class PurchaseIndexView(PurchaseAdminView):
    template_name = "packs/admin/purchase_index.html"
    page_title = _("Pack purchases")
    per_page = 50

    def get_breadcrumbs_items(self):
        return [*self.breadcrumbs_items, {"url": "", "label": self.get_page_title()}]

    def get(self, request):
        filter_form = PurchaseFilterForm(request.GET)
        purchases = PackagePurchase.objects.none()
        if filter_form.is_valid():
            purchases = filter_form.filter(PackagePurchase.objects.select_related("patient__user"))
        page = Paginator(purchases.order_by("-purchased_at", "-pk"), self.per_page).get_page(request.GET.get("p"))
        page_balances = balances_for_purchases(page.object_list)
        rows = [
            {
                "purchase": purchase,
                "balances": page_balances[purchase.pk],
                "badge": STATUS_BADGES.get(purchase.status, ""),
                "local_expires_at": timezone.localtime(purchase.expires_at),
            }
            for purchase in page.object_list
        ]
        query = request.GET.copy()
        query.pop("p", None)
        context = self.get_context_data(filter_form=filter_form, page=page, rows=rows, query_string=query.urlencode())
        return self.render_to_response(context)


class PurchaseDetailView(PurchaseAdminView):
    """The purchase with its balances, the ledger, its sessions and, for those allowed, the adjustment form."""

    template_name = "packs/admin/purchase_detail.html"

    @cached_property
    def purchase(self) -> PackagePurchase:
        entries = PackCreditEntry.objects.select_related("service", "actor", "appointment").order_by("at", "pk")
        sessions = Appointment.objects.select_related("service", "professional").order_by("start")
        queryset = PackagePurchase.objects.select_related(
            "patient__user", "created_by", "invoice_line__invoice__series"
        ).prefetch_related(
            Prefetch("credit_entries", queryset=entries),
            Prefetch("appointments", queryset=sessions),
            Prefetch("invoice_line__invoice__payments", queryset=Payment.objects.order_by("pk")),
        )
        return get_object_or_404(queryset, reference=self.kwargs["reference"])

    def get_page_title(self):
        return gettext("Pack %(reference)s") % {"reference": self.purchase.reference}

    def get(self, request, reference):
        return self.render_detail()

    def can_adjust(self) -> bool:
        return self.request.user.has_perm(ADJUST_PERMISSION) and self.purchase.status in LIVE_STATUSES

    def render_detail(self, *, adjust_form=None):
        purchase = self.purchase
        current = balances(purchase)
        context = self.get_context_data(
            purchase=purchase,
            badge=STATUS_BADGES.get(purchase.status, ""),
            balances=current,
            local_purchased_at=timezone.localtime(purchase.purchased_at),
            local_expires_at=timezone.localtime(purchase.expires_at),
            entries=[
                {"entry": entry, "local_at": timezone.localtime(entry.at)} for entry in purchase.credit_entries.all()
            ],
            sessions=[
                {"appointment": appointment, "local_start": timezone.localtime(appointment.start)}
                for appointment in purchase.appointments.all()
            ],
            invoice=purchase.invoice_line.invoice if purchase.invoice_line else None,
            adjust_form=adjust_form or AdjustCreditsForm(prefix="adjust", balances=current),
            show_adjust=self.can_adjust(),
            **purchase_actions(self.request, purchase),
        )
        return self.render_to_response(context)


def purchase_actions(request, purchase: PackagePurchase) -> dict:
    """The detail page's actions area and money (booking.packs.admin_sales): "Cancel pack", the payment link of a
    pack waiting for its online payment, and the invoice's payments (prefetched)."""
    invoice = purchase.invoice_line.invoice if purchase.invoice_line else None
    return {
        "can_cancel": purchase.status not in (PurchaseStatus.CANCELLED, PurchaseStatus.EXPIRED)
        and services.may_cancel_for_clinic(request.user),
        "payment_link": (
            payment_link(request, purchase)
            if purchase.status == PurchaseStatus.PENDING_PAYMENT and invoice is not None and invoice.is_payable
            else ""
        ),
        "payments": [
            {"payment": payment, "local_at": timezone.localtime(payment.received_at or payment.created_at)}
            for payment in (invoice.payments.all() if invoice is not None else ())
        ],
    }


def payment_link(request, purchase: PackagePurchase) -> str:
    """Where the patient pays the pack online: their invoice in the portal, whose "Pay" button opens the checkout
    (no checkout is opened before they come, so the link does not lapse while it waits in their inbox)."""
    return request.build_absolute_uri(reverse("portal:invoice_detail", args=[purchase.invoice_line.invoice.reference]))


class PurchaseAdjustView(PurchaseDetailView):
    """POST only: one staff adjustment through ``services.adjust_credits``, then back to the detail (PRG)."""

    http_method_names = ["post"]
    permission_required = ADJUST_PERMISSION

    def post(self, request, reference):
        form = AdjustCreditsForm(request.POST, prefix="adjust", balances=balances(self.purchase))
        if not form.is_valid():
            messages.error(request, gettext("Nothing was changed: please correct the form below."))
            return self.render_detail(adjust_form=form)
        service_id = form.service_id
        try:
            services.adjust_credits(
                purchase=self.purchase,
                service=Service.objects.get(pk=service_id) if service_id is not None else None,
                quantity=form.cleaned_data["quantity"],
                reason=form.cleaned_data["reason"],
                actor=request.user,
            )
        except PackError as error:
            messages.error(request, error.message)
            self.__dict__.pop("purchase", None)  # show the purchase as it is now
            return self.render_detail(adjust_form=form)
        messages.success(request, gettext("The pack's sessions were adjusted."))
        return HttpResponseRedirect(reverse("packs_purchases:detail", args=[reference]))


class PurchaseBookView(PurchaseAdminView):
    """ "Book a session from this pack": one session for the purchase's patient through ``book_from_pack``.

    Needs both seeing purchases and booking appointments. A refusal (``BookingError`` from scheduling, ``PackError``
    from the pack: expired, exhausted, a service or professional it does not cover) comes back on the form and
    nothing is written (``book_from_pack`` is one transaction). Success goes back to the purchase, where the next
    session can be booked.
    """

    template_name = "packs/admin/purchase_book.html"
    header_icon = "date"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm(BOOK_PERMISSION):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    @cached_property
    def purchase(self) -> PackagePurchase:
        return get_object_or_404(
            PackagePurchase.objects.select_related("patient__user"), reference=self.kwargs["reference"]
        )

    def get_page_title(self):
        return gettext("Book a session from pack %(reference)s") % {"reference": self.purchase.reference}

    def get_breadcrumbs_items(self):
        return [
            *self.breadcrumbs_items,
            {"url": reverse("packs_purchases:index"), "label": gettext("Pack purchases")},
            {
                "url": reverse("packs_purchases:detail", args=[self.purchase.reference]),
                "label": gettext("Pack %(reference)s") % {"reference": self.purchase.reference},
            },
            {"url": "", "label": gettext("Book a session")},
        ]

    def get(self, request, reference):
        return self.render_form(BookFromPackForm(purchase=self.purchase))

    def post(self, request, reference):
        purchase = self.purchase
        form = BookFromPackForm(request.POST, purchase=purchase)
        if form.is_valid():
            data = form.cleaned_data
            location = data.get("location")
            try:
                appointment = services.book_from_pack(
                    purchase=purchase,
                    professional=data["professional"],
                    service=data["service"],
                    start=form.start(),
                    location=location,
                    modality="in_person" if location else "online",
                    source=AppointmentSource.ADMIN,
                    actor=request.user,
                    note=data["note"],
                    staff_override_reason=data["staff_override_reason"] or None,
                )
            except BookingError as error:
                add_booking_error(form, error)
            except PackError as error:
                form.add_error(None, error.message)
            else:
                messages.success(
                    request,
                    gettext("Appointment %(reference)s booked from the pack.") % {"reference": appointment.reference},
                )
                return HttpResponseRedirect(reverse("packs_purchases:detail", args=[reference]))
        return self.render_form(form)

    def render_form(self, form):
        purchase = self.purchase
        current = balances(purchase)
        now = timezone.now()
        context = self.get_context_data(
            form=form,
            purchase=purchase,
            balances=current,
            local_expires_at=timezone.localtime(purchase.expires_at),
            usable=purchase.status in LIVE_STATUSES and not purchase.has_expired(now) and current.remaining > 0,
        )
        return self.render_to_response(context)


class PurchaseMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm(VIEW_PERMISSION)


class PurchaseViewSet(ViewSet):
    """The purchase screens, under the "Packs" menu (see ``PacksViewSetGroup``)."""

    name = "packs_purchases"
    url_prefix = "packs/purchases"
    icon = "list-ul"
    menu_label = _("Purchases")
    menu_name = "pack_purchases"
    menu_url = reverse_lazy("packs_purchases:index")
    menu_item_class = PurchaseMenuItem

    def get_urlpatterns(self):
        from .admin_sales import CancelPackView, UsePackView  # admin_sales builds on this module's base view

        return [
            path("", PurchaseIndexView.as_view(), name="index"),
            path("use/", UsePackView.as_view(), name="use"),
            path("<str:reference>/cancel/", CancelPackView.as_view(), name="cancel"),
            path("<str:reference>/", PurchaseDetailView.as_view(), name="detail"),
            path("<str:reference>/adjust/", PurchaseAdjustView.as_view(), name="adjust"),
            path("<str:reference>/book/", PurchaseBookView.as_view(), name="book"),
        ]
