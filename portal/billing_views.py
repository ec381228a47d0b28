"""The patient's invoices in the portal: the list, one invoice with its payments, and the receipt PDF.

Every page shows only the logged-in patient's own invoices (``invoices_for_user``); an invoice of anybody else
is a 404, so the address does not even reveal that it exists. Staff who may see invoices
(``billing.view_invoice``) can download any receipt too. Paying goes through ``billing:pay``.
"""

from allauth.account.decorators import verified_email_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from booking.billing import providers
from booking.billing.models import (
    BillingSettings,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from booking.billing.receipts import clinic_zone, receipt_response
from booking.billing.selectors import invoices_for_user

STAFF_PERMISSION = "billing.view_invoice"
INVOICES_PER_PAGE = 20


def _local(moment, zone):
    return timezone.localtime(moment, zone) if moment else None


@verified_email_required
@require_GET
def invoices(request):
    """The patient's invoices, newest first, the ones still to pay marked (three queries whatever the length)."""
    page = Paginator(invoices_for_user(request.user), INVOICES_PER_PAGE).get_page(request.GET.get("p"))
    zone = clinic_zone()
    rows = [{"invoice": invoice, "local_issued_at": _local(invoice.issued_at, zone)} for invoice in page.object_list]
    return render(request, "portal/invoices.html", {"page": page, "rows": rows})


@never_cache
@verified_email_required
@require_GET
def invoice_detail(request, reference):
    """One of the patient's invoices: its sessions, totals, payments and refunds, and how to pay what is owed."""
    lines = InvoiceLine.objects.select_related("appointment__professional", "appointment__service")
    visible_payments = Payment.objects.filter(status__in=[PaymentStatus.SUCCEEDED, PaymentStatus.PENDING])
    refunds = Refund.objects.exclude(status=RefundStatus.FAILED)
    queryset = invoices_for_user(request.user).prefetch_related(
        Prefetch("lines", queryset=lines),
        Prefetch("payments", queryset=visible_payments.prefetch_related(Prefetch("refunds", queryset=refunds))),
        "coupon_redemptions__coupon",
    )
    invoice = get_object_or_404(queryset, reference=reference)
    zone = clinic_zone()
    payments = list(invoice.payments.all())
    context = {
        "invoice": invoice,
        "local_issued_at": _local(invoice.issued_at, zone),
        "lines": [
            {
                "line": line,
                "appointment": line.appointment,
                "local_start": _local(line.appointment.start, zone) if line.appointment else None,
            }
            for line in invoice.lines.all()
        ],
        "coupon_codes": [redemption.coupon.code for redemption in invoice.coupon_redemptions.all()],
        "payments": [
            {"payment": payment, "local_at": _local(payment.received_at or payment.created_at, zone)}
            for payment in payments
            if payment.status == PaymentStatus.SUCCEEDED
        ],
        "payment_in_progress": any(payment.status == PaymentStatus.PENDING for payment in payments),
        "refunds": [
            {"refund": refund, "payment": payment, "local_at": _local(refund.completed_at or refund.created_at, zone)}
            for payment in payments
            for refund in payment.refunds.all()
        ],
        "can_pay_online": invoice.is_payable and providers.online_payment_available(),
        "transfer_instructions": BillingSettings.for_request(request).transfer_instructions,
        "has_receipt": invoice.status != InvoiceStatus.DRAFT,
    }
    return render(request, "portal/invoice_detail.html", context)


@verified_email_required
@require_GET
def invoice_receipt(request, reference):
    """The receipt PDF, for the invoice's patient or staff who may see invoices; anyone else gets a 404."""
    invoice = Invoice.objects.select_related("series", "patient").filter(reference=reference).first()
    if invoice is None or invoice.status == InvoiceStatus.DRAFT:
        raise Http404
    is_owner = invoice.patient is not None and invoice.patient.user_id == request.user.pk
    if not (is_owner or request.user.has_perm(STAFF_PERMISSION)):
        raise Http404
    return receipt_response(invoice)
