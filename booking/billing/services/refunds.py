"""Giving money back: staff refunds, refunds the provider reports, and what a cancellation's policy decided."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction

from booking.scheduling.services import CancellationOutcome, RefundDecision

from .. import stripe_gateway
from ..errors import PaymentError
from ..models import (
    Invoice,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from ..selectors import invoice_for_appointment
from ._common import (
    LATE_CANCELLATION,
    REASON_CANCELLED,
    REASON_CANCELLED_REFUND,
    REASON_LATE_CANCELLATION,
    REASON_STRIPE_DASHBOARD,
    Action,
    _expire_sessions_quietly,
    _lock_invoice,
    _lock_payment,
    _log,
    _money,
    _now,
    _require_staff,
    _required_reason,
    _settle,
    _user_or_none,
    _void,
    _voidable,
)

logger = logging.getLogger(__name__)


def _refund_status(stripe_status: str) -> str:
    if stripe_status == "succeeded":
        return RefundStatus.SUCCEEDED
    if stripe_status in ("failed", "canceled", "cancelled"):
        return RefundStatus.FAILED
    return RefundStatus.PENDING


def _complete_refund(invoice: Invoice, refund: Refund, now: datetime) -> None:
    """Mark a locked pending refund succeeded and count it on the locked invoice."""
    refund.status = RefundStatus.SUCCEEDED
    refund.completed_at = now
    refund.save(update_fields=["status", "completed_at", "stripe_refund_id"])
    from_status = invoice.status
    invoice.amount_refunded += refund.amount
    _settle(invoice, now)
    invoice.save()
    _log(
        invoice,
        Action.REFUNDED,
        actor=refund.actor,
        at=now,
        from_status=from_status,
        reason=refund.reason,
        payment=refund.payment_id,
        refund=refund.pk,
        amount=refund.amount,
    )


def _fail_refund(refund: Refund, message: str) -> None:
    refund.status = RefundStatus.FAILED
    refund.failure_message = (message or "")[:300]
    refund.save(update_fields=["status", "failure_message", "stripe_refund_id"])


def _refund(*, payment: Payment, amount, reason: str, actor, now: datetime, raise_on_failure: bool) -> Refund:
    with transaction.atomic():
        invoice = _lock_invoice(payment.invoice_id)
        payment = _lock_payment(payment.pk)
        if payment.status != PaymentStatus.SUCCEEDED:
            raise PaymentError("invalid_state")
        refundable = payment.refundable_amount
        value = refundable if amount is None else _money(amount, payment.currency)
        if refundable <= 0:
            raise PaymentError("nothing_to_refund")
        if value > refundable:
            raise PaymentError("amount_too_large")
        online = payment.method == PaymentMethod.STRIPE
        if online and not payment.stripe_payment_intent_id:
            raise PaymentError("invalid_state")
        if online and not stripe_gateway.is_enabled():
            raise PaymentError("payments_unavailable")
        refund = Refund.objects.create(
            payment=payment, amount=value, reason=reason, actor=_user_or_none(actor), created_at=now
        )
        if not online:  # the money is handed back at the desk: done at once
            _complete_refund(invoice, refund, now)
            return refund
    try:
        result = stripe_gateway.create_refund(
            payment_intent_id=payment.stripe_payment_intent_id,
            amount=value,
            currency=payment.currency,
            idempotency_key=f"refund-{refund.pk}",
            metadata={"invoice": invoice.reference, "payment": str(payment.pk), "refund": str(refund.pk)},
        )
    except stripe_gateway.GatewayError as exc:
        with transaction.atomic():
            refund = Refund.objects.select_for_update().get(pk=refund.pk)
            if refund.status == RefundStatus.PENDING:
                _fail_refund(refund, str(exc))
        logger.warning("Stripe refund %s failed", refund.pk, exc_info=True)
        if raise_on_failure:
            raise PaymentError("provider_error") from exc
        return refund
    with transaction.atomic():
        invoice = _lock_invoice(payment.invoice_id)
        _lock_payment(payment.pk)
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        refund.stripe_refund_id = refund.stripe_refund_id or result.id or ""
        status = _refund_status(result.status)
        if refund.status != RefundStatus.PENDING:  # a webhook got here first
            pass
        elif status == RefundStatus.SUCCEEDED:
            _complete_refund(invoice, refund, now)
        elif status == RefundStatus.FAILED:
            _fail_refund(refund, result.status)
        else:
            refund.save(update_fields=["stripe_refund_id"])
    if refund.status == RefundStatus.FAILED and raise_on_failure:
        raise PaymentError("refund_failed")
    return refund


def refund_payment(*, payment: Payment, amount=None, reason: str, actor, now: datetime | None = None) -> Refund:
    """Give money back (all that is left when ``amount`` is None); staff with ``billing.add_refund`` or the system.

    Cash, transfers and card-terminal payments are refunded at once. A Stripe refund is created pending and
    sent to Stripe outside the lock; it succeeds when Stripe says so (now or later, through the webhook).
    """
    now = _now(now)
    _require_staff(actor, "billing.add_refund", system_allowed=True)
    reason = _required_reason(reason)
    return _refund(payment=payment, amount=amount, reason=reason, actor=actor, now=now, raise_on_failure=True)


def record_stripe_refund(
    *, payment: Payment, stripe_refund_id: str, amount, status: str, now: datetime | None = None
) -> Refund | None:
    """Reconcile a refund Stripe reports (``charge.refunded``): ours completing, or one made in the dashboard.

    Returns the refund created or changed; None when it changes nothing (already recorded, or a dashboard
    refund that failed). Our own refund whose Stripe id we had not stored yet is recognised by its amount.
    """
    now = _now(now)
    if not stripe_refund_id:
        raise PaymentError("invalid_request")
    new_status = _refund_status(status)
    with transaction.atomic():
        invoice = _lock_invoice(payment.invoice_id)
        payment = _lock_payment(payment.pk)
        value = _money(amount, payment.currency)
        refund = Refund.objects.select_for_update().filter(stripe_refund_id=stripe_refund_id).first()
        if refund is None:
            refund = (
                Refund.objects.select_for_update()
                .filter(payment=payment, status=RefundStatus.PENDING, stripe_refund_id="", amount=value)
                .order_by("pk")
                .first()
            )
            if refund is not None:
                refund.stripe_refund_id = stripe_refund_id
                refund.save(update_fields=["stripe_refund_id"])
        if refund is not None:
            if refund.payment_id != payment.pk:
                raise PaymentError("invalid_request")
            if refund.status != RefundStatus.PENDING or new_status == RefundStatus.PENDING:
                return None
            if new_status == RefundStatus.SUCCEEDED:
                _complete_refund(invoice, refund, now)
            else:
                _fail_refund(refund, status)
            return refund
        if new_status == RefundStatus.FAILED:
            return None
        if payment.status != PaymentStatus.SUCCEEDED or value > payment.refundable_amount:
            raise PaymentError("amount_too_large")
        refund = Refund.objects.create(
            payment=payment,
            amount=value,
            reason=REASON_STRIPE_DASHBOARD,
            stripe_refund_id=stripe_refund_id,
            created_at=now,
        )
        if new_status == RefundStatus.SUCCEEDED:
            _complete_refund(invoice, refund, now)
    return refund


def apply_cancellation_outcome(*, outcome: CancellationOutcome, actor, now: datetime | None = None) -> list[Refund]:
    """Carry out what the cancellation policy decided about the cancelled session's invoice.

    Nothing paid: the invoice is voided. Full refund: every payment is refunded by the system, and an invoice
    still unpaid is voided. No refund (a late cancellation): nothing changes, the invoice stays owed, and the
    event says why. Returns the refunds made (a Stripe one may have failed: see its status).
    """
    now = _now(now)
    invoice = invoice_for_appointment(outcome.appointment)
    if invoice is None:
        return []
    if outcome.refund == RefundDecision.NO_REFUND:
        with transaction.atomic():
            invoice = _lock_invoice(invoice.pk)
            _log(
                invoice,
                LATE_CANCELLATION,
                actor=actor,
                at=now,
                from_status=invoice.status,
                reason=REASON_LATE_CANCELLATION,
                appointment=outcome.appointment.reference,
            )
        return []
    refunds = []
    payments = Payment.objects.filter(invoice=invoice, status=PaymentStatus.SUCCEEDED).prefetch_related("refunds")
    for payment in payments:
        if payment.refundable_amount > 0:
            refunds.append(
                _refund(
                    payment=payment,
                    amount=None,
                    reason=REASON_CANCELLED_REFUND,
                    actor=None,
                    now=now,
                    raise_on_failure=False,
                )
            )
    stale_sessions = []
    with transaction.atomic():
        invoice = _lock_invoice(invoice.pk)
        if _voidable(invoice):
            stale_sessions = _void(invoice, actor=actor, reason=REASON_CANCELLED, now=now)
    _expire_sessions_quietly(stale_sessions)
    return refunds
