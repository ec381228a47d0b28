"""The booking box's steps, driven with the test client at a pinned clock (see conftest.py)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from booking.billing.models import Invoice, InvoiceStatus
from booking.scheduling.models import Appointment, AppointmentStatus
from tests.factories.accounts import PatientFactory
from tests.factories.billing import CouponFactory
from tests.factories.scheduling import AppointmentFactory, ProfessionalFactory, ServiceFactory

from .conftest import TUESDAY_9

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
TUESDAY_9_UTC = "2026-12-01T12:00Z"  # 09:00 in Santiago (UTC-3)
SLOT = {"service": "therapy", "professional": "ana", "location": "providencia", "modality": "in_person"}


def url(path: str, **params) -> str:
    return f"/booking/{path}?{urlencode(params)}" if params else f"/booking/{path}"


def review_url(**overrides) -> str:
    return url("review/", **({**SLOT, "start": TUESDAY_9_UTC} | overrides))


CONSENT = {"consent": "on", "note": "First time", "coupon": ""}


# --- step 1 -----------------------------------------------------------------------------------------------------


def test_start_lists_the_bookable_services(client, clinic):
    ServiceFactory(slug="retired", name="Retired service", active=False)
    response = client.get(url(""), **EN)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Individual therapy" in html
    assert "/booking/?service=therapy" in html
    assert "Retired service" not in html


def test_service_step_offers_first_available_and_every_place(client, clinic):
    html = client.get(url("", service="therapy"), **EN).content.decode()
    assert "First available" in html
    assert "Ana Rojas" in html and "Bruno Soto" in html
    assert 'value="providencia"' in html
    assert 'value="online"' in html


def test_fully_chosen_box_goes_straight_to_the_dates(client, clinic):
    response = client.get(url("", service="therapy", professional="ana", modality="online"))
    assert response.status_code == 302
    assert response["Location"].startswith("/booking/date/?")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"service": "nope"}, "That service cannot be booked online."),
        ({"service": "therapy", "professional": "ghost"}, "That professional cannot be booked online."),
        ({"service": "therapy", "where": "atlantis"}, "That place is not available."),
        ({"service": "therapy", "location": "providencia", "modality": "online"}, "do not take place at a location"),
        ({"service": "therapy", "modality": "teleport"}, "Choose in person or online."),
    ],
    ids=["unknown-service", "unknown-professional", "unknown-place", "online-at-a-location", "bad-modality"],
)
def test_invalid_choices_get_a_message_not_a_500(client, clinic, params, message):
    response = client.get(url("", **params), **EN)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_professional_who_does_not_offer_the_service_is_refused(client, clinic):
    ProfessionalFactory(slug="carla")
    response = client.get(url("date/", service="therapy", professional="carla"), **EN)
    assert response.status_code == 400
    assert "does not offer this service" in response.content.decode()


def test_in_person_only_service_cannot_be_asked_online(client, clinic):
    ServiceFactory(slug="massage", modality="in_person")
    response = client.get(url("date/", service="massage", modality="online"), **EN)
    assert response.status_code == 400
    assert "not offered online" in response.content.decode()


# --- step 2 -----------------------------------------------------------------------------------------------------


def test_month_marks_free_days_and_lists_the_days_times_in_santiago(client, clinic):
    response = client.get(url("date/", service="therapy", professional="ana", where="providencia"), **EN)
    assert response.status_code == 200
    html = response.content.decode()
    assert "November 2026" in html
    # Sunday 29 is today and Monday 30 has times (09:00 is over 12 h ahead); weekends are full.
    assert 'aria-label="Monday 30 November · free times"' in html
    assert 'aria-label="Saturday 28' not in html
    assert html.count('class="btn btn-outline-primary slot-time"') == 7  # Monday 30: 09:00 to 12:00 every half hour
    assert ">09:00<" in html
    assert "start=2026-11-30T12%3A00Z" in html
    assert "America/Santiago" in html


def test_chosen_day_with_first_available_pins_the_professional_of_the_time(client, clinic):
    params = {"service": "therapy", "where": "online", "month": "2026-12", "day": "2026-12-02"}
    html = client.get(url("date/", **params), **EN).content.decode()
    assert "Wednesday 2 December" in html
    assert "professional=bruno" in html  # Bruno works online on Wednesdays 15:00-17:00
    assert ">15:00<" in html


@pytest.mark.parametrize(
    "params",
    [{"month": "2026-13"}, {"day": "yesterday"}],
    ids=["bad-month", "bad-day"],
)
def test_bad_dates_get_a_message(client, clinic, params):
    response = client.get(url("date/", service="therapy", **params), **EN)
    assert response.status_code == 400
    assert "not valid" in response.content.decode()


def test_month_view_runs_bounded_queries_whatever_the_bookings(client, clinic):
    """One find_slots call for the month: 3 or 30 bookings cost the same number of queries."""
    params = {"service": "therapy", "where": "providencia", "month": "2026-12"}
    client.get(url("date/", **params))  # warm Wagtail's site caches used by the header and footer

    def queries_with(bookings: int) -> int:
        Appointment.objects.all().delete()
        for index in range(bookings):
            AppointmentFactory(
                professional=clinic.ana,
                service=clinic.service,
                location=clinic.location,
                start=datetime(2026, 12, 1 + index // 4, 12 + index % 4, 0, tzinfo=UTC),
            )
        with CaptureQueriesContext(connection) as context:
            assert client.get(url("date/", **params)).status_code == 200
        return len(context.captured_queries)

    few, many = queries_with(3), queries_with(30)
    assert few == many
    assert many <= 25


# --- steps 3 to 6 -----------------------------------------------------------------------------------------------


def test_anonymous_visitor_is_sent_to_identify_with_the_same_choices(client, clinic):
    response = client.get(review_url())
    assert response.status_code == 302
    assert response["Location"] == review_url().replace("/booking/review/", "/booking/identify/")
    assert Appointment.objects.count() == 0


def test_review_shows_the_session_its_price_and_the_policy(patient_client, clinic):
    html = patient_client.get(review_url(), **EN).content.decode()
    assert "Individual therapy" in html
    assert "Ana Rojas" in html
    assert "Tuesday 1 December 2026, 09:00" in html
    assert "$35,000" in html
    assert "Providencia" in html
    assert "cancel free of charge" in html
    assert 'name="consent"' in html


def test_patient_books_a_pay_at_clinic_session_end_to_end(patient_client, clinic, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = patient_client.post(review_url(), CONSENT, **EN)
    appointment = Appointment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/booking/done/{appointment.reference}/"
    assert appointment.status == AppointmentStatus.CONFIRMED
    assert appointment.start == TUESDAY_9
    assert appointment.patient == clinic.patient
    assert appointment.patient_note == "First time"
    assert appointment.price == Decimal("35000")
    invoice = Invoice.objects.get()
    assert invoice.status == InvoiceStatus.OPEN
    assert invoice.total == Decimal("35000")
    # the patient's confirmation (booking.notifications; the professional gets their own)
    (confirmation,) = [message for message in mail.outbox if message.to == [clinic.patient.user.email]]
    assert appointment.reference in confirmation.subject
    assert "09:00" in confirmation.body

    done = patient_client.get(response["Location"], **EN).content.decode()
    assert appointment.reference in done
    assert "Tuesday 1 December 2026, 09:00" in done
    assert f"/portal/appointments/{appointment.reference}/calendar.ics" in done


def test_done_page_offers_google_and_outlook_links_in_utc(patient_client, clinic):
    appointment = AppointmentFactory(
        patient=clinic.patient,
        professional=clinic.ana,
        service=clinic.service,
        location=clinic.location,
        start=TUESDAY_9,
        end=TUESDAY_9 + timedelta(minutes=50),
    )
    done = patient_client.get(f"/booking/done/{appointment.reference}/", **EN).content.decode()
    google = "https://calendar.google.com/calendar/render?action=TEMPLATE&amp;text=Individual+therapy+with+Ana+Rojas"
    assert google in done
    assert "dates=20261201T120000Z%2F20261201T125000Z" in done  # 09:00-09:50 in Santiago, in UTC
    assert "https://outlook.live.com/calendar/0/deeplink/compose?" in done
    assert "startdt=2026-12-01T12%3A00%3A00Z" in done
    assert appointment.reference in done and "Providencia" in done


def test_done_page_is_only_for_the_patient_who_booked(client, clinic):
    appointment = AppointmentFactory(professional=clinic.ana, service=clinic.service, location=clinic.location)
    client.force_login(PatientFactory().user)
    assert client.get(f"/booking/done/{appointment.reference}/").status_code == 404


def test_consent_is_required(patient_client, clinic):
    response = patient_client.post(review_url(), {"consent": ""}, **EN)
    assert response.status_code == 200
    assert "Please accept the privacy policy" in response.content.decode()
    assert Appointment.objects.count() == 0


def test_discount_code_is_applied_to_the_invoice(patient_client, clinic):
    CouponFactory(code="HELLO10")
    response = patient_client.post(review_url(), {**CONSENT, "coupon": "hello10"}, **EN)
    assert response.status_code == 302
    assert Invoice.objects.get().total == Decimal("31500")


@pytest.mark.parametrize(
    ("coupon", "message"),
    [("NOPE", "That discount code does not exist."), ("OLD", "That discount code is no longer active.")],
    ids=["unknown", "inactive"],
)
def test_coupon_error_is_shown_and_nothing_is_booked(patient_client, clinic, coupon, message):
    CouponFactory(code="OLD", active=False)
    response = patient_client.post(review_url(), {**CONSENT, "coupon": coupon}, **EN)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Appointment.objects.count() == 0
    assert Invoice.objects.count() == 0
    assert len(mail.outbox) == 0


def test_time_taken_before_confirming_shows_the_nearest_free_times(patient_client, clinic):
    assert patient_client.get(review_url()).status_code == 200
    AppointmentFactory(professional=clinic.ana, service=clinic.service, location=clinic.location, start=TUESDAY_9)
    response = patient_client.post(review_url(), CONSENT, **EN)
    assert response.status_code == 409
    html = response.content.decode()
    assert 'id="slot-taken"' in html
    assert "Sorry, that time was just taken. These are the nearest free times:" in html
    assert "alternative-time" in html
    assert "start=2026-12-01T13%3A00Z" in html  # 10:00 the same day is the nearest free time
    assert Appointment.objects.count() == 1
    assert Invoice.objects.count() == 0


def test_time_taken_during_the_confirmation_itself_writes_nothing(patient_client, clinic, monkeypatch):
    """The race: the pre-check still saw the time free, the booking under the lock finds it taken."""
    AppointmentFactory(professional=clinic.ana, service=clinic.service, location=clinic.location, start=TUESDAY_9)
    monkeypatch.setattr("booking.widget.views.slot_is_offered", lambda **kwargs: True)
    response = patient_client.post(review_url(), CONSENT, **EN)
    assert response.status_code == 409
    assert "Sorry, that time was just taken." in response.content.decode()
    assert Appointment.objects.count() == 1
    assert Invoice.objects.count() == 0


@pytest.mark.parametrize(
    "overrides",
    [
        {"professional": "bruno"},  # Bruno does not work at Providencia
        {"start": "2026-11-28T12:00Z"},  # in the past
        {"start": "2026-12-01T12:10Z"},  # not a slot start
        {"start": "2026-12-05T12:00Z"},  # a Saturday: outside the hours
        {"start": "tomorrow"},
        {"price": "1"},  # ignored: the price comes from the database
    ],
    ids=["other-professional", "past", "off-grid", "outside-hours", "garbage", "price"],
)
def test_tampered_values_are_refused_without_booking(patient_client, clinic, overrides):
    response = patient_client.post(review_url(**overrides), CONSENT, **EN)
    if "price" in overrides:
        assert response.status_code == 302
        assert Appointment.objects.get().price == Decimal("35000")
        return
    assert response.status_code in (400, 409)
    assert Appointment.objects.count() == 0
    assert Invoice.objects.count() == 0


def test_online_payment_holds_the_slot_and_goes_to_the_pay_step(patient_client, clinic, monkeypatch, settings):
    """The hold and its open invoice are made; Stripe is only asked on the pay step (test_pay.py)."""
    from tests.booking.billing.fakes import install_fake_gateway

    gateway = install_fake_gateway(monkeypatch, settings)
    clinic.service.payment_mode = "online"
    clinic.service.save()
    response = patient_client.post(review_url(), CONSENT, **EN)
    assert response.status_code == 303
    appointment = Appointment.objects.get()
    assert response["Location"] == f"/booking/pay/{appointment.reference}/"
    assert appointment.status == AppointmentStatus.PENDING_PAYMENT
    assert Invoice.objects.get().status == InvoiceStatus.OPEN
    assert gateway.calls == []
    assert len(mail.outbox) == 0
