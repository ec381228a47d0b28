"""Pack use cases, one module per concern (re-exported here: callers import ``booking.packs.services``).

- ``credits``: the ledger — grant a purchase, reserve a session, settle it, staff adjustments, expiry.
- ``booking``: book a session paid by a pack (the appointment and its credit in one transaction).
- ``autoschedule``: propose every remaining session as free slots, then book them all or none.
"""

from .autoschedule import (
    CADENCES,
    Proposal,
    ProposalFailure,
    ScheduleConflict,
    SchedulePlan,
    ScheduleRequest,
    Unplaced,
    alternatives_for,
    confirm_schedule,
    plan_alternatives,
    propose_schedule,
    replace_proposal,
    sign_plan,
    sign_proposal,
    unsign_plan,
    unsign_proposal,
)
from .booking import book_from_pack
from .credits import (
    ADJUST_PERMISSION,
    MAX_SESSIONS,
    PACK_CREDIT_OF_KIND,
    SessionOutcome,
    adjust_credits,
    cancellation_pack_credit,
    check_session_move,
    expire_purchases,
    grant_purchase,
    reserve_session,
    settle_session,
)

__all__ = [
    "ADJUST_PERMISSION",
    "CADENCES",
    "MAX_SESSIONS",
    "PACK_CREDIT_OF_KIND",
    "Proposal",
    "ProposalFailure",
    "ScheduleConflict",
    "SchedulePlan",
    "ScheduleRequest",
    "SessionOutcome",
    "Unplaced",
    "adjust_credits",
    "cancellation_pack_credit",
    "check_session_move",
    "alternatives_for",
    "book_from_pack",
    "confirm_schedule",
    "expire_purchases",
    "grant_purchase",
    "plan_alternatives",
    "propose_schedule",
    "replace_proposal",
    "reserve_session",
    "settle_session",
    "sign_plan",
    "sign_proposal",
    "unsign_plan",
    "unsign_proposal",
]
