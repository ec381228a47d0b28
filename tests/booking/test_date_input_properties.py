"""Every date, month and instant a view or endpoint reads from outside, fed extreme and malformed values.

Years 1 and 9999 (where a day's bounds, the week around a date or a conversion to UTC overflow), impossible days,
huge numbers, free text and any UTC offset: the answer is a refusal with a message or a normal page, never a 5xx.
The test client re-raises a view's exception, so an overflow fails the example even before the status is read.
The clock is pinned to Sunday 29 November 2026, 10:00 in Santiago.
"""

from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from booking.scheduling.date_range import EARLIEST_DATE, LATEST_DATE, out_of_range_message
from booking.scheduling.models import Appointment
from tests.factories.accounts import PatientFactory
from tests.factories.scheduling import (
    AppointmentFactory,
    LocationFactory,
    ProfessionalFactory,
    ServiceFactory,
    SuperuserFactory,
    WeeklyAvailabilityFactory,
)

SANTIAGO = ZoneInfo("America/Santiago")
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=SANTIAGO)
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
SLOT = {"service": "therapy", "professional": "ana", "location": "providencia", "modality": "in_person"}

PROPERTY_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- what comes in ----------------------------------------------------------------------------------------------

years = st.one_of(st.sampled_from([1, 2, 1899, 1900, 2199, 2200, 9998, 9999]), st.integers(0, 99999))
calendar_dates = st.one_of(
    st.sampled_from([date(1, 1, 1), date(9999, 12, 31), EARLIEST_DATE, LATEST_DATE, date(2026, 12, 1)]),
    st.dates(),
)
impossible_days = st.builds(
    lambda year, month, day: f"{year:04d}-{month:02d}-{day:02d}", years, st.integers(0, 13), st.integers(0, 32)
)
junk = st.one_of(
    st.integers().map(str),
    st.text(max_size=30),
    st.sampled_from(["", " ", "9" * 40, "-1", "2026-12", "2026-12-01T09:00", "NaN", "1e309", "٢٠٢٦-١٢-٠١"]),
)
date_texts = st.one_of(calendar_dates.map(date.isoformat), impossible_days, junk)
month_texts = st.one_of(
    calendar_dates.map(lambda day: f"{day:%Y-%m}"),
    st.builds(lambda year, month: f"{year:04d}-{month:02d}", years, st.integers(0, 13)),
    junk,
)
offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(
    lambda minutes: f"{'-' if minutes < 0 else '+'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
)
instants = st.builds(
    lambda day, moment, suffix: f"{day.isoformat()}T{moment:%H:%M:%S}{suffix}",
    calendar_dates,
    st.times(),
    st.one_of(st.just("Z"), st.just(""), offsets),
)
datetime_texts = st.one_of(instants, date_texts)
# The booking box's own start format: minutes in UTC, "YYYY-MM-DDTHH:MMZ".
box_starts = st.one_of(
    st.builds(lambda day, moment: f"{day.isoformat()}T{moment:%H:%M}Z", calendar_dates, st.times()),
    date_texts,
)


# --- the clinic -------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def pinned_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db, home_page):
    service = ServiceFactory(
        slug="therapy",
        duration_minutes=50,
        min_notice_minutes=12 * 60,
        booking_horizon_days=60,
        price=Decimal("35000"),
        payment_mode="clinic",
    )
    location = LocationFactory(slug="providencia")
    ana = ProfessionalFactory(slug="ana", services=[service], locations=[location])
    for weekday in range(5):
        WeeklyAvailabilityFactory(
            professional=ana, location=location, weekday=weekday, start_time=time(9), end_time=time(13)
        )
    patient = PatientFactory(user__preferred_language="en")
    appointment = AppointmentFactory(
        patient=patient,
        professional=ana,
        service=service,
        location=location,
        start=datetime(2026, 12, 2, 9, 0, tzinfo=SANTIAGO),
    )
    return patient, appointment


@pytest.fixture
def patient_client(world):
    client = Client()
    client.force_login(world[0].user)
    return client


@pytest.fixture
def patient_api(world):
    client = APIClient()
    client.force_authenticate(world[0].user)
    return client


@pytest.fixture
def admin_client(db):
    client = Client()
    client.force_login(SuperuserFactory(email="admin@clinic.example"))
    return client


def assert_no_server_error(response):
    assert response.status_code < 500, response.content[:500]


# --- the API ----------------------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(start=date_texts, end=date_texts)
def test_availability_dates(client, world, start, end):
    response = client.get("/api/v1/availability/", {"service": "therapy", "start": start, "end": end})
    assert_no_server_error(response)


@PROPERTY_SETTINGS
@given(start=datetime_texts)
def test_booking_start(patient_api, start):
    body = {"service": "therapy", "professional": "ana", "location": "providencia", "start": start}
    assert_no_server_error(patient_api.post("/api/v1/appointments/", body, format="json"))


@PROPERTY_SETTINGS
@given(start=datetime_texts)
def test_reschedule_start(patient_api, world, start):
    url = f"/api/v1/appointments/{world[1].reference}/reschedule/"
    assert_no_server_error(patient_api.post(url, {"start": start}, format="json"))


# --- the booking box --------------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(day=date_texts, month=month_texts)
def test_date_step(client, world, day, month):
    assert_no_server_error(client.get("/booking/date/", {**SLOT, "day": day, "month": month}))
    assert_no_server_error(client.get("/booking/date/", {"service": "therapy", "month": month}))


@PROPERTY_SETTINGS
@given(start=box_starts)
def test_identify_and_review_start(client, patient_client, start):
    assert_no_server_error(client.get("/booking/identify/", {**SLOT, "start": start}))
    assert_no_server_error(patient_client.get("/booking/review/", {**SLOT, "start": start}))


# --- the staff admin --------------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(day=date_texts, view=st.sampled_from(["week", "day"]))
def test_admin_calendar_date(admin_client, world, day, view):
    assert_no_server_error(admin_client.get("/admin/clinic/appointments/calendar/", {"date": day, "view": view}))


@PROPERTY_SETTINGS
@given(date_from=date_texts, date_to=date_texts)
def test_admin_appointment_list_dates(admin_client, world, date_from, date_to):
    query = {"date_from": date_from, "date_to": date_to}
    assert_no_server_error(admin_client.get("/admin/clinic/appointments/", query))


@PROPERTY_SETTINGS
@given(day=date_texts)
def test_admin_reschedule_and_create_dates(admin_client, world, day):
    patient, appointment = world
    url = f"/admin/clinic/appointments/{appointment.reference}/reschedule/"
    data = {"reschedule-date": day, "reschedule-time": "10:00", "reschedule-staff_override_reason": ""}
    assert_no_server_error(admin_client.post(url, data))
    data = {"patient": patient.pk, "professional": appointment.professional.pk, "service": appointment.service.pk}
    data |= {"location": appointment.location.pk, "date": day, "time": "10:00"}
    assert_no_server_error(admin_client.post("/admin/clinic/appointments/new/", data))


@PROPERTY_SETTINGS
@given(issued_from=date_texts, issued_to=date_texts)
def test_admin_invoice_list_dates(admin_client, world, issued_from, issued_to):
    query = {"issued_from": issued_from, "issued_to": issued_to}
    assert_no_server_error(admin_client.get("/admin/billing/invoices/", query))


# --- the refusals say why ---------------------------------------------------------------------------------------


def out_of_range_text() -> str:
    with translation.override("en"):
        return out_of_range_message()


@pytest.mark.parametrize(
    "start",
    ["9999-12-31T23:00:00+00:00", "9999-12-31T20:00:00-05:00", "0001-01-01T00:00:00+05:00", "2200-01-01T09:00Z"],
    ids=["last-instant-utc", "past-the-last-instant", "before-the-first-instant", "just-past-the-range"],
)
def test_api_refuses_a_start_out_of_range_with_its_error_body(patient_api, world, start):
    body = {"service": "therapy", "professional": "ana", "location": "providencia", "start": start}
    booking = patient_api.post("/api/v1/appointments/", body, format="json", **EN)
    moving = patient_api.post(f"/api/v1/appointments/{world[1].reference}/reschedule/", {"start": start}, **EN)
    for response in (booking, moving):
        assert response.status_code == 400
        assert response.json()["error"] == "invalid"
        assert response.json()["errors"]["start"] == [out_of_range_text()]
    assert Appointment.objects.count() == 1


@pytest.mark.parametrize(
    "params",
    [{"day": "9999-12-31"}, {"day": "0001-01-01"}, {"month": "9999-12"}, {"month": "0001-01"}],
    ids=["day-9999", "day-1", "month-9999", "month-1"],
)
def test_date_step_refuses_days_and_months_out_of_range_with_a_message(client, world, params):
    response = client.get("/booking/date/", {**SLOT, **params}, **EN)
    assert response.status_code == 400
    assert out_of_range_text() in response.content.decode()


@pytest.mark.parametrize("start", ["9999-12-31T23:59Z", "0001-01-01T00:00Z"], ids=["year-9999", "year-1"])
def test_review_refuses_a_start_out_of_range_with_a_message(patient_client, start):
    response = patient_client.get("/booking/review/", {**SLOT, "start": start}, **EN)
    assert response.status_code == 400
    assert out_of_range_text() in response.content.decode()


def test_admin_lists_refuse_dates_out_of_range_with_a_message(admin_client, world):
    appointments = admin_client.get("/admin/clinic/appointments/", {"date_to": "9999-12-31"}, **EN)
    invoices = admin_client.get("/admin/billing/invoices/", {"issued_to": "9999-12-31"}, **EN)
    calendar = admin_client.get("/admin/clinic/appointments/calendar/", {"date": "9999-12-31"}, **EN)
    for response in (appointments, invoices):
        assert response.status_code == 200
        assert out_of_range_text() in response.content.decode()
    assert calendar.status_code == 200
    assert "That date is not valid; showing today instead." in calendar.content.decode()
