"""The confirmation email of a booking made in the box (the notifications app will own real templates).

It promises only what the site does today: the portal shows the session's invoice (pay it online, download the
receipt) and its calendar file; cancelling or moving a session goes through the clinic, whose phone and email come
from the site settings. Links are absolute (``SITE_URL``): an email has no request to build them from.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from booking.billing import stripe_gateway
from booking.billing.models import Invoice
from booking.billing.selectors import invoice_for_appointment
from booking.scheduling.models import Appointment, AppointmentStatus, PaymentMode
from portal.accounts.adapters import clinic_from_email, clinic_settings, supported_language
from website.money import format_money

from .selectors import clinic_zone


@dataclass(frozen=True)
class PaymentSummary:
    """What the session costs and where the patient stands: nothing to pay, paid, or an amount still due."""

    price: str
    due: str
    paid: bool
    free: bool
    pay_online: bool


def absolute_url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def payment_summary(appointment: Appointment, invoice: Invoice | None) -> PaymentSummary:
    """The price after any discount (the invoice's total) and how the rest is paid, from the service's payment mode."""
    currency = invoice.currency if invoice else appointment.currency
    total = invoice.total if invoice else appointment.price
    due = invoice.balance_due if invoice else appointment.price
    online_allowed = appointment.service.payment_mode != PaymentMode.AT_CLINIC and stripe_gateway.is_enabled()
    return PaymentSummary(
        price=format_money(total, currency),
        due=format_money(due, currency),
        paid=total > 0 and due <= Decimal("0"),
        free=total <= Decimal("0"),
        pay_online=bool(invoice) and online_allowed and due > 0,
    )


def confirmation_context(appointment: Appointment, invoice: Invoice | None) -> dict:
    """Everything the email shows, resolved under the recipient's language (the caller activates it)."""
    zone = clinic_zone(appointment.location)
    clinic = clinic_settings()
    reference = appointment.reference
    return {
        "appointment": appointment,
        "user": appointment.patient.user,
        "local_start": appointment.start.astimezone(zone),
        "zone": zone.key,
        "payment": payment_summary(appointment, invoice),
        "policy": appointment.service.cancellation_policy,
        "clinic_name": clinic.display_name,
        "clinic_phone": clinic.phone or getattr(appointment.location, "phone", ""),
        "clinic_email": clinic.email or getattr(appointment.location, "email", ""),
        "invoice_url": absolute_url(reverse("portal:invoice_detail", args=[invoice.reference])) if invoice else "",
        "calendar_url": absolute_url(reverse("portal:appointment_calendar", kwargs={"reference": reference})),
        "booking_url": absolute_url(reverse("widget:done", kwargs={"reference": reference})),
        "portal_url": absolute_url(reverse("portal:home")),
    }


def send_booking_confirmation(appointment_id: int) -> None:
    """Email the patient, in their language (es-CL if none stored), that the session is booked. On commit only."""
    appointment = Appointment.objects.select_related("service", "professional", "location", "patient__user").get(
        pk=appointment_id
    )
    user = appointment.patient.user
    if not user.email or appointment.status != AppointmentStatus.CONFIRMED:
        return  # a retry that runs after the session was cancelled must not announce it as booked
    invoice = invoice_for_appointment(appointment)
    language = supported_language(user.preferred_language) or settings.LANGUAGE_CODE
    with translation.override(language):
        context = confirmation_context(appointment, invoice)
        subject = gettext("Your session is booked (%(reference)s)") % {"reference": appointment.reference}
        text = render_to_string("widget/email/booking_confirmed.txt", context)
        html = render_to_string("widget/email/booking_confirmed.html", context)
    message = EmailMultiAlternatives(subject, text, clinic_from_email(context["clinic_name"]), [user.email])
    message.attach_alternative(html, "text/html")
    message.send()
