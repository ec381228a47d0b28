"""The confirmation email of a booking made in the box (the notifications app will own real templates).

It promises only what the site does today: the portal shows the session's invoice (pay it online, download the
receipt) and its calendar file; cancelling or moving a session goes through the clinic, whose phone and email come
from the site settings. Links are absolute (``SITE_URL``): an email has no request to build them from.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext

from booking.billing import providers
from booking.billing.models import Invoice
from booking.billing.selectors import invoice_for_appointment
from booking.scheduling.models import Appointment, AppointmentEvent, AppointmentSource, AppointmentStatus, PaymentMode
from booking.scheduling.money import format_money
from portal.accounts.adapters import clinic_from_email, clinic_settings, supported_language

from .selectors import clinic_zone

logger = logging.getLogger(__name__)

# A confirmation owed for longer than this is left unsent: the patient has long since seen the session in the
# portal, and an email a day late would confuse more than it helps.
CONFIRMATION_SWEEP_WINDOW = timedelta(days=1)
CONFIRMATIONS_PER_SWEEP = 50


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
    online_allowed = appointment.service.payment_mode != PaymentMode.AT_CLINIC and providers.online_payment_available()
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


def _claim_lease() -> timedelta:
    return timedelta(seconds=settings.OUTBOX_CLAIM_LEASE_SECONDS)


def claim_booking_confirmation(appointment_id: int, *, now: datetime) -> bool:
    """Take the confirmation of one confirmed session for this worker; False if it is sent or another holds it.

    One conditional UPDATE, so two workers (the on-commit task and the sweep) can never both win: PostgreSQL
    re-checks the condition on the row the first one wrote, SQLite runs one writer at a time. A claim older than
    the lease belongs to a worker that died (or whose send failed) and may be taken again.
    """
    unclaimed = Q(confirmation_claimed_at__isnull=True) | Q(confirmation_claimed_at__lte=now - _claim_lease())
    claimed = Appointment.objects.filter(
        unclaimed, pk=appointment_id, status=AppointmentStatus.CONFIRMED, confirmation_sent_at__isnull=True
    ).update(confirmation_claimed_at=now)
    return claimed == 1


def deliver_booking_confirmation(appointment_id: int, *, now: datetime | None = None) -> bool:
    """Claim, send and record the confirmation email of a box booking; True if this call sent it.

    At least once: a worker killed after the provider accepted the email and before it is recorded sent leaves
    a claim that lapses, and the sweep sends it again (one duplicate, only in that crash window). The other
    order, recording before sending, would lose the email for good in the same window, which is what this
    replaces. Outside a crash it goes out once: the task and the sweep both claim first. A send that fails
    keeps its claim and raises; the sweep tries again when the lease lapses.
    """
    now = now or timezone.now()
    if not claim_booking_confirmation(appointment_id, now=now):
        return False
    send_booking_confirmation(appointment_id)
    Appointment.objects.filter(pk=appointment_id, confirmation_sent_at__isnull=True).update(
        confirmation_sent_at=timezone.now()
    )
    return True


def due_booking_confirmations(*, now: datetime) -> list[int]:
    """The confirmed box bookings still owed their email: confirmed between the window and the grace ago, not yet
    sent, not claimed by a live worker, and the session still ahead. Derived from the audit trail's "confirmed"
    event, which is written in the transaction that confirmed the session."""
    grace = timedelta(seconds=settings.OUTBOX_SWEEP_GRACE_SECONDS)
    unclaimed = Q(confirmation_claimed_at__isnull=True) | Q(confirmation_claimed_at__lte=now - _claim_lease())
    return list(
        Appointment.objects.filter(
            unclaimed,
            source=AppointmentSource.BOOKING_BOX,
            status=AppointmentStatus.CONFIRMED,
            confirmation_sent_at__isnull=True,
            start__gt=now,
            events__action=AppointmentEvent.Action.CONFIRMED,
            events__at__gte=now - CONFIRMATION_SWEEP_WINDOW,
            events__at__lte=now - grace,
        )
        .distinct()
        .order_by("pk")
        .values_list("pk", flat=True)[:CONFIRMATIONS_PER_SWEEP]
    )


def send_due_booking_confirmations(*, now: datetime | None = None) -> int:
    """Send every confirmation a lost task (a killed consumer, a failed send) left owed; returns how many went out.

    One failure is logged and left for a later sweep; it does not hold up the others.
    """
    now = now or timezone.now()
    sent = 0
    for appointment_id in due_booking_confirmations(now=now):
        try:
            sent += deliver_booking_confirmation(appointment_id, now=now)
        except Exception:
            logger.exception("Confirmation email of appointment %s not sent; retrying after the lease", appointment_id)
    return sent
