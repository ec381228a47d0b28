"""What the patient's sessions pages show and offer: the lists, the "join" window, and what cancelling would do.

Reads only; the changes go through the services every other door uses (``billing.cancel_booking``,
``billing.cancel_unpaid_hold``, ``scheduling.reschedule_appointment``), so the portal applies the very rules of
the API, the admin and the email links. ``cancellation_outcome`` is computed from the same predicates and the
same invoice those services settle, so the page's promise is what the click does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Prefetch, QuerySet

from booking.billing.models import Invoice, InvoiceLine, InvoiceStatus
from booking.billing.selectors import invoice_for_appointment
from booking.notifications.attendance import cancellation_preview
from booking.scheduling import video
from booking.scheduling.models import Appointment, AppointmentModality, AppointmentStatus
from booking.scheduling.models.appointments import OPEN_STATUSES


def sessions_for_user(user) -> QuerySet[Appointment]:
    """The patient's own sessions with what the lists show (one query, plus one for their invoices).

    Holds given back unpaid are left out: the patient never had that session."""
    if not getattr(user, "is_authenticated", False):
        return Appointment.objects.none()
    invoice_lines = InvoiceLine.objects.exclude(invoice__status=InvoiceStatus.VOID).select_related("invoice")
    return (
        Appointment.objects.filter(patient__user=user)
        .other_than_lapsed_holds()
        .select_related("service", "professional", "location", "pack_purchase")
        .prefetch_related(Prefetch("invoice_lines", queryset=invoice_lines, to_attr="live_invoice_lines"))
    )


def upcoming(sessions: QuerySet[Appointment], now: datetime) -> QuerySet[Appointment]:
    """Booked or held sessions that have not ended, soonest first."""
    return sessions.filter(status__in=OPEN_STATUSES, end__gt=now).order_by("start", "pk")


def past(sessions: QuerySet[Appointment], now: datetime) -> QuerySet[Appointment]:
    """Everything else: ended, cancelled or missed, newest first."""
    return sessions.exclude(status__in=OPEN_STATUSES, end__gt=now).order_by("-start", "-pk")


def current_invoice(appointment: Appointment) -> Invoice | None:
    """The session's invoice from the prefetched lines (``sessions_for_user``): the newest that is not void."""
    lines = getattr(appointment, "live_invoice_lines", None)
    if lines is None:
        return invoice_for_appointment(appointment)
    invoices = sorted((line.invoice for line in lines), key=lambda invoice: invoice.pk, reverse=True)
    return invoices[0] if invoices else None


def can_join(appointment: Appointment, now: datetime) -> bool:
    """An online, confirmed session with a room, from ``video.JOIN_BEFORE`` the start until its end: the "join"
    buttons then lead to its video page (``video_views``), the only page that shows the room."""
    return video.is_open(appointment, now)


def joins_later(appointment: Appointment, now: datetime) -> bool:
    """An open online session whose call is still to open: its page links to the video page, which says when."""
    return (
        appointment.modality == AppointmentModality.ONLINE
        and appointment.is_open
        and now < video.opens_at(appointment)
    )


@dataclass(frozen=True)
class CancellationOutcome:
    """What cancelling at ``now`` would do, in money and pack sessions, for the page to say before the click."""

    allowed: bool
    hold: bool  # a held, unpaid time: giving it back costs nothing
    late: bool
    window_hours: int
    refund: Decimal  # refunded to the patient (inside the window)
    still_owed: Decimal  # owed anyway (a late cancellation of an unpaid session)
    kept: Decimal  # paid and not refunded (a late cancellation)
    currency: str
    pack_session: str | None  # "returned" / "forfeited" for a pack session


def cancellation_outcome(appointment: Appointment, *, now: datetime) -> CancellationOutcome:
    """The policy's answer (``attendance.cancellation_preview``, the email link's) with the invoice's amounts:
    inside the window everything paid is refunded and what is unpaid voided; late, the invoice stays as it is."""
    preview = cancellation_preview(appointment=appointment, now=now)
    hold = appointment.status == AppointmentStatus.PENDING_PAYMENT
    invoice = None if preview.pack_session else current_invoice(appointment)
    zero = Decimal("0")
    paid = invoice.refundable_amount if invoice is not None else zero
    owed = invoice.balance_due if invoice is not None and invoice.status == InvoiceStatus.OPEN else zero
    late = preview.late and not hold
    return CancellationOutcome(
        allowed=preview.allowed,
        hold=hold,
        late=late,
        window_hours=preview.window_hours,
        refund=zero if late else paid,
        still_owed=owed if late else zero,
        kept=paid if late else zero,
        currency=invoice.currency if invoice is not None else appointment.currency,
        pack_session=preview.pack_session,
    )
