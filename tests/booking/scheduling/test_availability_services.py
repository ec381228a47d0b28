"""A professional changes their own hours: what the clinic allows, what is refused and why, and nothing stranded.

The clock is pinned at Tuesday 1 December 2026, 10:30 in Santiago (summer time, UTC-3). Monday 7 and Monday 14
December are ordinary working days (Tuesday 8 December is a public holiday).
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from booking.scheduling import availability_services as hours
from booking.scheduling.availability import local_instant
from booking.scheduling.availability_services import AvailabilityError
from booking.scheduling.models import AppointmentStatus, DateOverride, TimeOff, WeeklyAvailability
from tests.factories.accounts import PatientFactory, VerifiedUserFactory
from tests.factories.scheduling import (
    AppointmentFactory,
    DateOverrideFactory,
    LocationFactory,
    ProfessionalFactory,
    ServiceFactory,
    TimeOffFactory,
    WeeklyAvailabilityFactory,
)

pytestmark = pytest.mark.django_db

SANTIAGO = ZoneInfo("America/Santiago")
NOW = datetime(2026, 12, 1, 10, 30, tzinfo=SANTIAGO)
MONDAY = date(2026, 12, 7)
NEXT_MONDAY = date(2026, 12, 14)


def santiago(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SANTIAGO)


@pytest.fixture(autouse=True)
def pinned_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def place():
    return LocationFactory(name="Providencia")


@pytest.fixture
def ana(place):
    """A professional allowed to change everything, at Providencia on Mondays 09:00-13:00."""
    professional = ProfessionalFactory(
        user=VerifiedUserFactory(), availability_self_service="full", locations=[place], display_name="Ana"
    )
    WeeklyAvailabilityFactory(professional=professional, location=place, weekday=0, start_time=time(9))
    return professional


@pytest.fixture
def monday_row(ana):
    return ana.weekly_availability.get()


def booked(professional, start, *, place=None, status=AppointmentStatus.CONFIRMED, **fields):
    return AppointmentFactory(
        professional=professional,
        location=place,
        modality="in_person" if place else "online",
        start=start,
        end=start + timedelta(minutes=50),
        status=status,
        patient=fields.pop("patient", None) or PatientFactory(user__first_name="Elena", user__last_name="Soto"),
        **fields,
    )


# --- what the clinic allows ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "time_off_allowed", "weekly_allowed"),
    [("none", False, False), ("time_off", True, False), ("full", True, True)],
    ids=["none", "time_off", "full"],
)
def test_the_clinics_setting_decides_what_the_professional_may_change(
    ana, place, setting, time_off_allowed, weekly_allowed
):
    ana.availability_self_service = setting
    ana.save()
    attempts = {
        "time off": (
            time_off_allowed,
            lambda: hours.add_time_off(
                professional=ana, actor=ana.user, start=santiago(MONDAY, 15), end=santiago(MONDAY, 18)
            ),
        ),
        "override": (
            time_off_allowed,
            lambda: hours.add_date_override(professional=ana, actor=ana.user, day=NEXT_MONDAY, location=place),
        ),
        "weekly": (
            weekly_allowed,
            lambda: hours.add_weekly_hours(
                professional=ana,
                actor=ana.user,
                weekday=2,
                start_time=time(9),
                end_time=time(13),
                location=place,
            ),
        ),
    }
    for what, (allowed, attempt) in attempts.items():
        if allowed:
            attempt()
        else:
            with pytest.raises(AvailabilityError) as refusal:
                attempt()
            assert refusal.value.code == "not_allowed", what
    assert TimeOff.objects.filter(professional=ana).exists() == time_off_allowed
    assert DateOverride.objects.filter(professional=ana).exists() == time_off_allowed
    assert WeeklyAvailability.objects.filter(professional=ana).count() == (2 if weekly_allowed else 1)


def test_nobody_but_the_professional_changes_their_hours(ana, monday_row):
    someone_else = VerifiedUserFactory()

    with pytest.raises(AvailabilityError) as refusal:
        hours.remove_weekly_hours(row=monday_row, actor=someone_else)

    assert refusal.value.code == "not_allowed"
    assert WeeklyAvailability.objects.filter(pk=monday_row.pk).exists()


def test_the_clinics_own_time_off_is_not_the_professionals_to_remove(ana):
    closure = TimeOffFactory(professional=None, start=santiago(MONDAY, 0), end=santiago(MONDAY, 23))

    with pytest.raises(AvailabilityError) as refusal:
        hours.remove_time_off(time_off=closure, actor=ana.user)

    assert refusal.value.code == "not_allowed"
    assert TimeOff.objects.filter(pk=closure.pk).exists()


# --- weekly hours ------------------------------------------------------------------------------------------------


def test_removing_weekly_hours_with_a_booked_session_is_refused_with_the_session(ana, place, monday_row):
    session = booked(ana, santiago(MONDAY, 10), place=place)

    with pytest.raises(AvailabilityError) as refusal:
        hours.remove_weekly_hours(row=monday_row, actor=ana.user)

    assert refusal.value.code == "strands_sessions"
    assert refusal.value.sessions == [session]
    assert refusal.value.sessions[0].patient.user.get_full_name() == "Elena Soto"
    assert WeeklyAvailability.objects.filter(pk=monday_row.pk).exists()


def test_removing_weekly_hours_without_open_sessions_in_them_is_accepted(ana, place, monday_row):
    booked(ana, santiago(MONDAY, 10), place=place, status=AppointmentStatus.CANCELLED)
    booked(ana, santiago(date(2026, 11, 30), 10), place=place, status=AppointmentStatus.COMPLETED)  # the past
    expired_hold = booked(ana, santiago(NEXT_MONDAY, 10), place=place, status=AppointmentStatus.PENDING_PAYMENT)
    expired_hold.hold_expires_at = NOW - timedelta(minutes=1)
    expired_hold.save()

    hours.remove_weekly_hours(row=monday_row, actor=ana.user)

    assert not WeeklyAvailability.objects.filter(professional=ana).exists()


def test_a_held_session_not_paid_yet_counts_as_booked(ana, place, monday_row):
    hold = booked(ana, santiago(MONDAY, 11), place=place, status=AppointmentStatus.PENDING_PAYMENT)
    hold.hold_expires_at = NOW + timedelta(minutes=10)
    hold.save()

    with pytest.raises(AvailabilityError) as refusal:
        hours.remove_weekly_hours(row=monday_row, actor=ana.user)

    assert refusal.value.sessions == [hold]


@pytest.mark.parametrize(
    ("start", "end", "accepted"),
    [
        (time(11), time(13), False),  # the 10:00 session would start before the hours
        (time(9), time(10, 30), False),  # ... and end after them
        (time(8), time(11), True),
        (time(10), time(0), True),  # until midnight
    ],
    ids=["later-start", "earlier-end", "still-covers", "until-midnight"],
)
def test_changing_weekly_hours_is_refused_only_when_a_session_falls_outside(
    ana, place, monday_row, start, end, accepted
):
    booked(ana, santiago(MONDAY, 10), place=place)

    def change():
        hours.change_weekly_hours(
            row=monday_row, actor=ana.user, weekday=0, start_time=start, end_time=end, location=place
        )

    if accepted:
        change()
        monday_row.refresh_from_db()
        assert (monday_row.start_time, monday_row.end_time) == (start, end)
    else:
        with pytest.raises(AvailabilityError) as refusal:
            change()
        assert refusal.value.code == "strands_sessions"
        monday_row.refresh_from_db()
        assert (monday_row.start_time, monday_row.end_time) == (time(9), time(13))


def test_hours_ending_before_a_later_session_are_refused_only_from_that_session_on(ana, place, monday_row):
    later = booked(ana, santiago(NEXT_MONDAY, 10), place=place)

    with pytest.raises(AvailabilityError) as refusal:
        hours.change_weekly_hours(
            row=monday_row,
            actor=ana.user,
            weekday=0,
            start_time=time(9),
            end_time=time(13),
            location=place,
            valid_until=date(2026, 12, 10),
        )
    assert refusal.value.sessions == [later]

    hours.change_weekly_hours(
        row=monday_row,
        actor=ana.user,
        weekday=0,
        start_time=time(9),
        end_time=time(13),
        location=place,
        valid_until=NEXT_MONDAY,
    )
    monday_row.refresh_from_db()
    assert monday_row.valid_until == NEXT_MONDAY


def test_a_session_other_hours_still_cover_does_not_block_a_change(ana, place, monday_row):
    WeeklyAvailabilityFactory(professional=ana, location=place, weekday=0, start_time=time(13), end_time=time(19))
    booked(ana, santiago(MONDAY, 15), place=place)

    hours.change_weekly_hours(
        row=monday_row, actor=ana.user, weekday=0, start_time=time(9), end_time=time(12), location=place
    )

    monday_row.refresh_from_db()
    assert monday_row.end_time == time(12)


def test_a_session_already_outside_the_hours_does_not_block_a_change(ana, place, monday_row):
    booked(ana, santiago(MONDAY, 16), place=place)  # booked when the hours were longer; staff shortened them

    hours.remove_weekly_hours(row=monday_row, actor=ana.user)

    assert not WeeklyAvailability.objects.filter(professional=ana).exists()


def test_a_change_keeps_the_hours_restriction_to_some_services(ana, place, monday_row):
    couples = ServiceFactory(name="Terapia de pareja")
    monday_row.services.set([couples])

    hours.change_weekly_hours(
        row=monday_row, actor=ana.user, weekday=0, start_time=time(9), end_time=time(12), location=place
    )

    assert list(monday_row.services.all()) == [couples]


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"start_time": time(13), "end_time": time(9)}, "end_before_start"),
        ({"start_time": time(9), "end_time": time(9)}, "end_before_start"),
        ({"valid_from": date(2027, 1, 10), "valid_until": date(2027, 1, 1)}, "invalid_validity"),
        ({"start_time": time(12), "end_time": time(14)}, "overlapping_hours"),  # the 09:00-13:00 row
    ],
    ids=["end-before-start", "empty", "validity-backwards", "overlap"],
)
def test_bad_weekly_hours_are_refused_with_a_reason(ana, place, monday_row, fields, code):
    values = {"weekday": 0, "start_time": time(14), "end_time": time(18), "location": place} | fields

    with pytest.raises(AvailabilityError) as refusal:
        hours.add_weekly_hours(professional=ana, actor=ana.user, **values)

    assert refusal.value.code == code
    assert WeeklyAvailability.objects.filter(professional=ana).count() == 1


def test_hours_of_the_same_time_at_another_place_or_validity_are_not_an_overlap(ana, place, monday_row):
    hours.add_weekly_hours(
        professional=ana, actor=ana.user, weekday=0, start_time=time(9), end_time=time(13), location=None
    )
    monday_row.valid_until = date(2026, 12, 31)
    monday_row.save()
    hours.add_weekly_hours(
        professional=ana,
        actor=ana.user,
        weekday=0,
        start_time=time(10),
        end_time=time(14),
        location=place,
        valid_from=date(2027, 1, 1),
    )

    assert WeeklyAvailability.objects.filter(professional=ana).count() == 3


def test_hours_at_a_location_of_somebody_else_are_refused(ana):
    elsewhere = LocationFactory(name="Viña del Mar")

    with pytest.raises(AvailabilityError) as refusal:
        hours.add_weekly_hours(
            professional=ana, actor=ana.user, weekday=1, start_time=time(9), end_time=time(13), location=elsewhere
        )

    assert refusal.value.code == "invalid_location"


# --- date overrides ----------------------------------------------------------------------------------------------


def test_closing_a_date_with_a_session_is_refused_and_another_date_is_accepted(ana, place):
    session = booked(ana, santiago(MONDAY, 10), place=place)

    with pytest.raises(AvailabilityError) as refusal:
        hours.add_date_override(professional=ana, actor=ana.user, day=MONDAY, location=place)
    assert refusal.value.sessions == [session]
    assert not DateOverride.objects.exists()

    closed = hours.add_date_override(professional=ana, actor=ana.user, day=NEXT_MONDAY, location=place)
    assert closed.is_closed


def test_special_hours_replace_the_weekly_ones_so_they_must_cover_the_sessions(ana, place):
    booked(ana, santiago(MONDAY, 10), place=place)

    with pytest.raises(AvailabilityError):
        hours.add_date_override(
            professional=ana, actor=ana.user, day=MONDAY, location=place, start_time=time(12), end_time=time(18)
        )
    hours.add_date_override(
        professional=ana, actor=ana.user, day=MONDAY, location=place, start_time=time(10), end_time=time(18)
    )

    assert DateOverride.objects.get().start_time == time(10)


def test_closing_online_hours_leaves_the_sessions_at_a_location_alone(ana, place):
    booked(ana, santiago(MONDAY, 10), place=place)

    hours.add_date_override(professional=ana, actor=ana.user, day=MONDAY, location=None)

    assert DateOverride.objects.filter(location=None).exists()


def test_removing_special_hours_with_a_session_in_them_is_refused(ana, place):
    saturday = date(2026, 12, 12)
    override = DateOverrideFactory(
        professional=ana, date=saturday, location=place, start_time=time(10), end_time=time(14)
    )
    session = booked(ana, santiago(saturday, 11), place=place)

    with pytest.raises(AvailabilityError) as refusal:
        hours.remove_date_override(override=override, actor=ana.user)
    assert refusal.value.sessions == [session]

    session.status = AppointmentStatus.CANCELLED
    session.save()
    hours.remove_date_override(override=override, actor=ana.user)
    assert not DateOverride.objects.exists()


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"day": date(2026, 11, 30)}, "in_the_past"),
        ({"start_time": time(12)}, "end_before_start"),  # a start without an end
        ({"start_time": time(12), "end_time": time(10)}, "end_before_start"),
    ],
    ids=["past", "half-open", "backwards"],
)
def test_bad_date_overrides_are_refused_with_a_reason(ana, place, fields, code):
    with pytest.raises(AvailabilityError) as refusal:
        hours.add_date_override(professional=ana, actor=ana.user, **({"day": MONDAY, "location": place} | fields))

    assert refusal.value.code == code


# --- time off ----------------------------------------------------------------------------------------------------


def test_time_off_over_a_session_is_refused_and_next_to_it_accepted(ana, place):
    session = booked(ana, santiago(MONDAY, 10), place=place)

    with pytest.raises(AvailabilityError) as refusal:
        hours.add_time_off(professional=ana, actor=ana.user, start=santiago(MONDAY, 10, 30), end=santiago(MONDAY, 12))
    assert refusal.value.sessions == [session]
    assert not TimeOff.objects.exists()

    time_off = hours.add_time_off(
        professional=ana, actor=ana.user, start=santiago(MONDAY, 10, 50), end=santiago(MONDAY, 13), reason="Trámite"
    )
    assert time_off.reason == "Trámite"
    hours.remove_time_off(time_off=time_off, actor=ana.user)
    assert not TimeOff.objects.exists()


def test_time_off_lists_every_session_it_would_strand_in_order(ana, place):
    first = booked(ana, santiago(MONDAY, 9), place=place)
    second = booked(ana, santiago(MONDAY, 11), place=place, patient=PatientFactory())
    booked(ana, santiago(NEXT_MONDAY, 9), place=place)

    with pytest.raises(AvailabilityError) as refusal:
        hours.add_time_off(
            professional=ana, actor=ana.user, start=santiago(MONDAY, 0), end=santiago(MONDAY + timedelta(1), 0)
        )

    assert refusal.value.sessions == [first, second]


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        (santiago(MONDAY, 12), santiago(MONDAY, 10), "end_before_start"),
        (santiago(date(2026, 11, 30), 9), santiago(date(2026, 11, 30), 18), "in_the_past"),
    ],
    ids=["backwards", "past"],
)
def test_bad_time_off_is_refused_with_a_reason(ana, start, end, code):
    with pytest.raises(AvailabilityError) as refusal:
        hours.add_time_off(professional=ana, actor=ana.user, start=start, end=end)

    assert refusal.value.code == code


def test_ended_time_off_stays_as_it_was(ana):
    past = TimeOffFactory(professional=ana, start=santiago(date(2026, 11, 2), 9), end=santiago(date(2026, 11, 3), 9))

    with pytest.raises(AvailabilityError) as refusal:
        hours.remove_time_off(time_off=past, actor=ana.user)

    assert refusal.value.code == "in_the_past"


# --- daylight saving time -----------------------------------------------------------------------------------------


def test_the_night_santiago_skips_midnight_counts_the_hours_the_clock_really_shows(ana):
    """Sunday 6 September 2026: the clocks jump from 00:00 to 01:00, so 00:00-02:00 holds one real hour."""
    dst_sunday = date(2026, 9, 6)
    with time_machine.travel(datetime(2026, 9, 1, 12, tzinfo=SANTIAGO), tick=False):
        night = WeeklyAvailabilityFactory(
            professional=ana, location=None, weekday=6, start_time=time(0), end_time=time(2)
        )
        session = booked(ana, santiago(dst_sunday, 1))  # 01:00-01:50, the first real hour of the day

        hours.change_weekly_hours(
            row=night, actor=ana.user, weekday=6, start_time=time(0, 30), end_time=time(2), location=None
        )  # 00:30 never shows: the window still opens at the jump
        with pytest.raises(AvailabilityError) as refusal:
            hours.change_weekly_hours(
                row=night, actor=ana.user, weekday=6, start_time=time(0), end_time=time(1), location=None
            )  # an hour that does not exist that night
        assert refusal.value.sessions == [session]

        whole_day = local_instant(dst_sunday, time(0), "America/Santiago")
        with pytest.raises(AvailabilityError):
            hours.add_time_off(professional=ana, actor=ana.user, start=whole_day, end=whole_day + timedelta(hours=23))
        next_day = local_instant(dst_sunday + timedelta(days=1), time(0), "America/Santiago")
        hours.add_time_off(professional=ana, actor=ana.user, start=next_day, end=next_day + timedelta(hours=24))

    assert whole_day == santiago(dst_sunday, 1)  # 00:00 never shows: the day starts at 01:00
    assert TimeOff.objects.filter(professional=ana).count() == 1


# --- cost ---------------------------------------------------------------------------------------------------------


def test_the_check_costs_the_same_queries_for_one_session_or_many(ana, place, monday_row):
    def queries_to_refuse(sessions: int) -> int:
        for week in range(sessions):
            booked(ana, santiago(MONDAY + timedelta(weeks=week), 10), place=place)
        with CaptureQueriesContext(connection) as captured, pytest.raises(AvailabilityError) as refusal:
            hours.remove_weekly_hours(row=monday_row, actor=ana.user)
        assert len(refusal.value.sessions) == sessions
        return len(captured)

    one = queries_to_refuse(1)
    ana.appointments.all().delete()

    assert queries_to_refuse(6) == one
