"""The payment-provider interface: the registry, ``open_checkouts``, the provider-keyed webhook address, and a
second provider (``providers_fake.FakePayProvider``) taken through the same services and views end to end:
start a checkout, confirm it through its webhook, expire one, refund (ours and one made at the provider).
"""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client
from django.urls import reverse

from booking.billing import providers, services
from booking.billing.errors import PaymentError
from booking.billing.models import InvoiceStatus, Payment, PaymentMethod, PaymentStatus, ProcessedEvent, Refund
from booking.billing.providers.stripe import StripeProvider
from booking.scheduling.models import AppointmentStatus
from tests.factories.billing import PaymentFactory

from .conftest import STRIPE_NOW
from .fakes import install_fake_gateway
from .providers_fake import SIGNATURE_HEADER, FakePayProvider, sign
from .test_webhooks import event_payload, intent_object, signed

FAKEPAY = "tests.booking.billing.providers_fake.FakePayProvider"
STRIPE = "booking.billing.providers.stripe.StripeProvider"


@pytest.fixture
def fakepay(db, settings):
    """FakePay registered first and switched on; Stripe registered too, but off."""
    settings.BILLING_PAYMENT_PROVIDERS = [FAKEPAY, STRIPE]
    settings.FAKEPAY_WEBHOOK_SECRET = "fakepay_secret"
    settings.STRIPE_ENABLED = False
    FakePayProvider.reset()
    return providers.get_provider("fakepay")


def client_for(user) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(user)
    return client


def webhook(client, body: dict, *, signature: str | None = None):
    payload = json.dumps(body).encode()
    return client.post(
        reverse("billing:provider_webhook", kwargs={"provider": "fakepay"}),
        data=payload,
        content_type="application/json",
        headers={SIGNATURE_HEADER: signature if signature is not None else sign(payload)},
    )


def start(invoice, *, now=None) -> Payment:
    return services.start_checkout(
        invoice=invoice,
        success_url="https://clinic.test/billing/checkout/success/?session_id={CHECKOUT_REFERENCE}",
        cancel_url="https://clinic.test/cancel/",
        actor=invoice.patient.user,
        now=now,
    )


def the_appointment(invoice):
    return invoice.lines.get().appointment


# --------------------------------------------------------------------------------------------- the registry


def test_the_default_registry_holds_stripe_which_is_off_without_a_key(settings):
    settings.STRIPE_ENABLED = False

    assert isinstance(providers.get_provider("stripe"), StripeProvider)
    assert providers.get_provider("") is None  # offline payments name no provider
    assert providers.get_provider("paypal") is None
    assert providers.enabled_providers() == []
    assert providers.default_provider() is None


def test_the_first_enabled_provider_is_the_default(fakepay, settings):
    assert [provider.identifier for provider in providers.enabled_providers()] == ["fakepay"]
    assert providers.default_provider() is fakepay

    settings.STRIPE_ENABLED, settings.STRIPE_SECRET_KEY = True, "sk_test_x"
    settings.BILLING_PAYMENT_PROVIDERS = [STRIPE, FAKEPAY]

    assert providers.default_provider().identifier == "stripe"


@pytest.mark.parametrize(
    "paths",
    [[STRIPE, STRIPE], ["booking.billing.models.Payment"]],
    ids=["same-identifier-twice", "not-a-provider"],
)
def test_a_misconfigured_registry_is_refused(settings, paths):
    settings.BILLING_PAYMENT_PROVIDERS = paths

    with pytest.raises(ImproperlyConfigured):
        providers.registered_providers()


def test_stripe_owns_the_one_checkout_minimum():
    """Stripe refuses a Checkout shorter than 30 minutes; the margin covers the request's trip to it."""
    assert StripeProvider.checkout_min_lifetime == timedelta(minutes=31)
    assert not hasattr(services, "CHECKOUT_MIN_LIFETIME")


# --------------------------------------------------------------------------------------------- open_checkouts


def test_open_checkouts_are_the_pending_online_payments(db):
    pending = PaymentFactory(method=PaymentMethod.ONLINE, provider="stripe", status=PaymentStatus.PENDING)
    PaymentFactory(invoice=pending.invoice, method=PaymentMethod.ONLINE, provider="stripe")  # succeeded
    PaymentFactory(
        invoice=pending.invoice, method=PaymentMethod.ONLINE, provider="stripe", status=PaymentStatus.CANCELLED
    )
    PaymentFactory(invoice=pending.invoice, method=PaymentMethod.TRANSFER, status=PaymentStatus.PENDING)

    assert list(Payment.objects.open_checkouts()) == [pending]
    assert list(pending.invoice.payments.open_checkouts()) == [pending]


# --------------------------------------------------------------------------------------------- webhook addresses


def test_stripe_events_arrive_at_both_addresses_and_an_unknown_provider_is_404(db, monkeypatch, settings):
    install_fake_gateway(monkeypatch, settings)
    body = event_payload("customer.created", {"id": "cus_1", "object": "customer"}, event_id="evt_same")
    keyed = reverse("billing:provider_webhook", kwargs={"provider": "stripe"})
    client = Client()

    first = client.post(keyed, data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=signed(body))
    again = client.post("/billing/stripe/webhook/", data=body, content_type="application/json",
                        HTTP_STRIPE_SIGNATURE=signed(body))  # fmt: skip
    unknown = client.post("/billing/webhooks/nobody/", data=body, content_type="application/json")

    assert keyed == "/billing/webhooks/stripe/"
    assert (first.status_code, first.json()["duplicate"]) == (200, False)
    assert (again.status_code, again.json()["duplicate"]) == (200, True)
    assert unknown.status_code == 404
    assert list(ProcessedEvent.objects.values_list("provider", "event_id")) == [("stripe", "evt_same")]


def test_event_ids_are_unique_per_provider_not_across_providers(fakepay, make_held_invoice):
    invoice = make_held_invoice()
    payment = start(invoice)
    client = Client()

    webhook(client, {"id": "evt_same", "type": "something.else", "reference": payment.provider_reference})
    ProcessedEvent.objects.create(
        provider="stripe", event_id="evt_same", type="customer.created", received_at=STRIPE_NOW
    )

    assert ProcessedEvent.objects.filter(event_id="evt_same").count() == 2


# --------------------------------------------------------------------------------------------- FakePay end to end


def test_a_second_provider_takes_a_payment_through_the_same_views_and_services(fakepay, make_held_invoice):
    invoice = make_held_invoice()
    patient = client_for(invoice.patient.user)

    response = patient.post(reverse("billing:pay", kwargs={"reference": invoice.reference}))

    payment = Payment.objects.get(invoice=invoice)
    assert response.status_code == 303
    assert response["Location"] == payment.checkout_url == f"https://pay.fakepay.test/{payment.provider_reference}"
    assert (payment.method, payment.provider, payment.status) == ("online", "fakepay", "pending")
    assert payment.provider_reference.startswith("fp_co_")
    (call,) = [arguments for name, arguments in fakepay.store.calls if name == "start_checkout"]
    assert call["success_url"] == "http://testserver/billing/checkout/success/?session_id={CHECKOUT_REFERENCE}"

    fakepay.pay(payment.provider_reference)
    body = {"id": "fp_evt_1", "type": "checkout.paid", "reference": payment.provider_reference}
    delivered = webhook(Client(), body)
    replayed = webhook(Client(), body)

    assert (delivered.status_code, delivered.json()["duplicate"]) == (200, False)
    assert (replayed.status_code, replayed.json()["duplicate"]) == (200, True)
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.provider_payment_reference == f"fp_pay_{payment.provider_reference}"
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, Decimal("15000"))
    assert the_appointment(invoice).status == AppointmentStatus.CONFIRMED
    assert list(ProcessedEvent.objects.values_list("provider", "event_id")) == [("fakepay", "fp_evt_1")]

    page = patient.get(reverse("billing:checkout_success") + f"?session_id={payment.provider_reference}")

    assert page.status_code == 200
    assert page.context["paid"] is True


def test_a_bad_signature_from_the_second_provider_is_400(fakepay, make_held_invoice):
    payment = start(make_held_invoice())
    fakepay.pay(payment.provider_reference)

    response = webhook(
        Client(), {"id": "fp_evt_1", "type": "checkout.paid", "reference": payment.provider_reference}, signature="0"
    )

    assert response.status_code == 400
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert not ProcessedEvent.objects.exists()


def test_the_return_page_confirms_a_second_provider_checkout_when_its_webhook_is_late(fakepay, make_held_invoice):
    invoice = make_held_invoice()
    payment = start(invoice)
    fakepay.pay(payment.provider_reference)

    page = client_for(invoice.patient.user).get(
        reverse("billing:checkout_success") + f"?session_id={payment.provider_reference}"
    )

    assert page.status_code == 200
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert the_appointment(invoice).status == AppointmentStatus.CONFIRMED


def test_the_second_provider_s_minimum_lifetime_and_expiry(fakepay, make_held_invoice):
    """FakePay's own 10-minute minimum sets the deadline; past it, the checkout is closed at FakePay and the held
    time given back."""
    invoice = make_held_invoice()
    hold = the_appointment(invoice).hold_expires_at
    payment = start(invoice, now=STRIPE_NOW)

    assert payment.expires_at == max(STRIPE_NOW + timedelta(minutes=10), hold)

    expired = services.expire_stale_checkouts(now=payment.expires_at + timedelta(seconds=1))

    payment.refresh_from_db()
    assert expired == 1
    assert payment.status == PaymentStatus.CANCELLED
    assert fakepay.store.checkouts[payment.provider_reference].status == "expired"
    assert the_appointment(invoice).status != AppointmentStatus.PENDING_PAYMENT


def test_the_second_provider_s_expired_webhook_releases_the_hold(fakepay, make_held_invoice):
    invoice = make_held_invoice()
    payment = start(invoice)
    fakepay.expire_checkout(payment.provider_reference)

    response = webhook(
        Client(), {"id": "fp_evt_x", "type": "checkout.expired", "reference": payment.provider_reference}
    )

    assert response.status_code == 200
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert the_appointment(invoice).status != AppointmentStatus.PENDING_PAYMENT


def test_refunds_of_the_second_provider_ours_and_one_made_at_the_provider(fakepay, make_held_invoice, superuser):
    invoice = make_held_invoice()
    payment = start(invoice)
    services.confirm_checkout(fakepay.pay(payment.provider_reference))
    payment.refresh_from_db()

    ours = services.refund_payment(payment=payment, amount=Decimal("4000"), reason="Goodwill", actor=superuser)

    (call,) = [arguments for name, arguments in fakepay.store.calls if name == "refund"]
    assert call == {"refund_id": ours.pk, "payment_reference": payment.provider_payment_reference,
                    "amount": Decimal("4000")}  # fmt: skip
    assert (ours.status, ours.provider) == ("succeeded", "fakepay")
    assert ours.provider_reference in fakepay.store.refunds

    body = {
        "id": "fp_evt_r",
        "type": "payment.refunded",
        "reference": payment.provider_payment_reference,
        "currency": "CLP",
        "refunds": [
            {"id": ours.provider_reference, "status": "succeeded", "amount": "4000"},
            {"id": "fp_re_console", "status": "succeeded", "amount": "1000"},
        ],
    }
    response = webhook(Client(), body)

    assert response.status_code == 200
    outside = Refund.objects.get(provider_reference="fp_re_console")
    assert (outside.provider, outside.reason, outside.status) == ("fakepay", FakePayProvider.external_refund_reason,
                                                                  "succeeded")  # fmt: skip
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_refunded) == (InvoiceStatus.PARTIALLY_REFUNDED, Decimal("5000"))


def test_a_provider_that_is_down_leaves_the_checkout_cancelled_and_says_so(fakepay, make_held_invoice):
    fakepay.store.down = True
    invoice = make_held_invoice()

    with pytest.raises(PaymentError) as raised:
        start(invoice)

    assert raised.value.code == "provider_error"
    assert Payment.objects.get(invoice=invoice).status == PaymentStatus.CANCELLED


def test_a_stripe_refund_event_finds_its_payment_by_the_charge_kept_in_provider_data(db, monkeypatch, settings,
                                                                                     make_held_invoice):  # fmt: skip
    """A ``charge.refunded`` whose PaymentIntent we never stored is matched through ``provider_data["charge"]``,
    a JSON lookup that must behave alike on SQLite and PostgreSQL."""
    install_fake_gateway(monkeypatch, settings)
    invoice = make_held_invoice()
    payment = start(invoice)
    client = Client()
    intent = intent_object(payment, id="", latest_charge="ch_only")
    intent_event = event_payload("payment_intent.succeeded", intent, event_id="evt_pi")
    client.post("/billing/stripe/webhook/", data=intent_event, content_type="application/json",
                HTTP_STRIPE_SIGNATURE=signed(intent_event))  # fmt: skip
    payment.refresh_from_db()
    assert (payment.status, payment.provider_payment_reference, payment.provider_data.get("charge")) == (
        PaymentStatus.SUCCEEDED,
        "",
        "ch_only",
    )
    charge = {"id": "ch_only", "object": "charge", "currency": "clp", "payment_intent": "pi_unknown",
              "refunds": {"data": [{"id": "re_c", "amount": 15000, "currency": "clp", "status": "succeeded"}],
                          "has_more": False}}  # fmt: skip
    refund_event = event_payload("charge.refunded", charge, event_id="evt_r")

    response = client.post("/billing/webhooks/stripe/", data=refund_event, content_type="application/json",
                           HTTP_STRIPE_SIGNATURE=signed(refund_event))  # fmt: skip

    assert response.status_code == 200
    refund = Refund.objects.get()
    assert (refund.payment_id, refund.provider, refund.provider_reference) == (payment.pk, "stripe", "re_c")
    assert refund.reason == StripeProvider.external_refund_reason
