"""The Stripe webhook: verified, stored once, dispatched by type, 2xx to replays, 500 only to be retried.

These post signed events through Django's test client, with the gateway replaced by the fake of ``fakes.py``
where the handler would call Stripe; ``test_checkout_flow.py`` runs the same events through the fake Stripe.
"""

import hashlib
import hmac
import json
import logging
import time
from decimal import Decimal

import pytest
from django.urls import reverse

from booking.billing import services, stripe_gateway, webhooks
from booking.billing.models import InvoiceEvent, InvoiceStatus, Payment, PaymentStatus, ProcessedEvent, Refund
from booking.billing.providers.stripe import StripeProvider
from booking.scheduling.models import AppointmentStatus

from .fakes import install_fake_gateway

WEBHOOK_SECRET = "whsec_fake"  # what install_fake_gateway sets
URL = "/billing/stripe/webhook/"


def signed(payload: bytes, secret: str = WEBHOOK_SECRET) -> str:
    timestamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def event_payload(event_type: str, data_object: dict, event_id: str = "evt_1") -> bytes:
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "livemode": False,
            "created": int(time.time()),
            "data": {"object": data_object},
        }
    ).encode()


def post(client, payload: bytes, signature: str | None = None):
    return client.post(
        URL, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=signature or signed(payload)
    )


def send(client, event_type: str, data_object: dict, event_id: str = "evt_1"):
    return post(client, event_payload(event_type, data_object, event_id))


@pytest.fixture
def fake(db, monkeypatch, settings):
    return install_fake_gateway(monkeypatch, settings)


@pytest.fixture
def checkout(fake, make_held_invoice):
    """An invoice for a held session, and the pending Stripe payment the patient opened for it."""
    invoice = make_held_invoice()
    payment = services.start_checkout(
        invoice=invoice,
        success_url="https://clinic.example/billing/checkout/success/?session_id={CHECKOUT_SESSION_ID}",
        cancel_url="https://clinic.example/cancel/",
        actor=invoice.patient.user,
    )
    return payment


def session_object(payment: Payment, **overrides) -> dict:
    """The Checkout Session of ``payment`` as Stripe sends it once paid (``overrides`` change any field)."""
    data = {
        "id": payment.provider_reference,
        "object": "checkout.session",
        "status": "complete",
        "payment_status": "paid",
        "payment_intent": "pi_paid_1",
        "amount_total": stripe_gateway.to_stripe_amount(payment.amount, payment.currency),
        "currency": payment.currency.lower(),
        "client_reference_id": payment.invoice.reference,
        "metadata": {"invoice": payment.invoice.reference, "payment": str(payment.pk)},
        "expires_at": int(payment.expires_at.timestamp()),
    }
    data.update(overrides)
    return data


def intent_object(payment: Payment, **overrides) -> dict:
    data = {
        "id": "pi_paid_1",
        "object": "payment_intent",
        "amount": stripe_gateway.to_stripe_amount(payment.amount, payment.currency),
        "amount_received": stripe_gateway.to_stripe_amount(payment.amount, payment.currency),
        "currency": payment.currency.lower(),
        "status": "succeeded",
        "latest_charge": "ch_paid_1",
        "metadata": {"invoice": payment.invoice.reference, "payment": str(payment.pk)},
        "last_payment_error": None,
    }
    data.update(overrides)
    return data


def appointment_of(payment: Payment):
    return payment.invoice.lines.get().appointment


def recorded_payments(invoice) -> int:
    return InvoiceEvent.objects.filter(invoice=invoice, action=InvoiceEvent.Action.PAYMENT_RECORDED).count()


# --------------------------------------------------------------------------------------------- verification


@pytest.mark.parametrize(
    "forge",
    [
        lambda payload: (payload, signed(payload, secret="whsec_attacker")),
        lambda payload: (payload.replace(b'"paid"', b'"PAID"'), signed(payload)),
        lambda payload: (payload, "t=1,v1=deadbeef"),
        lambda payload: (b"{not json", signed(b"{not json")),
    ],
    ids=["wrong-secret", "changed-after-signing", "stale-forged-header", "not-json"],
)
def test_a_bad_signature_is_400_and_changes_nothing(client, checkout, forge):
    payload, signature = forge(event_payload("checkout.session.completed", session_object(checkout)))

    response = post(client, payload, signature)

    assert response.status_code == 400
    assert response.json() == {"error": "invalid_signature"}
    assert not ProcessedEvent.objects.exists()
    checkout.refresh_from_db()
    assert checkout.status == PaymentStatus.PENDING
    assert appointment_of(checkout).status == AppointmentStatus.PENDING_PAYMENT


def test_a_missing_signature_header_is_400(client, fake):
    response = client.post(URL, data=event_payload("ping", {"id": "x"}), content_type="application/json")

    assert response.status_code == 400
    assert not ProcessedEvent.objects.exists()


def test_only_post_is_accepted(client, fake):
    assert client.get(URL).status_code == 405


def test_without_a_webhook_secret_nothing_is_trusted(client, fake, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    payload = event_payload("ping", {"id": "x"})

    assert post(client, payload, signed(payload, secret="")).status_code == 400
    assert not ProcessedEvent.objects.exists()


# --------------------------------------------------------------------------------------------- dispatch


def test_checkout_completed_pays_the_invoice_and_confirms_the_session(client, checkout):
    response = send(client, "checkout.session.completed", session_object(checkout))

    assert response.status_code == 200
    assert response.json() == {"received": True, "duplicate": False}
    checkout.refresh_from_db()
    assert checkout.status == PaymentStatus.SUCCEEDED
    assert checkout.provider_payment_reference == "pi_paid_1"
    assert checkout.amount == Decimal("15000")
    invoice = checkout.invoice
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.amount_paid == Decimal("15000")
    assert appointment_of(checkout).status == AppointmentStatus.CONFIRMED
    stored = ProcessedEvent.objects.get()
    assert (stored.event_id, stored.type, stored.object_id) == (
        "evt_1",
        "checkout.session.completed",
        checkout.provider_reference,
    )


def test_the_same_event_five_times_is_handled_once(client, checkout):
    payload = event_payload("checkout.session.completed", session_object(checkout))
    signature = signed(payload)

    responses = [post(client, payload, signature) for _ in range(5)]

    assert [r.status_code for r in responses] == [200] * 5
    assert [r.json()["duplicate"] for r in responses] == [False, True, True, True, True]
    assert ProcessedEvent.objects.count() == 1
    assert recorded_payments(checkout.invoice) == 1
    checkout.invoice.refresh_from_db()
    assert checkout.invoice.amount_paid == Decimal("15000")


def test_payment_intent_first_then_session_confirms_once(client, checkout):
    """Stripe does not promise an order: the PaymentIntent is found through the metadata the Checkout gave it."""
    first = send(client, "payment_intent.succeeded", intent_object(checkout), event_id="evt_pi")
    second = send(client, "checkout.session.completed", session_object(checkout), event_id="evt_cs")

    assert (first.status_code, second.status_code) == (200, 200)
    checkout.refresh_from_db()
    assert checkout.status == PaymentStatus.SUCCEEDED
    assert (checkout.provider_payment_reference, checkout.provider_charge_reference) == ("pi_paid_1", "ch_paid_1")
    assert recorded_payments(checkout.invoice) == 1
    assert ProcessedEvent.objects.count() == 2


def test_a_session_not_paid_yet_changes_nothing(client, checkout):
    response = send(client, "checkout.session.completed", session_object(checkout, payment_status="unpaid"))

    assert response.status_code == 200
    checkout.refresh_from_db()
    assert checkout.status == PaymentStatus.PENDING
    assert appointment_of(checkout).status == AppointmentStatus.PENDING_PAYMENT


def test_a_declined_card_fails_the_payment_and_keeps_the_hold(client, checkout):
    declined = intent_object(
        checkout,
        status="requires_payment_method",
        amount_received=0,
        last_payment_error={"code": "card_declined", "message": "Your card was declined."},
    )

    response = send(client, "payment_intent.payment_failed", declined)

    assert response.status_code == 200
    checkout.refresh_from_db()
    assert checkout.status == PaymentStatus.FAILED
    assert checkout.failure_message == "Your card was declined."
    assert appointment_of(checkout).status == AppointmentStatus.PENDING_PAYMENT


def test_an_expired_checkout_releases_the_hold(client, checkout):
    response = send(
        client, "checkout.session.expired", session_object(checkout, status="expired", payment_status="unpaid")
    )

    assert response.status_code == 200
    checkout.refresh_from_db()
    assert checkout.status == PaymentStatus.CANCELLED
    assert appointment_of(checkout).status == AppointmentStatus.CANCELLED


def test_a_late_expired_event_does_not_undo_a_payment(client, checkout):
    send(client, "checkout.session.completed", session_object(checkout), event_id="evt_paid")

    send(
        client,
        "checkout.session.expired",
        session_object(checkout, status="expired", payment_status="unpaid"),
        event_id="evt_expired",
    )

    checkout.refresh_from_db()
    assert checkout.status == PaymentStatus.SUCCEEDED
    assert appointment_of(checkout).status == AppointmentStatus.CONFIRMED


def _paid(client, checkout) -> Payment:
    send(client, "checkout.session.completed", session_object(checkout), event_id="evt_paid")
    checkout.refresh_from_db()
    return checkout


def _charge(payment: Payment, refunds: list[dict] | None) -> dict:
    charge = {
        "id": "ch_paid_1",
        "object": "charge",
        "amount": 15000,
        "currency": "clp",
        "payment_intent": payment.provider_payment_reference,
        "refunded": False,
    }
    if refunds is not None:
        charge["refunds"] = {"object": "list", "data": refunds, "has_more": False}
    return charge


def _refund(refund_id: str, amount: int, status="succeeded") -> dict:
    return {"id": refund_id, "object": "refund", "amount": amount, "currency": "clp", "status": status}


def test_charge_refunded_records_each_refund_once(client, checkout):
    payment = _paid(client, checkout)
    first = _charge(payment, [_refund("re_1", 5000)])
    later = _charge(payment, [_refund("re_2", 10000), _refund("re_1", 5000)])

    responses = [
        send(client, "charge.refunded", first, event_id="evt_r1"),
        send(client, "charge.refunded", later, event_id="evt_r2"),
        send(client, "charge.refunded", later, event_id="evt_r2"),
    ]

    assert [r.status_code for r in responses] == [200, 200, 200]
    assert sorted(Refund.objects.values_list("provider_reference", "amount", "status")) == [
        ("re_1", Decimal("5000"), "succeeded"),
        ("re_2", Decimal("10000"), "succeeded"),
    ]
    payment.invoice.refresh_from_db()
    assert payment.invoice.amount_refunded == Decimal("15000")
    assert payment.invoice.status == InvoiceStatus.REFUNDED


def test_charge_refunded_without_the_refund_list_asks_stripe(client, checkout, monkeypatch):
    """Recent API versions no longer put the refunds in the charge: the handler lists them from Stripe."""
    payment = _paid(client, checkout)
    asked = []

    def list_refunds(*, charge_id, currency):
        asked.append((charge_id, currency))
        return [stripe_gateway.RefundResult(id="re_listed", status="succeeded", amount=Decimal("4000"))]

    monkeypatch.setattr(stripe_gateway, "list_refunds", list_refunds)

    response = send(client, "charge.refunded", _charge(payment, refunds=None), event_id="evt_r")

    assert response.status_code == 200
    assert asked == [("ch_paid_1", "clp")]
    refund = Refund.objects.get()
    assert (refund.provider_reference, refund.amount) == ("re_listed", Decimal("4000"))
    payment.invoice.refresh_from_db()
    assert payment.invoice.status == InvoiceStatus.PARTIALLY_REFUNDED


def test_a_refund_stripe_cannot_list_now_is_retried_later(client, checkout, monkeypatch):
    payment = _paid(client, checkout)

    def unreachable(**kwargs):
        raise stripe_gateway.GatewayError("down")

    monkeypatch.setattr(stripe_gateway, "list_refunds", unreachable)

    response = send(client, "charge.refunded", _charge(payment, refunds=None), event_id="evt_r")

    assert response.status_code == 500
    assert not ProcessedEvent.objects.filter(event_id="evt_r").exists()
    assert not Refund.objects.exists()


def test_a_refund_larger_than_the_payment_is_refused_but_acknowledged(client, checkout, caplog):
    payment = _paid(client, checkout)

    with caplog.at_level(logging.WARNING, logger="booking.billing.webhooks"):
        response = send(client, "charge.refunded", _charge(payment, [_refund("re_big", 99000)]), event_id="evt_r")

    assert response.status_code == 200
    assert ProcessedEvent.objects.filter(event_id="evt_r").exists()
    assert not Refund.objects.exists()
    assert "re_big" in caplog.text


# --------------------------------------------------------------------------------------------- unknown and odd events


def test_unknown_event_types_are_stored_and_acknowledged(client, fake):
    response = send(client, "customer.created", {"id": "cus_1", "object": "customer"}, event_id="evt_other")

    assert response.status_code == 200
    assert ProcessedEvent.objects.get().type == "customer.created"


@pytest.mark.parametrize(
    ("event_type", "data_object"),
    [
        ("checkout.session.completed", {"id": "cs_unknown", "status": "complete", "payment_status": "paid",
                                        "amount_total": 100, "currency": "clp", "metadata": {}}),
        ("checkout.session.expired", {"id": "cs_unknown", "status": "expired", "metadata": {"payment": "999999"}}),
        ("payment_intent.succeeded", {"id": "pi_unknown", "amount": 100, "currency": "clp", "metadata": {}}),
        ("payment_intent.payment_failed", {"id": "pi_unknown", "metadata": {"payment": "not-a-number"}}),
        ("charge.refunded", {"id": "ch_unknown", "payment_intent": "pi_unknown", "currency": "clp",
                             "refunds": {"data": [], "has_more": False}}),
    ],
    ids=["session-completed", "session-expired", "intent-succeeded", "intent-failed", "charge-refunded"],
)  # fmt: skip
def test_an_event_for_an_unknown_payment_is_logged_not_an_error(client, fake, caplog, event_type, data_object):
    with caplog.at_level(logging.WARNING, logger="booking.billing.webhooks"):
        response = send(client, event_type, data_object)

    assert response.status_code == 200
    assert ProcessedEvent.objects.filter(event_id="evt_1").exists()
    assert "matches no payment" in caplog.text


def test_metadata_naming_another_invoices_payment_is_not_trusted(client, checkout, make_held_invoice, fake):
    other_invoice = make_held_invoice()
    forged = session_object(checkout, id="cs_forged", metadata={"invoice": other_invoice.reference, "payment": "0"})
    forged["metadata"]["payment"] = str(checkout.pk)

    response = send(client, "checkout.session.completed", forged)

    assert response.status_code == 200
    checkout.refresh_from_db()
    assert checkout.status == PaymentStatus.PENDING


def test_an_amount_in_another_currency_is_not_recorded(client, checkout, caplog):
    with caplog.at_level(logging.ERROR, logger="booking.billing.webhooks"):
        response = send(client, "checkout.session.completed", session_object(checkout, currency="usd"))

    assert response.status_code == 200
    checkout.refresh_from_db()
    assert checkout.status == PaymentStatus.PENDING
    assert "not recorded" in caplog.text


# --------------------------------------------------------------------------------------------- failures


def test_an_unexpected_error_rolls_everything_back_and_asks_for_a_retry(client, checkout, monkeypatch):
    """Half the work done, then a crash: nothing stays, not even the event's id, so Stripe's retry is handled."""
    real_confirm = services.checkout.confirm_payment

    def confirm_then_crash(**kwargs):
        real_confirm(**kwargs)
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services.checkout, "confirm_payment", confirm_then_crash)
    payload = event_payload("checkout.session.completed", session_object(checkout))

    crashed = post(client, payload)

    assert crashed.status_code == 500
    assert crashed.json() == {"error": "processing_failed"}
    assert not ProcessedEvent.objects.exists()
    checkout.refresh_from_db()
    assert checkout.status == PaymentStatus.PENDING
    assert appointment_of(checkout).status == AppointmentStatus.PENDING_PAYMENT

    monkeypatch.setattr(services.checkout, "confirm_payment", real_confirm)
    retried = post(client, payload)

    assert retried.status_code == 200
    checkout.refresh_from_db()
    assert checkout.status == PaymentStatus.SUCCEEDED


def test_process_event_reports_duplicates(checkout):
    provider = StripeProvider()
    event = provider.event_from_webhook(
        stripe_gateway.WebhookEvent(
            id="evt_direct", type="checkout.session.completed", object=session_object(checkout)
        )
    )

    assert webhooks.process_event(event, provider=provider) == webhooks.PROCESSED
    assert webhooks.process_event(event, provider=provider) == webhooks.DUPLICATE


def test_the_webhook_url_is_stable():
    """Stripe's dashboard is configured with this address: moving it silently would lose every payment."""
    assert reverse("billing:stripe_webhook") == URL
