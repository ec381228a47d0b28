"""Step 5, "Pay": the held time with its countdown, the way to Stripe, and giving the time back.

The clock is pinned at Sunday 29 November 2026, 10:00 in Santiago (conftest.py) and a hold lasts 15 minutes, so
the countdown numbers are exact. Stripe is the fake gateway of tests/booking/billing/fakes.py.
"""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
import time_machine
from django.core import mail

from booking.billing import services as billing
from booking.billing.errors import PaymentError
from booking.billing.models import Invoice, InvoiceStatus, Payment, PaymentStatus
from booking.billing.services import cancellations
from booking.scheduling.models import Appointment, AppointmentStatus
from tests.booking.billing.fakes import install_fake_gateway
from tests.factories.accounts import PatientFactory

from .conftest import NOW, TUESDAY_9

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
HTMX = {**EN, "HTTP_HX_REQUEST": "true"}
IN_PERSON = {
    "service": "therapy",
    "professional": "ana",
    "location": "providencia",
    "modality": "in_person",
    "start": "2026-12-01T12:00Z",
}
ONLINE = {"service": "therapy", "professional": "ana", "modality": "online", "start": "2026-12-01T18:00Z"}
CONSENT = {"consent": "on", "note": "", "coupon": ""}


@pytest.fixture
def gateway(monkeypatch, settings, clinic):
    fake = install_fake_gateway(monkeypatch, settings)
    clinic.service.payment_mode = "online"
    clinic.service.save()
    return fake


def hold(client, slot=None) -> tuple[Appointment, str]:
    """Confirm the review step of a pay-online service: the time is held and the patient lands on step 5."""
    response = client.post(f"/booking/review/?{urlencode(slot or IN_PERSON)}", CONSENT, **EN)
    appointment = Appointment.objects.get()
    pay_url = f"/booking/pay/{appointment.reference}/"
    assert response.status_code == 303
    assert response["Location"] == pay_url
    return appointment, pay_url


def invoice_of(appointment: Appointment) -> Invoice:
    return Invoice.objects.get(lines__appointment=appointment)


# --- the page ---------------------------------------------------------------------------------------------------


def test_the_owner_sees_the_held_time_its_price_and_the_countdown(patient_client, clinic, gateway):
    appointment, pay_url = hold(patient_client)
    response = patient_client.get(pay_url, **EN)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="step-label">Step 5 of 5</p>' in html
    assert '<h1 id="step-heading" class="h2 mb-3" tabindex="-1">Pay for your session</h1>' in html
    assert "Tuesday 1 December 2026, 09:00" in html
    assert "$35,000" in html
    assert 'data-seconds-left="900"' in html
    assert "data-countdown-clock>15:00</strong>" in html
    assert "We hold this time for you until 10:15 (America/Santiago)." in html
    assert '<p class="fs-5 mb-1" aria-hidden="true">' in html  # the ticking clock is not read every second
    assert '<li data-minutes="14">14 minutes left to pay.</li>' in html
    assert '<li data-minutes="1">1 minute left to pay.</li>' in html
    assert 'id="pay-now"' in html and 'value="cancel"' in html
    assert gateway.calls == []  # nothing is asked of Stripe before the patient presses "pay"


def test_the_countdown_is_counted_from_the_server_clock(patient_client, clinic, gateway):
    _, pay_url = hold(patient_client)
    with time_machine.travel(NOW + timedelta(minutes=5, seconds=30), tick=False):
        html = patient_client.get(pay_url, **EN).content.decode()
    assert 'data-seconds-left="570"' in html
    assert "data-countdown-clock>09:30</strong>" in html
    assert '<li data-minutes="9">9 minutes left to pay.</li>' in html
    assert 'data-minutes="10"' not in html


def test_an_online_session_shows_its_time_for_the_visitor_zone(patient_client, clinic, gateway):
    _, pay_url = hold(patient_client, ONLINE)
    html = patient_client.get(pay_url, **EN).content.decode()
    assert (
        '<time datetime="2026-12-01T18:00:00+00:00" class="visitor-time" data-clinic-zone="America/Santiago">'
        "Tuesday 1 December 2026, 15:00</time>" in html
    )


def test_someone_elses_reference_is_not_found(client, clinic, gateway):
    client.force_login(clinic.patient.user)
    appointment, pay_url = hold(client)
    client.force_login(PatientFactory().user)
    assert client.get(pay_url).status_code == 404
    assert client.post(pay_url, {"action": "cancel"}).status_code == 404
    assert client.post(pay_url, {"action": "pay"}).status_code == 404
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.PENDING_PAYMENT
    assert gateway.calls == []


def test_an_anonymous_visitor_is_sent_to_log_in(client, clinic, gateway):
    client.force_login(clinic.patient.user)
    _, pay_url = hold(client)
    client.logout()
    response = client.get(pay_url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_the_htmx_frame_renders_the_pay_step_alone(patient_client, clinic, gateway):
    _, pay_url = hold(patient_client)
    html = patient_client.get(pay_url, **HTMX).content.decode()
    assert html.lstrip().startswith("<title>Pay for your session</title>")
    assert 'id="booking-flow"' in html and "site-header" not in html
    assert 'hx-history="false"' in html  # htmx keeps no stale copy of a countdown


# --- paying -----------------------------------------------------------------------------------------------------


def test_pay_sends_the_patient_to_stripe_checkout(patient_client, clinic, gateway):
    appointment, pay_url = hold(patient_client)
    response = patient_client.post(pay_url, {"action": "pay"}, **EN)
    payment = Payment.objects.get()
    assert response.status_code == 303
    assert response["Location"] == payment.checkout_url
    assert payment.status == PaymentStatus.PENDING
    (call,) = gateway.calls_of("create_checkout_session")
    assert call["success_url"] == "http://testserver/billing/checkout/success/?session_id={CHECKOUT_SESSION_ID}"
    assert (
        call["cancel_url"]
        == f"http://testserver/billing/invoices/{invoice_of(appointment).reference}/checkout/cancel/"
    )
    assert call["amount"] == invoice_of(appointment).balance_due


def test_pay_under_htmx_answers_with_hx_redirect(patient_client, clinic, gateway):
    _, pay_url = hold(patient_client)
    response = patient_client.post(pay_url, {"action": "pay"}, **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == Payment.objects.get().checkout_url


def test_a_second_press_reuses_the_open_checkout(patient_client, clinic, gateway):
    _, pay_url = hold(patient_client)
    first = patient_client.post(pay_url, {"action": "pay"})
    second = patient_client.post(pay_url, {"action": "pay"})
    assert first["Location"] == second["Location"]
    assert len(gateway.calls_of("create_checkout_session")) == 1


def test_a_gateway_failure_shows_the_message_and_keeps_the_hold(patient_client, clinic, gateway):
    appointment, pay_url = hold(patient_client)
    gateway.fail_on("create_checkout_session")
    response = patient_client.post(pay_url, {"action": "pay"}, **EN)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="pay-error"' in html
    assert "The payment provider could not be reached. Please try again in a moment." in html
    assert 'data-seconds-left="900"' in html
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.PENDING_PAYMENT
    assert invoice_of(appointment).status == InvoiceStatus.OPEN

    gateway.recover("create_checkout_session")  # the patient tries again while the time is still held
    retry = patient_client.post(pay_url, {"action": "pay"}, **EN)
    assert retry.status_code == 303
    assert retry["Location"].startswith("https://checkout.stripe.test/")


# --- giving the time back ---------------------------------------------------------------------------------------


def test_cancel_frees_the_time_and_voids_the_invoice(patient_client, clinic, gateway):
    appointment, pay_url = hold(patient_client)
    response = patient_client.post(pay_url, {"action": "cancel"}, **EN)
    assert response.status_code == 303
    assert response["Location"] == (
        "/booking/date/?service=therapy&professional=ana&location=providencia&modality=in_person"
        "&month=2026-12&day=2026-12-01"
    )
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    assert invoice_of(appointment).status == InvoiceStatus.VOID
    html = patient_client.get(response["Location"], **EN).content.decode()
    assert "Your booking was cancelled and the time is free again." in html
    assert "start=2026-12-01T12%3A00Z" in html  # 09:00 is offered again


def test_cancel_after_starting_a_checkout_closes_it_at_stripe_first(patient_client, clinic, gateway):
    appointment, pay_url = hold(patient_client)
    patient_client.post(pay_url, {"action": "pay"})
    session_id = Payment.objects.get().provider_reference
    response = patient_client.post(pay_url, {"action": "cancel"}, **EN)
    assert response.status_code == 303
    assert [call["session_id"] for call in gateway.calls_of("expire_checkout_session")] == [session_id]
    assert Payment.objects.get().status == PaymentStatus.CANCELLED
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    assert invoice_of(appointment).status == InvoiceStatus.VOID


def test_cancel_of_a_checkout_paid_meanwhile_confirms_instead(patient_client, clinic, gateway):
    appointment, pay_url = hold(patient_client)
    patient_client.post(pay_url, {"action": "pay"})
    gateway.pay(Payment.objects.get().provider_reference)  # paid in another tab; no webhook yet
    response = patient_client.post(pay_url, {"action": "cancel"}, **EN)
    assert response.status_code == 302
    assert response["Location"] == f"/booking/done/{appointment.reference}/"
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED
    assert invoice_of(appointment).status == InvoiceStatus.PAID


def test_cancel_while_stripe_is_unreachable_keeps_the_hold_and_says_so(patient_client, clinic, gateway):
    appointment, pay_url = hold(patient_client)
    patient_client.post(pay_url, {"action": "pay"})
    gateway.fail_on("expire_checkout_session")
    response = patient_client.post(pay_url, {"action": "cancel"}, **EN)
    assert response.status_code == 200
    assert 'id="pay-now"' in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.PENDING_PAYMENT
    assert invoice_of(appointment).status == InvoiceStatus.OPEN
    assert Payment.objects.get().status == PaymentStatus.PENDING


def test_cancel_under_htmx_shows_its_message_inside_the_swapped_step(patient_client, clinic, gateway):
    _, pay_url = hold(patient_client)
    response = patient_client.post(pay_url, {"action": "cancel"}, follow=True, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    flow = html[html.index('id="booking-flow"') :]
    assert "Your booking was cancelled and the time is free again." in flow


def test_cancel_is_one_transaction(patient_client, clinic, gateway, monkeypatch):
    """If the invoice cannot be voided, the time is not freed either: no free slot with a bill still open."""
    appointment, pay_url = hold(patient_client)

    def refuse(**kwargs):
        raise PaymentError("invalid_state")

    monkeypatch.setattr(cancellations, "_void", refuse)
    response = patient_client.post(pay_url, {"action": "cancel"}, **EN)
    assert response.status_code == 200
    assert "This invoice can no longer be changed this way." in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.PENDING_PAYMENT
    assert appointment.hold_expires_at is not None
    assert invoice_of(appointment).status == InvoiceStatus.OPEN


# --- a hold that is over ----------------------------------------------------------------------------------------


def test_a_lapsed_hold_says_so_and_offers_other_times(patient_client, clinic, gateway):
    _, pay_url = hold(patient_client)
    with time_machine.travel(NOW + timedelta(minutes=16), tick=False):
        response = patient_client.get(pay_url, **EN)
        refused = patient_client.post(pay_url, {"action": "pay"}, **EN)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<h1 id="step-heading" class="h2 mb-3" tabindex="-1">This time is no longer held</h1>' in html
    assert 'id="hold-lapsed"' in html
    assert "alternative-time" in html
    assert 'id="pay-now"' not in html
    assert "/booking/date/?service=therapy" in html
    assert refused.status_code == 409
    assert "This time is no longer held" in refused.content.decode()
    assert gateway.calls == []


def test_a_cancelled_hold_is_no_longer_held(patient_client, clinic, gateway):
    _, pay_url = hold(patient_client)
    patient_client.post(pay_url, {"action": "cancel"})
    html = patient_client.get(pay_url, **EN).content.decode()
    assert "This time is no longer held" in html
    assert 'id="pay-now"' not in html


def test_a_session_the_webhook_confirmed_goes_to_done(patient_client, clinic, gateway):
    appointment, pay_url = hold(patient_client)
    patient_client.post(pay_url, {"action": "pay"})
    session_id = Payment.objects.get().provider_reference
    billing.confirm_checkout(gateway.checkout_state(gateway.pay(session_id)))
    response = patient_client.get(pay_url)
    assert response.status_code == 302
    assert response["Location"] == f"/booking/done/{appointment.reference}/"
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED


def test_the_confirmation_email_goes_when_the_payment_confirms_not_when_the_time_is_held(
    patient_client, clinic, gateway, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        appointment, pay_url = hold(patient_client)
        patient_client.post(pay_url, {"action": "pay"})
    assert mail.outbox == []  # a hold is not a booking yet
    session_id = Payment.objects.get().provider_reference
    with django_capture_on_commit_callbacks(execute=True):
        billing.confirm_checkout(gateway.checkout_state(gateway.pay(session_id)))
    to_patient = [message for message in mail.outbox if message.to == [clinic.patient.user.email]]
    # The payment's receipt ("payment received") goes too; the confirmation is one message.
    (confirmation,) = [message for message in to_patient if message.tags == ["appointment_confirmed"]]
    assert appointment.reference in confirmation.subject
    sent = len(mail.outbox)
    with django_capture_on_commit_callbacks(execute=True):
        billing.confirm_checkout(gateway.checkout_state(gateway.pay(session_id)))  # Stripe sends it again
    assert len(mail.outbox) == sent


def test_sessions_booked_elsewhere_get_the_same_confirmation_email(clinic, django_capture_on_commit_callbacks):
    """Since booking.notifications owns the confirmation, every source sends it, not only the box."""
    from booking.scheduling import services as scheduling

    with django_capture_on_commit_callbacks(execute=True):
        scheduling.book_appointment(
            patient=clinic.patient,
            professional=clinic.ana,
            service=clinic.service,
            start=TUESDAY_9,
            location=clinic.location,
            modality="in_person",
            source="api",
            actor=clinic.patient.user,
        )
    assert [message.to for message in mail.outbox if message.to == [clinic.patient.user.email]] == [
        [clinic.patient.user.email]
    ]
