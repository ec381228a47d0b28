"""Online payment through a payment provider's hosted checkout (``booking.billing.providers``): start, confirm,
fail, expire."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q

from booking.scheduling.models import Appointment

from .. import providers, signals
from ..errors import PaymentError
from ..models import (
    ZERO,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
)
from ..providers import BasePaymentProvider, CheckoutState, ProviderError
from ..selectors import payment_for_checkout
from ..signals import checkout_lapsed
from ._common import (
    REASON_ALREADY_SETTLED,
    REASON_CHECKOUT_NOT_COMPLETED,
    REASON_HOLD_LAPSED,
    REASON_OVERPAID,
    REASON_TIME_TAKEN,
    REASON_VOID_INVOICE,
    STALE_CHECKOUTS_PER_RUN,
    Action,
    _cancel_pending_checkouts,
    _check_payable,
    _expire_sessions_after_commit,
    _lock_invoice,
    _lock_payment,
    _log,
    _money,
    _now,
    _require_owner_or_staff,
    _settle,
    _user_or_none,
    _void,
)
from .holds import _lapsed_hold_invoice, _place_held_appointments, _release_held_appointments
from .refunds import _open_refund, _send_refund_after_commit

logger = logging.getLogger(__name__)


def _checkout_description(invoice: Invoice) -> str:
    first_line = invoice.lines.first()
    description = f"{invoice.display_number} · {first_line.description}" if first_line else invoice.display_number
    return description[:250]


def start_checkout(
    *,
    invoice: Invoice,
    success_url: str,
    cancel_url: str,
    actor,
    now: datetime | None = None,
    provider: BasePaymentProvider | None = None,
) -> Payment:
    """A pending online payment of what is still owed, with the provider's checkout address to send the patient to.

    Goes through ``provider`` (the default provider when None). An open checkout of the same invoice and amount
    is reused (a second click does not open a second one); older open ones are cancelled. The checkout lives at
    least the provider's minimum and as long as the session holds.
    """
    now = _now(now)
    _require_owner_or_staff(actor, invoice, "billing.add_payment")
    provider = provider or providers.default_provider()
    if provider is None or not provider.is_enabled():
        raise PaymentError("payments_unavailable")
    with transaction.atomic():
        invoice = _lock_invoice(invoice.pk)
        _check_payable(invoice)
        if Appointment.objects.filter(invoice_lines__invoice=invoice).lapsed_or_expired_holds(now).exists():
            raise PaymentError("hold_expired")  # the checkout would be closed within the minute
        amount = invoice.balance_due
        open_ones = (
            Payment.objects.open_checkouts()
            .filter(invoice=invoice, provider=provider.identifier, amount=amount, expires_at__gt=now)
            .order_by("-pk")
        )
        reusable = next((payment for payment in open_ones if payment.checkout_url), None)
        if reusable is not None:
            return reusable
        _expire_sessions_after_commit(_cancel_pending_checkouts(invoice, now=now))
        hold_deadlines = (
            Appointment.objects.held()
            .filter(invoice_lines__invoice=invoice, hold_expires_at__isnull=False)
            .values_list("hold_expires_at", flat=True)
        )
        expires_at = max([now + provider.checkout_min_lifetime, *hold_deadlines])
        payment = Payment.objects.create(
            invoice=invoice,
            method=PaymentMethod.ONLINE,
            provider=provider.identifier,
            amount=amount,
            currency=invoice.currency,
            status=PaymentStatus.PENDING,
            expires_at=expires_at,
            recorded_by=_user_or_none(actor),
        )
        description = _checkout_description(invoice)
    try:
        checkout = provider.start_checkout(
            payment_id=payment.pk,
            invoice_reference=invoice.reference,
            description=description,
            amount=amount,
            currency=invoice.currency,
            customer_email=invoice.billing_email,
            success_url=success_url,
            cancel_url=cancel_url,
            expires_at=expires_at,
            language=invoice.language,
        )
    except ProviderError as exc:
        with transaction.atomic():
            payment = _lock_payment(payment.pk)
            if payment.status == PaymentStatus.PENDING:
                payment.status = PaymentStatus.CANCELLED
                payment.failure_message = str(exc)[:300]
                payment.save(update_fields=["status", "failure_message", "updated_at"])
        raise PaymentError("provider_error") from exc
    with transaction.atomic():
        invoice = _lock_invoice(invoice.pk)
        payment = _lock_payment(payment.pk)
        payment.provider_reference = checkout.reference
        payment.provider_data = {**payment.provider_data, **checkout.data}
        payment.expires_at = checkout.expires_at or expires_at
        payment.save(update_fields=["provider_reference", "provider_data", "expires_at", "updated_at"])
        _log(
            invoice,
            Action.CHECKOUT_STARTED,
            actor=actor,
            at=now,
            from_status=invoice.status,
            payment=payment.pk,
            amount=amount,
            session=checkout.reference,
        )
    return payment


def _refund_due_after_payment(
    invoice: Invoice, payment: Payment, *, from_status: str, now: datetime
) -> tuple[Decimal, str]:
    """What of a payment just recorded must go back, and why (inside the payment's transaction).

    Only an invoice that was open may keep money; a void one or one already paid or refunded gives it all back.
    """
    if from_status == InvoiceStatus.VOID:
        return payment.amount, REASON_VOID_INVOICE
    if from_status != InvoiceStatus.OPEN:
        return payment.amount, REASON_ALREADY_SETTLED
    if invoice.status != InvoiceStatus.PAID:
        return ZERO, ""  # paid in part: the sessions stay held until the rest arrives
    unplaced = _place_held_appointments(invoice, now)
    overpaid = max(invoice.amount_paid - invoice.total, ZERO)
    due = min(sum((line.total for line in unplaced), ZERO) + overpaid, payment.amount)
    return due, (REASON_TIME_TAKEN if unplaced else REASON_OVERPAID)


def _fill_missing_provider_details(payment: Payment, *, payment_reference: str, data: dict) -> None:
    """A later event about the same money may bring details the first one lacked: keep them."""
    changed = []
    if payment_reference and not payment.provider_payment_reference:
        payment.provider_payment_reference = payment_reference
        changed.append("provider_payment_reference")
    missing = {key: value for key, value in (data or {}).items() if value and not payment.provider_data.get(key)}
    if missing:
        payment.provider_data = {**payment.provider_data, **missing}
        changed.append("provider_data")
    if changed:
        payment.save(update_fields=[*changed, "updated_at"])


def confirm_payment(
    *,
    payment: Payment,
    payment_reference: str = "",
    data: dict | None = None,
    amount=None,
    now: datetime | None = None,
) -> Payment:
    """Record that the provider took the money: the payment succeeds, the invoice is paid, held sessions confirmed.

    ``payment_reference`` is the provider's reference of the money movement, ``data`` details to
    keep in ``provider_data`` (the charge). Idempotent: a payment already succeeded is returned unchanged. A
    payment cancelled or failed on our side is still recorded (the money was taken); whatever was paid for nothing
    is then refunded by the system: the pending refund is written in the payment's transaction (which may be the
    caller's, e.g. the webhook's) and sent to the provider by a huey task once it commits, as are the superseded
    checkouts closed.
    """
    now = _now(now)
    data = {key: value for key, value in (data or {}).items() if value}
    try:
        with transaction.atomic():
            invoice = _lock_invoice(payment.invoice_id)
            payment = _lock_payment(payment.pk)
            if payment.status == PaymentStatus.SUCCEEDED:
                _fill_missing_provider_details(payment, payment_reference=payment_reference, data=data)
                return payment
            if amount is not None:
                payment.amount = _money(amount, payment.currency)  # what actually arrived
            payment.status = PaymentStatus.SUCCEEDED
            payment.received_at = now
            payment.failure_message = ""
            payment.provider_payment_reference = payment_reference or payment.provider_payment_reference
            payment.provider_data = {**payment.provider_data, **data}
            payment.save()
            from_status = invoice.status
            invoice.amount_paid += payment.amount
            _settle(invoice, now)
            invoice.save()
            _log(
                invoice,
                Action.PAYMENT_RECORDED,
                actor=None,
                at=now,
                from_status=from_status,
                payment=payment.pk,
                method=payment.method,
                amount=payment.amount,
            )
            refund_due, reason = _refund_due_after_payment(invoice, payment, from_status=from_status, now=now)
            if invoice.status == InvoiceStatus.PAID:
                _expire_sessions_after_commit(_cancel_pending_checkouts(invoice, now=now, exclude_pk=payment.pk))
            if refund_due > 0:
                try:
                    refund = _open_refund(
                        invoice=invoice, payment=payment, amount=refund_due, reason=reason, actor=None, now=now
                    )
                except PaymentError as error:  # refused before writing anything: the payment stays recorded
                    logger.error(
                        "Payment %s has %s to give back but cannot be refunded: %s", payment.pk, refund_due, error
                    )
                else:
                    _send_refund_after_commit(refund)
    except IntegrityError as exc:  # the provider's payment is already recorded on another payment
        raise PaymentError("invalid_request") from exc
    payment.refresh_from_db()
    return payment


def fail_payment(*, payment: Payment, message: str = "", now: datetime | None = None) -> Payment:
    """A checkout's payment was declined. The hold stays: the patient may try again until it runs out."""
    now = _now(now)
    with transaction.atomic():
        invoice = _lock_invoice(payment.invoice_id)
        payment = _lock_payment(payment.pk)
        if payment.status != PaymentStatus.PENDING:
            return payment
        payment.status = PaymentStatus.FAILED
        payment.failure_message = (message or "")[:300]
        payment.save(update_fields=["status", "failure_message", "updated_at"])
        _log(
            invoice,
            Action.PAYMENT_FAILED,
            actor=None,
            at=now,
            from_status=invoice.status,
            reason=payment.failure_message,
            payment=payment.pk,
        )
        signals.payment_failed.send(sender=Invoice, invoice=invoice, payment=payment, now=now)
    return payment


def expire_checkout(*, payment: Payment, now: datetime | None = None) -> Payment:
    """A checkout was abandoned or expired: cancel the payment and give the held sessions' time back.

    Does nothing to a succeeded or already cancelled payment (a late "expired" message changes nothing), and
    keeps the holds while a newer checkout of the same invoice is still open. An unpaid invoice that nothing is
    owed on any more is voided: a hold's whose time went back, or one an app says lapsed with its checkout (a pack
    bought online, ``signals.checkout_lapsed``).
    """
    now = _now(now)
    with transaction.atomic():
        invoice = _lock_invoice(payment.invoice_id)
        payment = _lock_payment(payment.pk)
        if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.CANCELLED):
            return payment
        if payment.status == PaymentStatus.PENDING:
            payment.status = PaymentStatus.CANCELLED
            payment.save(update_fields=["status", "updated_at"])
            _log(invoice, Action.CHECKOUT_EXPIRED, actor=None, at=now, from_status=invoice.status, payment=payment.pk)
        another_open = (
            Payment.objects.open_checkouts()
            .filter(invoice=invoice, expires_at__gt=now)
            .exclude(pk=payment.pk)
            .exists()
        )
        if invoice.status == InvoiceStatus.OPEN and not another_open:
            _release_held_appointments(invoice, now)
            if _lapsed_hold_invoice(invoice):
                _void(invoice, actor=None, reason=REASON_HOLD_LAPSED, now=now)
            elif invoice.amount_paid == 0 and _nothing_owed_after_lapse(invoice, now):
                _void(invoice, actor=None, reason=REASON_CHECKOUT_NOT_COMPLETED, now=now)
    return payment


def _nothing_owed_after_lapse(invoice: Invoice, now: datetime) -> bool:
    """Whether an app selling through this invoice says it is owed no more now that its checkout lapsed (a pack
    bought online and never paid: ``signals.checkout_lapsed``)."""
    responses = checkout_lapsed.send(sender=Invoice, invoice=invoice, now=now)
    return any(response is True for _receiver, response in responses)


def expire_stale_checkouts(*, now: datetime | None = None) -> int:
    """Close the checkouts that can no longer be paid in time; returns how many were expired.

    Stale: past its own deadline, or a session it pays for lost its hold. Each is expired at its provider first (a
    provider error leaves it for the next run); one the provider reports paid meanwhile is confirmed instead.
    """
    now = _now(now)
    stale = list(
        Payment.objects.open_checkouts()
        .filter(Q(expires_at__lte=now) | Q(invoice__lines__appointment__hold_expires_at__lte=now))
        .distinct()
        .order_by("pk")[:STALE_CHECKOUTS_PER_RUN]
    )
    expired = 0
    for payment in stale:
        reference = payment.provider_reference
        provider = providers.get_provider(payment.provider)
        if reference and provider is not None:
            try:
                checkout = provider.expire_checkout(reference)
            except ProviderError:
                try:  # a provider may refuse to expire a checkout that is complete: look at what happened
                    checkout = provider.checkout_state(reference)
                except ProviderError:
                    logger.warning("%s checkout %s not expired; retrying later", provider, reference, exc_info=True)
                    continue
            if checkout.is_paid:
                try:
                    confirm_payment(
                        payment=payment,
                        payment_reference=checkout.payment_reference,
                        data=checkout.data,
                        amount=checkout.amount,
                        now=now,
                    )
                except PaymentError:
                    logger.exception("%s reports checkout %s paid but it could not be recorded", provider, reference)
                continue
            if checkout.is_open:
                continue  # still payable at the provider: expiring ours would strand the money
        expire_checkout(payment=payment, now=now)
        expired += 1
    return expired


def metadata_payment(
    provider: BasePaymentProvider, payment_id: int | None, *, invoice_reference: str = ""
) -> Payment | None:
    """The online payment a provider's checkout says it was opened for (our ``payment`` id), if of that invoice."""
    if payment_id is None:
        return None
    payment = (
        Payment.objects.select_related("invoice")
        .filter(pk=payment_id, method=PaymentMethod.ONLINE, provider=provider.identifier)
        .first()
    )
    if payment is None:
        return None
    if invoice_reference and payment.invoice.reference != invoice_reference:
        logger.warning("%s names payment %s of another invoice (%s)", provider, payment_id, invoice_reference)
        return None
    return payment


def payment_for_checkout_state(provider: BasePaymentProvider, checkout: CheckoutState) -> Payment | None:
    payment = payment_for_checkout(checkout.reference, provider=provider.identifier)
    if payment is None:
        payment = metadata_payment(provider, checkout.payment_id, invoice_reference=checkout.invoice_reference)
        if payment is not None and payment.provider_reference not in ("", checkout.reference):
            return None  # that payment went through another checkout: this one is not ours to settle
    return payment


def same_currency(payment: Payment, currency: str, what: str) -> bool:
    if payment.currency.upper() == (currency or "").upper():
        return True
    logger.error(
        "%s %s for payment %s is in %s, the payment in %s: not recorded",
        payment.provider,
        what,
        payment.pk,
        currency,
        payment.currency,
    )
    return False


def confirm_checkout(checkout: CheckoutState, *, now: datetime | None = None) -> Payment | None:
    """Record a paid checkout: the webhook's and the success page's common path. Idempotent.

    Returns the payment (None when the checkout is not ours); a checkout not paid yet changes nothing.
    """
    provider = providers.get_provider(checkout.provider)
    payment = payment_for_checkout_state(provider, checkout) if provider is not None else None
    if payment is None:
        logger.warning("%s checkout %s matches no payment", checkout.provider, checkout.reference)
        return None
    if not checkout.is_paid:
        logger.info("%s checkout %s is %s", provider, checkout.reference, checkout.status)
        return payment
    if not same_currency(payment, checkout.currency, "checkout"):
        return payment
    return confirm_payment(
        payment=payment,
        payment_reference=checkout.payment_reference,
        data=checkout.data,
        amount=checkout.amount,
        now=now,
    )


def close_open_checkouts(invoice, *, now: datetime | None = None) -> bool:
    """Close the invoice's open checkouts at their provider, so none can be paid after the time is given back.

    Each checkout is expired at its provider first; one reported paid meanwhile (another tab, a slow webhook) is
    confirmed instead, and the answer is True. Otherwise the payment is cancelled, which gives the held time back
    (and voids an invoice left with nothing owed) in billing's own transaction. The provider calls happen here, so
    call this BEFORE, never inside, a transaction of the caller's. Raises ``ProviderError`` or ``PaymentError``.
    """
    paid = False
    for payment in Payment.objects.open_checkouts().filter(invoice=invoice).order_by("-pk"):
        provider = providers.get_provider(payment.provider)
        if payment.provider_reference and provider is not None:
            checkout = provider.expire_checkout(payment.provider_reference)
            if checkout.is_paid:
                confirm_checkout(checkout, now=now)
                paid = True
                continue
        expire_checkout(payment=payment, now=now)
    return paid
