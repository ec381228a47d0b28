"""Receipts: an invoice as a PDF in the patient's language, and the email that carries it.

The PDF is rendered by WeasyPrint from ``templates/billing/receipt.html``. The stylesheet is inline and the
template names no remote font or image, so rendering never touches the network. Everything a receipt prints
(the clinic's legal details, the lines with their sessions, discounts, payments and refunds) is loaded in a
fixed number of queries, in the invoice's own language (``invoice.language``) and the clinic's time zone.
"""

from __future__ import annotations

import datetime
import zoneinfo
from dataclasses import dataclass

from anymail.exceptions import AnymailError
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Prefetch
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from wagtail.models import Site

from website.models import SiteSettings

from .errors import PaymentError
from .models import (
    BillingSettings,
    Invoice,
    InvoiceEvent,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)

PDF_CONTENT_TYPE = "application/pdf"
UNSENDABLE_STATUSES = (InvoiceStatus.DRAFT, InvoiceStatus.VOID)


@dataclass(frozen=True)
class ClinicDetails:
    """What the receipt's header says about the clinic (the seller)."""

    name: str
    legal_name: str
    tax_id: str
    business_activity: str
    address: str
    email: str
    phone: str
    footer: str


def clinic_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def receipt_language(invoice: Invoice, language: str | None = None) -> str:
    """The site language closest to ``language`` (or the invoice's): ``es`` becomes ``es-cl``; unknown: the default."""
    wanted = language or invoice.language or settings.LANGUAGE_CODE
    try:
        return translation.get_supported_language_variant(wanted)
    except LookupError:
        return settings.LANGUAGE_CODE


def clinic_details(site: Site | None = None) -> ClinicDetails:
    """The seller's details from the billing and clinic settings of ``site`` (the default site if not given)."""
    site = site or Site.objects.filter(is_default_site=True).first()
    billing = BillingSettings.for_site(site) if site else BillingSettings()
    clinic = SiteSettings.for_site(site) if site else SiteSettings()
    name = clinic.display_name
    return ClinicDetails(
        name=name,
        legal_name=billing.legal_name or name,
        tax_id=billing.tax_id,
        business_activity=billing.business_activity,
        address=billing.address or clinic.address,
        email=clinic.email,
        phone=clinic.phone,
        footer=billing.receipt_footer,
    )


def receipt_invoice(invoice: Invoice) -> Invoice:
    """The invoice again, with everything the receipt prints loaded up front (a fixed number of queries)."""
    lines = InvoiceLine.objects.select_related(
        "service", "appointment__professional", "appointment__location", "appointment__service"
    )
    refunds = Refund.objects.exclude(status=RefundStatus.FAILED)
    payments = Payment.objects.filter(status=PaymentStatus.SUCCEEDED).prefetch_related(
        Prefetch("refunds", queryset=refunds, to_attr="receipt_refunds")
    )
    return (
        Invoice.objects.select_related("series", "patient")
        .prefetch_related(
            Prefetch("lines", queryset=lines),
            Prefetch("payments", queryset=payments, to_attr="receipt_payments"),
            "coupon_redemptions__coupon",
        )
        .get(pk=invoice.pk)
    )


def _local(moment: datetime.datetime | None, zone) -> datetime.datetime | None:
    return timezone.localtime(moment, zone) if moment else None


def receipt_context(invoice: Invoice, *, site: Site | None = None) -> dict:
    zone = clinic_zone()
    invoice = receipt_invoice(invoice)
    lines = [
        {
            "line": line,
            "appointment": line.appointment,
            "local_start": _local(line.appointment.start, zone) if line.appointment else None,
        }
        for line in invoice.lines.all()
    ]
    payments = [
        {"payment": payment, "local_received_at": _local(payment.received_at or payment.created_at, zone)}
        for payment in invoice.receipt_payments
    ]
    refunds = [
        {"refund": refund, "payment": payment, "local_at": _local(refund.completed_at or refund.created_at, zone)}
        for payment in invoice.receipt_payments
        for refund in payment.receipt_refunds
    ]
    is_paid = invoice.status in (InvoiceStatus.PAID, InvoiceStatus.PARTIALLY_REFUNDED, InvoiceStatus.REFUNDED)
    return {
        "invoice": invoice,
        "clinic": clinic_details(site),
        "title": _("Receipt") if is_paid else _("Invoice"),
        "lines": lines,
        "coupon_codes": [redemption.coupon.code for redemption in invoice.coupon_redemptions.all()],
        "payments": payments,
        "refunds": refunds,
        "local_issued_at": _local(invoice.issued_at, zone),
        "is_void": invoice.status == InvoiceStatus.VOID,
    }


def receipt_html(invoice: Invoice, *, language: str | None = None, site: Site | None = None) -> str:
    """The receipt as HTML, the very document the PDF is printed from (handy for tests and previews)."""
    with translation.override(receipt_language(invoice, language)), timezone.override(clinic_zone()):
        return render_to_string("billing/receipt.html", receipt_context(invoice, site=site))


def render_receipt_pdf(invoice: Invoice, *, language: str | None = None, site: Site | None = None) -> bytes:
    """The receipt as PDF bytes. WeasyPrint is imported here so that importing this module stays cheap."""
    from weasyprint import HTML

    html = receipt_html(invoice, language=language, site=site)
    return HTML(string=html, base_url=str(settings.BASE_DIR)).write_pdf()


def receipt_filename(invoice: Invoice) -> str:
    return f"{invoice.display_number}.pdf"


def receipt_response(invoice: Invoice) -> HttpResponse:
    """The receipt as a PDF download (for the admin and the portal; each checks who may have it)."""
    response = HttpResponse(render_receipt_pdf(invoice), content_type=PDF_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{receipt_filename(invoice)}"'
    response["Cache-Control"] = "private, no-store"
    return response


def send_receipt(*, invoice: Invoice, actor, now: datetime.datetime | None = None) -> InvoiceEvent:
    """Email the receipt (PDF attached) to the invoice's billing address and record it in the invoice's history.

    The email goes out before the history row is written, so the history never claims a receipt that was not
    sent; a mail server that refuses it is a ``PaymentError`` for the caller to show.
    """
    now = now or timezone.now()
    if not invoice.billing_email:
        raise PaymentError("invalid_request", _("This invoice has no email address to send the receipt to."))
    if invoice.status in UNSENDABLE_STATUSES or invoice.number is None:
        raise PaymentError("invalid_state")

    language = receipt_language(invoice)
    pdf = render_receipt_pdf(invoice, language=language)
    clinic = clinic_details()
    with translation.override(language):
        context = {"invoice": invoice, "clinic": clinic}
        subject = gettext("%(clinic)s: receipt %(number)s") % {
            "clinic": clinic.name,
            "number": invoice.display_number,
        }
        text_body = render_to_string("billing/email/receipt.txt", context)
        html_body = render_to_string("billing/email/receipt.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text_body,
        to=[invoice.billing_email],
        reply_to=[clinic.email] if clinic.email else None,
    )
    message.attach_alternative(html_body, "text/html")
    message.attach(receipt_filename(invoice), pdf, PDF_CONTENT_TYPE)
    try:
        message.send()
    except (OSError, AnymailError) as error:  # the mail server or provider refused: shown, nothing recorded
        raise PaymentError(
            "provider_error", _("The receipt could not be sent. Please try again in a moment.")
        ) from error

    return InvoiceEvent.objects.create(
        invoice=invoice,
        action=InvoiceEvent.Action.RECEIPT_SENT,
        from_status=invoice.status,
        to_status=invoice.status,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        at=now,
        data={"to": invoice.billing_email, "language": language},
    )
