"""Packs' part in scheduling's use cases, connected in ``PacksConfig.ready()``.

Scheduling cannot import packs (packs builds on it), so its services send two signals *inside* their transactions
and these receivers do the packs side there:

- ``appointment_closing`` → ``settle_closed_session``: a session booked from a pack that is cancelled, completed
  or marked a no-show has its credit consumed, returned or lost (``settle_session``) in the same transaction as the
  status change. An exception here rolls the change back: a session never ends with its credit still booked.
- ``appointment_moving`` → ``guard_pack_session_move``: a reschedule may not take a pack session past the pack's
  expiry or to a professional the pack does not allow; the refusal is a ``BookingError`` (code ``pack_rules``,
  the pack's message) so every caller of ``reschedule_appointment`` shows it as it shows scheduling's own.
"""

from __future__ import annotations

from booking.scheduling.errors import BookingError
from booking.scheduling.models import AppointmentEvent
from booking.scheduling.services import PackCredit

from .errors import PackError
from .services import PACK_CREDIT_OF_KIND, SessionOutcome, check_session_move, settle_session

Action = AppointmentEvent.Action

_ENDINGS = {
    Action.COMPLETED: SessionOutcome.COMPLETED,
    Action.NO_SHOW_PATIENT: SessionOutcome.NO_SHOW_PATIENT,
    Action.NO_SHOW_PROFESSIONAL: SessionOutcome.NO_SHOW_PROFESSIONAL,
}
_CANCELLATIONS = (Action.CANCELLED, Action.HOLD_EXPIRED)


def settle_closed_session(sender, *, appointment, action, late, actor, now, **kwargs) -> PackCredit | None:
    """Settle the pack credit of a session that just ended; what happened to it, or None if not from a pack.

    A cancellation is late only when scheduling says the policy applies (past the free window and no staff
    override): a timely or overridden one returns the session.
    """
    if appointment.pack_purchase_id is None:  # the row was just read under its lock: no query for other sessions
        return None
    if action in _CANCELLATIONS:
        outcome = SessionOutcome.CANCELLED_LATE if late else SessionOutcome.CANCELLED_IN_TIME
    elif action in _ENDINGS:
        outcome = _ENDINGS[action]
    else:
        raise ValueError(f"appointment_closing sent for an unknown ending: {action!r}")
    entry = settle_session(appointment=appointment, outcome=outcome, actor=actor, now=now)
    return PACK_CREDIT_OF_KIND[entry.kind] if entry is not None else None


def guard_pack_session_move(sender, *, appointment, start, end, professional, actor, now, **kwargs) -> None:
    """Refuse a reschedule the session's pack does not allow, as a ``BookingError`` with the pack's message."""
    try:
        check_session_move(appointment=appointment, start=start, professional=professional)
    except PackError as error:
        raise BookingError("pack_rules", error.message) from error
