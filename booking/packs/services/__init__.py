"""Pack use cases, one module per concern (re-exported here: callers import ``booking.packs.services``).

- ``credits``: the ledger — grant a purchase, reserve a session, settle it, staff adjustments, expiry.
- ``booking``: book a session paid by a pack (the appointment and its credit in one transaction).
"""

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
    "MAX_SESSIONS",
    "PACK_CREDIT_OF_KIND",
    "SessionOutcome",
    "adjust_credits",
    "cancellation_pack_credit",
    "check_session_move",
    "book_from_pack",
    "expire_purchases",
    "grant_purchase",
    "reserve_session",
    "settle_session",
]
