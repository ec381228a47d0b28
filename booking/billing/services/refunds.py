"""Giving money back: staff refunds, refunds the provider reports, and what a cancellation's policy decided."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction

from booking.scheduling.services import CancellationOutcome, RefundDecision

from .. import providers
from ..errors import PaymentError
from ..models import (
    Invoice,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
)
from ..providers import ProviderError
from ..providers.base import REFUND_FAILED, REFUND_SUCCEEDED
from ..selectors import invoice_for_appointment
from ._common import (
    LATE_CANCELLATION,
    REASON_CANCELLED,
    REASON_CANCELLED_REFUND,
    REASON_LATE_CANCELLATION,
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


def _refund_status(provider_status: str) -> str:
    """A provider's ``RefundState.status`` as the refund's status."""
    if provider_status == REFUND_SUCCEEDED:
        return Refund.Status.SUCCEEDED
    if provider_status == REFUND_FAILED:
        return Refund.Status.FAILED
    return Refund.Status.PENDING


def _complete_refund(invoice: Invoice, refund: Refund, now: datetime) -> None:
    """Mark a locked pending refund succeeded and count it on the locked invoice."""
    refund.status = Refund.Status.SUCCEEDED
    refund.completed_at = now
    refund.save(update_fields=["status", "completed_at", "provider_reference"])
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
    refund.status = Refund.Status.FAILED
    refund.failure_message = (message or "")[:300]
    refund.save(update_fields=["status", "failure_message", "provider_reference"])


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
        online = payment.method == PaymentMethod.ONLINE
        provider = providers.get_provider(payment.provider) if online else None
        if online and not payment.provider_payment_reference:
            raise PaymentError("invalid_state")
        if online and (provider is None or not provider.is_enabled()):
            raise PaymentError("payments_unavailable")
        refund = Refund.objects.create(
            payment=payment,
            provider=payment.provider if online else "",
            amount=value,
            reason=reason,
            actor=_user_or_none(actor),
            created_at=now,
        )
        if not online:  # the money is handed back at the desk: done at once
            _complete_refund(invoice, refund, now)
            return refund
    try:
        result = provider.refund(
            refund_id=refund.pk,
            payment_id=payment.pk,
            invoice_reference=invoice.reference,
            payment_reference=payment.provider_payment_reference,
            amount=value,
            currency=payment.currency,
        )
    except ProviderError as exc:
        with transaction.atomic():
            refund = Refund.objects.select_for_update().get(pk=refund.pk)
            if refund.status == Refund.Status.PENDING:
                _fail_refund(refund, str(exc))
        logger.warning("%s refund %s failed", provider, refund.pk, exc_info=True)
        if raise_on_failure:
            raise PaymentError("provider_error") from exc
        return refund
    with transaction.atomic():
        invoice = _lock_invoice(payment.invoice_id)
        _lock_payment(payment.pk)
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        refund.provider_reference = refund.provider_reference or result.reference or ""
        status = _refund_status(result.status)
        if refund.status != Refund.Status.PENDING:  # a webhook got here first
            pass
        elif status == Refund.Status.SUCCEEDED:
            _complete_refund(invoice, refund, now)
        elif status == Refund.Status.FAILED:
            _fail_refund(refund, result.provider_status or result.status)
        else:
            refund.save(update_fields=["provider_reference"])
    if refund.status == Refund.Status.FAILED and raise_on_failure:
        raise PaymentError("refund_failed")
    return refund


def refund_payment(*, payment: Payment, amount=None, reason: str, actor, now: datetime | None = None) -> Refund:
    """Give money back (all that is left when ``amount`` is None); staff with ``billing.add_refund`` or the system.

    Cash, transfers and card-terminal payments are refunded at once. An online refund is created pending and
    sent to the payment's provider outside the lock; it succeeds when the provider says so (now or later, through
    its webhook).
    """
    now = _now(now)
    _require_staff(actor, "billing.add_refund", system_allowed=True)
    reason = _required_reason(reason)
    return _refund(payment=payment, amount=amount, reason=reason, actor=actor, now=now, raise_on_failure=True)


def record_provider_refund(
    *, payment: Payment, reference: str, amount, status: str, provider_status: str = "", now: datetime | None = None
) -> Refund | None:
    """Reconcile a refund the payment's provider reports: ours completing, or one made at the provider directly.

    ``reference`` is the provider's refund reference and ``status`` a ``RefundState`` status (``provider_status``,
    the provider's own word, is kept as a failure's message). Returns the refund created or changed; None when it
    changes nothing (already recorded, or an outside refund that failed). Our own refund whose provider reference
    we had not stored yet is recognised by its amount.
    """
    now = _now(now)
    if not reference:
        raise PaymentError("invalid_request")
    new_status = _refund_status(status)
    failure_message = provider_status or status
    with transaction.atomic():
        invoice = _lock_invoice(payment.invoice_id)
        payment = _lock_payment(payment.pk)
        value = _money(amount, payment.currency)
        ours = Refund.objects.select_for_update().filter(provider=payment.provider, provider_reference=reference)
        refund = ours.first()
        if refund is None:
            refund = (
                Refund.objects.select_for_update()
                .filter(payment=payment, status=Refund.Status.PENDING, provider_reference="", amount=value)
                .order_by("pk")
                .first()
            )
            if refund is not None:
                refund.provider_reference = reference
                refund.save(update_fields=["provider_reference"])
        if refund is not None:
            if refund.payment_id != payment.pk:
                raise PaymentError("invalid_request")
            if refund.status != Refund.Status.PENDING or new_status == Refund.Status.PENDING:
                return None
            if new_status == Refund.Status.SUCCEEDED:
                _complete_refund(invoice, refund, now)
            else:
                _fail_refund(refund, failure_message)
            return refund
        if new_status == Refund.Status.FAILED:
            return None
        if payment.status != PaymentStatus.SUCCEEDED or value > payment.refundable_amount:
            raise PaymentError("amount_too_large")
        provider = providers.get_provider(payment.provider) or providers.BasePaymentProvider()
        refund = Refund.objects.create(
            payment=payment,
            amount=value,
            reason=provider.external_refund_reason,
            provider=payment.provider,
            provider_reference=reference,
            created_at=now,
        )
        if new_status == Refund.Status.SUCCEEDED:
            _complete_refund(invoice, refund, now)
    return refund


def apply_cancellation_outcome(*, outcome: CancellationOutcome, actor, now: datetime | None = None) -> list[Refund]:
    """Carry out what the cancellation policy decided about the cancelled session's invoice.

    Nothing paid: the invoice is voided. Full refund: every payment is refunded by the system, and an invoice
    still unpaid is voided. No refund (a late cancellation): nothing changes, the invoice stays owed, and the
    event says why. Returns the refunds made (an online one may have failed: see its status).
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
