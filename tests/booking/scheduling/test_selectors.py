"""The availability selector: what it loads from the database, and in how many queries."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from booking.scheduling.availability import epoch_us
from booking.scheduling.models import Appointment
from booking.scheduling.selectors import EpochMicroseconds, find_slots, load_availability, next_available_dates
from tests.factories.scheduling import (
    AppointmentFactory,
    DateOverrideFactory,
    LocationFactory,
    ProfessionalFactory,
    RoomFactory,
    ServiceFactory,
    TimeOffFactory,
    WeeklyAvailabilityFactory,
)

SANTIAGO = ZoneInfo("America/Santiago")
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=SANTIAGO)
TUESDAY = date(2026, 12, 1)


def santiago(*args) -> datetime:
    return datetime(*args, tzinfo=SANTIAGO)


@pytest.fixture
def service(db):
    return ServiceFactory(duration_minutes=60, buffer_after_minutes=0, buffer_before_minutes=0, min_notice_minutes=0)


@pytest.fixture
def location(db):
    return LocationFactory()


def make_professional(service, location, **kwargs):
    professional = ProfessionalFactory(services=[service], locations=[location], **kwargs)
    WeeklyAvailabilityFactory(
        professional=professional, location=location, weekday=1, start_time=time(9), end_time=time(12)
    )
    return professional


def starts(slots) -> list[str]:
    return [f"{slot.start.astimezone(SANTIAGO):%H:%M}" for slot in slots]


def tuesday_slots(service, location, **kwargs):
    return find_slots(service=service, location=location, start_day=TUESDAY, end_day=TUESDAY, now=NOW, **kwargs)


def test_weekly_hours_become_slots(service, location):
    make_professional(service, location)

    assert starts(tuesday_slots(service, location)) == ["09:00", "09:30", "10:00", "10:30", "11:00"]


def test_active_appointments_and_unexpired_holds_are_busy_but_cancelled_and_expired_ones_are_not(service, location):
    professional = make_professional(service, location)
    AppointmentFactory(professional=professional, service=service, start=santiago(2026, 12, 1, 9, 0))
    AppointmentFactory(
        professional=professional,
        service=service,
        start=santiago(2026, 12, 1, 11, 0),
        status="pending_payment",
        hold_expires_at=NOW + timedelta(minutes=5),
    )
    AppointmentFactory(
        professional=professional,
        service=service,
        start=santiago(2026, 12, 1, 10, 0),
        status="pending_payment",
        hold_expires_at=NOW - timedelta(minutes=1),
    )
    AppointmentFactory(
        professional=professional, service=service, start=santiago(2026, 12, 1, 10, 0), status="cancelled"
    )

    assert starts(tuesday_slots(service, location)) == ["10:00"]


def test_date_override_replaces_the_weekly_hours_and_an_empty_one_closes(service, location):
    first = make_professional(service, location)
    second = make_professional(service, location)
    DateOverrideFactory(professional=first, location=location, date=TUESDAY, start_time=time(15), end_time=time(16))
    DateOverrideFactory(professional=second, location=location, date=TUESDAY)

    slots = tuesday_slots(service, location)

    assert {slot.professional_id for slot in slots} == {first.pk}
    assert starts(slots) == ["15:00"]


@pytest.mark.parametrize("personal", [True, False], ids=["personal", "whole-clinic"])
def test_time_off_removes_slots(service, location, personal):
    professional = make_professional(service, location)
    TimeOffFactory(
        professional=professional if personal else None,
        start=santiago(2026, 12, 1, 9, 0),
        end=santiago(2026, 12, 1, 10, 30),
    )

    assert starts(tuesday_slots(service, location)) == ["10:30", "11:00"]


def test_location_closure_does_not_close_online_hours(service, location):
    professional = make_professional(service, location)
    WeeklyAvailabilityFactory(
        professional=professional, location=None, weekday=1, start_time=time(15), end_time=time(16)
    )
    TimeOffFactory(professional=None, location=location, start=santiago(2026, 12, 1), end=santiago(2026, 12, 2))

    assert tuesday_slots(service, location) == []
    assert starts(tuesday_slots(service, None)) == ["15:00"]


def test_chilean_public_holiday_closes_locations(service, location):
    make_professional(service, location)

    holiday = find_slots(
        service=service, location=location, start_day=date(2026, 12, 8), end_day=date(2026, 12, 8), now=NOW
    )

    assert holiday == []


def test_location_that_opens_on_public_holidays_keeps_its_hours(service, location):
    make_professional(service, location)
    location.observes_public_holidays = False
    location.save()

    holiday = find_slots(
        service=service, location=location, start_day=date(2026, 12, 8), end_day=date(2026, 12, 8), now=NOW
    )

    assert holiday != []
    assert {slot.location_id for slot in holiday} == {location.pk}


def test_weekly_hours_restricted_to_another_service_do_not_count(service, location):
    professional = make_professional(service, location)
    professional.weekly_availability.get().services.add(ServiceFactory())

    assert tuesday_slots(service, location) == []


def test_professional_own_duration_is_used(service, location):
    make_professional(service, location)
    service.offered_by.update(duration_override_minutes=90)

    slots = tuesday_slots(service, location)

    assert starts(slots) == ["09:00", "09:30", "10:00", "10:30"]
    assert slots[0].end - slots[0].start == timedelta(minutes=90)


def test_next_available_dates_per_professional(service, location):
    free = make_professional(service, location)
    idle = ProfessionalFactory(services=[service])

    result = next_available_dates(service=service, start_day=TUESDAY, end_day=date(2026, 12, 20), now=NOW)

    assert result == {free.pk: datetime(2026, 12, 1, 12, 0, tzinfo=UTC), idle.pk: None}


@pytest.mark.parametrize("count", [1, 10], ids=["one-professional", "ten-professionals"])
def test_loading_runs_a_constant_number_of_queries(service, location, count, django_assert_max_num_queries):
    rooms = [RoomFactory(location=location) for _ in range(count)]
    for room in rooms:
        professional = make_professional(service, location)
        professional.weekly_availability.first().services.add(service)
        DateOverrideFactory(professional=professional, location=location, date=date(2026, 12, 2))
        TimeOffFactory(professional=professional)
        AppointmentFactory(
            professional=professional, service=service, start=santiago(2026, 12, 1, 9, 0), location=location, room=room
        )

    with django_assert_max_num_queries(6):
        loaded = load_availability(service=service, start_day=TUESDAY, end_day=date(2026, 12, 7), now=NOW)
    availability = loaded.professionals

    assert len(availability) == count
    assert all(professional.busy and professional.rules and professional.overrides for professional in availability)
    (occupancy,) = loaded.rooms
    assert (occupancy.location_id, occupancy.rooms, len(occupancy.busy)) == (location.pk, count, count)


def test_professional_not_offering_the_service_gets_nothing(service, location):
    make_professional(service, location)

    loaded = load_availability(service=ServiceFactory(), start_day=TUESDAY, end_day=TUESDAY, now=NOW)

    assert loaded.professionals == [] and loaded.rooms == []


# --- rooms -----------------------------------------------------------------------------------------------------


def test_a_slot_at_a_location_with_rooms_needs_a_free_room(service, location):
    """The only room is taken at 09:00 by another professional's session: the first one cannot see anyone then."""
    room = RoomFactory(location=location)
    first, second = make_professional(service, location), make_professional(service, location)
    for professional in (first, second):
        WeeklyAvailabilityFactory(
            professional=professional, location=None, weekday=1, start_time=time(9), end_time=time(10)
        )
    AppointmentFactory(
        professional=second, service=service, location=location, room=room, start=santiago(2026, 12, 1, 9)
    )

    def first_starts(where):
        return starts(tuesday_slots(service, where, professionals=[first]))

    assert first_starts(location) == ["10:00", "10:30", "11:00"]
    assert first_starts(None) == ["09:00"]  # online sessions need no room
    RoomFactory(location=location)  # a second room frees the morning again
    assert first_starts(location) == ["09:00", "09:30", "10:00", "10:30", "11:00"]


@pytest.mark.parametrize(
    "change",
    ["room-inactive", "session-cancelled", "hold-expired", "being-rescheduled"],
)
def test_rooms_that_cannot_be_given_out_or_free_again_do_not_limit(service, location, change):
    room = RoomFactory(location=location)
    first, second = make_professional(service, location), make_professional(service, location)
    blocking = AppointmentFactory(
        professional=second,
        service=service,
        location=location,
        room=room,
        start=santiago(2026, 12, 1, 9),
        status="pending_payment",
        hold_expires_at=NOW + timedelta(minutes=10),
    )
    assert "09:00" not in starts(tuesday_slots(service, location, professionals=[first]))
    exclude = None
    if change == "room-inactive":
        room.active = False
        room.save()
    elif change == "session-cancelled":
        Appointment.objects.filter(pk=blocking.pk).update(status="cancelled")
    elif change == "hold-expired":
        Appointment.objects.filter(pk=blocking.pk).update(hold_expires_at=NOW - timedelta(minutes=1))
    else:
        exclude = blocking.pk

    slots = tuesday_slots(service, location, professionals=[first], exclude_appointment_id=exclude)

    assert "09:00" in starts(slots)


def test_next_available_dates_wait_for_a_free_room(service, location):
    room = RoomFactory(location=location)
    first, second = make_professional(service, location), make_professional(service, location)
    AppointmentFactory(
        professional=second, service=service, location=location, room=room, start=santiago(2026, 12, 1, 9)
    )

    result = next_available_dates(
        service=service, professionals=[first], location=location, start_day=TUESDAY, end_day=TUESDAY, now=NOW
    )

    assert result == {first.pk: santiago(2026, 12, 1, 10)}


# --- busy time read as epoch microseconds -------------------------------------------------------------------------


@pytest.fixture(params=["unixepoch", "strftime"])
def epoch_sql(request, monkeypatch):
    """Both SQL forms of EpochMicroseconds on SQLite (before 3.38 it has no unixepoch()); PostgreSQL has one."""
    from django.db import connection

    if request.param == "strftime":
        if connection.vendor != "sqlite":
            pytest.skip("only SQLite has a second form")
        monkeypatch.setattr(connection.Database, "sqlite_version_info", (3, 37, 2))
    return request.param


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 12, 1, 12, 0, tzinfo=UTC),
        datetime(2026, 12, 1, 12, 0, 0, 1, tzinfo=UTC),
        datetime(2026, 12, 1, 12, 59, 59, 999999, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
        datetime(2038, 1, 19, 3, 14, 8, 123456, tzinfo=UTC),
    ],
    ids=["whole-hour", "one-microsecond-past", "just-before-the-hour", "before-1970", "past-2038"],
)
def test_the_database_computes_the_same_epoch_microseconds_as_python(service, moment, epoch_sql):
    appointment = AppointmentFactory(service=service, start=moment, blocked_start=moment)

    computed = Appointment.objects.annotate(value=EpochMicroseconds("blocked_start")).get(pk=appointment.pk).value

    assert computed == epoch_us(moment)


def test_a_booking_ending_a_microsecond_late_still_blocks_the_next_slot(service, location, epoch_sql):
    """Microseconds survive the trip: 10:00:00.000001 overlaps a 10:00 start (exact, not rounded to seconds)."""
    professional = make_professional(service, location)
    AppointmentFactory(
        professional=professional,
        service=service,
        start=santiago(2026, 12, 1, 9),
        blocked_end=santiago(2026, 12, 1, 10) + timedelta(microseconds=1),
    )

    assert starts(tuesday_slots(service, location)) == ["10:30", "11:00"]
