"""Appointment and schedule models: references, database constraints, query helpers and predicates."""

import re
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import IntegrityError

from booking.scheduling.models import Appointment
from booking.scheduling.models.appointments import new_reference
from tests.factories.scheduling import AppointmentFactory, TimeOffFactory, WeeklyAvailabilityFactory

START = datetime(2026, 12, 1, 12, tzinfo=UTC)


def test_references_are_short_unambiguous_and_random():
    references = {new_reference() for _ in range(1000)}

    assert len(references) == 1000
    assert all(re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{10}", reference) for reference in references)


@pytest.mark.django_db
def test_reference_is_unique_in_the_database():
    first = AppointmentFactory()

    with pytest.raises(IntegrityError):
        AppointmentFactory(reference=first.reference, start=START + timedelta(days=1))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"end": START},
        {"end": START - timedelta(minutes=5)},
        {"blocked_start": START + timedelta(hours=2), "blocked_end": START + timedelta(hours=1)},
    ],
    ids=["empty-session", "end-before-start", "blocked-end-before-start"],
)
def test_appointment_must_end_after_it_starts(fields):
    with pytest.raises(IntegrityError):
        AppointmentFactory(start=START, **fields)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("factory", "fields"),
    [
        (WeeklyAvailabilityFactory, {"start_time": time(13), "end_time": time(9)}),
        (TimeOffFactory, {"start": START, "end": START}),
    ],
    ids=["weekly-hours", "time-off"],
)
def test_schedules_must_end_after_they_start(factory, fields):
    with pytest.raises(IntegrityError):
        factory(**fields)


@pytest.mark.django_db
def test_weekly_hours_may_run_until_midnight():
    assert WeeklyAvailabilityFactory(start_time=time(20), end_time=time(0)).pk


@pytest.mark.django_db
def test_querysets_active_upcoming_and_for_patient():
    now = START - timedelta(days=1)
    confirmed = AppointmentFactory(start=START)
    live_hold = AppointmentFactory(
        start=START + timedelta(hours=2), status="pending_payment", hold_expires_at=now + timedelta(minutes=5)
    )
    AppointmentFactory(start=START + timedelta(hours=4), status="pending_payment", hold_expires_at=now)
    AppointmentFactory(start=START + timedelta(hours=6), status="cancelled")
    past = AppointmentFactory(start=START - timedelta(days=3), status="completed")

    assert set(Appointment.objects.active(now)) == {confirmed, live_hold, past}
    assert list(Appointment.objects.upcoming(now)) == [confirmed, live_hold]
    assert list(Appointment.objects.for_patient(confirmed.patient.user)) == [confirmed]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "count", "hours_before", "can_cancel", "free", "can_reschedule"),
    [
        ("confirmed", 0, 48, True, True, True),
        ("confirmed", 0, 3, True, False, False),
        ("confirmed", 2, 48, True, True, False),
        ("confirmed", 0, -1, False, False, False),
        ("cancelled", 0, 48, False, True, False),
    ],
    ids=["early", "late", "no-moves-left", "started", "cancelled"],
)
def test_predicates_follow_the_service_windows(status, count, hours_before, can_cancel, free, can_reschedule):
    appointment = AppointmentFactory(
        start=START,
        status=status,
        reschedule_count=count,
        service__cancellation_window_hours=24,
        service__reschedule_window_hours=24,
        service__max_reschedules=2,
    )
    now = START - timedelta(hours=hours_before)

    assert appointment.can_cancel(now) is can_cancel
    assert appointment.cancellation_is_free(now) is free
    assert appointment.can_reschedule(now) is can_reschedule
