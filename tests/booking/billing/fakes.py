"""A stand-in for ``booking.billing.stripe_gateway`` in unit tests: no server, every call recorded.

``install_fake_gateway(monkeypatch, settings)`` switches Stripe on and replaces the gateway's functions with a
``FakeGateway``'s. It behaves like Stripe where the services care: idempotency keys return the first answer,
expiring a session that is no longer open answers with its state, and any call can be made to fail with
``fail_on(name)`` (raising the gateway's own ``GatewayError``, as a network or Stripe error would).

Like the real gateway, every call refuses to run inside a database transaction (``network_guard``): a service
that calls the provider with a transaction open fails its unit tests with ``ProviderCallInTransaction``.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

GATEWAY_FUNCTIONS = (
    "create_checkout_session",
    "retrieve_checkout_session",
    "expire_checkout_session",
    "create_refund",
)


def _gateway():
    from booking.billing import stripe_gateway

    return stripe_gateway


class FakeGateway:
    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.sessions: dict = {}
        self.refunds: dict = {}
        self.failures: dict[str, str] = {}
        self.failures_left: dict[str, int] = {}
        self.refund_status = "succeeded"
        self._by_idempotency_key: dict[str, object] = {}
        self._ids = itertools.count(1)

    # --- test controls ------------------------------------------------------------------------------------------

    def fail_on(self, name: str, message: str = "Stripe is unreachable", *, times: int | None = None) -> None:
        """Make later calls of ``name`` raise ``GatewayError(message)``: the next ``times`` ones, or every one
        until ``recover(name)``."""
        self.failures[name] = message
        if times is None:
            self.failures_left.pop(name, None)
        else:
            self.failures_left[name] = times

    def recover(self, name: str) -> None:
        self.failures.pop(name, None)
        self.failures_left.pop(name, None)

    def calls_of(self, name: str) -> list[dict]:
        return [arguments for called, arguments in self.calls if called == name]

    def pay(self, session_id: str, *, amount: Decimal | None = None):
        """What a patient finishing the Checkout does: the session is complete and paid."""
        session = self.sessions[session_id]
        self.sessions[session_id] = replace(
            session,
            status="complete",
            payment_status="paid",
            payment_intent_id=session.payment_intent_id or f"pi_test_{next(self._ids)}",
            amount_total=session.amount_total if amount is None else amount,
        )
        return self.sessions[session_id]

    def checkout_state(self, session):
        """A session as the Stripe provider reports it to billing (what ``services.confirm_checkout`` takes)."""
        from booking.billing.providers.stripe import StripeProvider

        return StripeProvider().checkout_state_from_session(session)

    # --- the gateway's functions --------------------------------------------------------------------------------

    def _record(self, name: str, arguments: dict) -> None:
        from booking.billing.network_guard import refuse_inside_transaction

        refuse_inside_transaction(f"fake Stripe {name}")
        self.calls.append((name, arguments))
        if name in self.failures:
            message = self.failures[name]
            if name in self.failures_left:
                self.failures_left[name] -= 1
                if self.failures_left[name] <= 0:
                    self.recover(name)
            raise _gateway().GatewayError(message)

    def create_checkout_session(
        self,
        *,
        client_reference_id: str,
        line_description: str,
        amount: Decimal,
        currency: str,
        customer_email: str,
        success_url: str,
        cancel_url: str,
        expires_at: datetime,
        metadata: dict,
        idempotency_key: str,
        locale: str,
    ):
        arguments = dict(locals())
        arguments.pop("self")
        self._record("create_checkout_session", arguments)
        if idempotency_key in self._by_idempotency_key:
            return self.sessions[self._by_idempotency_key[idempotency_key]]
        session_id = f"cs_test_{next(self._ids)}"
        session = _gateway().CheckoutSession(
            id=session_id,
            url=f"https://checkout.stripe.test/c/pay/{session_id}",
            status="open",
            payment_status="unpaid",
            payment_intent_id="",
            amount_total=amount,
            currency=currency.upper(),
            client_reference_id=client_reference_id,
            metadata=dict(metadata),
            expires_at=expires_at,
        )
        self.sessions[session_id] = session
        self._by_idempotency_key[idempotency_key] = session_id
        return session

    def retrieve_checkout_session(self, session_id: str):
        self._record("retrieve_checkout_session", {"session_id": session_id})
        if session_id not in self.sessions:
            raise _gateway().GatewayError(f"No such checkout.session: {session_id}")
        return self.sessions[session_id]

    def expire_checkout_session(self, session_id: str):
        self._record("expire_checkout_session", {"session_id": session_id})
        session = self.sessions.get(session_id)
        if session is None:
            raise _gateway().GatewayError(f"No such checkout.session: {session_id}")
        if session.status != "open":
            return session  # as the real gateway does: Stripe refuses, so it answers with the session's state
        self.sessions[session_id] = replace(session, status="expired")
        return self.sessions[session_id]

    def create_refund(self, *, payment_intent_id: str, amount: Decimal, currency: str, idempotency_key: str, metadata):
        arguments = {
            "payment_intent_id": payment_intent_id,
            "amount": amount,
            "currency": currency,
            "idempotency_key": idempotency_key,
            "metadata": dict(metadata),
        }
        self._record("create_refund", arguments)
        if idempotency_key in self._by_idempotency_key:
            return self.refunds[self._by_idempotency_key[idempotency_key]]
        refund = _gateway().RefundResult(id=f"re_test_{next(self._ids)}", status=self.refund_status, amount=amount)
        self.refunds[refund.id] = refund
        self._by_idempotency_key[idempotency_key] = refund.id
        return refund


def install_fake_gateway(monkeypatch, settings) -> FakeGateway:
    """Turn Stripe on and route every gateway call to a new ``FakeGateway``."""
    settings.STRIPE_ENABLED = True
    settings.STRIPE_SECRET_KEY = "sk_test_fake"
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_fake"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_fake"
    fake = FakeGateway()
    gateway = _gateway()
    for name in GATEWAY_FUNCTIONS:
        monkeypatch.setattr(gateway, name, getattr(fake, name))
    return fake
