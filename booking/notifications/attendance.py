"""What the signed links of an email do once the patient clicks the page's button: confirm they will come, cancel.

The token in the link is the proof (no login): it names one appointment, its patient and one purpose, and expires
(``links``). These functions are called only from the POST of those pages, never on a GET, and each is one
transaction. Cancelling goes through ``billing.cancel_booking`` with the patient's own user as the actor, so the
clinic's policy (late cancellation, refund, the pack session) applies exactly as in the portal;
``cancellation_preview`` says beforehand what it will decide, for the page to show before the click.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from booking.scheduling.errors import BookingError
from booking.scheduling.models import Appointment, AppointmentStatus

from . import links
from .web_models import AttendanceConfirmation

CANCELLED_FROM_EMAIL = "cancelled by the patient from the email link"
# The purposes of the appointment links (``links.PURPOSES``): a token signed for one never reads as the other.
CONFIRM = "confirm"
CANCEL = "cancel"


def link_key(appointment: Appointment) -> str:
    """What an appointment link's token carries: the session's reference and its patient."""
    return f"{appointment.reference}:{appointment.patient_id}"


def confirm_url(appointment: Appointment) -> str:
    """The absolute "I will come" link of the attendance request email."""
    return links.action_url(CONFIRM, link_key(appointment))


def cancel_url(appointment: Appointment) -> str:
    """The absolute "cancel" link of the patient's emails about a session."""
    return links.action_url(CANCEL, link_key(appointment))


def _now(now: datetime | None) -> datetime:
    return now if now is not None else timezone.now()


def confirm_attendance(
    *, appointment: Appointment, now: datetime | None = None
) -> tuple[AttendanceConfirmation, bool]:
    """Record that the patient will come to ``appointment``; ``(confirmation, created)``.

    Only a confirmed session that has not started may be confirmed (``BookingError("invalid_state")`` otherwise: it
    was cancelled or moved past, and the page says so). A second click finds the first row and creates nothing.
    """
    now = _now(now)
    with transaction.atomic():
        appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
        existing = AttendanceConfirmation.objects.filter(appointment=appointment).first()
        if existing is not None:
            return existing, False
        if appointment.status != AppointmentStatus.CONFIRMED or appointment.start <= now:
            raise BookingError("invalid_state")
        try:
            with transaction.atomic():
                confirmation = AttendanceConfirmation.objects.create(appointment=appointment, confirmed_at=now)
        except IntegrityError:  # another click won (SQLite and PostgreSQL both serialise on the lock above)
            return AttendanceConfirmation.objects.get(appointment=appointment), False
    return confirmation, True


@dataclass(frozen=True)
class CancellationPreview:
    """What cancelling at ``now`` would mean, shown before the patient clicks."""

    allowed: bool  # False once the session started or is no longer open: the page says to call the clinic
    late: bool  # past the free cancellation window
    paid: bool  # money was paid for it (a late cancellation keeps it)
    pack_session: str | None  # "returned" / "forfeited" for a session booked from a pack, else None
    window_hours: int


def cancellation_preview(*, appointment: Appointment, now: datetime | None = None) -> CancellationPreview:
    """The policy's answer for ``appointment`` at ``now``, without changing anything.

    The same predicates ``cancel_appointment`` uses (``can_cancel``, ``cancellation_is_free``); for a pack session,
    the packs' own preview (``cancellation_pack_credit``), the rule its settlement applies.
    """
    from booking.packs.services import cancellation_pack_credit

    now = _now(now)
    service = appointment.service
    late = not appointment.cancellation_is_free(now)
    pack_credit = cancellation_pack_credit(appointment=appointment, now=now)
    pack_session = pack_credit.value if pack_credit is not None else None
    return CancellationPreview(
        allowed=appointment.can_cancel(now),
        late=late,
        paid=appointment.status == AppointmentStatus.CONFIRMED and appointment.price > 0,
        pack_session=pack_session,
        window_hours=service.cancellation_window_hours,
    )


def cancel_from_link(*, appointment: Appointment, now: datetime | None = None):
    """Cancel ``appointment`` for its patient (the link's owner), under the same rules as the portal.

    The actor is the patient's user: scheduling checks the session is theirs and still cancellable; billing refunds
    or keeps the money as the policy says. Raises ``BookingError`` / ``PaymentError`` with a message for the page.
    Returns billing's ``CancelledBooking``. (Billing is imported here, not at the top: the renderer imports this
    module for ``link_key``, and billing's import chain is long.)
    """
    from booking.billing import services as billing

    return billing.cancel_booking(
        appointment=appointment, actor=appointment.patient.user, reason=CANCELLED_FROM_EMAIL, now=_now(now)
    )
