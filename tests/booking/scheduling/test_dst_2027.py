"""America/Santiago's two 2027 clock changes: the repeated hour is labelled apart, the horizon follows the calendar.

* DST ends on Sunday 4 April 2027 at 00:00, when the clocks go back to Saturday 23:00: Saturday 23:00-23:59 happens
  twice (UTC-3, then UTC-4). Two sessions at "23:00" that night are an hour apart and must not look alike.
* DST starts on Sunday 5 September 2027 at 00:00, when the clocks jump to 01:00: 00:00-00:59 never happens.
* The booking horizon is counted on the local calendar ("up to 7 days ahead" reaches the same wall-clock time
  next week), while the minimum notice stays in absolute hours.

New strings are asserted in English (``translation.override("en")``): the Spanish catalogue gets them at merge.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.template import Context, Template
from django.utils import timezone, translation
from rest_framework.test import APIClient

from booking.scheduling import services
from booking.scheduling.availability import (
    ProfessionalAvailability,
    ServiceSpec,
    WeeklyRule,
    available_slots,
    next_available,
)
from booking.scheduling.errors import BookingError
from booking.scheduling.models import Appointment, Modality
from booking.scheduling.timefmt import clock_change_showing, format_local_time
from tests.factories.accounts import PatientFactory
from tests.factories.scheduling import (
    LocationFactory,
    ProfessionalFactory,
    ServiceFactory,
    WeeklyAvailabilityFactory,
)

SANTIAGO = ZoneInfo("America/Santiago")
MADRID = ZoneInfo("Europe/Madrid")
APRIL_SATURDAY = date(2027, 4, 3)  # the night after it, 24:00 becomes 23:00 again
APRIL_SUNDAY = date(2027, 4, 4)
SEPTEMBER_SATURDAY = date(2027, 9, 4)  # the night after it, 24:00 becomes 01:00
SEPTEMBER_SUNDAY = date(2027, 9, 5)
BEFORE, AFTER = "(before the clock change)", "(after the clock change)"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local(day: date, clock: str, *, fold: int = 0) -> datetime:
    return datetime.combine(day, time.fromisoformat(clock), tzinfo=SANTIAGO).replace(fold=fold)


def test_the_2027_santiago_changes_are_the_ones_these_tests_assume():
    def offset(moment):
        return moment.astimezone(SANTIAGO).utcoffset()

    # April: 23:00 shows at 02:00 UTC (UTC-3) and again at 03:00 UTC (UTC-4); Sunday 00:00 is at 04:00 UTC.
    assert [f"{utc(f'2027-04-04 0{hour}:00').astimezone(SANTIAGO):%H:%M}" for hour in (2, 3, 4)] == [
        "23:00",
        "23:00",
        "00:00",
    ]
    assert (offset(utc("2027-04-04 02:00")), offset(utc("2027-04-04 03:00"))) == (
        timedelta(hours=-3),
        -timedelta(hours=4),
    )
    # September: 23:30 (UTC-4) is followed half an hour later by 01:00 (UTC-3).
    assert f"{utc('2027-09-05 03:30').astimezone(SANTIAGO):%a %H:%M}" == "Sat 23:30"
    assert f"{utc('2027-09-05 04:00').astimezone(SANTIAGO):%a %H:%M}" == "Sun 01:00"


# --- the label: one helper for every place a session time is shown -----------------------------------------------

LABELS = [
    ("2027-04-04 01:30", SANTIAGO, "22:30"),
    ("2027-04-04 02:00", SANTIAGO, f"23:00 {BEFORE}"),
    ("2027-04-04 02:30", SANTIAGO, f"23:30 {BEFORE}"),
    ("2027-04-04 03:00", SANTIAGO, f"23:00 {AFTER}"),
    ("2027-04-04 03:30", SANTIAGO, f"23:30 {AFTER}"),
    ("2027-04-04 04:00", SANTIAGO, "00:00"),
    ("2027-09-05 03:30", SANTIAGO, "23:30"),
    ("2027-09-05 04:00", SANTIAGO, "01:00"),
    ("2027-10-31 00:30", MADRID, f"02:30 {BEFORE}"),  # an online patient's zone: Spain goes back at 03:00
    ("2027-10-31 01:30", MADRID, f"02:30 {AFTER}"),
    ("2027-04-04 03:00", UTC, "03:00"),
]


@pytest.mark.parametrize(
    ("instant", "zone", "label"),
    LABELS,
    ids=[
        "april-22-30",
        "april-first-23-00",
        "april-first-23-30",
        "april-second-23-00",
        "april-second-23-30",
        "april-sunday-00-00",
        "september-23-30",
        "september-01-00-after-the-jump",
        "madrid-first-02-30",
        "madrid-second-02-30",
        "utc-never-repeats",
    ],
)
def test_a_time_in_the_repeated_hour_says_which_showing_it_is(instant, zone, label):
    with translation.override("en"):
        assert format_local_time(utc(instant).astimezone(zone)) == label


def test_the_label_does_not_depend_on_how_the_datetime_was_built():
    """A datetime built from wall-clock fields (fold 0 or 1) is labelled by the instant it names."""
    with translation.override("en"):
        assert format_local_time(local(APRIL_SATURDAY, "23:00")) == f"23:00 {BEFORE}"
        assert format_local_time(local(APRIL_SATURDAY, "23:00", fold=1)) == f"23:00 {AFTER}"
        assert format_local_time(local(APRIL_SATURDAY, "23:00", fold=1), "l j F Y, H:i") == (
            f"Saturday 3 April 2027, 23:00 {AFTER}"
        )
    assert clock_change_showing(local(SEPTEMBER_SUNDAY, "00:30")) is None  # a skipped time is no repeated one
    assert clock_change_showing(datetime(2027, 4, 3, 23)) is None  # naive: no zone, no answer
    assert format_local_time(None) == ""


def test_the_two_23_00s_read_differently_in_spanish():
    """Whatever the catalogue says, the two showings of 23:00 never render alike in the default language."""
    with translation.override("es-cl"):
        first = format_local_time(local(APRIL_SATURDAY, "23:00"))
        second = format_local_time(local(APRIL_SATURDAY, "23:00", fold=1))
    assert first.startswith("23:00") and second.startswith("23:00")
    assert first != second


def test_the_template_filter_follows_the_current_time_zone_like_date_does():
    template = Template(
        '{% load local_time tz %}{{ start|local_time }}|{{ start|local_time:"D H:i" }}|'
        "{% localtime off %}{{ start|local_time }}{% endlocaltime %}|{{ nothing|local_time }}"
    )
    with translation.override("en"), timezone.override(SANTIAGO):
        rendered = template.render(Context({"start": utc("2027-04-04 03:00"), "nothing": None}))
    assert rendered == f"23:00 {AFTER}|Sat 23:00 {AFTER}|03:00|"


# --- the engine: two distinct slots at 23:00, none in the skipped hour ------------------------------------------

LOCATION = 1
HALF_HOUR = ServiceSpec(service_id=1, duration=timedelta(minutes=30), horizon=timedelta(days=365))
SATURDAY_NIGHT = WeeklyRule(weekday=5, start=time(22), end=time(0), tz="America/Santiago", location_id=LOCATION)
SUNDAY_SMALL_HOURS = WeeklyRule(weekday=6, start=time(0), end=time(2), tz="America/Santiago", location_id=LOCATION)


def labels(slots, zone=SANTIAGO) -> list[str]:
    with translation.override("en"):
        return [format_local_time(slot.start.astimezone(zone)) for slot in slots]


def test_the_april_night_offers_both_23_00s_under_different_labels():
    slots = available_slots(
        professionals=[ProfessionalAvailability(7, rules=(SATURDAY_NIGHT,))],
        service=HALF_HOUR,
        start_day=APRIL_SATURDAY,
        end_day=APRIL_SATURDAY,
        now=utc("2027-03-01 12:00"),
    )

    assert labels(slots) == [
        "22:00",
        "22:30",
        f"23:00 {BEFORE}",
        f"23:30 {BEFORE}",
        f"23:00 {AFTER}",
        f"23:30 {AFTER}",
    ]
    assert len({slot.start for slot in slots}) == len(slots) == len(set(labels(slots)))


def test_the_september_night_offers_nothing_in_the_skipped_hour():
    slots = available_slots(
        professionals=[ProfessionalAvailability(7, rules=(SUNDAY_SMALL_HOURS,))],
        service=HALF_HOUR,
        start_day=SEPTEMBER_SUNDAY,
        end_day=SEPTEMBER_SUNDAY,
        now=utc("2027-08-01 12:00"),
    )

    assert labels(slots) == ["01:00", "01:30"]
    assert all(slot.start >= utc("2027-09-05 04:00") for slot in slots)


# --- the horizon on the calendar, the notice in hours ----------------------------------------------------------

WEEK = timedelta(days=7)

# now (local), minimum notice, the hours of the day looked at, that day -> the local times offered that day.
# A 7-day horizon reaches the same wall-clock time next week; the notice is real hours.
HORIZON_TABLE = [
    (
        local(date(2027, 6, 6), "10:00"),
        timedelta(0),
        (time(9), time(12)),
        date(2027, 6, 13),
        ["09:00", "09:30", "10:00"],
    ),
    (
        local(date(2027, 3, 28), "10:00"),  # 7 x 24 h would end at Sunday 09:00, an hour short
        timedelta(0),
        (time(9), time(12)),
        APRIL_SUNDAY,
        ["09:00", "09:30", "10:00"],
    ),
    (
        local(date(2027, 3, 27), "23:30"),  # next Saturday 23:30 shows twice: both count
        timedelta(0),
        (time(22), time(0)),
        APRIL_SATURDAY,
        ["22:00", "22:30", f"23:00 {BEFORE}", f"23:30 {BEFORE}", f"23:00 {AFTER}", f"23:30 {AFTER}"],
    ),
    (
        local(date(2027, 3, 27), "23:00"),
        timedelta(0),
        (time(22), time(0)),
        APRIL_SATURDAY,
        ["22:00", "22:30", f"23:00 {BEFORE}", f"23:30 {BEFORE}", f"23:00 {AFTER}"],
    ),
    (
        local(APRIL_SATURDAY, "12:00"),  # 24 real hours later the clock shows Sunday 11:00, not 12:00
        timedelta(hours=24),
        (time(9), time(13)),
        APRIL_SUNDAY,
        ["11:00", "11:30", "12:00", "12:30"],
    ),
    (
        local(date(2027, 8, 29), "10:00"),  # 7 x 24 h would reach Sunday 11:00, an hour too far
        timedelta(0),
        (time(9), time(12)),
        SEPTEMBER_SUNDAY,
        ["09:00", "09:30", "10:00"],
    ),
    (
        local(date(2027, 8, 29), "00:30"),  # next Sunday 00:30 never shows: the horizon ends at the jump
        timedelta(0),
        (time(0), time(3)),
        SEPTEMBER_SUNDAY,
        [],
    ),
    (
        local(SEPTEMBER_SATURDAY, "12:00"),  # 24 real hours later the clock shows Sunday 13:00
        timedelta(hours=24),
        (time(9), time(15)),
        SEPTEMBER_SUNDAY,
        ["13:00", "13:30", "14:00", "14:30"],
    ),
]
HORIZON_IDS = [
    "ordinary-week-control",
    "april-same-time-next-sunday",
    "april-target-in-the-repeated-hour-counts-both",
    "april-target-23-00-reaches-the-second-23-00",
    "april-notice-in-real-hours",
    "september-same-time-next-sunday",
    "september-target-in-the-skipped-hour",
    "september-notice-in-real-hours",
]


@pytest.mark.parametrize(("now", "notice", "hours", "day", "expected"), HORIZON_TABLE, ids=HORIZON_IDS)
def test_horizon_counts_calendar_days_and_notice_counts_hours(now, notice, hours, day, expected):
    spec = ServiceSpec(service_id=1, duration=timedelta(minutes=30), min_notice=notice, horizon=WEEK)
    rule = WeeklyRule(weekday=day.weekday(), start=hours[0], end=hours[1], tz="America/Santiago", location_id=LOCATION)
    professional = ProfessionalAvailability(7, rules=(rule,))

    search = {"professionals": [professional], "service": spec, "start_day": day, "end_day": day}

    slots = available_slots(**search, now=now.astimezone(UTC))  # as timezone.now() gives it
    first = next_available(**search, now=now.astimezone(UTC))[7]

    assert labels(slots) == expected
    assert first == (slots[0].start if slots else None)
    assert available_slots(**search, now=now) == slots  # the zone ``now`` comes in changes nothing


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (local(date(2027, 3, 28), "10:00"), local(APRIL_SUNDAY, "10:00")),
        (local(date(2027, 3, 27), "23:30"), local(APRIL_SATURDAY, "23:30", fold=1)),
        (local(date(2027, 8, 29), "10:00"), local(SEPTEMBER_SUNDAY, "10:00")),
        (local(date(2027, 8, 29), "00:30"), utc("2027-09-05 04:00") - timedelta(microseconds=1)),
    ],
    ids=["april-sunday", "april-repeated", "september-sunday", "september-skipped"],
)
def test_latest_start_is_the_same_wall_clock_time_a_week_later(now, expected):
    spec = ServiceSpec(service_id=1, duration=timedelta(minutes=30), horizon=WEEK)
    # Compared in UTC: an aware datetime with fold=1 never equals one in another zone.
    assert spec.latest_start(now, "America/Santiago") == expected.astimezone(UTC)


# --- the booking check agrees with the engine -------------------------------------------------------------------


@pytest.fixture
def saturday_nights(db):
    service = ServiceFactory(
        name="Therapy",
        modality=Modality.IN_PERSON,
        duration_minutes=30,
        buffer_before_minutes=0,
        buffer_after_minutes=0,
        min_notice_minutes=0,
        booking_horizon_days=7,
    )
    location = LocationFactory()
    professional = ProfessionalFactory(services=[service], locations=[location])
    WeeklyAvailabilityFactory(
        professional=professional, location=location, weekday=5, start_time=time(22), end_time=time(0)
    )
    return service, location, professional


def book_at(saturday_nights, start, now):
    service, location, professional = saturday_nights
    patient = PatientFactory()
    return services.book_appointment(
        patient=patient,
        professional=professional,
        service=service,
        start=start,
        location=location,
        modality="in_person",
        now=now,
        source="booking_box",
        actor=patient.user,
    )


@pytest.mark.parametrize(
    "start",
    [utc("2027-04-04 03:00"), local(APRIL_SATURDAY, "23:00", fold=1)],
    ids=["start-in-utc", "start-as-local-time-with-fold"],
)
def test_a_week_ahead_books_the_second_23_00_of_the_night_the_clocks_go_back(saturday_nights, start):
    appointment = book_at(saturday_nights, start, local(date(2027, 3, 27), "23:00").astimezone(UTC))

    assert appointment.start == utc("2027-04-04 03:00")


def test_a_week_ahead_refuses_the_second_23_30_as_too_far(saturday_nights):
    with pytest.raises(BookingError) as raised:
        book_at(saturday_nights, utc("2027-04-04 03:30"), local(date(2027, 3, 27), "23:00").astimezone(UTC))

    assert raised.value.code == "too_far"
    assert not Appointment.objects.exists()


# --- item 13 across the changes: an in-person-only service never lists online times -----------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("day", "now", "in_person"),
    [
        (APRIL_SATURDAY, local(date(2027, 3, 30), "10:00"), ["22:00", "22:30", "23:00", "23:30", "23:00", "23:30"]),
        (SEPTEMBER_SUNDAY, local(date(2027, 9, 1), "10:00"), ["01:00", "01:30"]),
    ],
    ids=["april-repeated-hour", "september-skipped-hour"],
)
def test_api_lists_no_online_times_of_an_in_person_service_across_the_changes(day, now, in_person):
    service = ServiceFactory(
        modality=Modality.IN_PERSON,
        duration_minutes=30,
        buffer_before_minutes=0,
        buffer_after_minutes=0,
        min_notice_minutes=0,
    )
    location = LocationFactory()
    professional = ProfessionalFactory(services=[service], locations=[location])
    hours = (time(22), time(0)) if day == APRIL_SATURDAY else (time(0), time(2))
    for place in (location, None):  # the same hours at the clinic and online
        WeeklyAvailabilityFactory(
            professional=professional,
            location=place,
            weekday=day.weekday(),
            start_time=hours[0],
            end_time=hours[1],
        )
    client = APIClient()
    client.force_login(PatientFactory().user)

    with time_machine.travel(now, tick=False):
        response = client.get(
            "/api/v1/availability/", {"service": service.slug, "start": day.isoformat(), "end": day.isoformat()}
        )

    slots = response.json()["slots"]
    assert {slot["location"] for slot in slots} == {location.slug}
    assert [
        datetime.fromisoformat(slot["start"]).astimezone(SANTIAGO).strftime("%H:%M") for slot in slots
    ] == in_person
    assert len({datetime.fromisoformat(slot["start"]) for slot in slots}) == len(slots)
