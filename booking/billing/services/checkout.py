"""Online payment through the payment provider's hosted checkout: start, confirm, fail, expire."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q

from booking.scheduling.models import Appointment

from .. import stripe_gateway
from ..errors import PaymentError
from ..models import (
    ZERO,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
)
from ..selectors import payment_for_checkout_session
from ._common import (
    CHECKOUT_MIN_LIFETIME,
    REASON_ALREADY_SETTLED,
    REASON_HOLD_LAPSED,
    REASON_OVERPAID,
    REASON_TIME_TAKEN,
    REASON_VOID_INVOICE,
    STALE_CHECKOUTS_PER_RUN,
    Action,
    _cancel_pending_checkouts,
    _check_payable,
    _expire_sessions_quietly,
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
from .refunds import _refund

logger = logging.getLogger(__name__)


def _checkout_description(invoice: Invoice) -> str:
    first_line = invoice.lines.first()
    description = f"{invoice.display_number} · {first_line.description}" if first_line else invoice.display_number
    return description[:250]


def start_checkout(
    *, invoice: Invoice, success_url: str, cancel_url: str, actor, now: datetime | None = None
) -> Payment:
    """A pending Stripe payment of what is still owed, with the Checkout address to send the patient to.

    An open checkout of the same invoice and amount is reused (a second click does not open a second one);
    older open ones are cancelled. The Checkout lives at least 30 minutes and as long as the session holds.
    """
    now = _now(now)
    _require_owner_or_staff(actor, invoice, "billing.add_payment")
    if not stripe_gateway.is_enabled():
        raise PaymentError("payments_unavailable")
    with transaction.atomic():
        invoice = _lock_invoice(invoice.pk)
        _check_payable(invoice)
        if Appointment.objects.filter(invoice_lines__invoice=invoice).lapsed_or_expired_holds(now).exists():
            raise PaymentError("hold_expired")  # the checkout would be closed within the minute
        amount = invoice.balance_due
        reusable = (
            Payment.objects.filter(
                invoice=invoice,
                method=PaymentMethod.STRIPE,
                status=PaymentStatus.PENDING,
                amount=amount,
                expires_at__gt=now,
            )
            .exclude(stripe_checkout_url="")
            .order_by("-pk")
            .first()
        )
        if reusable is not None:
            return reusable
        stale_sessions = _cancel_pending_checkouts(invoice, now=now)
        hold_deadlines = (
            Appointment.objects.held()
            .filter(invoice_lines__invoice=invoice, hold_expires_at__isnull=False)
            .values_list("hold_expires_at", flat=True)
        )
        expires_at = max([now + CHECKOUT_MIN_LIFETIME, *hold_deadlines])
        payment = Payment.objects.create(
            invoice=invoice,
            method=PaymentMethod.STRIPE,
            amount=amount,
            currency=invoice.currency,
            status=PaymentStatus.PENDING,
            expires_at=expires_at,
            recorded_by=_user_or_none(actor),
        )
        description = _checkout_description(invoice)
    _expire_sessions_quietly(stale_sessions)
    try:
        session = stripe_gateway.create_checkout_session(
            client_reference_id=invoice.reference,
            line_description=description,
            amount=amount,
            currency=invoice.currency,
            customer_email=invoice.billing_email,
            success_url=success_url,
            cancel_url=cancel_url,
            expires_at=expires_at,
            metadata={"invoice": invoice.reference, "payment": str(payment.pk)},
            idempotency_key=f"checkout-{payment.pk}",
            locale=invoice.language,
        )
    except stripe_gateway.GatewayError as exc:
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
        payment.stripe_checkout_session_id = session.id
        payment.stripe_checkout_url = session.url or ""
        payment.expires_at = session.expires_at or expires_at
        payment.save(update_fields=["stripe_checkout_session_id", "stripe_checkout_url", "expires_at", "updated_at"])
        _log(
            invoice,
            Action.CHECKOUT_STARTED,
            actor=actor,
            at=now,
            from_status=invoice.status,
            payment=payment.pk,
            amount=amount,
            session=session.id,
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


def _fill_missing_stripe_ids(payment: Payment, *, payment_intent_id: str, charge_id: str) -> None:
    """A later event (``payment_intent.succeeded``) may bring the charge id the first one lacked: keep it."""
    changed = []
    if payment_intent_id and not payment.stripe_payment_intent_id:
        payment.stripe_payment_intent_id = payment_intent_id
        changed.append("stripe_payment_intent_id")
    if charge_id and not payment.stripe_charge_id:
        payment.stripe_charge_id = charge_id
        changed.append("stripe_charge_id")
    if changed:
        payment.save(update_fields=[*changed, "updated_at"])


def confirm_payment(
    *,
    payment: Payment,
    payment_intent_id: str = "",
    charge_id: str = "",
    amount=None,
    now: datetime | None = None,
) -> Payment:
    """Record that Stripe took the money: the payment succeeds, the invoice is paid, held sessions confirmed.

    Idempotent: a payment already succeeded is returned unchanged. A payment cancelled or failed on our side
    is still recorded (the money was taken); whatever was paid for nothing is then refunded by the system.
    """
    now = _now(now)
    try:
        with transaction.atomic():
            invoice = _lock_invoice(payment.invoice_id)
            payment = _lock_payment(payment.pk)
            if payment.status == PaymentStatus.SUCCEEDED:
                _fill_missing_stripe_ids(payment, payment_intent_id=payment_intent_id, charge_id=charge_id)
                return payment
            if amount is not None:
                payment.amount = _money(amount, payment.currency)  # what actually arrived
            payment.status = PaymentStatus.SUCCEEDED
            payment.received_at = now
            payment.failure_message = ""
            payment.stripe_payment_intent_id = payment_intent_id or payment.stripe_payment_intent_id
            payment.stripe_charge_id = charge_id or payment.stripe_charge_id
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
            superseded = (
                _cancel_pending_checkouts(invoice, now=now, exclude_pk=payment.pk)
                if invoice.status == InvoiceStatus.PAID
                else []
            )
    except IntegrityError as exc:  # the PaymentIntent is already recorded on another payment
        raise PaymentError("invalid_request") from exc
    _expire_sessions_quietly(superseded)
    if refund_due > 0:
        _refund(payment=payment, amount=refund_due, reason=reason, actor=None, now=now, raise_on_failure=False)
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
    return payment


def expire_checkout(*, payment: Payment, now: datetime | None = None) -> Payment:
    """A checkout was abandoned or expired: cancel the payment and give the held sessions' time back.

    Does nothing to a succeeded or already cancelled payment (a late "expired" message changes nothing), and
    keeps the holds while a newer checkout of the same invoice is still open.
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
            Payment.objects.filter(
                invoice=invoice, method=PaymentMethod.STRIPE, status=PaymentStatus.PENDING, expires_at__gt=now
            )
            .exclude(pk=payment.pk)
            .exists()
        )
        if invoice.status == InvoiceStatus.OPEN and not another_open:
            _release_held_appointments(invoice, now)
            if _lapsed_hold_invoice(invoice):
                _void(invoice, actor=None, reason=REASON_HOLD_LAPSED, now=now)
    return payment


def expire_stale_checkouts(*, now: datetime | None = None) -> int:
    """Close the checkouts that can no longer be paid in time; returns how many were expired.

    Stale: past its own deadline, or a session it pays for lost its hold. Each is expired at Stripe first (a
    Stripe error leaves it for the next run); one Stripe reports paid meanwhile is confirmed instead.
    """
    now = _now(now)
    stale = list(
        Payment.objects.filter(method=PaymentMethod.STRIPE, status=PaymentStatus.PENDING)
        .filter(Q(expires_at__lte=now) | Q(invoice__lines__appointment__hold_expires_at__lte=now))
        .distinct()
        .order_by("pk")[:STALE_CHECKOUTS_PER_RUN]
    )
    expired = 0
    for payment in stale:
        session_id = payment.stripe_checkout_session_id
        if session_id:
            try:
                session = stripe_gateway.expire_checkout_session(session_id)
            except stripe_gateway.GatewayError:
                try:  # Stripe refuses to expire a session that is complete: look at what happened
                    session = stripe_gateway.retrieve_checkout_session(session_id)
                except stripe_gateway.GatewayError:
                    logger.warning("Stripe Checkout Session %s not expired; retrying later", session_id, exc_info=True)
                    continue
            if session.payment_status == "paid":
                try:
                    confirm_payment(
                        payment=payment,
                        payment_intent_id=session.payment_intent_id or "",
                        amount=session.amount_total,
                        now=now,
                    )
                except PaymentError:
                    logger.exception(
                        "Stripe reports Checkout Session %s paid but it could not be recorded", session_id
                    )
                continue
            if session.status == "open":
                continue  # still payable at Stripe: expiring ours would strand the money
        expire_checkout(payment=payment, now=now)
        expired += 1
    return expired


def metadata_payment(metadata: dict, *, invoice_reference: str = "") -> Payment | None:
    """The Stripe payment named in a Checkout's metadata (``payment`` id), if it belongs to that invoice."""
    payment_id = str((metadata or {}).get("payment") or "")
    if not payment_id.isdigit():
        return None
    payment = Payment.objects.select_related("invoice").filter(pk=int(payment_id), method=PaymentMethod.STRIPE).first()
    if payment is None:
        return None
    expected_reference = (metadata or {}).get("invoice") or invoice_reference
    if expected_reference and payment.invoice.reference != expected_reference:
        logger.warning("Stripe metadata names payment %s of another invoice (%s)", payment_id, expected_reference)
        return None
    return payment


def payment_for_session(session: stripe_gateway.CheckoutSession) -> Payment | None:
    payment = payment_for_checkout_session(session.id)
    if payment is None:
        payment = metadata_payment(session.metadata, invoice_reference=session.client_reference_id)
        if payment is not None and payment.stripe_checkout_session_id not in ("", session.id):
            return None  # that payment went through another session: this one is not ours to settle
    return payment


def same_currency(payment: Payment, currency: str, what: str) -> bool:
    if payment.currency.upper() == (currency or "").upper():
        return True
    logger.error(
        "Stripe %s for payment %s is in %s, the payment in %s: not recorded",
        what,
        payment.pk,
        currency,
        payment.currency,
    )
    return False


def confirm_checkout_session(
    session: stripe_gateway.CheckoutSession, *, now: datetime | None = None
) -> Payment | None:
    """Record a paid Checkout Session: the webhook's and the success page's common path. Idempotent.

    Returns the payment (None when the session is not ours); a session not paid yet changes nothing.
    """
    payment = payment_for_session(session)
    if payment is None:
        logger.warning("Stripe Checkout Session %s matches no payment", session.id)
        return None
    if not session.is_paid:
        logger.info("Stripe Checkout Session %s is %s/%s", session.id, session.status, session.payment_status)
        return payment
    if not same_currency(payment, session.currency, "Checkout Session"):
        return payment
    return confirm_payment(
        payment=payment, payment_intent_id=session.payment_intent_id, amount=session.amount_total, now=now
    )


def close_open_checkouts(invoice, *, now: datetime | None = None) -> bool:
    """Close the invoice's open Checkout Sessions at Stripe, so none can be paid after the time is given back.

    Each session is expired at Stripe first; one Stripe reports paid meanwhile (another tab, a slow webhook) is
    confirmed instead, and the answer is True. Otherwise the payment is cancelled, which gives the held time back
    (and voids an invoice left with nothing owed) in billing's own transaction. The Stripe calls happen here, so
    call this BEFORE, never inside, a transaction of the caller's. Raises ``GatewayError`` or ``PaymentError``.
    """
    paid = False
    pending = Payment.objects.filter(
        invoice=invoice, method=PaymentMethod.STRIPE, status=PaymentStatus.PENDING
    ).order_by("-pk")
    for payment in pending:
        if payment.stripe_checkout_session_id:
            session = stripe_gateway.expire_checkout_session(payment.stripe_checkout_session_id)
            if session.is_paid:
                confirm_checkout_session(session, now=now)
                paid = True
                continue
        expire_checkout(payment=payment, now=now)
    return paid
