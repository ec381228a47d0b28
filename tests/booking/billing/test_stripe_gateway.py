"""The Stripe boundary: exact amount conversion, webhook verification, and real calls to the fake Stripe."""

import hashlib
import hmac
import json
import time
from datetime import timedelta
from decimal import Decimal

import pytest

from booking.billing import stripe_gateway
from booking.billing.stripe_gateway import GatewayError, SignatureError

from .conftest import STRIPE_NOW

# --------------------------------------------------------------------------------------------- amounts


@pytest.mark.parametrize(
    ("amount", "currency", "minor_units"),
    [
        (Decimal("15000"), "CLP", 15000),
        (Decimal("15000.00"), "CLP", 15000),
        (Decimal("1"), "clp", 1),
        (Decimal("1200"), "JPY", 1200),
        (Decimal("12.50"), "USD", 1250),
        (Decimal("12.5"), "usd", 1250),
        (Decimal("0.01"), "USD", 1),
        (Decimal("99999.99"), "EUR", 9999999),
        (Decimal("0"), "EUR", 0),
        (42, "USD", 4200),
    ],
    ids=[
        "clp",
        "clp-trailing-zeros",
        "clp-lower-case",
        "jpy",
        "usd",
        "usd-one-decimal",
        "usd-cent",
        "eur",
        "zero",
        "int",
    ],
)
def test_amounts_convert_exactly_both_ways(amount, currency, minor_units):
    assert stripe_gateway.to_stripe_amount(amount, currency) == minor_units
    assert stripe_gateway.from_stripe_amount(minor_units, currency) == Decimal(amount)


@pytest.mark.parametrize(
    ("minor_units", "currency", "text"),
    [(15000, "CLP", "15000"), (1250, "USD", "12.50"), (99, "EUR", "0.99"), (500, "JPY", "500")],
    ids=["clp", "usd", "eur", "jpy"],
)
def test_amounts_from_stripe_keep_the_currency_decimals(minor_units, currency, text):
    assert str(stripe_gateway.from_stripe_amount(minor_units, currency)) == text


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        (Decimal("12.505"), "USD"),
        (Decimal("150.5"), "CLP"),
        (Decimal("0.1"), "JPY"),
        (Decimal("-1"), "USD"),
        (Decimal("NaN"), "USD"),
        (Decimal("Infinity"), "CLP"),
        (12.5, "USD"),
        ("12.50", "USD"),
        (True, "CLP"),
    ],
    ids=["usd-mills", "clp-cents", "jpy-decimal", "negative", "nan", "infinity", "float", "string", "bool"],
)
def test_amounts_stripe_cannot_hold_are_refused_not_rounded(amount, currency):
    with pytest.raises(ValueError):
        stripe_gateway.to_stripe_amount(amount, currency)


@pytest.mark.parametrize("value", ["1250", 12.5, True, None], ids=["string", "float", "bool", "none"])
def test_amounts_from_stripe_must_be_integers(value):
    with pytest.raises(ValueError):
        stripe_gateway.from_stripe_amount(value, "USD")


# --------------------------------------------------------------------------------------------- small rules


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        (timedelta(minutes=15), timedelta(minutes=31)),
        (timedelta(hours=2), timedelta(hours=2)),
        (timedelta(days=3), timedelta(hours=23, minutes=55)),
        (timedelta(minutes=-5), timedelta(minutes=31)),
    ],
    ids=["hold-shorter-than-stripe-allows", "inside-window", "longer-than-a-day", "in-the-past"],
)
def test_checkout_expiry_is_clamped_into_stripes_window(wanted, expected):
    assert stripe_gateway.clamp_checkout_expiry(STRIPE_NOW + wanted, STRIPE_NOW) == STRIPE_NOW + expected


@pytest.mark.parametrize(
    ("language", "locale"),
    [("es", "es-419"), ("es-cl", "es-419"), ("es_CL", "es-419"), ("es-es", "es"), ("en", "en"), ("en-us", "en"),
     ("en-GB", "en-GB"), ("pt-br", "pt-br"), ("xx", "auto"), ("", "auto")],
    ids=["es-is-the-sites-chilean-spanish", "es-cl", "es_CL", "es-es", "en", "en-us", "en-gb", "pt-br", "unknown",
         "empty"],
)  # fmt: skip
def test_checkout_speaks_the_invoice_language(settings, language, locale):
    settings.LANGUAGE_CODE = "es-cl"
    assert stripe_gateway.checkout_locale(language) == locale


@pytest.mark.parametrize(
    ("enabled", "key", "expected"),
    [(True, "sk_test_x", True), (True, "", False), (False, "sk_test_x", False)],
    ids=["on", "no-key", "off"],
)
def test_is_enabled_needs_the_switch_and_a_key(settings, enabled, key, expected):
    settings.STRIPE_ENABLED, settings.STRIPE_SECRET_KEY = enabled, key
    assert stripe_gateway.is_enabled() is expected


def test_calls_with_stripe_off_raise_gateway_error(settings):
    settings.STRIPE_ENABLED = False
    with pytest.raises(GatewayError) as caught:
        stripe_gateway.retrieve_checkout_session("cs_test_anything")
    assert caught.value.code == "not_configured"


# --------------------------------------------------------------------------------------------- webhook signatures

SECRET = "whsec_unit_test"


def _event_payload(**overrides) -> bytes:
    event = {
        "id": "evt_unit_1",
        "object": "event",
        "type": "checkout.session.completed",
        "livemode": False,
        "created": int(time.time()),
        "data": {"object": {"id": "cs_test_1", "object": "checkout.session", "amount_total": 15000}},
    }
    event.update(overrides)
    return json.dumps(event).encode()


def _signature(payload: bytes, *, secret=SECRET, timestamp=None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def test_construct_event_returns_plain_data(settings):
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    payload = _event_payload()

    event = stripe_gateway.construct_event(payload, _signature(payload))

    assert event.id == "evt_unit_1"
    assert event.type == "checkout.session.completed"
    assert event.object == {"id": "cs_test_1", "object": "checkout.session", "amount_total": 15000}
    assert event.object_id == "cs_test_1"
    assert event.livemode is False


@pytest.mark.parametrize(
    "tamper",
    [
        lambda payload: (payload, _signature(payload, secret="whsec_someone_else")),
        lambda payload: (payload.replace(b"15000", b"1"), _signature(payload)),
        lambda payload: (payload, ""),
        lambda payload: (payload, "garbage"),
        lambda payload: (payload, _signature(payload, timestamp=int(time.time()) - 3600)),
        lambda payload: (b"not json", _signature(b"not json")),
        lambda payload: (b'{"id": "evt_1"}', _signature(b'{"id": "evt_1"}')),
    ],
    ids=["other-secret", "changed-body", "no-header", "malformed-header", "an-hour-old", "not-json", "not-an-event"],
)
def test_construct_event_refuses_what_stripe_did_not_sign(settings, tamper):
    settings.STRIPE_WEBHOOK_SECRET = SECRET
    payload, header = tamper(_event_payload())

    with pytest.raises(SignatureError):
        stripe_gateway.construct_event(payload, header)


def test_construct_event_refuses_everything_without_a_secret(settings):
    """An empty secret would make any HMAC "valid": nothing is trusted until the secret is set."""
    settings.STRIPE_WEBHOOK_SECRET = ""
    payload = _event_payload()

    with pytest.raises(SignatureError):
        stripe_gateway.construct_event(payload, _signature(payload, secret=""))


# --------------------------------------------------------------------------------------------- against the fake Stripe


def _create_session(amount=Decimal("15000"), currency="CLP", **overrides):
    arguments = {
        "client_reference_id": "INVOICEREF1",
        "line_description": "B-000001 · Psicoterapia",
        "amount": amount,
        "currency": currency,
        "customer_email": "ana@example.com",
        "success_url": "https://clinic.example/billing/checkout/success/?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://clinic.example/billing/invoices/INVOICEREF1/checkout/cancel/",
        "expires_at": STRIPE_NOW + timedelta(minutes=15),
        "metadata": {"invoice": "INVOICEREF1", "payment": 7},
        "idempotency_key": "checkout-7",
        "locale": "es-cl",
    }
    arguments.update(overrides)
    return stripe_gateway.create_checkout_session(**arguments)


@pytest.mark.parametrize(
    ("amount", "currency", "unit_amount"),
    [(Decimal("15000"), "CLP", 15000), (Decimal("12.50"), "USD", 1250)],
    ids=["clp", "usd"],
)
def test_checkout_session_reaches_stripe_in_minor_units(stripe_api, stripe_clock, amount, currency, unit_amount):
    session = _create_session(amount, currency)

    at_stripe = stripe_api.request("GET", f"/v1/checkout/sessions/{session.id}")
    assert at_stripe["amount_total"] == unit_amount
    assert at_stripe["currency"] == currency.lower()
    assert at_stripe["client_reference_id"] == "INVOICEREF1"
    assert at_stripe["customer_email"] == "ana@example.com"
    assert at_stripe["metadata"] == {"invoice": "INVOICEREF1", "payment": "7"}
    assert at_stripe["locale"] == "es-419"
    assert session.amount_total == amount
    assert session.currency == currency
    assert session.status == "open" and session.payment_status == "unpaid" and not session.is_paid
    assert session.url == f"{stripe_api.url}/checkout/{session.id}"
    # A 15-minute hold is shorter than Stripe allows: the session lives the minimum instead of being refused.
    assert timedelta(minutes=30) < session.expires_at - STRIPE_NOW < timedelta(minutes=33)


def test_paid_session_carries_its_payment_intent_with_the_metadata(stripe_api, stripe_clock):
    session = _create_session()
    stripe_api.complete_checkout(session.id)

    paid = stripe_gateway.retrieve_checkout_session(session.id)

    assert paid.is_paid
    assert paid.payment_intent_id.startswith("pi_")
    intent = stripe_api.retrieve("payment_intents", paid.payment_intent_id)
    assert intent["status"] == "succeeded"
    assert intent["amount"] == 15000
    assert intent["metadata"] == {"invoice": "INVOICEREF1", "payment": "7"}


def test_expire_closes_an_open_session_and_reports_a_closed_one(stripe_api, stripe_clock):
    open_session = _create_session(idempotency_key="checkout-8")
    paid_session = _create_session(idempotency_key="checkout-9")
    stripe_api.complete_checkout(paid_session.id)

    expired = stripe_gateway.expire_checkout_session(open_session.id)
    again = stripe_gateway.expire_checkout_session(open_session.id)
    paid = stripe_gateway.expire_checkout_session(paid_session.id)

    assert (expired.status, again.status) == ("expired", "expired")
    assert paid.status == "complete" and paid.is_paid


def test_refunds_are_partial_in_minor_units_and_listed(stripe_api, stripe_clock):
    session = _create_session(Decimal("12.50"), "USD")
    stripe_api.complete_checkout(session.id)
    intent_id = stripe_gateway.retrieve_checkout_session(session.id).payment_intent_id

    refund = stripe_gateway.create_refund(
        payment_intent_id=intent_id,
        amount=Decimal("2.50"),
        currency="USD",
        idempotency_key="refund-1",
        metadata={"refund": 1},
    )

    assert refund.id.startswith("re_")
    assert refund.status == "succeeded"
    assert refund.amount == Decimal("2.50")
    assert [(r["amount"], r["metadata"]) for r in stripe_api.list_refunds(intent_id)] == [(250, {"refund": "1"})]
    charge_id = stripe_api.retrieve("payment_intents", intent_id)["latest_charge"]["id"]
    assert stripe_gateway.list_refunds(charge_id=charge_id, currency="USD") == [refund]


@pytest.mark.parametrize(
    "call",
    [
        lambda: stripe_gateway.retrieve_checkout_session("cs_test_doesnotexist"),
        lambda: stripe_gateway.expire_checkout_session("cs_test_doesnotexist"),
        lambda: stripe_gateway.create_refund(
            payment_intent_id="pi_doesnotexist", amount=Decimal("1"), currency="CLP", idempotency_key="x", metadata={}
        ),
        lambda: _create_session(success_url="not a url"),
    ],
    ids=["retrieve-unknown", "expire-unknown", "refund-unknown", "invalid-request"],
)
def test_stripe_refusals_become_gateway_errors(stripe_api, stripe_clock, call):
    with pytest.raises(GatewayError) as caught:
        call()
    assert 400 <= caught.value.http_status < 500


def test_a_wrong_key_is_a_gateway_error(stripe_api, settings):
    settings.STRIPE_SECRET_KEY = "rk_wrong"  # localstripe accepts only secret keys, as Stripe does for these calls

    with pytest.raises(GatewayError) as caught:
        stripe_gateway.retrieve_checkout_session("cs_test_anything")
    assert caught.value.http_status == 401


def test_an_unreachable_stripe_is_a_gateway_error(settings):
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.STRIPE_ENABLED, settings.STRIPE_SECRET_KEY = True, "sk_test_x"
    settings.STRIPE_API_BASE, settings.STRIPE_MAX_NETWORK_RETRIES = f"http://127.0.0.1:{port}", 0

    with pytest.raises(GatewayError):
        stripe_gateway.retrieve_checkout_session("cs_test_anything")


def test_only_the_gateway_imports_stripe():
    """The rest of the project speaks Decimal and dataclasses; Stripe's SDK stays behind this one module."""
    from pathlib import Path

    root = Path(stripe_gateway.__file__).resolve().parents[2]
    importers = sorted(
        str(path.relative_to(root))
        for package in ("booking", "portal", "website")
        for path in (root / package).rglob("*.py")
        if any(
            line.strip().startswith(("import stripe", "from stripe"))
            for line in path.read_text(encoding="utf-8").splitlines()
        )
    )
    assert importers == ["booking/billing/stripe_gateway.py"]
