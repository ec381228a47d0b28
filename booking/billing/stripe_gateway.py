"""The Stripe boundary: the only module that imports ``stripe``.

Everything else in the project speaks Decimal amounts in the invoice's currency and plain dataclasses; this
module turns them into Stripe's integer amounts in the currency's minor unit (CLP 15000 → 15000, USD 12.50 →
1250) and back, and wraps every Stripe or network error in ``GatewayError`` so that services can turn it into
``PaymentError("provider_error")``.

The client is configured from the settings at call time (``STRIPE_SECRET_KEY``, ``STRIPE_API_BASE`` — empty for
Stripe itself, localstripe's address in tests), with short timeouts and two network retries: Stripe calls
happen while a patient waits for a page.

No function here that reaches Stripe runs inside a database transaction: each asks ``network_guard`` first and
raises ``ProviderCallInTransaction`` instead (a held lock would wait on Stripe, and a rollback would forget money
Stripe moved).
"""

from __future__ import annotations

import datetime
import functools
import logging
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import stripe
from django.conf import settings
from django.utils import timezone

from booking.scheduling.money import currency_exponent

from .network_guard import refuse_inside_transaction

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
MAX_NETWORK_RETRIES = 2
# Stripe refuses a Checkout Session that expires sooner than 30 minutes or later than 24 hours after creation;
# the margins cover the time the request takes to reach Stripe.
CHECKOUT_MIN_LIFETIME = datetime.timedelta(minutes=31)
CHECKOUT_MAX_LIFETIME = datetime.timedelta(hours=23, minutes=55)
# Checkout's languages (https://docs.stripe.com/api/checkout/sessions/create#create_checkout_session-locale).
CHECKOUT_LOCALES = frozenset(
    "auto bg cs da de el en en-GB es es-419 et fi fil fr fr-CA hr hu id it ja ko lt lv ms mt nb nl pl pt pt-BR "
    "ro ru sk sl sv th tr vi zh zh-HK zh-TW".lower().split()
)


class GatewayError(Exception):
    """Stripe could not be reached or said no. ``code`` is Stripe's error code when it gave one."""

    def __init__(self, message: str, *, code: str = "", http_status: int | None = None):
        self.code = code or ""
        self.http_status = http_status
        super().__init__(message)


class SignatureError(Exception):
    """A webhook whose signature or payload does not verify: it did not come from Stripe."""


# --------------------------------------------------------------------------------------------- amounts


def to_stripe_amount(amount: Decimal, currency: str) -> int:
    """An amount in Stripe's integer minor units. Refuses what the currency cannot hold (ValueError).

    ``Decimal("12.50")`` USD → 1250; ``Decimal("15000")`` CLP → 15000; ``Decimal("12.505")`` USD and
    ``Decimal("150.5")`` CLP raise instead of being rounded: money is never silently changed here.
    """
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise ValueError(f"amount must be a Decimal, not {type(amount).__name__}")
    value = Decimal(amount)
    if not value.is_finite() or value < 0:
        raise ValueError(f"not a payable amount: {amount}")
    minor_units = value.scaleb(currency_exponent(currency))
    if minor_units != minor_units.to_integral_value():
        raise ValueError(f"{amount} has more decimals than {currency.upper()} allows")
    return int(minor_units)


def from_stripe_amount(amount: int, currency: str) -> Decimal:
    """Stripe's integer minor units back to a Decimal in the currency (1250 USD → Decimal("12.50"))."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValueError(f"Stripe amounts are integers, not {type(amount).__name__}")
    return Decimal(amount).scaleb(-currency_exponent(currency))


# --------------------------------------------------------------------------------------------- objects


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str
    status: str  # open, complete, expired
    payment_status: str  # unpaid, paid, no_payment_required
    payment_intent_id: str
    amount_total: Decimal
    currency: str  # upper case, as the models store it
    client_reference_id: str
    metadata: dict = field(default_factory=dict)
    expires_at: datetime.datetime | None = None

    @property
    def is_paid(self) -> bool:
        return self.status == "complete" and self.payment_status == "paid"


@dataclass(frozen=True)
class RefundResult:
    id: str
    status: str  # pending, requires_action, succeeded, failed, canceled
    amount: Decimal
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookEvent:
    """A verified webhook event, reduced to plain data (``object`` is the event's ``data.object`` as a dict)."""

    id: str
    type: str
    object: dict
    livemode: bool = False
    created: int = 0

    @property
    def object_id(self) -> str:
        return str(self.object.get("id") or "")


def id_of(value) -> str:
    """An id from a field that Stripe sends either as an id or as the expanded object."""
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


def _timestamp(value) -> datetime.datetime | None:
    if value in (None, ""):
        return None
    return datetime.datetime.fromtimestamp(int(value), tz=datetime.UTC)


def checkout_session_from_dict(data: dict) -> CheckoutSession:
    """A Checkout Session as Stripe sends it (API answer or webhook ``data.object``) → ``CheckoutSession``."""
    currency = str(data.get("currency") or "").upper()
    amount_total = data.get("amount_total")
    return CheckoutSession(
        id=str(data.get("id") or ""),
        url=str(data.get("url") or ""),
        status=str(data.get("status") or ""),
        payment_status=str(data.get("payment_status") or ""),
        payment_intent_id=id_of(data.get("payment_intent")),
        amount_total=from_stripe_amount(amount_total, currency) if amount_total is not None else Decimal(0),
        currency=currency,
        client_reference_id=str(data.get("client_reference_id") or ""),
        metadata=dict(data.get("metadata") or {}),
        expires_at=_timestamp(data.get("expires_at")),
    )


def refund_from_dict(data: dict, currency: str = "") -> RefundResult:
    currency = str(data.get("currency") or currency)
    return RefundResult(
        id=str(data.get("id") or ""),
        status=str(data.get("status") or ""),
        amount=from_stripe_amount(int(data.get("amount") or 0), currency),
        metadata=dict(data.get("metadata") or {}),
    )


# --------------------------------------------------------------------------------------------- client


def is_enabled() -> bool:
    """Online payment is offered only when Stripe is switched on and has a secret key."""
    return bool(getattr(settings, "STRIPE_ENABLED", False) and getattr(settings, "STRIPE_SECRET_KEY", ""))


@functools.lru_cache(maxsize=4)
def _client_for(api_key: str, api_base: str, max_network_retries: int) -> stripe.StripeClient:
    options = {}
    if api_base:
        options["base_addresses"] = {"api": api_base.rstrip("/")}
    return stripe.StripeClient(
        api_key,
        max_network_retries=max_network_retries,
        http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
        **options,
    )


def _client() -> stripe.StripeClient:
    if not is_enabled():
        raise GatewayError("Stripe is not configured", code="not_configured")
    return _client_for(
        settings.STRIPE_SECRET_KEY,
        getattr(settings, "STRIPE_API_BASE", "") or "",
        getattr(settings, "STRIPE_MAX_NETWORK_RETRIES", MAX_NETWORK_RETRIES),
    )


def _gateway_error(error: stripe.StripeError, action: str) -> GatewayError:
    code = getattr(error, "code", None) or ""
    status = getattr(error, "http_status", None)
    logger.warning("Stripe %s failed (%s, HTTP %s): %s", action, code or type(error).__name__, status, error)
    return GatewayError(f"Stripe {action} failed: {error.user_message or error}", code=code, http_status=status)


def _as_dict(stripe_object) -> dict:
    return stripe_object.to_dict() if hasattr(stripe_object, "to_dict") else dict(stripe_object)


def clamp_checkout_expiry(expires_at: datetime.datetime, now: datetime.datetime) -> datetime.datetime:
    """The closest moment to ``expires_at`` that Stripe accepts for a Checkout Session created at ``now``."""
    return min(max(expires_at, now + CHECKOUT_MIN_LIFETIME), now + CHECKOUT_MAX_LIFETIME)


def checkout_locale(language: str) -> str:
    """Stripe's name for a language: ``es-cl`` → ``es-419`` (Latin-American Spanish), ``en-us`` → ``en``.

    A bare language that is the site's own (invoices say ``es``) takes the site's region (``es-cl``).
    """
    language = (language or "").strip().replace("_", "-").lower()
    site_language = settings.LANGUAGE_CODE.lower()
    if language and "-" not in language and site_language.startswith(f"{language}-"):
        language = site_language
    if language in CHECKOUT_LOCALES:
        return {"en-gb": "en-GB", "es-419": "es-419"}.get(language, language)
    base, _, region = language.partition("-")
    if base == "es" and region and region != "es":
        return "es-419"
    return base if base in CHECKOUT_LOCALES else "auto"


def create_checkout_session(
    *,
    client_reference_id: str,
    line_description: str,
    amount: Decimal,
    currency: str,
    customer_email: str,
    success_url: str,
    cancel_url: str,
    expires_at: datetime.datetime,
    metadata: dict,
    idempotency_key: str,
    locale: str,
) -> CheckoutSession:
    """Open a hosted Checkout page for one line of ``amount``.

    ``metadata`` goes on the session and on its PaymentIntent, so a ``payment_intent.*`` webhook can be matched
    to the payment even before ``checkout.session.completed`` arrives. ``expires_at`` is clamped into Stripe's
    30 min – 24 h window; the returned session says when it really expires.
    """
    stripe_metadata = {str(key): str(value) for key, value in (metadata or {}).items()}
    params = {
        "mode": "payment",
        "client_reference_id": client_reference_id,
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": currency.lower(),
                    "unit_amount": to_stripe_amount(amount, currency),
                    "product_data": {"name": line_description[:250] or client_reference_id},
                },
            }
        ],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "expires_at": int(clamp_checkout_expiry(expires_at, timezone.now()).timestamp()),
        "metadata": stripe_metadata,
        "payment_intent_data": {"metadata": stripe_metadata},
        "locale": checkout_locale(locale),
    }
    if customer_email:
        params["customer_email"] = customer_email
    refuse_inside_transaction("Stripe checkout creation")
    try:
        session = _client().v1.checkout.sessions.create(params=params, options={"idempotency_key": idempotency_key})
    except stripe.StripeError as error:
        raise _gateway_error(error, "checkout creation") from error
    return checkout_session_from_dict(_as_dict(session))


def retrieve_checkout_session(session_id: str) -> CheckoutSession:
    refuse_inside_transaction("Stripe checkout retrieval")
    try:
        session = _client().v1.checkout.sessions.retrieve(session_id)
    except stripe.StripeError as error:
        raise _gateway_error(error, "checkout retrieval") from error
    return checkout_session_from_dict(_as_dict(session))


def expire_checkout_session(session_id: str) -> CheckoutSession:
    """Close an open session so it can no longer be paid; returns the session as it now is.

    A session that is no longer open (paid meanwhile in another tab, or already expired) cannot be expired:
    Stripe answers with an error, and this returns the session's actual state instead, so the caller can tell
    "closed unpaid" (release the hold) from "paid after all" (confirm it).
    """
    refuse_inside_transaction("Stripe checkout expiry")
    client = _client()
    try:
        session = client.v1.checkout.sessions.expire(session_id)
    except stripe.InvalidRequestError as error:
        logger.info("Checkout Session %s could not be expired (%s); reading its state", session_id, error)
        return retrieve_checkout_session(session_id)
    except stripe.StripeError as error:
        raise _gateway_error(error, "checkout expiry") from error
    return checkout_session_from_dict(_as_dict(session))


def create_refund(
    *, payment_intent_id: str, amount: Decimal, currency: str, idempotency_key: str, metadata: dict
) -> RefundResult:
    """Refund ``amount`` of a PaymentIntent (partial refunds allowed; Stripe refuses more than is left)."""
    params = {
        "payment_intent": payment_intent_id,
        "amount": to_stripe_amount(amount, currency),
        "metadata": {str(key): str(value) for key, value in (metadata or {}).items()},
    }
    refuse_inside_transaction("Stripe refund")
    try:
        refund = _client().v1.refunds.create(params=params, options={"idempotency_key": idempotency_key})
    except stripe.StripeError as error:
        raise _gateway_error(error, "refund") from error
    return refund_from_dict(_as_dict(refund), currency)


def list_refunds(*, charge_id: str, currency: str) -> list[RefundResult]:
    """Every refund of a charge (``charge.refunded`` events of recent API versions no longer carry them)."""
    refuse_inside_transaction("Stripe refund listing")
    try:
        page = _client().v1.refunds.list(params={"charge": charge_id, "limit": 100})
        refunds = [refund_from_dict(_as_dict(refund), currency) for refund in page.auto_paging_iter()]
    except stripe.StripeError as error:
        raise _gateway_error(error, "refund listing") from error
    return refunds


def construct_event(payload: bytes, signature_header: str) -> WebhookEvent:
    """Verify a webhook with ``STRIPE_WEBHOOK_SECRET`` and return it as plain data; ``SignatureError`` if not."""
    secret = getattr(settings, "STRIPE_WEBHOOK_SECRET", "")
    if not secret:
        # Without a secret anyone could sign an event; refuse rather than trust an unverified payload.
        logger.error("A Stripe webhook arrived but STRIPE_WEBHOOK_SECRET is not set")
        raise SignatureError("webhook secret not configured")
    if not signature_header:
        raise SignatureError("missing Stripe-Signature header")
    try:
        event = stripe.Webhook.construct_event(payload, signature_header, secret)
        data = event.to_dict()
    except (stripe.SignatureVerificationError, ValueError, KeyError, TypeError, InvalidOperation) as error:
        raise SignatureError(str(error) or type(error).__name__) from error
    data_object = (data.get("data") or {}).get("object")
    if not data.get("id") or not data.get("type") or not isinstance(data_object, dict):
        raise SignatureError("not a Stripe event")
    return WebhookEvent(
        id=str(data["id"]),
        type=str(data["type"]),
        object=data_object,
        livemode=bool(data.get("livemode")),
        created=int(data.get("created") or 0),
    )
