"""Stripe's webhook events, dispatched by type to the billing services.

The view verifies the signature (``stripe_gateway.construct_event``) and hands the event to
``process_event``, which, in one transaction, stores the event's id (``StripeEvent``) and runs its handler:

- an id already stored is a replay or a retry: nothing is done and Stripe gets a 2xx;
- an event about a payment we do not know, or one a billing rule refuses (``PaymentError``), is logged and
  stored: Stripe retrying it would not change the answer;
- any other error rolls the transaction back, the event's row too, so that Stripe's retry is processed, and
  only then does the view answer 500.

No handler calls Stripe inside that transaction (``network_guard`` would refuse): what Stripe must be told
because of the event (a refund of money paid for nothing, the closing of superseded checkouts) is written as a
row and handed to huey by ``transaction.on_commit``, so it happens only once the event is stored, and never for
an event whose transaction rolled back. What a handler must read from Stripe is fetched before (``PREPARERS``).

Stripe sends events in no guaranteed order and sometimes twice: ``payment_intent.succeeded`` may arrive before
``checkout.session.completed``, so both confirm the payment, which the services make idempotent. A payment is
found by its Stripe ids, or else by the ``payment`` id the Checkout's metadata carries (the session's and its
PaymentIntent's), so a payment whose Stripe id was not stored yet is still found.

``confirm_checkout_session`` is shared with the Checkout success page, which confirms a paid session itself
when the webhook is late.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from booking.scheduling.errors import BookingError

from . import services, stripe_gateway
from .errors import PaymentError
from .models import Payment, StripeEvent
from .selectors import payment_for_payment_intent

logger = logging.getLogger(__name__)

PROCESSED = "processed"
DUPLICATE = "duplicate"

# The services' own refusals: Stripe retrying the event would get the same answer.
EXPECTED_ERRORS = (PaymentError, BookingError)


def _payment_for_intent(intent: dict) -> Payment | None:
    payment = payment_for_payment_intent(str(intent.get("id") or ""))
    if payment is None:
        payment = services.checkout.metadata_payment(intent.get("metadata") or {})
        if payment is not None and payment.stripe_payment_intent_id not in ("", intent.get("id")):
            return None
    return payment


# --------------------------------------------------------------------------------------------- handlers


def _checkout_completed(event: stripe_gateway.WebhookEvent, prepared, now) -> None:
    services.confirm_checkout_session(stripe_gateway.checkout_session_from_dict(event.object), now=now)


def _checkout_expired(event: stripe_gateway.WebhookEvent, prepared, now) -> None:
    session = stripe_gateway.checkout_session_from_dict(event.object)
    payment = services.checkout.payment_for_session(session)
    if payment is None:
        logger.warning("Expired Stripe Checkout Session %s matches no payment", session.id)
        return
    services.expire_checkout(payment=payment, now=now)


def _checkout_async_failed(event: stripe_gateway.WebhookEvent, prepared, now) -> None:
    session = stripe_gateway.checkout_session_from_dict(event.object)
    payment = services.checkout.payment_for_session(session)
    if payment is None:
        logger.warning("Failed Stripe Checkout Session %s matches no payment", session.id)
        return
    services.fail_payment(payment=payment, message="", now=now)


def _intent_succeeded(event: stripe_gateway.WebhookEvent, prepared, now) -> None:
    intent = event.object
    payment = _payment_for_intent(intent)
    if payment is None:
        logger.warning("Stripe PaymentIntent %s matches no payment", intent.get("id"))
        return
    currency = str(intent.get("currency") or "")
    if not services.checkout.same_currency(payment, currency, "PaymentIntent"):
        return
    received = intent.get("amount_received") or intent.get("amount")
    services.confirm_payment(
        payment=payment,
        payment_intent_id=str(intent.get("id") or ""),
        charge_id=stripe_gateway.id_of(intent.get("latest_charge")),
        amount=stripe_gateway.from_stripe_amount(int(received), currency) if received else None,
        now=now,
    )


def _intent_failed(event: stripe_gateway.WebhookEvent, prepared, now) -> None:
    intent = event.object
    payment = _payment_for_intent(intent)
    if payment is None:
        logger.warning("Failed Stripe PaymentIntent %s matches no payment", intent.get("id"))
        return
    message = str((intent.get("last_payment_error") or {}).get("message") or "")
    services.fail_payment(payment=payment, message=message, now=now)


def _payment_for_charge(charge: dict) -> Payment | None:
    payment = payment_for_payment_intent(stripe_gateway.id_of(charge.get("payment_intent")))
    if payment is None and charge.get("id"):
        payment = Payment.objects.select_related("invoice").filter(stripe_charge_id=charge["id"]).first()
    return payment


def _charge_refunds(event: stripe_gateway.WebhookEvent) -> list[stripe_gateway.RefundResult]:
    """The charge's refunds: from the event when it carries them all, else from Stripe (outside any transaction)."""
    charge = event.object
    currency = str(charge.get("currency") or "")
    listed = charge.get("refunds")
    if isinstance(listed, dict) and isinstance(listed.get("data"), list) and not listed.get("has_more"):
        return [stripe_gateway.refund_from_dict(refund, currency) for refund in listed["data"]]
    return stripe_gateway.list_refunds(charge_id=str(charge.get("id") or ""), currency=currency)


def _charge_refunded(event: stripe_gateway.WebhookEvent, refunds, now) -> None:
    charge = event.object
    payment = _payment_for_charge(charge)
    if payment is None:
        logger.warning("Refunded Stripe charge %s matches no payment", charge.get("id"))
        return
    if not services.checkout.same_currency(payment, str(charge.get("currency") or ""), "refund"):
        return
    for refund in refunds:
        try:
            services.record_stripe_refund(
                payment=payment, stripe_refund_id=refund.id, amount=refund.amount, status=refund.status, now=now
            )
        except EXPECTED_ERRORS as error:  # one refund refused must not hide the charge's others
            logger.warning("Stripe refund %s of payment %s not recorded: %s", refund.id, payment.pk, error)


Handler = Callable[[stripe_gateway.WebhookEvent, object, datetime | None], None]

HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": _checkout_completed,
    "checkout.session.async_payment_succeeded": _checkout_completed,
    "checkout.session.async_payment_failed": _checkout_async_failed,
    "checkout.session.expired": _checkout_expired,
    "payment_intent.succeeded": _intent_succeeded,
    "payment_intent.payment_failed": _intent_failed,
    "charge.refunded": _charge_refunded,
}

# What a handler needs from Stripe besides the event, fetched before the transaction opens.
PREPARERS: dict[str, Callable[[stripe_gateway.WebhookEvent], object]] = {
    "charge.refunded": _charge_refunds,
}


def process_event(event: stripe_gateway.WebhookEvent, *, now: datetime | None = None) -> str:
    """Store and handle a verified event once; ``DUPLICATE`` for one already handled, else ``PROCESSED``.

    Raises only for an unexpected error (nothing is then stored, so Stripe's retry is handled afresh).
    """
    if StripeEvent.objects.filter(event_id=event.id).exists():
        return DUPLICATE
    handler = HANDLERS.get(event.type)
    preparer = PREPARERS.get(event.type)
    prepared = preparer(event) if preparer and handler else None
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: a concurrent delivery of the same event loses here
                StripeEvent.objects.create(
                    event_id=event.id,
                    type=event.type[:100],
                    object_id=event.object_id[:255],
                    received_at=now or timezone.now(),
                    livemode=event.livemode,
                )
        except IntegrityError:
            return DUPLICATE
        if handler is None:
            logger.info("Stripe event %s (%s) stored, not handled", event.id, event.type)
            return PROCESSED
        try:
            handler(event, prepared, now)
        except EXPECTED_ERRORS as error:
            logger.warning("Stripe event %s (%s) refused by billing: %s", event.id, event.type, error)
    return PROCESSED
