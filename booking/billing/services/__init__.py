"""Billing use cases: invoicing, discount codes, online checkout, offline payments, refunds, cancelling, voiding.

One module per group of use cases (``invoices``, ``coupons``, ``checkout``, ``offline``, ``refunds``, ``holds``,
``cancellations``), what they share in ``_common``; this package re-exports the public names, so callers import
``services``.

Every function follows the skeleton of CONVENTIONS.md: check the rule and raise ``PaymentError``;
``transaction.atomic()``, re-read the invoice and payment rows with ``select_for_update()``, change, save,
write an ``InvoiceEvent``. Nothing else assigns an invoice's status or totals: ``_recalculate`` sums the lines
and ``_settle`` derives the status from the amounts.

Locks are always taken in the same order, invoice → payment → refund (and coupon after invoice), so two
services working on one invoice queue instead of deadlocking. No database lock is ever held across an HTTP
call to a payment provider: a call that must happen is prepared in one transaction (a pending Payment or Refund
row, whose primary key is the idempotency key), made outside it, and its answer stored in a second transaction. What a
transaction decides as a side effect (a refund of money paid for nothing, closing superseded checkouts) is sent
after its commit: ``transaction.on_commit`` enqueues a huey task (``tasks.send_refund``,
``tasks.expire_provider_checkouts``), retried, which may run twice without refunding twice. So a service may run
inside a caller's transaction (the webhook's, a cancellation's) and the provider still hears of nothing that
rolls back. ``network_guard`` enforces it: every provider call made inside a transaction raises
``ProviderCallInTransaction``. Only staff refunds (``refund_payment``) call the provider while the request waits,
after their own commit, so that staff see a refusal at once.

Money that arrives for nothing is given back: a payment for a void invoice, for a session whose held time was
taken (or released) before the payment came, or beyond what the invoice asked for is refunded by the system.
"""

from ..selectors import payment_for_checkout, payment_for_provider_payment
from ._common import (
    LATE_CANCELLATION,
    PLACEABLE_STATUSES,
    REASON_ALREADY_SETTLED,
    REASON_CANCELLED,
    REASON_CANCELLED_REFUND,
    REASON_CHECKOUT_NOT_COMPLETED,
    REASON_HOLD_LAPSED,
    REASON_LATE_CANCELLATION,
    REASON_OVERPAID,
    REASON_TIME_TAKEN,
    REASON_VOID_INVOICE,
)
from .cancellations import (
    REASON_HOLD_CANCELLED,
    REASON_HOLD_GIVEN_BACK,
    CancelledBooking,
    CancelledHold,
    cancel_booking,
    cancel_unpaid_hold,
)
from .checkout import (
    close_open_checkouts,
    confirm_checkout,
    confirm_payment,
    expire_checkout,
    expire_stale_checkouts,
    fail_payment,
    start_checkout,
)
from .coupons import apply_coupon, check_coupon, remove_coupon
from .holds import confirm_held_appointment, void_lapsed_hold_invoices
from .invoices import (
    book_with_invoice,
    create_invoice_for_appointment,
    create_pack_invoice,
    record_tax_document,
    void_invoice,
)
from .offline import record_offline_payment
from .refunds import (
    apply_cancellation_outcome,
    record_provider_refund,
    refund_invoice,
    refund_payment,
    send_due_refunds,
    send_refund,
)

__all__ = [
    "LATE_CANCELLATION",
    "PLACEABLE_STATUSES",
    "REASON_ALREADY_SETTLED",
    "REASON_CANCELLED",
    "REASON_CANCELLED_REFUND",
    "REASON_CHECKOUT_NOT_COMPLETED",
    "REASON_HOLD_CANCELLED",
    "REASON_HOLD_GIVEN_BACK",
    "REASON_HOLD_LAPSED",
    "REASON_LATE_CANCELLATION",
    "REASON_OVERPAID",
    "REASON_TIME_TAKEN",
    "REASON_VOID_INVOICE",
    "CancelledBooking",
    "CancelledHold",
    "apply_cancellation_outcome",
    "apply_coupon",
    "book_with_invoice",
    "cancel_booking",
    "cancel_unpaid_hold",
    "check_coupon",
    "close_open_checkouts",
    "confirm_checkout",
    "confirm_held_appointment",
    "confirm_payment",
    "create_invoice_for_appointment",
    "create_pack_invoice",
    "expire_checkout",
    "expire_stale_checkouts",
    "fail_payment",
    "payment_for_checkout",
    "payment_for_provider_payment",
    "record_offline_payment",
    "record_provider_refund",
    "record_tax_document",
    "refund_invoice",
    "refund_payment",
    "remove_coupon",
    "send_due_refunds",
    "send_refund",
    "start_checkout",
    "void_invoice",
    "void_lapsed_hold_invoices",
]
