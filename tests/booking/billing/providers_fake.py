"""A second payment provider, for tests only: proof that a gateway is one module behind the provider interface.

``FakePayProvider`` keeps its checkouts and refunds in memory (``FakePayProvider.store``, emptied by the
``fakepay`` fixture) and signs its webhooks with an HMAC of the body (``FAKEPAY_WEBHOOK_SECRET``), the way most
gateways do. It is registered with a settings override (``BILLING_PAYMENT_PROVIDERS``), and nothing in billing
knows its name: the services, the webhook view (``/billing/webhooks/fakepay/``) and the return pages find it by
``Payment.provider``.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import itertools
import json
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.conf import settings

from booking.billing.providers import (
    CHECKOUT_REFERENCE_PLACEHOLDER,
    BasePaymentProvider,
    CheckoutState,
    PaymentUpdate,
    ProviderError,
    ProviderEvent,
    RefundState,
    RefundsUpdate,
    WebhookSignatureError,
)
from booking.billing.providers import base as events

SIGNATURE_HEADER = "X-FakePay-Signature"


@dataclass
class FakePayStore:
    checkouts: dict[str, CheckoutState] = field(default_factory=dict)
    refunds: dict[str, RefundState] = field(default_factory=dict)
    calls: list[tuple[str, dict]] = field(default_factory=list)
    by_key: dict[str, str] = field(default_factory=dict)
    down: bool = False
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))


def sign(payload: bytes, secret: str | None = None) -> str:
    secret = secret if secret is not None else settings.FAKEPAY_WEBHOOK_SECRET
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


class FakePayProvider(BasePaymentProvider):
    identifier = "fakepay"
    verbose_name = "FakePay"
    checkout_min_lifetime = datetime.timedelta(minutes=10)
    external_refund_reason = "refunded in the FakePay console"

    store = FakePayStore()

    # --- test controls --------------------------------------------------------------------------------------------

    @classmethod
    def reset(cls) -> FakePayStore:
        cls.store = FakePayStore()
        return cls.store

    def pay(self, reference: str) -> CheckoutState:
        """What the patient finishing FakePay's page does."""
        checkout = self.store.checkouts[reference]
        paid = replace(checkout, is_open=False, is_paid=True, status="paid", payment_reference=f"fp_pay_{reference}")
        self.store.checkouts[reference] = paid
        return paid

    def _call(self, name: str, **arguments) -> None:
        self.store.calls.append((name, arguments))
        if self.store.down:
            raise ProviderError("FakePay is down")

    # --- the interface --------------------------------------------------------------------------------------------

    def is_enabled(self) -> bool:
        return bool(getattr(settings, "FAKEPAY_WEBHOOK_SECRET", ""))

    def is_test_mode(self) -> bool:
        return True

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
        self._call("start_checkout", payment_id=payment_id, amount=amount, success_url=success_url)
        assert CHECKOUT_REFERENCE_PLACEHOLDER in success_url  # where FakePay writes the reference on the way back
        key = f"checkout-{payment_id}"
        if key in self.store.by_key:
            return self.store.checkouts[self.store.by_key[key]]
        reference = f"fp_co_{next(self.store.ids)}"
        checkout = CheckoutState(
            provider=self.identifier,
            reference=reference,
            is_open=True,
            is_paid=False,
            status="open",
            url=f"https://pay.fakepay.test/{reference}",
            amount=amount,
            currency=currency,
            payment_id=payment_id,
            invoice_reference=invoice_reference,
            expires_at=expires_at,
            data={"checkout_url": f"https://pay.fakepay.test/{reference}"},
        )
        self.store.checkouts[reference] = checkout
        self.store.by_key[key] = reference
        return checkout

    def checkout_state(self, reference: str) -> CheckoutState:
        self._call("checkout_state", reference=reference)
        if reference not in self.store.checkouts:
            raise ProviderError(f"no checkout {reference}")
        return self.store.checkouts[reference]

    def expire_checkout(self, reference: str) -> CheckoutState:
        self._call("expire_checkout", reference=reference)
        checkout = self.checkout_state(reference)
        if checkout.is_open:
            checkout = replace(checkout, is_open=False, status="expired")
            self.store.checkouts[reference] = checkout
        return checkout

    def refund(self, *, refund_id, payment_id, invoice_reference, payment_reference, amount, currency) -> RefundState:
        self._call("refund", refund_id=refund_id, payment_reference=payment_reference, amount=amount)
        key = f"refund-{refund_id}"
        if key not in self.store.by_key:
            reference = f"fp_re_{next(self.store.ids)}"
            self.store.refunds[reference] = RefundState(reference=reference, status="succeeded", amount=amount)
            self.store.by_key[key] = reference
        return self.store.refunds[self.store.by_key[key]]

    def parse_webhook(self, payload: bytes, headers) -> ProviderEvent:
        signature = headers.get(SIGNATURE_HEADER, "")
        if not signature or not hmac.compare_digest(signature, sign(payload)):
            raise WebhookSignatureError("bad FakePay signature")
        try:
            body = json.loads(payload)
        except ValueError as error:
            raise WebhookSignatureError("not JSON") from error
        kind, reference = body["type"], body["reference"]
        common = {"id": body["id"], "type": kind, "object_id": reference}
        if kind == "checkout.paid":
            return ProviderEvent(**common, action=events.CHECKOUT_PAID, checkout=self.store.checkouts[reference])
        if kind == "checkout.expired":
            return ProviderEvent(**common, action=events.CHECKOUT_EXPIRED, checkout=self.store.checkouts[reference])
        if kind == "payment.failed":
            update = PaymentUpdate(payment_reference=reference, failure_message=body.get("message", ""))
            return ProviderEvent(**common, action=events.PAYMENT_FAILED, payment=update)
        if kind == "payment.refunded":
            refunds = tuple(
                RefundState(reference=item["id"], status=item["status"], amount=Decimal(item["amount"]))
                for item in body["refunds"]
            )
            update = RefundsUpdate(payment_reference=reference, currency=body["currency"], refunds=refunds)
            return ProviderEvent(**common, action=events.REFUNDS_CHANGED, refunds=update)
        return ProviderEvent(**common)
