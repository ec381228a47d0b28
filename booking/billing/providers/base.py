"""The payment-provider interface: what billing's services ask of a gateway, in provider-neutral terms.

Modelled on pretix's ``BasePaymentProvider`` (``pretix/base/payment.py``): one class per gateway, named by an
``identifier`` that is stored on each ``Payment`` (``Payment.provider``), switched on by the settings, and
answering in plain dataclasses so that no service ever sees a gateway's objects or error types. Amounts are
``Decimal`` in the invoice's currency both ways; a provider converts to and from its own units.

A provider keeps on each payment:

- ``provider_reference``: its own unique reference of the hosted checkout (Stripe's Checkout Session id), by
  which the return page and the webhooks find the payment;
- ``provider_payment_reference``: its reference of the money movement once there is one (Stripe's
  PaymentIntent), what refunds are made against; like pretix's ``matching_id``, it is what proves that one
  payment at the provider is recorded once;
- ``provider_data``: whatever else is worth keeping (the checkout address, the charge id); ``CheckoutState.data``
  and ``PaymentUpdate.data`` are merged into it.

Every call that reaches the network is made by the services outside any transaction and raises
``ProviderError`` on failure; a webhook that does not verify raises ``WebhookSignatureError``.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

# What a verified webhook asks billing to do (``ProviderEvent.action``).
CHECKOUT_PAID = "checkout_paid"
CHECKOUT_FAILED = "checkout_failed"
CHECKOUT_EXPIRED = "checkout_expired"
PAYMENT_SUCCEEDED = "payment_succeeded"
PAYMENT_FAILED = "payment_failed"
REFUNDS_CHANGED = "refunds_changed"
IGNORED = ""

#: Written in a success address where the provider puts the checkout's reference when the patient comes back.
CHECKOUT_REFERENCE_PLACEHOLDER = "{CHECKOUT_REFERENCE}"

# A refund's state (``RefundState.status``).
REFUND_PENDING = "pending"
REFUND_SUCCEEDED = "succeeded"
REFUND_FAILED = "failed"


class ProviderError(Exception):
    """The provider could not be reached or said no; services turn it into ``PaymentError("provider_error")``."""

    def __init__(self, message: str, *, code: str = ""):
        self.code = code or ""
        super().__init__(message)


class WebhookSignatureError(Exception):
    """A webhook whose signature or payload does not verify: it did not come from the provider."""


@dataclass(frozen=True)
class CheckoutState:
    """A hosted checkout as the provider reports it.

    ``payment_id`` and ``invoice_reference`` are what the checkout was opened for (our ``Payment`` pk and the
    invoice's reference, which the provider echoes back), so a payment whose reference was not stored yet is still
    found. ``data`` is merged into ``Payment.provider_data``.
    """

    provider: str  # the identifier of the provider that reported it
    reference: str
    is_open: bool
    is_paid: bool
    status: str = ""  # the provider's own words, for the logs
    url: str = ""
    amount: Decimal | None = None
    currency: str = ""
    payment_reference: str = ""
    payment_id: int | None = None
    invoice_reference: str = ""
    expires_at: datetime.datetime | None = None
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PaymentUpdate:
    """News about a payment's money (paid, failed); it is found by ``payment_reference``, else ``payment_id``."""

    payment_reference: str
    payment_id: int | None = None
    invoice_reference: str = ""
    amount: Decimal | None = None
    currency: str = ""
    failure_message: str = ""
    data: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RefundState:
    reference: str
    status: str  # REFUND_PENDING, REFUND_SUCCEEDED or REFUND_FAILED
    amount: Decimal
    provider_status: str = ""  # the provider's own word, kept as the failure message


@dataclass(frozen=True)
class RefundsUpdate:
    """The refunds of one payment as the provider now reports them (some may be made outside the clinic's site).

    The payment is found by ``payment_reference``, else by one of ``lookup``'s ``provider_data`` items.
    ``refunds`` is None when the event did not carry them all; ``BasePaymentProvider.complete_event`` fetches them.
    """

    payment_reference: str
    currency: str
    refunds: tuple[RefundState, ...] | None
    lookup: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderEvent:
    """A verified webhook event reduced to what billing acts on (``action``, and the matching detail)."""

    id: str
    type: str
    object_id: str = ""
    livemode: bool = False
    action: str = IGNORED
    checkout: CheckoutState | None = None
    payment: PaymentUpdate | None = None
    refunds: RefundsUpdate | None = None


class BasePaymentProvider:
    """One payment gateway. Subclasses set ``identifier`` and ``verbose_name`` and implement the methods below."""

    #: Stored in ``Payment.provider`` and in the webhook address (``/billing/webhooks/<identifier>/``).
    identifier: str = ""
    verbose_name: str = ""
    #: The shortest checkout the provider accepts: a checkout is opened for at least this long, even when the held
    #: time runs out sooner (it is then closed early by ``expire_stale_checkouts``).
    checkout_min_lifetime: datetime.timedelta = datetime.timedelta(minutes=30)
    #: The reason recorded on a refund made at the provider rather than through the clinic's site.
    external_refund_reason: str = "refunded at the payment provider"

    def __str__(self):
        return self.verbose_name or self.identifier

    def is_enabled(self) -> bool:
        """Whether patients may pay through this provider now (its settings are present)."""
        raise NotImplementedError

    def is_test_mode(self) -> bool:
        """Whether no real money moves (the pay page says so)."""
        return False

    def start_checkout(
        self,
        *,
        payment_id: int,
        invoice_reference: str,
        description: str,
        amount: Decimal,
        currency: str,
        customer_email: str,
        success_url: str,
        cancel_url: str,
        expires_at: datetime.datetime,
        language: str,
    ) -> CheckoutState:
        """Open a hosted checkout for ``amount``; the same ``payment_id`` twice gives the same checkout.

        ``success_url`` may contain ``CHECKOUT_REFERENCE_PLACEHOLDER``, which the provider replaces with the
        checkout's reference when it sends the patient back (the return page finds the payment by it).
        """
        raise NotImplementedError

    def checkout_state(self, reference: str) -> CheckoutState:
        """The checkout as it is now (the return page confirms a paid one when the webhook is late)."""
        raise NotImplementedError

    def expire_checkout(self, reference: str) -> CheckoutState:
        """Close an open checkout so it can no longer be paid; one paid or closed meanwhile is returned as it is."""
        raise NotImplementedError

    def refund(
        self, *, refund_id: int, payment_id: int, invoice_reference: str, payment_reference: str, amount, currency
    ) -> RefundState:
        """Give back ``amount`` of the payment ``payment_reference``; the same ``refund_id`` twice refunds once."""
        raise NotImplementedError

    def parse_webhook(self, payload: bytes, headers: Mapping[str, str]) -> ProviderEvent:
        """Verify a webhook request and reduce it to a ``ProviderEvent``; ``WebhookSignatureError`` if it fails."""
        raise NotImplementedError

    def complete_event(self, event: ProviderEvent) -> ProviderEvent:
        """Fetch what the event lacks (called outside any transaction, before it is handled); ``ProviderError``."""
        return event
