"""Giving money back: staff refunds, refunds the provider reports, and what a cancellation's policy decided."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction

from booking.scheduling.services import CancellationOutcome, RefundDecision

from .. import providers, signals
from ..errors import PaymentError
from ..models import (
    ZERO,
    Invoice,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    RefundStatus,
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
    _expire_sessions_after_commit,
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
        return RefundStatus.SUCCEEDED
    if provider_status == REFUND_FAILED:
        return RefundStatus.FAILED
    return RefundStatus.PENDING


def _complete_refund(invoice: Invoice, refund: Refund, now: datetime) -> None:
    """Mark a locked pending refund succeeded and count it on the locked invoice."""
    refund.status = RefundStatus.SUCCEEDED
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
    signals.refund_succeeded.send(sender=Invoice, invoice=invoice, refund=refund, now=now)


def _fail_refund(refund: Refund, message: str) -> None:
    refund.status = RefundStatus.FAILED
    refund.failure_message = (message or "")[:300]
    refund.save(update_fields=["status", "failure_message", "provider_reference"])


def _open_refund(
    *, invoice: Invoice, payment: Payment, amount, reason: str, actor, now: datetime, staff: bool = False
) -> Refund:
    """The refund of ``amount`` (all that is left when None), decided inside the caller's transaction.

    ``invoice`` and ``payment`` are locked by the caller. Money handed back at the desk is refunded at once; a
    provider's refund is a pending row, whose primary key is its idempotency key (``refund-{pk}``): the
    caller sends it once the transaction has committed (``_send_refund_after_commit``, or ``_send_refund``).
    """
    if payment.status != PaymentStatus.SUCCEEDED:
        raise PaymentError("invalid_state")
    refundable = payment.refundable_amount
    value = refundable if amount is None else _money(amount, payment.currency)
    if refundable <= 0:
        raise PaymentError("nothing_to_refund")
    if value > refundable:
        raise PaymentError("amount_too_large")
    online = payment.method == PaymentMethod.ONLINE
    if online and not payment.provider_payment_reference:
        raise PaymentError("invalid_state")
    provider = providers.get_provider(payment.provider) if online else None
    if online and staff and (provider is None or not provider.is_enabled()):
        raise PaymentError("payments_unavailable")  # the system's refunds wait for the provider instead
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


def _send_refund_after_commit(refund: Refund) -> None:
    """Once the deciding transaction commits, a huey task sends the pending refund to the provider (with retries).

    A rollback discards the callback with the row: the provider is never asked for money no row records.
    """
    if refund.status != RefundStatus.PENDING:
        return

    def enqueue(refund_id: int = refund.pk) -> None:
        from ..tasks import send_refund  # the tasks module imports the services

        send_refund(refund_id)

    transaction.on_commit(enqueue, robust=True)


def _send_refund(refund_id: int, *, now: datetime | None = None, keep_pending_on_error: bool = False) -> Refund:
    """Send a pending refund to its payment provider outside any transaction; store the answer in a second one.

    Never refunds twice: a refund no longer pending, or one the provider already answered (its reference is
    stored), is returned as it is; a pending one is sent with the same idempotency key every time, so a retry or a
    second delivery gets the provider's first answer back. A provider or network error fails the refund (the money
    stays refundable, staff may retry), or with ``keep_pending_on_error`` leaves it pending for the caller to retry;
    either way the ``ProviderError`` is raised.
    """
    refund = Refund.objects.select_related("payment__invoice").get(pk=refund_id)
    if refund.status != RefundStatus.PENDING or refund.provider_reference:
        return refund
    payment = refund.payment
    try:
        provider = providers.get_provider(payment.provider)
        if provider is None:
            raise ProviderError(f"unknown payment provider {payment.provider!r}")
        result = provider.refund(
            refund_id=refund.pk,
            payment_id=payment.pk,
            invoice_reference=payment.invoice.reference,
            payment_reference=payment.provider_payment_reference,
            amount=refund.amount,
            currency=payment.currency,
        )
    except ProviderError as exc:
        logger.warning("Refund %s failed at the payment provider", refund.pk, exc_info=True)
        if not keep_pending_on_error:
            with transaction.atomic():
                refund = Refund.objects.select_for_update().get(pk=refund.pk)
                if refund.status == RefundStatus.PENDING:
                    _fail_refund(refund, str(exc))
        raise
    with transaction.atomic():
        invoice = _lock_invoice(payment.invoice_id)
        _lock_payment(payment.pk)
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        refund.provider_reference = refund.provider_reference or result.reference or ""
        status = _refund_status(result.status)
        if refund.status != RefundStatus.PENDING:  # a webhook got here first
            pass
        elif status == RefundStatus.SUCCEEDED:
            _complete_refund(invoice, refund, max(_now(now), refund.created_at))
        elif status == RefundStatus.FAILED:
            _fail_refund(refund, result.provider_status or result.status)
        else:
            refund.save(update_fields=["provider_reference"])
    return refund


def send_refund(*, refund_id: int, final_attempt: bool = True) -> Refund:
    """Carry out a refund decided earlier (the huey task ``send_refund``); safe to run any number of times.

    Until ``final_attempt`` a provider or network error leaves the refund pending and raises ``ProviderError`` so
    that the task is retried; the final attempt records the refund failed, for staff to see and retry.
    """
    return _send_refund(refund_id, keep_pending_on_error=not final_attempt)


# A pending refund the provider has not answered this long after it was decided lost its task (the retries of a live
# task are over by then) and is sent by the sweep; past the provider's memory of idempotency keys (Stripe's: 24
# hours) it is no longer sent again (it might have reached the provider once) but recorded failed, for staff to
# check and retry.
REFUND_SWEEP_AFTER = timedelta(minutes=20)
REFUND_IDEMPOTENCY_WINDOW = timedelta(hours=23)
REFUNDS_PER_SWEEP = 100


def send_due_refunds(*, now: datetime | None = None) -> int:
    """Send the pending provider refunds whose task was lost (killed consumer, queue unreachable at the commit).

    Returns how many the provider accepted. Run every minute by huey; safe alongside a task still retrying (same
    idempotency key, the answer recorded under the refund's lock).
    """
    now = _now(now)
    unanswered = Refund.objects.filter(
        status=RefundStatus.PENDING, provider_reference="", payment__method=PaymentMethod.ONLINE
    )
    for refund in unanswered.filter(created_at__lte=now - REFUND_IDEMPOTENCY_WINDOW).order_by("pk")[
        :REFUNDS_PER_SWEEP
    ]:
        with transaction.atomic():
            refund = Refund.objects.select_for_update().get(pk=refund.pk)
            if refund.status == RefundStatus.PENDING and not refund.provider_reference:
                _fail_refund(refund, "not confirmed by the payment provider within a day: check its dashboard")
                logger.error("Refund %s was never confirmed by its provider; recorded failed", refund.pk)
    due = unanswered.filter(
        created_at__lte=now - REFUND_SWEEP_AFTER, created_at__gt=now - REFUND_IDEMPOTENCY_WINDOW
    ).order_by("pk")
    sent = 0
    for refund_id in list(due.values_list("pk", flat=True)[:REFUNDS_PER_SWEEP]):
        try:
            refund = _send_refund(refund_id, keep_pending_on_error=True)
        except ProviderError:
            continue  # logged; the next run tries again
        sent += refund.status != RefundStatus.PENDING or bool(refund.provider_reference)
    return sent


def refund_payment(*, payment: Payment, amount=None, reason: str, actor, now: datetime | None = None) -> Refund:
    """Give money back (all that is left when ``amount`` is None); staff with ``billing.add_refund`` or the system.

    Cash, transfers and card-terminal payments are refunded at once. An online refund is created pending and
    sent to the provider after the commit, while the staff member waits (call this outside any transaction): a
    failure is raised as ``provider_error`` or ``refund_failed``. It succeeds when the provider says so (now or later,
    through the webhook).
    """
    now = _now(now)
    _require_staff(actor, "billing.add_refund", system_allowed=True)
    reason = _required_reason(reason)
    with transaction.atomic():
        invoice = _lock_invoice(payment.invoice_id)
        payment = _lock_payment(payment.pk)
        refund = _open_refund(
            invoice=invoice, payment=payment, amount=amount, reason=reason, actor=actor, now=now, staff=True
        )
    if refund.status != RefundStatus.PENDING:
        return refund
    try:
        refund = _send_refund(refund.pk, now=now)
    except ProviderError as exc:
        raise PaymentError("provider_error") from exc
    if refund.status == RefundStatus.FAILED:
        raise PaymentError("refund_failed")
    return refund


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
                .filter(payment=payment, status=RefundStatus.PENDING, provider_reference="", amount=value)
                .order_by("pk")
                .first()
            )
            if refund is not None:
                refund.provider_reference = reference
                refund.save(update_fields=["provider_reference"])
        if refund is not None:
            if refund.payment_id != payment.pk:
                raise PaymentError("invalid_request")
            if refund.status != RefundStatus.PENDING or new_status == RefundStatus.PENDING:
                return None
            if new_status == RefundStatus.SUCCEEDED:
                _complete_refund(invoice, refund, now)
            else:
                _fail_refund(refund, failure_message)
            return refund
        if new_status == RefundStatus.FAILED:
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
        if new_status == RefundStatus.SUCCEEDED:
            _complete_refund(invoice, refund, now)
    return refund


def refund_invoice(*, invoice: Invoice, amount, reason: str, actor, now: datetime | None = None) -> list[Refund]:
    """Give back ``amount`` of what was paid on ``invoice`` by the system's refund path, and void the invoice if
    nothing is then kept on it (an unpaid one, or one whose every payment is given back while it is still open).

    For a sale cancelled by its own app (``booking.packs.services.cancel_pack``), which decided who may and how
    much (``amount`` may be zero: nothing to give back, only the void). The newest payments are refunded first,
    never more than what each still has (a larger ``amount`` is capped at what was paid and not refunded). Runs in
    the caller's transaction: money given back at the desk is recorded at once, provider refunds are pending rows
    sent by a huey task after the commit, like ``apply_cancellation_outcome``'s.
    """
    now = _now(now)
    reason = _required_reason(reason)
    with transaction.atomic():
        invoice = _lock_invoice(invoice.pk)
        left = _money(amount, invoice.currency) if amount else ZERO
        payments = (
            Payment.objects.select_for_update()
            .filter(invoice=invoice, status=PaymentStatus.SUCCEEDED)
            .order_by("-pk")
            .prefetch_related("refunds")
        )
        refunds = []
        for payment in payments:
            part = min(left, payment.refundable_amount)
            if part <= 0:
                continue
            refund = _open_refund(invoice=invoice, payment=payment, amount=part, reason=reason, actor=actor, now=now)
            _send_refund_after_commit(refund)
            refunds.append(refund)
            left -= part
        promised = sum((refund.amount for refund in refunds if refund.status == RefundStatus.PENDING), ZERO)
        if _voidable(invoice, being_refunded=promised):
            _expire_sessions_after_commit(_void(invoice, actor=actor, reason=reason, now=now))
    return refunds


def apply_cancellation_outcome(*, outcome: CancellationOutcome, actor, now: datetime | None = None) -> list[Refund]:
    """Carry out what the cancellation policy decided about the cancelled session's invoice.

    Nothing paid: the invoice is voided. Full refund: every payment is refunded by the system, and an invoice
    still unpaid is voided. No refund (a late cancellation): nothing changes, the invoice stays owed, and the
    event says why. Returns the refunds decided, as they stand when this returns: the online ones are sent by a
    huey task once the transaction commits (see ``send_refund``), so they may still be pending, or have failed.

    Everything is decided in one transaction, which may be the caller's: no provider call happens inside it, the
    refunds and the closing of open checkouts follow its commit, and a rollback leaves nothing to undo.
    """
    now = _now(now)
    invoice = invoice_for_appointment(outcome.appointment)
    if invoice is None:
        return []
    with transaction.atomic():
        invoice = _lock_invoice(invoice.pk)
        if outcome.refund == RefundDecision.NO_REFUND:
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
        payments = (
            Payment.objects.select_for_update()
            .filter(invoice=invoice, status=PaymentStatus.SUCCEEDED)
            .order_by("pk")
            .prefetch_related("refunds")
        )
        for payment in payments:
            if payment.refundable_amount > 0:
                refund = _open_refund(
                    invoice=invoice, payment=payment, amount=None, reason=REASON_CANCELLED_REFUND, actor=None, now=now
                )
                _send_refund_after_commit(refund)
                refunds.append(refund)
        promised = sum((refund.amount for refund in refunds if refund.status == RefundStatus.PENDING), ZERO)
        if _voidable(invoice, being_refunded=promised):
            _expire_sessions_after_commit(_void(invoice, actor=actor, reason=REASON_CANCELLED, now=now))
    for refund in refunds:
        refund.refresh_from_db()
    return refunds
