"""Stripe as a payment provider: hosted Checkout, refunds and signed webhooks, built on ``stripe_gateway``.

``booking.billing.stripe_gateway`` stays the low-level Stripe client (the only module that imports ``stripe``,
Stripe's integer amounts, its error wrapping); this adapter speaks the provider interface on top of it, so the
services never see a Checkout Session, a PaymentIntent or a ``GatewayError``. On a payment it keeps the Checkout
Session id as ``provider_reference``, the PaymentIntent as ``provider_payment_reference`` (refunds are made
against it) and the Checkout address and charge id in ``provider_data``.

Functions of ``stripe_gateway`` are looked up at call time, so the unit tests' fake gateway (``fakes.py``) that
replaces them is used through this adapter as well.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from django.conf import settings

from .. import stripe_gateway
from .base import (
    CHECKOUT_EXPIRED,
    CHECKOUT_FAILED,
    CHECKOUT_PAID,
    CHECKOUT_REFERENCE_PLACEHOLDER,
    IGNORED,
    PAYMENT_FAILED,
    PAYMENT_SUCCEEDED,
    REFUND_FAILED,
    REFUND_PENDING,
    REFUND_SUCCEEDED,
    REFUNDS_CHANGED,
    BasePaymentProvider,
    CheckoutState,
    PaymentUpdate,
    ProviderError,
    ProviderEvent,
    RefundState,
    RefundsUpdate,
    WebhookSignatureError,
)

#: Test keys start so (https://docs.stripe.com/keys): no real card is charged.
TEST_KEY_PREFIX = "sk_test_"
#: Where Stripe writes the Checkout Session's id into the success address.
STRIPE_SESSION_PLACEHOLDER = "{CHECKOUT_SESSION_ID}"

CHECKOUT_EVENTS = {
    "checkout.session.completed": CHECKOUT_PAID,
    "checkout.session.async_payment_succeeded": CHECKOUT_PAID,
    "checkout.session.async_payment_failed": CHECKOUT_FAILED,
    "checkout.session.expired": CHECKOUT_EXPIRED,
}
PAYMENT_INTENT_EVENTS = {
    "payment_intent.succeeded": PAYMENT_SUCCEEDED,
    "payment_intent.payment_failed": PAYMENT_FAILED,
}


def _payment_id(metadata: dict) -> int | None:
    value = str((metadata or {}).get("payment") or "")
    return int(value) if value.isdigit() else None


def _refund_status(stripe_status: str) -> str:
    if stripe_status == "succeeded":
        return REFUND_SUCCEEDED
    if stripe_status in ("failed", "canceled", "cancelled"):
        return REFUND_FAILED
    return REFUND_PENDING


def _refund_state(result: stripe_gateway.RefundResult) -> RefundState:
    return RefundState(
        reference=result.id, status=_refund_status(result.status), amount=result.amount, provider_status=result.status
    )


class StripeProvider(BasePaymentProvider):
    identifier = "stripe"
    verbose_name = "Stripe"
    # The one minimum: Stripe's 30 minutes plus the margin for the request to reach it (see stripe_gateway).
    checkout_min_lifetime = stripe_gateway.CHECKOUT_MIN_LIFETIME
    external_refund_reason = "refunded in the Stripe dashboard"

    def is_enabled(self) -> bool:
        return stripe_gateway.is_enabled()

    def is_test_mode(self) -> bool:
        return self.is_enabled() and settings.STRIPE_SECRET_KEY.startswith(TEST_KEY_PREFIX)

    # ----------------------------------------------------------------------------------------- checkout

    def checkout_state_from_session(self, session: stripe_gateway.CheckoutSession) -> CheckoutState:
        """A Checkout Session in the interface's terms (also what the fake gateway's sessions become in tests)."""
        return CheckoutState(
            provider=self.identifier,
            reference=session.id,
            is_open=session.status == "open",
            is_paid=session.is_paid,
            status=f"{session.status}/{session.payment_status}",
            url=session.url or "",
            amount=session.amount_total,
            currency=session.currency,
            payment_reference=session.payment_intent_id or "",
            payment_id=_payment_id(session.metadata),
            invoice_reference=str(session.metadata.get("invoice") or session.client_reference_id or ""),
            expires_at=session.expires_at,
            data={"checkout_url": session.url} if session.url else {},
        )

    def start_checkout(
        self,
        *,
        payment_id,
        invoice_reference,
        description,
        amount,
        currency,
        customer_email,
        success_url,
        cancel_url,
        expires_at,
        language,
    ) -> CheckoutState:
        try:
            session = stripe_gateway.create_checkout_session(
                client_reference_id=invoice_reference,
                line_description=description,
                amount=amount,
                currency=currency,
                customer_email=customer_email,
                success_url=success_url.replace(CHECKOUT_REFERENCE_PLACEHOLDER, STRIPE_SESSION_PLACEHOLDER),
                cancel_url=cancel_url,
                expires_at=expires_at,
                metadata={"invoice": invoice_reference, "payment": str(payment_id)},
                idempotency_key=f"checkout-{payment_id}",
                locale=language,
            )
        except stripe_gateway.GatewayError as error:
            raise ProviderError(str(error), code=error.code) from error
        return self.checkout_state_from_session(session)

    def checkout_state(self, reference: str) -> CheckoutState:
        try:
            return self.checkout_state_from_session(stripe_gateway.retrieve_checkout_session(reference))
        except stripe_gateway.GatewayError as error:
            raise ProviderError(str(error), code=error.code) from error

    def expire_checkout(self, reference: str) -> CheckoutState:
        """A session no longer open cannot be expired: the gateway then answers with its actual state."""
        try:
            return self.checkout_state_from_session(stripe_gateway.expire_checkout_session(reference))
        except stripe_gateway.GatewayError as error:
            raise ProviderError(str(error), code=error.code) from error

    # ----------------------------------------------------------------------------------------- refunds

    def refund(self, *, refund_id, payment_id, invoice_reference, payment_reference, amount, currency) -> RefundState:
        try:
            result = stripe_gateway.create_refund(
                payment_intent_id=payment_reference,
                amount=amount,
                currency=currency,
                idempotency_key=f"refund-{refund_id}",
                metadata={"invoice": invoice_reference, "payment": str(payment_id), "refund": str(refund_id)},
            )
        except stripe_gateway.GatewayError as error:
            raise ProviderError(str(error), code=error.code) from error
        return _refund_state(result)

    # ----------------------------------------------------------------------------------------- webhooks

    def parse_webhook(self, payload: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        try:
            event = stripe_gateway.construct_event(payload, headers.get("Stripe-Signature", ""))
        except stripe_gateway.SignatureError as error:
            raise WebhookSignatureError(str(error)) from error
        return self.event_from_webhook(event)

    def event_from_webhook(self, event: stripe_gateway.WebhookEvent) -> ProviderEvent:
        """A verified Stripe event reduced to what billing acts on; types billing does not handle are IGNORED."""
        common = {"id": event.id, "type": event.type, "object_id": event.object_id, "livemode": event.livemode}
        data = event.object
        if event.type in CHECKOUT_EVENTS:
            session = stripe_gateway.checkout_session_from_dict(data)
            checkout = self.checkout_state_from_session(session)
            return ProviderEvent(**common, action=CHECKOUT_EVENTS[event.type], checkout=checkout)
        if event.type in PAYMENT_INTENT_EVENTS:
            currency = str(data.get("currency") or "")
            received = data.get("amount_received") or data.get("amount")
            charge = stripe_gateway.id_of(data.get("latest_charge"))
            metadata = data.get("metadata") or {}
            update = PaymentUpdate(
                payment_reference=str(data.get("id") or ""),
                payment_id=_payment_id(metadata),
                invoice_reference=str(metadata.get("invoice") or ""),
                amount=stripe_gateway.from_stripe_amount(int(received), currency) if received else None,
                currency=currency,
                failure_message=str((data.get("last_payment_error") or {}).get("message") or ""),
                data={"charge": charge} if charge else {},
            )
            return ProviderEvent(**common, action=PAYMENT_INTENT_EVENTS[event.type], payment=update)
        if event.type == "charge.refunded":
            currency = str(data.get("currency") or "")
            listed = data.get("refunds")
            refunds = None
            if isinstance(listed, dict) and isinstance(listed.get("data"), list) and not listed.get("has_more"):
                refunds = tuple(
                    _refund_state(stripe_gateway.refund_from_dict(refund, currency)) for refund in listed["data"]
                )
            update = RefundsUpdate(
                payment_reference=stripe_gateway.id_of(data.get("payment_intent")),
                currency=currency,
                refunds=refunds,
                lookup={"charge": str(data.get("id") or "")} if data.get("id") else {},
            )
            return ProviderEvent(**common, action=REFUNDS_CHANGED, refunds=update)
        return ProviderEvent(**common, action=IGNORED)

    def complete_event(self, event: ProviderEvent) -> ProviderEvent:
        """``charge.refunded`` events of recent API versions no longer carry the refunds: list them from Stripe."""
        update = event.refunds
        if event.action != REFUNDS_CHANGED or update is None or update.refunds is not None:
            return event
        try:
            listed = stripe_gateway.list_refunds(charge_id=update.lookup.get("charge", ""), currency=update.currency)
        except stripe_gateway.GatewayError as error:
            raise ProviderError(str(error), code=error.code) from error
        return replace(event, refunds=replace(update, refunds=tuple(_refund_state(result) for result in listed)))
