"""Pack use cases, one module per concern (re-exported here: callers import ``booking.packs.services``).

- ``credits``: the ledger — grant a purchase, reserve a session, settle it, staff adjustments, expiry.
- ``booking``: book a session paid by a pack (the appointment and its credit in one transaction).
- ``purchases``: sell a pack with its invoice (activated when paid), cancel it with its refund, the pending and
  expiring sweeps.
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
from .purchases import (
    CANCEL_PERMISSIONS,
    EXPIRY_NOTICE,
    PENDING_PURCHASE_LIFETIME,
    SELL_PERMISSIONS,
    CancelledPack,
    PackRefundQuote,
    cancel_pack,
    lapse_pending_purchases,
    may_cancel_for_clinic,
    may_sell_for_clinic,
    notify_expiring_purchases,
    pack_refund_quote,
    purchase_pack,
)

__all__ = [
    "CANCEL_PERMISSIONS",
    "EXPIRY_NOTICE",
    "PENDING_PURCHASE_LIFETIME",
    "SELL_PERMISSIONS",
    "CancelledPack",
    "PackRefundQuote",
    "cancel_pack",
    "lapse_pending_purchases",
    "may_cancel_for_clinic",
    "may_sell_for_clinic",
    "notify_expiring_purchases",
    "pack_refund_quote",
    "purchase_pack",
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
