"""Paying an invoice online: the pay button, Stripe's return pages, and the whole trip through the fake Stripe.

The first part drives the views with the fake gateway of ``fakes.py``; the second runs against localstripe and
the Checkout shim, with webhooks delivered to pytest-django's live server.
"""

import re
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.test import Client
from django.urls import reverse

from booking.billing import services, stripe_gateway
from booking.billing.models import InvoiceStatus, Payment, PaymentStatus, ProcessedEvent
from booking.scheduling.models import AppointmentStatus
from tests.factories.accounts import PatientFactory

from .fakes import install_fake_gateway


@pytest.fixture
def fake(db, monkeypatch, settings):
    return install_fake_gateway(monkeypatch, settings)


def client_for(user) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(user)
    return client


def pay_url(invoice) -> str:
    return reverse("billing:pay", kwargs={"reference": invoice.reference})


def cancel_url(invoice) -> str:
    return reverse("billing:checkout_cancel", kwargs={"reference": invoice.reference})


def success_url(session_id: str) -> str:
    return reverse("billing:checkout_success") + f"?session_id={session_id}"


def the_appointment(invoice):
    return invoice.lines.get().appointment


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


# --------------------------------------------------------------------------------------------- the pay button


def test_pay_sends_the_patient_to_stripe_with_return_addresses(fake, make_held_invoice):
    invoice = make_held_invoice()

    response = client_for(invoice.patient.user).post(pay_url(invoice))

    payment = Payment.objects.get(invoice=invoice)
    assert response.status_code == 303
    assert response["Location"] == payment.checkout_url
    call = fake.calls_of("create_checkout_session")[0]
    assert call["success_url"] == "http://testserver/billing/checkout/success/?session_id={CHECKOUT_SESSION_ID}"
    assert call["cancel_url"] == f"http://testserver{cancel_url(invoice)}"
    assert call["amount"] == Decimal("15000")


def test_pay_twice_reuses_the_open_checkout(fake, make_held_invoice):
    invoice = make_held_invoice()
    client = client_for(invoice.patient.user)

    first = client.post(pay_url(invoice))
    second = client.post(pay_url(invoice))

    assert first["Location"] == second["Location"]
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_pay_refuses_another_patients_invoice(fake, make_held_invoice):
    invoice = make_held_invoice()
    stranger = PatientFactory().user

    response = client_for(stranger).post(pay_url(invoice))

    assert response.status_code == 404
    assert not Payment.objects.exists()
    assert fake.calls == []


def test_pay_needs_a_login_and_a_post(fake, make_held_invoice):
    invoice = make_held_invoice()

    anonymous = Client().post(pay_url(invoice))
    get = client_for(invoice.patient.user).get(pay_url(invoice))

    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert get.status_code == 405
    assert not Payment.objects.exists()


def test_pay_says_online_payment_is_not_available_when_stripe_is_off(fake, make_held_invoice, settings):
    invoice = make_held_invoice()
    settings.STRIPE_ENABLED = False

    response = client_for(invoice.patient.user).post(pay_url(invoice), follow=True)

    assert response.redirect_chain[0][1] == 302
    assert "Online payment is not available right now" in response.content.decode()
    assert not Payment.objects.exists()
    assert fake.calls == []


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda fake, invoice: fake.fail_on("create_checkout_session"), "could not be reached"),
        (
            lambda fake, invoice: services.void_invoice(invoice=invoice, actor=None, reason="test"),
            "can no longer be changed",
        ),
    ],
    ids=["stripe-down", "void-invoice"],
)
def test_pay_explains_why_it_cannot_start(fake, make_held_invoice, break_it, message):
    invoice = make_held_invoice()
    break_it(fake, invoice)

    response = client_for(invoice.patient.user).post(pay_url(invoice), follow=True)

    assert response.status_code == 200
    assert message in " ".join(messages_of(response))
    assert not Payment.objects.filter(status=PaymentStatus.PENDING).exists()


# --------------------------------------------------------------------------------------------- the success page


def start(fake, invoice) -> Payment:
    client_for(invoice.patient.user).post(pay_url(invoice))
    return Payment.objects.get(invoice=invoice, status=PaymentStatus.PENDING)


def test_success_page_confirms_a_paid_session_when_the_webhook_is_late(fake, make_held_invoice):
    invoice = make_held_invoice()
    payment = start(fake, invoice)
    fake.pay(payment.provider_reference)

    response = client_for(invoice.patient.user).get(success_url(payment.provider_reference))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Payment received" in page
    invoice.refresh_from_db()
    assert invoice.display_number in page
    assert "Tuesday 1 December 2026, 10:00" in page  # 13:00 UTC shown in Santiago's summer time
    assert invoice.status == InvoiceStatus.PAID
    assert the_appointment(invoice).status == AppointmentStatus.CONFIRMED


@pytest.mark.parametrize(
    ("language", "shown"),
    [("en", "tuesday 1 december 2026, 10:00"), ("es-cl", "martes 1 diciembre 2026, 10:00")],
    ids=["english", "spanish"],
)
def test_success_page_shows_the_start_in_the_patients_language(fake, make_held_invoice, language, shown):
    invoice = make_held_invoice()
    payment = start(fake, invoice)
    fake.pay(payment.provider_reference)
    client = Client(headers={"accept-language": language})
    client.force_login(invoice.patient.user)

    response = client.get(success_url(payment.provider_reference))

    assert response.status_code == 200
    assert shown in response.content.decode().lower()


def test_success_page_says_processing_until_stripe_reports_paid(fake, make_held_invoice):
    invoice = make_held_invoice()
    payment = start(fake, invoice)
    client = client_for(invoice.patient.user)

    waiting = client.get(success_url(payment.provider_reference))
    fake.fail_on("retrieve_checkout_session")
    unreachable = client.get(success_url(payment.provider_reference))

    for response in (waiting, unreachable):
        assert response.status_code == 200
        assert "Payment in progress" in response.content.decode()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert the_appointment(invoice).status == AppointmentStatus.PENDING_PAYMENT


@pytest.mark.parametrize(
    "query",
    ["?session_id=cs_test_unknown", "", "?session_id="],
    ids=["unknown-session", "no-parameter", "empty"],
)
def test_success_page_is_404_for_unknown_sessions(fake, make_held_invoice, query):
    invoice = make_held_invoice()

    response = client_for(invoice.patient.user).get(reverse("billing:checkout_success") + query)

    assert response.status_code == 404


def test_success_page_of_another_patient_is_404_and_confirms_nothing(fake, make_held_invoice):
    invoice = make_held_invoice()
    payment = start(fake, invoice)
    fake.pay(payment.provider_reference)

    response = client_for(PatientFactory().user).get(success_url(payment.provider_reference))

    assert response.status_code == 404
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


# --------------------------------------------------------------------------------------------- the cancel page


def test_cancel_page_only_shows_the_choice(fake, make_held_invoice):
    invoice = make_held_invoice()
    payment = start(fake, invoice)

    response = client_for(invoice.patient.user).get(cancel_url(invoice))

    assert response.status_code == 200
    page = response.content.decode()
    assert "You left the payment page" in page
    assert "held for you until 09:15" in page  # 15 minutes after STRIPE_NOW, in Santiago's time
    assert payment.checkout_url in page
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert fake.calls_of("expire_checkout_session") == []
    assert the_appointment(invoice).status == AppointmentStatus.PENDING_PAYMENT


def test_cancel_closes_the_checkout_and_releases_the_hold(fake, make_held_invoice):
    invoice = make_held_invoice()
    payment = start(fake, invoice)

    response = client_for(invoice.patient.user).post(cancel_url(invoice), follow=True)

    assert response.redirect_chain == [(cancel_url(invoice), 302)]
    assert "the time held for you has been released" in " ".join(messages_of(response))
    assert "No payment in progress" in response.content.decode()
    assert fake.sessions[payment.provider_reference].status == "expired"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert the_appointment(invoice).status == AppointmentStatus.CANCELLED


def test_cancel_of_a_session_paid_meanwhile_confirms_it(fake, make_held_invoice):
    invoice = make_held_invoice()
    payment = start(fake, invoice)
    fake.pay(payment.provider_reference)

    response = client_for(invoice.patient.user).post(cancel_url(invoice), follow=True)

    assert "already gone through" in " ".join(messages_of(response))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert the_appointment(invoice).status == AppointmentStatus.CONFIRMED


def test_cancel_keeps_the_hold_when_stripe_cannot_be_reached(fake, make_held_invoice):
    """The session might still be paid: releasing the time now could sell it twice."""
    invoice = make_held_invoice()
    payment = start(fake, invoice)
    fake.fail_on("expire_checkout_session")

    response = client_for(invoice.patient.user).post(cancel_url(invoice), follow=True)

    assert "could not be reached" in " ".join(messages_of(response))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert the_appointment(invoice).status == AppointmentStatus.PENDING_PAYMENT


def test_cancel_page_of_another_patient_is_404(fake, make_held_invoice):
    invoice = make_held_invoice()
    payment = start(fake, invoice)
    stranger = client_for(PatientFactory().user)

    assert stranger.get(cancel_url(invoice)).status_code == 404
    assert stranger.post(cancel_url(invoice)).status_code == 404
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


# --------------------------------------------------------------------------------------------- through the fake Stripe

LIVE = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def start_checkout(invoice, live_url: str) -> Payment:
    return services.start_checkout(
        invoice=invoice,
        success_url=f"{live_url}/billing/checkout/success/?session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{live_url}{cancel_url(invoice)}",
        actor=invoice.patient.user,
    )


@LIVE
def test_a_payment_goes_from_hold_to_confirmed_through_the_webhook(stripe_live, stripe_clock, make_held_invoice):
    invoice = make_held_invoice()
    payment = start_checkout(invoice, stripe_live.live_url)
    assert payment.checkout_url.startswith(f"{stripe_live.url}/checkout/cs_test_")

    stripe_live.complete_checkout(payment.provider_reference)
    deliveries = stripe_live.wait_for_deliveries("checkout.session.completed")

    assert [(d["type"], d["status"]) for d in deliveries] == [
        ("payment_intent.succeeded", 200),
        ("checkout.session.completed", 200),
    ]
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.provider_payment_reference.startswith("pi_")
    assert payment.provider_charge_reference.startswith("ch_")
    assert payment.amount == Decimal("15000")
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, Decimal("15000"))
    assert the_appointment(invoice).status == AppointmentStatus.CONFIRMED
    assert ProcessedEvent.objects.count() == 2


@LIVE
def test_the_same_signed_event_five_times_pays_once(stripe_live, stripe_clock, make_held_invoice):
    invoice = make_held_invoice()
    payment = start_checkout(invoice, stripe_live.live_url)
    stripe_live.complete_checkout(payment.provider_reference)
    delivered = stripe_live.wait_for_deliveries("checkout.session.completed")[-1]

    replays = [
        requests.post(
            delivered["url"],
            data=delivered["payload"].encode(),
            headers={"Content-Type": "application/json", "Stripe-Signature": delivered["signature"]},
            timeout=10,
        )
        for _ in range(5)
    ]

    assert [r.status_code for r in replays] == [200] * 5
    assert all(r.json()["duplicate"] for r in replays)
    assert ProcessedEvent.objects.filter(event_id=delivered["event_id"]).count() == 1
    assert Payment.objects.filter(invoice=invoice).count() == 1
    invoice.refresh_from_db()
    assert invoice.amount_paid == Decimal("15000")


@LIVE
def test_a_forged_event_is_refused_and_changes_nothing(stripe_live, stripe_clock, make_held_invoice):
    invoice = make_held_invoice()
    payment = start_checkout(invoice, stripe_live.live_url)
    stripe_live.clear_webhooks()
    stripe_live.register_webhook(f"{stripe_live.live_url}/billing/stripe/webhook/", secret="whsec_not_ours")

    stripe_live.complete_checkout(payment.provider_reference)
    deliveries = stripe_live.wait_for_deliveries("checkout.session.completed")

    assert {d["status"] for d in deliveries} == {400}
    assert not ProcessedEvent.objects.exists()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert the_appointment(invoice).status == AppointmentStatus.PENDING_PAYMENT


@LIVE
def test_a_declined_card_fails_the_payment_and_keeps_the_hold(stripe_live, stripe_clock, make_held_invoice):
    invoice = make_held_invoice()
    payment = start_checkout(invoice, stripe_live.live_url)

    answer = stripe_live.complete_checkout(payment.provider_reference, "pm_card_chargeCustomerFail", expect=(402,))
    deliveries = stripe_live.wait_for_deliveries("payment_intent.payment_failed")

    assert answer["session"]["status"] == "open"  # on Stripe the patient may try another card
    assert [(d["type"], d["status"]) for d in deliveries] == [("payment_intent.payment_failed", 200)]
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert payment.failure_message == "Your card was declined."
    assert the_appointment(invoice).status == AppointmentStatus.PENDING_PAYMENT

    # Another card in the same session: the money arrives after all and the session is confirmed.
    since = stripe_live.delivery_count()
    stripe_live.complete_checkout(payment.provider_reference)
    stripe_live.wait_for_deliveries("checkout.session.completed", since=since)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert the_appointment(invoice).status == AppointmentStatus.CONFIRMED


@LIVE
def test_an_expired_checkout_releases_the_hold(stripe_live, stripe_clock, make_held_invoice):
    invoice = make_held_invoice()
    payment = start_checkout(invoice, stripe_live.live_url)

    stripe_live.expire_checkout(payment.provider_reference)
    deliveries = stripe_live.wait_for_deliveries("checkout.session.expired")

    assert [(d["type"], d["status"]) for d in deliveries] == [("checkout.session.expired", 200)]
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert the_appointment(invoice).status == AppointmentStatus.CANCELLED


@pytest.mark.parametrize(
    ("price", "currency", "unit_amount"),
    [(Decimal("15000"), "CLP", 15000), (Decimal("12.50"), "USD", 1250)],
    ids=["clp", "usd"],
)
def test_the_invoice_amount_reaches_stripe_in_minor_units(
    stripe_api, stripe_clock, make_held_invoice, price, currency, unit_amount
):
    invoice = make_held_invoice(price=price, currency=currency)

    payment = start_checkout(invoice, "http://testserver")

    at_stripe = stripe_api.request("GET", f"/v1/checkout/sessions/{payment.provider_reference}")
    assert (at_stripe["amount_total"], at_stripe["currency"]) == (unit_amount, currency.lower())
    assert at_stripe["metadata"] == {"invoice": invoice.reference, "payment": str(payment.pk)}


def test_the_patient_pays_on_the_hosted_page_and_the_success_page_confirms_without_webhook(
    stripe_api, stripe_clock, make_held_invoice
):
    """No webhook is registered: only the return to the success page can tell the clinic about the payment."""
    invoice = make_held_invoice()
    patient = client_for(invoice.patient.user)

    to_stripe = patient.post(pay_url(invoice))
    hosted = requests.get(to_stripe["Location"], timeout=10)
    action = re.search(r'<form method="post" action="([^"]+)"', hosted.text).group(1)
    paid = requests.post(
        stripe_api.url + action, data={"payment_method": "pm_card_visa"}, allow_redirects=False, timeout=10
    )
    back = urlsplit(paid.headers["Location"])
    session_id = parse_qs(back.query)["session_id"][0]
    page = patient.get(f"{back.path}?{back.query}")

    assert to_stripe.status_code == 303
    assert "Pay" in hosted.text
    assert paid.status_code == 303
    assert session_id.startswith("cs_test_")
    assert page.status_code == 200
    assert "Payment received" in page.content.decode()
    payment = Payment.objects.get(invoice=invoice)
    assert payment.provider_reference == session_id
    assert payment.status == PaymentStatus.SUCCEEDED
    assert the_appointment(invoice).status == AppointmentStatus.CONFIRMED
    assert not ProcessedEvent.objects.exists()
    assert stripe_gateway.retrieve_checkout_session(session_id).is_paid


def test_cancel_page_expires_the_session_at_stripe(stripe_api, stripe_clock, make_held_invoice):
    invoice = make_held_invoice()
    patient = client_for(invoice.patient.user)
    patient.post(pay_url(invoice))
    payment = Payment.objects.get(invoice=invoice)

    patient.post(cancel_url(invoice))

    assert stripe_gateway.retrieve_checkout_session(payment.provider_reference).status == "expired"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert the_appointment(invoice).status == AppointmentStatus.CANCELLED
