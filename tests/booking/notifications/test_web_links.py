"""The pages behind the signed links of the emails: confirm attendance and cancel, without logging in.

A GET only shows the session and a button; the POST (with the CSRF token) acts once; tampered, expired, other-purpose
and reused links get a page saying so, never a 500 and never an action. Cancelling applies the clinic's policy with
the patient as the actor, and the page says what the policy decides before the button is pressed.

The clock is pinned at Sunday 29 November 2026, 10:00 in Santiago; the session is Tuesday 1 December 2026 at 09:00
in person at a Santiago location (summer time, UTC-3), with a 24-hour cancellation window.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from booking.billing.models import InvoiceStatus
from booking.notifications import attendance, links
from booking.notifications.web_models import AttendanceConfirmation
from booking.scheduling.models import AppointmentStatus
from tests.factories.billing import InvoiceFactory
from tests.factories.packs import package_with, purchase_of
from tests.factories.scheduling import AppointmentFactory, LocationFactory, ServiceFactory

pytestmark = pytest.mark.django_db

SANTIAGO = ZoneInfo("America/Santiago")
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=SANTIAGO)
TUESDAY_9 = datetime(2026, 12, 1, 9, 0, tzinfo=SANTIAGO)
LATE = datetime(2026, 11, 30, 12, 0, tzinfo=SANTIAGO)  # 21 hours before: a late cancellation
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture(autouse=True)
def pinned_clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def appointment():
    location = LocationFactory(name="Sede Providencia", address="Av. Providencia 1234")
    service = ServiceFactory(cancellation_window_hours=24)
    appointment = AppointmentFactory(
        service=service,
        location=location,
        modality="in_person",
        start=TUESDAY_9,
        patient__user__preferred_language="en",
    )
    return appointment


def token(appointment, purpose):
    return links.make_token(purpose, attendance.link_key(appointment))


def confirm_url(appointment):
    return reverse("notifications:confirm_attendance", args=[token(appointment, attendance.CONFIRM)])


def cancel_url(appointment):
    return reverse("notifications:cancel", args=[token(appointment, attendance.CANCEL)])


def csrf_client():
    return Client(enforce_csrf_checks=True)


def post_with_csrf(client, url):
    """POST the page's own form: GET it first for the CSRF cookie and token, as a browser does."""
    client.get(url)
    return client.post(url, {"csrfmiddlewaretoken": client.cookies["csrftoken"].value}, follow=True)


# --- Confirm attendance -----------------------------------------------------------------------------------


def test_the_confirm_page_shows_the_session_in_local_time_and_a_button_and_changes_nothing(client, appointment):
    response = client.get(confirm_url(appointment))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Tuesday 1 December 2026, 09:00" in body  # the patient's language (English) and Santiago's wall clock
    assert "America/Santiago" in body
    assert "Sede Providencia" in body and "Av. Providencia 1234" in body
    assert 'method="post"' in body and "Yes, I will come" in body
    assert not AttendanceConfirmation.objects.exists()


def test_confirming_records_it_once_and_a_second_click_says_it_is_already_done(appointment):
    client = csrf_client()
    url = confirm_url(appointment)
    response = post_with_csrf(client, url)
    assert response.status_code == 200
    assert "Thank you: the clinic knows you will come." in response.content.decode()
    confirmation = AttendanceConfirmation.objects.get(appointment=appointment)
    assert confirmation.confirmed_at == NOW

    again = post_with_csrf(client, url)  # the same link, later (the email opened again)
    assert "You have confirmed that you will come." in again.content.decode()
    assert AttendanceConfirmation.objects.count() == 1


def test_a_post_without_the_csrf_token_is_refused_and_confirms_nothing(appointment):
    response = csrf_client().post(confirm_url(appointment))
    assert response.status_code == 403
    assert not AttendanceConfirmation.objects.exists()


def test_a_cancelled_session_cannot_be_confirmed(appointment):
    appointment.status = AppointmentStatus.CANCELLED
    appointment.save()
    client = csrf_client()
    page = client.get(confirm_url(appointment))
    assert "This session was cancelled, so there is nothing to confirm." in page.content.decode()
    response = post_with_csrf(client, confirm_url(appointment))
    assert response.status_code == 200
    assert not AttendanceConfirmation.objects.exists()


@pytest.mark.parametrize(
    "mangle",
    [
        lambda signed: signed[:-2] + ("AA" if not signed.endswith("AA") else "BB"),
        lambda signed: "x" + signed,
        lambda signed: "nonsense",
    ],
    ids=["signature-changed", "payload-changed", "garbage"],
)
def test_a_tampered_link_gets_a_clear_page_and_does_nothing(client, appointment, mangle):
    bad = mangle(token(appointment, attendance.CONFIRM))
    url = reverse("notifications:confirm_attendance", args=[bad])
    for response in (client.get(url), client.post(url)):
        assert response.status_code == 400
        assert "Este enlace no es válido" in response.content.decode()  # no patient known: the default language
    assert not AttendanceConfirmation.objects.exists()


def test_a_cancel_link_does_not_confirm_and_a_confirm_link_does_not_cancel(client, appointment):
    cancel_token = token(appointment, attendance.CANCEL)
    confirm_token = token(appointment, attendance.CONFIRM)
    assert client.post(reverse("notifications:confirm_attendance", args=[cancel_token])).status_code == 400
    assert client.post(reverse("notifications:cancel", args=[confirm_token])).status_code == 400
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED
    assert not AttendanceConfirmation.objects.exists()


def test_an_expired_link_says_so_and_does_nothing(client, appointment, pinned_clock):
    url = confirm_url(appointment)
    pinned_clock.shift(links.MAX_AGE + timedelta(minutes=1))
    response = client.post(url)
    assert response.status_code == 410
    assert "Este enlace expiró" in response.content.decode()  # no patient known: the default language
    assert not AttendanceConfirmation.objects.exists()


def test_a_link_of_another_patients_session_is_refused(client, appointment):
    """The token is bound to the appointment AND its patient: a session given to someone else no longer answers."""
    url = confirm_url(appointment)
    appointment.patient = AppointmentFactory().patient
    appointment.save()
    assert client.post(url).status_code == 400
    assert not AttendanceConfirmation.objects.exists()


# --- Cancel ------------------------------------------------------------------------------------------------


def test_the_cancel_page_shows_the_free_cancellation_before_the_click_and_a_get_cancels_nothing(client, appointment):
    response = client.get(cancel_url(appointment))
    body = response.content.decode()
    assert response.status_code == 200
    assert "You can cancel free of charge." in body
    assert "Cancel this session" in body
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED


def test_a_late_cancellation_is_announced_before_the_click(client, appointment, pinned_clock):
    url = cancel_url(appointment)
    pinned_clock.move_to(LATE)
    body = client.get(url).content.decode()
    assert "This is a late cancellation (less than 24 hours before the session)." in body
    assert "the session is still charged and nothing is refunded" in body


@pytest.mark.parametrize(
    "returns_session, words",
    [(False, "the session is used up from your pack"), (True, "Even so, the session goes back to your pack.")],
    ids=["forfeited", "returned-by-policy"],
)
def test_a_late_cancellation_of_a_pack_session_says_what_happens_to_the_pack(
    client, appointment, pinned_clock, returns_session, words
):
    appointment.service.pack_late_cancel_returns_session = returns_session
    appointment.service.save()
    appointment.pack_purchase = purchase_of(package_with({appointment.service: 4}), patient=appointment.patient)
    appointment.save()
    url = cancel_url(appointment)
    pinned_clock.move_to(LATE)
    assert words in client.get(url).content.decode()


def test_cancelling_goes_through_billing_as_the_patient_and_a_second_click_changes_nothing(appointment):
    invoice = InvoiceFactory(patient=appointment.patient, appointment=appointment)
    client = csrf_client()
    url = cancel_url(appointment)
    response = post_with_csrf(client, url)
    assert "Your session has been cancelled." in response.content.decode()
    appointment.refresh_from_db()
    invoice.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    assert appointment.cancelled_by == appointment.patient.user
    assert invoice.status == InvoiceStatus.VOID  # in the free window, the unpaid invoice is voided

    again = post_with_csrf(client, url)
    assert "This session is cancelled." in again.content.decode()
    assert appointment.events.filter(action="cancelled").count() == 1


def test_a_session_that_started_cannot_be_cancelled_from_the_email(client, appointment, pinned_clock):
    url = cancel_url(appointment)
    pinned_clock.move_to(TUESDAY_9 + timedelta(minutes=5))
    page = client.get(url).content.decode()
    assert "This session can no longer be cancelled online." in page
    post_with_csrf(csrf_client(), url)
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED
