"""The payment providers the clinic can take online payments through, registered by a setting.

``BILLING_PAYMENT_PROVIDERS`` lists provider classes by dotted path (``booking.billing.providers.stripe.
StripeProvider`` by default); each is a ``BasePaymentProvider`` (``base.py``) named by its ``identifier``, which
``Payment.provider`` stores and the webhook address carries. ``default_provider()`` is the first of them that
is switched on: the one a new online payment goes through. Adding a gateway is one module with one class, and
its path in the setting.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from .base import (
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

DEFAULT_PROVIDERS = ("booking.billing.providers.stripe.StripeProvider",)


@functools.lru_cache(maxsize=8)
def _registry(paths: tuple[str, ...]) -> dict[str, BasePaymentProvider]:
    providers = {}
    for path in paths:
        provider = import_string(path)()
        if not isinstance(provider, BasePaymentProvider) or not provider.identifier:
            raise ImproperlyConfigured(f"{path} is not a payment provider with an identifier")
        if provider.identifier in providers:
            raise ImproperlyConfigured(f"Two payment providers are called {provider.identifier!r}")
        providers[provider.identifier] = provider
    return providers


def registered_providers() -> dict[str, BasePaymentProvider]:
    """Every registered provider by identifier, switched on or not (old payments still name theirs)."""
    return _registry(tuple(getattr(settings, "BILLING_PAYMENT_PROVIDERS", DEFAULT_PROVIDERS)))


def get_provider(identifier: str) -> BasePaymentProvider | None:
    """The registered provider called ``identifier``; None for an unknown (or empty, i.e. offline) one."""
    return registered_providers().get(identifier or "")


def enabled_providers() -> list[BasePaymentProvider]:
    """The providers patients can pay through now, in the setting's order."""
    return [provider for provider in registered_providers().values() if provider.is_enabled()]


def default_provider() -> BasePaymentProvider | None:
    """The provider new online payments go through: the first one switched on; None when online payment is off."""
    enabled = enabled_providers()
    return enabled[0] if enabled else None


def online_payment_available() -> bool:
    return default_provider() is not None


__all__ = [
    "CHECKOUT_REFERENCE_PLACEHOLDER",
    "BasePaymentProvider",
    "CheckoutState",
    "PaymentUpdate",
    "ProviderError",
    "ProviderEvent",
    "RefundState",
    "RefundsUpdate",
    "WebhookSignatureError",
    "default_provider",
    "enabled_providers",
    "get_provider",
    "online_payment_available",
    "registered_providers",
]
