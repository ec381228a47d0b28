"""The scheduling JSON API at /api/v1/: catalog, availability, booking, rescheduling, cancelling and who sees what.

Time is pinned to Sunday 29 November 2026, 10:00 in Santiago (summer time, UTC-3): the professional works at a
clinic Monday to Friday 09:00-13:00 and online on Tuesdays 15:00-18:00.
"""

import io
import json
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from booking.scheduling import services
from booking.scheduling.models import Appointment, AppointmentStatus
from portal.accounts.models import Patient
from tests.factories.accounts import PatientFactory, UserFactory, VerifiedUserFactory, activate_totp
from tests.factories.scheduling import (
    AppointmentFactory,
    LocationFactory,
    ProfessionalFactory,
    ServiceFactory,
    StaffUserFactory,
    WeeklyAvailabilityFactory,
)

SANTIAGO = ZoneInfo("America/Santiago")
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=SANTIAGO)
TUESDAY_9 = datetime(2026, 12, 1, 9, 0, tzinfo=SANTIAGO)


@pytest.fixture(autouse=True)
def pinned_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db):
    service = ServiceFactory(
        slug="therapy",
        name="Individual therapy",
        duration_minutes=50,
        buffer_before_minutes=0,
        buffer_after_minutes=10,
        min_notice_minutes=12 * 60,
        booking_horizon_days=60,
        cancellation_window_hours=24,
        reschedule_window_hours=24,
        max_reschedules=2,
        price=Decimal("35000"),
        payment_mode="later",
    )
    location = LocationFactory(slug="providencia")
    professional = ProfessionalFactory(slug="ana", services=[service], locations=[location])
    for weekday in range(5):
        WeeklyAvailabilityFactory(
            professional=professional, location=location, weekday=weekday, start_time=time(9), end_time=time(13)
        )
    WeeklyAvailabilityFactory(
        professional=professional, location=None, weekday=1, start_time=time(15), end_time=time(18)
    )
    patient = PatientFactory()

    class World:
        pass

    world = World()
    world.service, world.location, world.professional, world.patient = service, location, professional, patient
    return world


def client_for(user=None, **kwargs) -> APIClient:
    client = APIClient(**kwargs)
    if user is not None:
        client.force_login(user)
    return client


def post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def booking_body(world, **overrides):
    """A valid booking of Tuesday 09:00 at the clinic; ``overrides`` replace fields (datetimes become ISO text)."""
    body = {"service": "therapy", "professional": "ana", "start": TUESDAY_9, "location": "providencia", **overrides}
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in body.items()}


def book(world, start=TUESDAY_9, patient=None):
    return services.book_appointment(
        patient=patient or world.patient,
        professional=world.professional,
        service=world.service,
        start=start,
        location=world.location,
        modality="in_person",
        source="portal",
        actor=(patient or world.patient).user,
    )


def availability(client, **params):
    query = {"service": "therapy", "start": "2026-12-01", "end": "2026-12-01", **params}
    return client.get("/api/v1/availability/", query)


def assert_error(response, status_code, code):
    assert response.status_code == status_code, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    return body


# --- catalog ----------------------------------------------------------------------------------------------------


def test_services_lists_active_services_with_price_as_string(world):
    ServiceFactory(slug="retired", active=False)
    ServiceFactory(slug="nutrition", payment_mode="online", price=Decimal("42000"), modality="online")

    response = client_for().get("/api/v1/services/")

    assert response.status_code == 200
    by_slug = {service["slug"]: service for service in response.json()}
    assert set(by_slug) == {"therapy", "nutrition"}
    assert by_slug["therapy"] == {
        "slug": "therapy",
        "name": "Individual therapy",
        "category": {"slug": world.service.category.slug, "name": world.service.category.name},
        "duration_minutes": 50,
        "price": "35000.00",
        "currency": "CLP",
        "modality": "both",
        "payment_mode": "later",
    }
    assert by_slug["nutrition"]["payment_mode"] == "online"


def test_professionals_lists_active_ones_with_their_services_and_locations(world):
    other_service = ServiceFactory(slug="couples")
    ProfessionalFactory(slug="bruno", services=[other_service], accepting_new_patients=False)
    ProfessionalFactory(slug="gone", services=[world.service], active=False)

    everyone = client_for().get("/api/v1/professionals/").json()
    offering_therapy = client_for().get("/api/v1/professionals/", {"service": "therapy"}).json()

    assert {p["slug"] for p in everyone} == {"ana", "bruno"}
    ana = next(p for p in everyone if p["slug"] == "ana")
    assert ana["services"] == ["therapy"]
    assert ana["locations"] == ["providencia"]
    assert ana["accepting_new_patients"] is True
    assert next(p for p in everyone if p["slug"] == "bruno")["accepting_new_patients"] is False
    assert [p["slug"] for p in offering_therapy] == ["ana"]


def test_professionals_with_unknown_service_is_a_400_with_message(world):
    body = assert_error(client_for().get("/api/v1/professionals/", {"service": "astrology"}), 400, "invalid")

    assert "astrology" in body["errors"]["service"][0]


def test_professionals_list_runs_a_bounded_number_of_queries(world, django_assert_max_num_queries):
    for _index in range(5):
        ProfessionalFactory(services=[world.service], locations=[world.location])

    with django_assert_max_num_queries(4):
        response = client_for().get("/api/v1/professionals/", {"service": "therapy"})

    assert len(response.json()) == 6


# --- availability -----------------------------------------------------------------------------------------------


def test_availability_renders_slots_in_the_clinic_time_zone_with_slugs(world):
    response = availability(client_for())

    assert response.status_code == 200
    body = response.json()
    assert body["timezone"] == "America/Santiago"
    first = body["slots"][0]
    assert first == {
        "start": "2026-12-01T09:00:00-03:00",
        "end": "2026-12-01T09:50:00-03:00",
        "professional": "ana",
        "location": "providencia",
    }
    online = [slot for slot in body["slots"] if slot["location"] is None]
    assert online[0]["start"] == "2026-12-01T15:00:00-03:00"


def test_availability_in_another_time_zone_shows_the_same_instants(world):
    body = availability(client_for(), tz="Europe/Madrid").json()

    assert body["timezone"] == "Europe/Madrid"
    assert body["slots"][0]["start"] == "2026-12-01T13:00:00+01:00"


@pytest.mark.parametrize(
    ("location", "expected"), [("online", {None}), ("providencia", {"providencia"})], ids=["online", "clinic"]
)
def test_availability_filters_by_location(world, location, expected):
    body = availability(client_for(), location=location, professional="ana").json()

    assert body["slots"]
    assert {slot["location"] for slot in body["slots"]} == expected


def test_availability_range_of_exactly_62_days_is_accepted(world):
    response = availability(client_for(), start="2026-11-29", end="2027-01-29")

    assert response.status_code == 200


def test_availability_clamps_a_range_starting_in_the_past_to_today(world):
    response = availability(client_for(), start="2026-11-20", end="2026-12-01")

    assert response.status_code == 200
    assert response.json()["slots"][0]["start"] == "2026-11-30T09:00:00-03:00"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"service": None}, "service"),
        ({"service": "astrology"}, "service"),
        ({"professional": "nobody"}, "professional"),
        ({"location": "mars"}, "location"),
        ({"start": "2026-13-01"}, "start"),
        ({"start": "01-12-2026"}, "start"),
        ({"end": None}, "end"),
        ({"start": "2026-12-05", "end": "2026-12-01"}, "end"),
        ({"start": "2026-11-29", "end": "2027-01-30"}, "end"),
        ({"start": "2026-11-01", "end": "2026-11-28"}, "end"),
        ({"start": "2027-03-01", "end": "2027-03-02"}, "start"),
        ({"start": "9999-12-01", "end": "9999-12-31"}, "start"),
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"tz": "../../etc/passwd"}, "tz"),
        ({"tz": "America"}, "tz"),
    ],
    ids=[
        "missing-service",
        "unknown-service",
        "unknown-professional",
        "unknown-location",
        "impossible-date",
        "wrong-date-format",
        "missing-end",
        "end-before-start",
        "range-over-62-days",
        "past-range",
        "beyond-horizon",
        "end-of-calendar",
        "unknown-tz",
        "tz-path",
        "tz-directory",
    ],
)
def test_availability_rejects_bad_parameters_with_a_message(world, params, field):
    query = {"service": "therapy", "start": "2026-12-01", "end": "2026-12-01", **params}
    query = {key: value for key, value in query.items() if value is not None}

    body = assert_error(client_for().get("/api/v1/availability/", query), 400, "invalid")

    assert field in body["errors"]
    assert body["detail"].startswith(f"{field}:")


def test_availability_for_a_professional_not_offering_the_service_is_a_400(world):
    ProfessionalFactory(slug="bruno", services=[ServiceFactory()])

    body = assert_error(availability(client_for(), professional="bruno"), 400, "invalid")

    assert "professional" in body["errors"]


def test_availability_queries_do_not_grow_with_the_number_of_professionals(world, django_assert_max_num_queries):
    # service, six engine loads (see selectors.load_availability), professional slugs, location slugs
    with django_assert_max_num_queries(9), CaptureQueriesContext(connection) as one:
        single = availability(client_for(), end="2026-12-28")
    for _index in range(4):
        colleague = ProfessionalFactory(services=[world.service], locations=[world.location])
        for weekday in range(5):
            WeeklyAvailabilityFactory(
                professional=colleague, location=world.location, weekday=weekday, start_time=time(9), end_time=time(13)
            )
        AppointmentFactory(professional=colleague, service=world.service, start=TUESDAY_9.astimezone(UTC))

    with django_assert_max_num_queries(9), CaptureQueriesContext(connection) as five:
        many = availability(client_for(), end="2026-12-28")

    assert len({slot["professional"] for slot in many.json()["slots"]}) == 5
    assert len(many.json()["slots"]) > len(single.json()["slots"])
    assert len(five) == len(one)


# --- booking ----------------------------------------------------------------------------------------------------


def test_booking_end_to_end_takes_the_slot_and_a_second_booking_conflicts(world):
    anonymous = client_for()
    slot = availability(anonymous).json()["slots"][0]
    patient_client = client_for(world.patient.user)

    created = post(
        patient_client,
        "/api/v1/appointments/",
        {
            "service": "therapy",
            "professional": slot["professional"],
            "start": slot["start"],
            "location": "providencia",
        },
    )

    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "confirmed"
    assert body["start"] == "2026-12-01T09:00:00-03:00"
    assert body["end"] == "2026-12-01T09:50:00-03:00"
    assert body["hold_expires_at"] is None
    assert created["Location"] == f"/api/v1/appointments/{body['reference']}/"
    appointment = Appointment.objects.get(reference=body["reference"])
    assert appointment.source == "api"
    assert appointment.patient == world.patient
    assert slot not in availability(anonymous).json()["slots"]

    rival = client_for(PatientFactory().user)
    conflict = post(
        rival,
        "/api/v1/appointments/",
        {"service": "therapy", "professional": "ana", "start": slot["start"], "location": "providencia"},
    )
    body = assert_error(conflict, 409, "slot_unavailable")
    assert Appointment.objects.count() == 1


def test_booking_a_service_paid_online_holds_the_slot(world):
    world.service.payment_mode = "online"
    world.service.save()

    response = post(client_for(world.patient.user), "/api/v1/appointments/", booking_body(world))

    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "pending_payment"
    assert datetime.fromisoformat(body["hold_expires_at"]) == NOW + timedelta(minutes=15)


def test_booking_online_without_location_and_with_a_note(world):
    start = datetime(2026, 12, 1, 15, tzinfo=SANTIAGO)
    body = booking_body(world, start=start, location=None, note="First session")

    response = post(client_for(world.patient.user), "/api/v1/appointments/", body)

    assert response.status_code == 201, response.content
    appointment = Appointment.objects.get(reference=response.json()["reference"])
    assert appointment.modality == "online"
    assert appointment.location is None
    assert appointment.patient_note == "First session"


def test_booking_creates_the_patient_profile_of_a_verified_user(world):
    user = VerifiedUserFactory()

    response = post(client_for(user), "/api/v1/appointments/", booking_body(world))

    assert response.status_code == 201
    assert Patient.objects.get(user=user).appointments.count() == 1


def test_booking_requires_login_and_says_how_to_authenticate(world):
    response = post(client_for(), "/api/v1/appointments/", booking_body(world))

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"


def test_booking_requires_a_verified_email(world):
    response = post(client_for(UserFactory()), "/api/v1/appointments/", booking_body(world))

    assert_error(response, 403, "email_not_verified")
    assert not Appointment.objects.exists()


def test_booking_with_a_session_needs_the_csrf_token(world):
    client = client_for(world.patient.user, enforce_csrf_checks=True)

    response = post(client, "/api/v1/appointments/", booking_body(world))

    assert_error(response, 403, "permission_denied")
    assert "CSRF" in response.json()["detail"]


def test_booking_with_malformed_json_is_a_400(world):
    response = client_for(world.patient.user).post(
        "/api/v1/appointments/", '{"service": "therapy",', content_type="application/json"
    )

    assert_error(response, 400, "parse_error")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"start": "2026-12-01T09:00:00"}, "start"),
        ({"start": "tomorrow at nine"}, "start"),
        ({"start": 1764590400}, "start"),
        ({"start": "9999-12-31T23:00:00-05:00"}, "start"),
        ({"start": "2026-12-01T09:00:00+25:00"}, "start"),
        ({"start": "2026-11-28T09:00:00-03:00"}, "start"),
        ({"service": "astrology"}, "service"),
        ({"service": ["therapy"]}, "service"),
        ({"professional": "nobody"}, "professional"),
        ({"location": "mars"}, "location"),
        ({"modality": "telepathy"}, "modality"),
        ({"note": "x" * 2001}, "note"),
    ],
    ids=[
        "naive-start",
        "unparseable-start",
        "number-start",
        "start-past-the-calendar",
        "impossible-offset",
        "past-start",
        "unknown-service",
        "list-service",
        "unknown-professional",
        "unknown-location",
        "unknown-modality",
        "note-too-long",
    ],
)
def test_booking_rejects_bad_fields_with_a_message(world, overrides, field):
    response = post(client_for(world.patient.user), "/api/v1/appointments/", booking_body(world, **overrides))

    body = assert_error(response, 400, "invalid")
    assert field in body["errors"]
    assert not Appointment.objects.exists()


def test_booking_with_a_body_that_is_not_an_object_is_a_400(world):
    response = post(client_for(world.patient.user), "/api/v1/appointments/", ["therapy"])

    assert_error(response, 400, "invalid")


@pytest.mark.parametrize(
    ("overrides", "status_code", "code"),
    [
        ({"start": datetime(2026, 12, 1, 8, tzinfo=SANTIAGO).isoformat()}, 400, "outside_availability"),
        ({"start": datetime(2026, 11, 29, 18, tzinfo=SANTIAGO).isoformat()}, 400, "too_late"),
        ({"start": datetime(2027, 2, 1, 9, tzinfo=SANTIAGO).isoformat()}, 400, "too_far"),
        ({"modality": "online"}, 400, "invalid_request"),
    ],
    ids=["outside-hours", "inside-minimum-notice", "beyond-horizon", "online-at-a-location"],
)
def test_booking_rule_refusals_carry_the_rule_code(world, overrides, status_code, code):
    response = post(client_for(world.patient.user), "/api/v1/appointments/", booking_body(world, **overrides))

    assert_error(response, status_code, code)


# --- one appointment: who sees it -------------------------------------------------------------------------------


def staff_user(*codenames):
    user = StaffUserFactory()
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="scheduling", codename__in=codenames))
    return user


@pytest.mark.parametrize(
    ("who", "status_code"),
    [
        ("patient", 200),
        ("professional", 200),
        ("staff-with-permission", 200),
        ("staff-without-permission", 404),
        ("other-patient", 404),
    ],
    ids=lambda value: str(value),
)
def test_appointment_is_visible_only_to_its_people(world, who, status_code):
    world.professional.user = VerifiedUserFactory()
    activate_totp(world.professional.user)  # professionals must enrol two-factor to use the API
    world.professional.save()
    appointment = book(world)
    users = {
        "patient": lambda: world.patient.user,
        "professional": lambda: world.professional.user,
        "staff-with-permission": lambda: staff_user("view_appointment"),
        "staff-without-permission": lambda: staff_user(),
        "other-patient": lambda: PatientFactory().user,
    }

    response = client_for(users[who]()).get(f"/api/v1/appointments/{appointment.reference}/")

    assert response.status_code == status_code
    if status_code == 200:
        assert response.json()["reference"] == appointment.reference
        assert response.json()["professional"] == "ana"
    else:
        assert_error(response, 404, "not_found")


def test_appointment_detail_needs_login(world):
    appointment = book(world)

    assert_error(client_for().get(f"/api/v1/appointments/{appointment.reference}/"), 401, "not_authenticated")


def test_unknown_reference_is_a_404(world):
    assert_error(client_for(world.patient.user).get("/api/v1/appointments/NOPE/"), 404, "not_found")


# --- rescheduling -----------------------------------------------------------------------------------------------


def test_patient_reschedules_to_a_free_slot(world):
    appointment = book(world)
    new_start = datetime(2026, 12, 2, 10, tzinfo=SANTIAGO)

    response = post(
        client_for(world.patient.user),
        f"/api/v1/appointments/{appointment.reference}/reschedule/",
        {"start": new_start.isoformat()},
    )

    assert response.status_code == 200, response.content
    assert response.json()["start"] == "2026-12-02T10:00:00-03:00"
    assert response.json()["reschedule_count"] == 1
    appointment.refresh_from_db()
    assert appointment.start == new_start


def test_reschedule_of_someone_elses_appointment_is_a_404(world):
    appointment = book(world)

    response = post(
        client_for(PatientFactory().user),
        f"/api/v1/appointments/{appointment.reference}/reschedule/",
        {"start": datetime(2026, 12, 2, 10, tzinfo=SANTIAGO).isoformat()},
    )

    assert_error(response, 404, "not_found")
    appointment.refresh_from_db()
    assert appointment.start == TUESDAY_9


def test_professional_may_see_but_not_move_the_appointment(world):
    world.professional.user = VerifiedUserFactory()
    activate_totp(world.professional.user)  # professionals must enrol two-factor to use the API
    world.professional.save()
    appointment = book(world)

    response = post(
        client_for(world.professional.user),
        f"/api/v1/appointments/{appointment.reference}/reschedule/",
        {"start": datetime(2026, 12, 2, 10, tzinfo=SANTIAGO).isoformat()},
    )

    assert_error(response, 403, "not_allowed")


def test_receptionist_without_the_staff_flag_sees_and_cancels_with_the_groups_permission(world, receptionist):
    appointment = book(world)
    assert not receptionist.is_staff and not receptionist.is_superuser
    client = client_for(receptionist)

    assert client.get(f"/api/v1/appointments/{appointment.reference}/").status_code == 200
    response = post(client, f"/api/v1/appointments/{appointment.reference}/cancel/", {"reason": "Clinic closed"})

    assert response.status_code == 200, response.content
    appointment.refresh_from_db()
    assert (appointment.status, appointment.cancelled_by) == (AppointmentStatus.CANCELLED, receptionist)


def test_staff_flag_without_the_permission_neither_sees_nor_cancels(world):
    appointment = book(world)
    client = client_for(staff_user())

    assert_error(post(client, f"/api/v1/appointments/{appointment.reference}/cancel/", {}), 404, "not_found")
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED


def test_staff_with_change_permission_reschedules(world):
    appointment = book(world)

    response = post(
        client_for(staff_user("view_appointment", "change_appointment")),
        f"/api/v1/appointments/{appointment.reference}/reschedule/",
        {"start": datetime(2026, 12, 2, 10, tzinfo=SANTIAGO).isoformat()},
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [({"start": "2026-12-02T10:00:00"}, "start"), ({}, "start"), ({"start": "2026-11-01T10:00:00Z"}, "start")],
    ids=["naive", "missing", "past"],
)
def test_reschedule_rejects_bad_start(world, body, field):
    appointment = book(world)

    response = post(client_for(world.patient.user), f"/api/v1/appointments/{appointment.reference}/reschedule/", body)

    assert field in assert_error(response, 400, "invalid")["errors"]


def test_reschedule_to_a_taken_slot_is_a_409(world):
    appointment = book(world)
    taken = datetime(2026, 12, 2, 10, tzinfo=SANTIAGO)
    book(world, start=taken, patient=PatientFactory())

    response = post(
        client_for(world.patient.user),
        f"/api/v1/appointments/{appointment.reference}/reschedule/",
        {"start": taken.isoformat()},
    )

    assert_error(response, 409, "slot_unavailable")


def test_reschedule_inside_the_policy_window_is_refused_with_a_reason(world):
    appointment = book(world)

    with time_machine.travel(TUESDAY_9 - timedelta(hours=2), tick=False):
        response = post(
            client_for(world.patient.user),
            f"/api/v1/appointments/{appointment.reference}/reschedule/",
            {"start": datetime(2026, 12, 3, 10, tzinfo=SANTIAGO).isoformat()},
        )

    assert_error(response, 409, "policy_window")


def test_reschedule_beyond_the_limit_is_refused(world):
    world.service.max_reschedules = 0
    world.service.save()
    appointment = book(world)

    response = post(
        client_for(world.patient.user),
        f"/api/v1/appointments/{appointment.reference}/reschedule/",
        {"start": datetime(2026, 12, 2, 10, tzinfo=SANTIAGO).isoformat()},
    )

    assert_error(response, 409, "max_reschedules")


# --- cancelling -------------------------------------------------------------------------------------------------


def test_patient_cancels_in_time_and_is_refunded(world):
    appointment = book(world)

    response = post(
        client_for(world.patient.user), f"/api/v1/appointments/{appointment.reference}/cancel/", {"reason": "Ill"}
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "cancelled"
    assert body["refund"] == "full_refund"
    assert body["late"] is False
    appointment.refresh_from_db()
    assert appointment.cancellation_reason == "Ill"


def test_late_cancellation_is_allowed_without_refund(world):
    appointment = book(world)

    with time_machine.travel(TUESDAY_9 - timedelta(hours=3), tick=False):
        response = post(client_for(world.patient.user), f"/api/v1/appointments/{appointment.reference}/cancel/", {})

    assert response.status_code == 200
    assert response.json()["refund"] == "no_refund"
    assert response.json()["late"] is True


def test_cancelling_a_hold_means_nothing_was_paid(world):
    world.service.payment_mode = "online"
    world.service.save()
    reference = post(client_for(world.patient.user), "/api/v1/appointments/", booking_body(world)).json()["reference"]

    response = post(client_for(world.patient.user), f"/api/v1/appointments/{reference}/cancel/", {})

    assert response.json()["refund"] == "nothing_paid"


def test_cancelling_twice_is_a_409(world):
    appointment = book(world)
    client = client_for(world.patient.user)
    post(client, f"/api/v1/appointments/{appointment.reference}/cancel/", {})

    assert_error(post(client, f"/api/v1/appointments/{appointment.reference}/cancel/", {}), 409, "invalid_state")


def test_cancelling_after_the_start_is_refused(world):
    appointment = book(world)

    with time_machine.travel(TUESDAY_9 + timedelta(minutes=5), tick=False):
        response = post(client_for(world.patient.user), f"/api/v1/appointments/{appointment.reference}/cancel/", {})

    assert_error(response, 409, "policy_window")
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED


def test_cancel_of_someone_elses_appointment_is_a_404(world):
    appointment = book(world)

    response = post(client_for(PatientFactory().user), f"/api/v1/appointments/{appointment.reference}/cancel/", {})

    assert_error(response, 404, "not_found")
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED


def test_cancel_with_a_wrongly_typed_reason_is_a_400(world):
    appointment = book(world)

    response = post(
        client_for(world.patient.user), f"/api/v1/appointments/{appointment.reference}/cancel/", {"reason": {"a": 1}}
    )

    assert "reason" in assert_error(response, 400, "invalid")["errors"]


def test_unsupported_content_type_is_a_json_415(world):
    response = client_for(world.patient.user).post(
        "/api/v1/appointments/", "service=therapy", content_type="text/plain"
    )

    assert_error(response, 415, "unsupported_media_type")


def test_wrong_method_is_a_json_405(world):
    assert_error(client_for().delete("/api/v1/services/"), 405, "method_not_allowed")


# --- token authentication ---------------------------------------------------------------------------------------


def token_client(key: str) -> APIClient:
    """A client sending ``Authorization: Token <key>`` and enforcing CSRF, as a script would (no session)."""
    return APIClient(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Token {key}")


def issue_token(user, *args) -> str:
    out = io.StringIO()
    call_command("api_token", user.email, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue().strip()


def test_a_token_books_without_session_or_csrf(world):
    key = issue_token(world.patient.user)

    response = post(token_client(key), "/api/v1/appointments/", booking_body(world))

    assert response.status_code == 201, response.content
    appointment = Appointment.objects.get(reference=response.json()["reference"])
    assert (appointment.patient, appointment.created_by) == (world.patient, world.patient.user)
    assert appointment.source == "api"


@pytest.mark.parametrize(
    "header",
    ["Token 0000000000000000000000000000000000000000", "Token ", "Token a b", "Bearer {key}"],
    ids=["unknown-key", "empty-key", "key-with-spaces", "other-scheme"],
)
def test_a_bad_token_is_a_401_with_a_json_body(world, header):
    key = issue_token(world.patient.user)
    client = APIClient(HTTP_AUTHORIZATION=header.format(key=key))

    response = post(client, "/api/v1/appointments/", booking_body(world))

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    body = response.json()
    assert body["error"] in ("authentication_failed", "not_authenticated") and body["detail"]
    assert not Appointment.objects.exists()


@pytest.mark.parametrize("how", ["revoke", "rotate"])
def test_a_revoked_or_replaced_token_is_a_401(world, how):
    old_key = issue_token(world.patient.user)
    new_key = issue_token(world.patient.user, f"--{how}")

    response = post(token_client(old_key), "/api/v1/appointments/", booking_body(world))

    assert_error(response, 401, "authentication_failed")
    assert not Appointment.objects.exists()
    if how == "rotate":
        assert new_key != old_key
        assert post(token_client(new_key), "/api/v1/appointments/", booking_body(world)).status_code == 201


def test_a_token_of_an_unverified_email_still_cannot_book(world):
    user = UserFactory()
    key = issue_token(user)

    response = post(token_client(key), "/api/v1/appointments/", booking_body(world))

    assert_error(response, 403, "email_not_verified")
    assert not Appointment.objects.exists()


def test_a_token_of_a_deactivated_user_is_a_401(world):
    key = issue_token(world.patient.user)
    world.patient.user.is_active = False
    world.patient.user.save()

    assert_error(post(token_client(key), "/api/v1/appointments/", booking_body(world)), 401, "authentication_failed")


def test_a_token_sees_only_its_users_appointments(world):
    own = book(world)
    others = book(world, start=TUESDAY_9 + timedelta(hours=1), patient=PatientFactory())
    client = token_client(issue_token(world.patient.user))

    assert client.get(f"/api/v1/appointments/{own.reference}/").status_code == 200
    assert_error(client.get(f"/api/v1/appointments/{others.reference}/"), 404, "not_found")


def test_api_token_command_prints_the_same_key_until_rotated(world):
    first = issue_token(world.patient.user)

    assert len(first) == 40
    assert issue_token(world.patient.user) == first
    assert Token.objects.get(user=world.patient.user).key == first
    assert issue_token(world.patient.user, "--revoke") == f"Token of {world.patient.user.email} revoked."
    assert not Token.objects.exists()
    assert issue_token(world.patient.user, "--revoke") == f"{world.patient.user.email} had no token."


@pytest.mark.parametrize(
    ("email", "message"),
    [("nobody@example.com", "No user"), ("inactive@example.com", "inactive")],
    ids=["unknown-email", "inactive-user"],
)
def test_api_token_command_refuses_with_a_message(db, email, message):
    UserFactory(email="inactive@example.com", is_active=False)

    with pytest.raises(CommandError, match=message):
        call_command("api_token", email, stdout=io.StringIO())

    assert not Token.objects.exists()


def test_api_token_command_finds_the_user_whatever_the_case_of_the_email(world):
    key = issue_token(world.patient.user)
    out = io.StringIO()

    call_command("api_token", world.patient.user.email.upper(), stdout=out)

    assert out.getvalue().strip() == key


# --- OpenAPI ----------------------------------------------------------------------------------------------------


def test_schema_is_served_and_lists_every_endpoint(db):
    response = client_for().get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    text = response.content.decode()
    assert "/admin/api/" not in text
    for endpoint in (
        "/api/v1/services/",
        "/api/v1/professionals/",
        "/api/v1/availability/",
        "/api/v1/appointments/",
        "/api/v1/appointments/{reference}/",
        "/api/v1/appointments/{reference}/reschedule/",
        "/api/v1/appointments/{reference}/cancel/",
    ):
        assert endpoint in text


def test_schema_of_these_views_generates_without_warnings(db):
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator().get_schema(request=None, public=True)

    assert all(route.startswith("/api/v1/") for route in schema["paths"])

    assert not GENERATOR_STATS, dict(GENERATOR_STATS._warn_cache) | dict(GENERATOR_STATS._error_cache)
