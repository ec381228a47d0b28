"""Payment providers' webhook events, dispatched by what they ask of billing.

The view verifies the request through the provider named in its address (``provider.parse_webhook``) and hands
the resulting ``ProviderEvent`` to ``process_event``, which, in one transaction, stores the event's id
(``ProcessedEvent``, unique per provider) and runs its handler:

- an id already stored is a replay or a retry: nothing is done and the provider gets a 2xx;
- an event about a payment we do not know, or one a billing rule refuses (``PaymentError``), is logged and
  stored: the provider retrying it would not change the answer;
- any other error rolls the transaction back, the event's row too, so that the provider's retry is processed,
  and only then does the view answer 500.

No handler calls a provider inside that transaction (``network_guard`` would refuse): what the provider must be
told because of the event (a refund of money paid for nothing, the closing of superseded checkouts) is written
as a row and handed to huey by ``transaction.on_commit``, so it happens only once the event is stored, and never
for an event whose transaction rolled back. What a handler must read from the provider is fetched before
(``provider.complete_event``).

Providers send events in no guaranteed order and sometimes twice (Stripe's ``payment_intent.succeeded`` may
arrive before ``checkout.session.completed``), so both "checkout paid" and "payment succeeded" confirm the
payment, which the services make idempotent. A payment is found by the provider's references, or else by the
``payment`` id the checkout carries, so a payment whose reference was not stored yet is still found.

``services.confirm_checkout`` is shared with the checkout's success page, which confirms a paid checkout itself
when the webhook is late.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from booking.scheduling.errors import BookingError

from . import services
from .errors import PaymentError
from .models import Payment, ProcessedEvent
from .providers import BasePaymentProvider, PaymentUpdate, ProviderEvent
from .providers import base as events
from .selectors import payment_for_provider_payment

logger = logging.getLogger(__name__)

PROCESSED = "processed"
DUPLICATE = "duplicate"

# The services' own refusals: the provider retrying the event would get the same answer.
EXPECTED_ERRORS = (PaymentError, BookingError)


def _payment_for_update(provider: BasePaymentProvider, update: PaymentUpdate) -> Payment | None:
    payment = payment_for_provider_payment(update.payment_reference, provider=provider.identifier)
    if payment is None:
        payment = services.checkout.metadata_payment(
            provider, update.payment_id, invoice_reference=update.invoice_reference
        )
        if payment is not None and payment.provider_payment_reference not in ("", update.payment_reference):
            return None
    return payment


# --------------------------------------------------------------------------------------------- handlers


def _checkout_paid(provider: BasePaymentProvider, event: ProviderEvent, now) -> None:
    services.confirm_checkout(event.checkout, now=now)


def _checkout_expired(provider: BasePaymentProvider, event: ProviderEvent, now) -> None:
    payment = services.checkout.payment_for_checkout_state(provider, event.checkout)
    if payment is None:
        logger.warning("Expired %s checkout %s matches no payment", provider, event.checkout.reference)
        return
    services.expire_checkout(payment=payment, now=now)


def _checkout_failed(provider: BasePaymentProvider, event: ProviderEvent, now) -> None:
    payment = services.checkout.payment_for_checkout_state(provider, event.checkout)
    if payment is None:
        logger.warning("Failed %s checkout %s matches no payment", provider, event.checkout.reference)
        return
    services.fail_payment(payment=payment, message="", now=now)


def _payment_succeeded(provider: BasePaymentProvider, event: ProviderEvent, now) -> None:
    update = event.payment
    payment = _payment_for_update(provider, update)
    if payment is None:
        logger.warning("%s payment %s matches no payment", provider, update.payment_reference)
        return
    if not services.checkout.same_currency(payment, update.currency, "payment"):
        return
    services.confirm_payment(
        payment=payment, payment_reference=update.payment_reference, data=update.data, amount=update.amount, now=now
    )


def _payment_failed(provider: BasePaymentProvider, event: ProviderEvent, now) -> None:
    update = event.payment
    payment = _payment_for_update(provider, update)
    if payment is None:
        logger.warning("Failed %s payment %s matches no payment", provider, update.payment_reference)
        return
    services.fail_payment(payment=payment, message=update.failure_message, now=now)


def _payment_for_refunds(provider: BasePaymentProvider, event: ProviderEvent) -> Payment | None:
    update = event.refunds
    payment = payment_for_provider_payment(update.payment_reference, provider=provider.identifier)
    for key, value in update.lookup.items():
        if payment is not None or not value:
            break
        payment = (
            Payment.objects.select_related("invoice")
            .filter(provider=provider.identifier, **{f"provider_data__{key}": value})
            .first()
        )
    return payment


def _refunds_changed(provider: BasePaymentProvider, event: ProviderEvent, now) -> None:
    update = event.refunds
    payment = _payment_for_refunds(provider, event)
    if payment is None:
        logger.warning(
            "Refunded %s payment %s matches no payment", provider, update.payment_reference or event.object_id
        )
        return
    if not services.checkout.same_currency(payment, update.currency, "refund"):
        return
    for refund in update.refunds or ():
        try:
            services.record_provider_refund(
                payment=payment,
                reference=refund.reference,
                amount=refund.amount,
                status=refund.status,
                provider_status=refund.provider_status,
                now=now,
            )
        except EXPECTED_ERRORS as error:  # one refund refused must not hide the payment's others
            logger.warning(
                "%s refund %s of payment %s not recorded: %s", provider, refund.reference, payment.pk, error
            )


Handler = Callable[[BasePaymentProvider, ProviderEvent, datetime | None], None]

HANDLERS: dict[str, Handler] = {
    events.CHECKOUT_PAID: _checkout_paid,
    events.CHECKOUT_FAILED: _checkout_failed,
    events.CHECKOUT_EXPIRED: _checkout_expired,
    events.PAYMENT_SUCCEEDED: _payment_succeeded,
    events.PAYMENT_FAILED: _payment_failed,
    events.REFUNDS_CHANGED: _refunds_changed,
}


def process_event(event: ProviderEvent, *, provider: BasePaymentProvider, now: datetime | None = None) -> str:
    """Store and handle a verified event once; ``DUPLICATE`` for one already handled, else ``PROCESSED``.

    What the event lacks is fetched from the provider first, outside the transaction (``complete_event``).
    Raises only for an unexpected error, a ``ProviderError`` included (nothing is then stored, so the provider's
    retry is handled afresh).
    """
    if ProcessedEvent.objects.filter(provider=provider.identifier, event_id=event.id).exists():
        return DUPLICATE
    handler = HANDLERS.get(event.action)
    if handler is not None:
        event = provider.complete_event(event)
    with transaction.atomic():
        try:
            with transaction.atomic():  # a savepoint: a concurrent delivery of the same event loses here
                ProcessedEvent.objects.create(
                    provider=provider.identifier,
                    event_id=event.id,
                    type=event.type[:100],
                    object_id=event.object_id[:255],
                    received_at=now or timezone.now(),
                    livemode=event.livemode,
                )
        except IntegrityError:
            return DUPLICATE
        if handler is None:
            logger.info("%s event %s (%s) stored, not handled", provider, event.id, event.type)
            return PROCESSED
        try:
            handler(provider, event, now)
        except EXPECTED_ERRORS as error:
            logger.warning("%s event %s (%s) refused by billing: %s", provider, event.id, event.type, error)
    return PROCESSED
