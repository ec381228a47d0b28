"""The availability engine, rule by rule, as tables of plain values (no database).

Most cases look at one Monday, 2026-06-15, in Santiago (UTC-4 in winter, far from any clock change), where the
professional works 09:00-12:00 at location 1 and the service lasts one hour on a 30-minute grid. Each case
changes one thing and lists the local start times a patient would be offered.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from booking.scheduling.availability import (
    ALL,
    DateOverride,
    Interval,
    ProfessionalAvailability,
    RoomOccupancy,
    ServiceSpec,
    Slot,
    WeeklyRule,
    available_slots,
    blocked_interval,
    epoch_us,
    next_available,
    to_timezone,
)

SANTIAGO = "America/Santiago"
MADRID = "Europe/Madrid"
MONDAY = date(2026, 6, 15)
TUESDAY = MONDAY + timedelta(days=1)
CLINIC = 1
OTHER_CLINIC = 2
ONLINE = None
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SERVICE = ServiceSpec(service_id=1, duration=timedelta(hours=1), horizon=timedelta(days=60))
ALL_MORNING = ["09:00", "09:30", "10:00", "10:30", "11:00"]


def hm(text: str) -> time:
    return time.fromisoformat(text)


def at(text: str, day: date = MONDAY, tz: str = SANTIAGO) -> datetime:
    """An aware instant from a local wall-clock time."""
    return datetime.combine(day, hm(text), tzinfo=ZoneInfo(tz))


def rule(start: str, end: str, weekday: int = 0, location_id: int | None = CLINIC, **extra) -> WeeklyRule:
    return WeeklyRule(weekday=weekday, start=hm(start), end=hm(end), tz=SANTIAGO, location_id=location_id, **extra)


def span(start: str, end: str, day: date = MONDAY) -> Interval:
    return Interval(at(start, day), at(end, day))


MORNING = rule("09:00", "12:00")


def local_times(slots: list[Slot], tz: str = SANTIAGO) -> list[str]:
    return [slot.start.astimezone(ZoneInfo(tz)).strftime("%H:%M") for slot in slots]


def offered(
    *,
    rules=(MORNING,),
    overrides=(),
    time_off=(),
    busy=(),
    closed_days=frozenset(),
    service=SERVICE,
    now=NOW,
    step=timedelta(minutes=30),
    location_id=ALL,
    day=MONDAY,
    rooms=(),
) -> list[str]:
    professional = ProfessionalAvailability(
        professional_id=7,
        rules=tuple(rules),
        overrides=tuple(overrides),
        time_off=tuple(time_off),
        busy=tuple(busy),
        closed_days=frozenset(closed_days),
    )
    slots = available_slots(
        professionals=[professional],
        service=service,
        start_day=day,
        end_day=day,
        now=now,
        step=step,
        location_id=location_id,
        rooms=rooms,
    )
    assert all(slot.professional_id == 7 and slot.end - slot.start == service.duration for slot in slots)
    return local_times(slots)


BUFFERED = ServiceSpec(
    service_id=1,
    duration=timedelta(hours=1),
    buffer_before=timedelta(minutes=10),
    buffer_after=timedelta(minutes=15),
)
NOON_TO_FOUR_OVERRIDE = DateOverride(
    day=MONDAY, intervals=((hm("14:00"), hm("16:00")),), tz=SANTIAGO, location_id=CLINIC
)
ONLINE_AFTERNOON = rule("14:00", "16:00", location_id=ONLINE)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({}, ALL_MORNING, id="plain-day"),
        pytest.param({"day": TUESDAY}, [], id="no-rule-on-other-weekday"),
        pytest.param(
            {"step": timedelta(minutes=20)},
            ["09:00", "09:20", "09:40", "10:00", "10:20", "10:40", "11:00"],
            id="step-20-minutes",
        ),
        pytest.param({"rules": [rule("22:00", "00:00")]}, ["22:00", "22:30", "23:00"], id="rule-until-midnight"),
        # Busy intervals already include the other booking's buffers; ours are 10 min before and 15 min after.
        pytest.param(
            {"service": BUFFERED, "busy": [span("10:15", "10:50")]},
            ["09:00", "11:00"],
            id="buffers-touching-busy-on-both-sides-allowed",
        ),
        pytest.param(
            {"service": BUFFERED, "busy": [span("10:14", "10:50")]},
            ["11:00"],
            id="buffer-after-one-minute-into-busy-refused",
        ),
        pytest.param(
            {"service": BUFFERED, "busy": [span("10:15", "10:51")]},
            ["09:00"],
            id="buffer-before-one-minute-into-busy-refused",
        ),
        pytest.param({"busy": [span("10:00", "10:30")]}, ["09:00", "10:30", "11:00"], id="busy-without-buffers"),
        pytest.param(
            {"busy": [span("08:00", "09:30"), span("09:15", "10:00"), span("11:30", "13:00")]},
            ["10:00", "10:30"],
            id="overlapping-busy-intervals",
        ),
        pytest.param(
            {"now": at("08:00"), "service": ServiceSpec(1, timedelta(hours=1), min_notice=timedelta(hours=2))},
            ["10:00", "10:30", "11:00"],
            id="min-notice-exactly-on-a-slot-allowed",
        ),
        pytest.param(
            {"now": at("08:01"), "service": ServiceSpec(1, timedelta(hours=1), min_notice=timedelta(hours=2))},
            ["10:30", "11:00"],
            id="min-notice-one-minute-short-refused",
        ),
        pytest.param({"now": at("09:45")}, ["10:00", "10:30", "11:00"], id="past-slots-never-offered"),
        pytest.param(
            # 21:00 in Santiago is already Tuesday in UTC; Monday's evening must still be searched.
            {"rules": [rule("20:00", "00:00")], "now": at("21:00")},
            ["21:00", "21:30", "22:00", "22:30", "23:00"],
            id="evening-after-utc-midnight",
        ),
        pytest.param(
            {"service": ServiceSpec(1, timedelta(hours=1), horizon=at("10:00") - NOW)},
            ["09:00", "09:30", "10:00"],
            id="horizon-inclusive",
        ),
        pytest.param(
            {"service": ServiceSpec(1, timedelta(hours=1), horizon=at("08:59") - NOW)}, [], id="beyond-horizon"
        ),
        pytest.param(
            {"overrides": [NOON_TO_FOUR_OVERRIDE]}, ["14:00", "14:30", "15:00"], id="override-replaces-hours"
        ),
        pytest.param(
            {"overrides": [DateOverride(day=MONDAY, intervals=(), tz=SANTIAGO, location_id=CLINIC)]},
            [],
            id="override-closes-day",
        ),
        pytest.param(
            {"overrides": [DateOverride(day=TUESDAY, intervals=(), tz=SANTIAGO, location_id=CLINIC)]},
            ALL_MORNING,
            id="override-on-another-day-ignored",
        ),
        pytest.param(
            {
                "overrides": [DateOverride(day=MONDAY, intervals=(), tz=SANTIAGO, location_id=OTHER_CLINIC)],
                "location_id": CLINIC,
            },
            ALL_MORNING,
            id="override-for-another-location-ignored",
        ),
        pytest.param({"closed_days": {(CLINIC, MONDAY)}}, [], id="holiday-closes-location"),
        pytest.param({"closed_days": {(OTHER_CLINIC, MONDAY)}}, ALL_MORNING, id="holiday-at-other-location"),
        pytest.param(
            {"rules": [rule("09:00", "12:00"), ONLINE_AFTERNOON], "closed_days": {(CLINIC, MONDAY)}},
            ["14:00", "14:30", "15:00"],
            id="holiday-at-location-keeps-online",
        ),
        pytest.param(
            {"rules": [rule("09:00", "12:00"), ONLINE_AFTERNOON], "closed_days": {(None, MONDAY)}},
            [],
            id="holiday-for-all-locations-and-online",
        ),
        pytest.param(
            {"overrides": [NOON_TO_FOUR_OVERRIDE], "closed_days": {(CLINIC, MONDAY)}}, [], id="holiday-beats-override"
        ),
        pytest.param({"time_off": [span("10:00", "10:45")]}, ["09:00", "11:00"], id="time-off-part-of-day"),
        pytest.param({"time_off": [Interval(at("00:00"), at("00:00", TUESDAY))]}, [], id="time-off-whole-day"),
        pytest.param(
            {"time_off": [span("10:00", "10:45")], "service": BUFFERED},
            ["09:00", "11:00"],
            id="time-off-may-hold-buffers",
        ),
        pytest.param(
            {"rules": [rule("09:00", "10:00"), rule("15:00", "16:30")]},
            ["09:00", "15:00", "15:30"],
            id="two-intervals-per-day",
        ),
        pytest.param(
            {"rules": [rule("09:00", "11:00"), rule("10:00", "12:00")]},
            ALL_MORNING,
            id="overlapping-rules-merged-no-duplicates",
        ),
        pytest.param(
            {"rules": [rule("09:00", "10:30"), rule("10:30", "12:00")]},
            ALL_MORNING,
            id="adjacent-rules-merged-session-spans-both",
        ),
        pytest.param({"rules": [rule("09:00", "12:00", valid_from=MONDAY)]}, ALL_MORNING, id="valid-from-inclusive"),
        pytest.param({"rules": [rule("09:00", "12:00", valid_from=TUESDAY)]}, [], id="not-valid-yet"),
        pytest.param({"rules": [rule("09:00", "12:00", valid_until=MONDAY)]}, ALL_MORNING, id="valid-until-inclusive"),
        pytest.param({"rules": [rule("09:00", "12:00", valid_until=MONDAY - timedelta(days=1))]}, [], id="expired"),
        pytest.param(
            {
                "rules": [
                    rule("09:00", "12:00", valid_until=MONDAY - timedelta(days=1)),
                    rule("15:00", "16:00", valid_from=MONDAY),
                ]
            },
            ["15:00"],
            id="schedule-change-takes-effect",
        ),
        pytest.param(
            {"rules": [rule("09:00", "12:00", service_ids=frozenset({1, 3}))]}, ALL_MORNING, id="rule-for-this-service"
        ),
        pytest.param(
            {"rules": [rule("09:00", "12:00", service_ids=frozenset({2})), rule("15:00", "16:00")]},
            ["15:00"],
            id="rule-for-other-service-skipped",
        ),
        pytest.param(
            {"rules": [rule("09:00", "12:00"), ONLINE_AFTERNOON], "location_id": ALL},
            [*ALL_MORNING, "14:00", "14:30", "15:00"],
            id="all-locations",
        ),
        pytest.param(
            {"rules": [rule("09:00", "12:00"), ONLINE_AFTERNOON], "location_id": ONLINE},
            ["14:00", "14:30", "15:00"],
            id="online-only",
        ),
        pytest.param(
            {"rules": [rule("09:00", "12:00"), ONLINE_AFTERNOON], "location_id": CLINIC},
            ALL_MORNING,
            id="one-location-only",
        ),
        pytest.param(
            {"rules": [rule("09:00", "12:00"), ONLINE_AFTERNOON], "location_id": OTHER_CLINIC},
            [],
            id="location-without-hours",
        ),
    ],
)
def test_offered_start_times(changes, expected):
    assert offered(**changes) == expected


def test_same_time_online_and_at_clinic_are_two_offers_online_first():
    slots = available_slots(
        professionals=[
            ProfessionalAvailability(7, rules=(rule("09:00", "10:00"), rule("09:00", "10:00", location_id=None)))
        ],
        service=SERVICE,
        start_day=MONDAY,
        end_day=MONDAY,
        now=NOW,
    )
    assert [(local, slot.location_id) for local, slot in zip(local_times(slots), slots, strict=True)] == [
        ("09:00", None),
        ("09:00", CLINIC),
    ]


def test_any_professional_search_names_the_professional_of_each_slot():
    professionals = [
        ProfessionalAvailability(11, rules=(rule("09:00", "11:00"),)),
        ProfessionalAvailability(12, rules=(rule("10:00", "12:00", location_id=OTHER_CLINIC),)),
        ProfessionalAvailability(13, rules=(rule("09:00", "11:00"),), busy=(span("09:00", "10:00"),)),
    ]
    slots = available_slots(professionals=professionals, service=SERVICE, start_day=MONDAY, end_day=MONDAY, now=NOW)
    assert [
        (local, slot.professional_id, slot.location_id) for local, slot in zip(local_times(slots), slots, strict=True)
    ] == [
        ("09:00", 11, CLINIC),
        ("09:30", 11, CLINIC),
        ("10:00", 11, CLINIC),
        ("10:00", 12, OTHER_CLINIC),
        ("10:00", 13, CLINIC),
        ("10:30", 12, OTHER_CLINIC),
        ("11:00", 12, OTHER_CLINIC),
    ]
    assert slots == sorted(slots)


def test_professional_own_session_length():
    professional = ProfessionalAvailability(7, rules=(rule("09:00", "11:00"),), duration=timedelta(minutes=90))
    slots = available_slots(professionals=[professional], service=SERVICE, start_day=MONDAY, end_day=MONDAY, now=NOW)
    assert local_times(slots) == ["09:00", "09:30"]
    assert {slot.end - slot.start for slot in slots} == {timedelta(minutes=90)}


def test_several_days_in_order():
    every_weekday = tuple(rule("09:00", "10:00", weekday=weekday) for weekday in range(5))
    slots = available_slots(
        professionals=[ProfessionalAvailability(7, rules=every_weekday)],
        service=SERVICE,
        start_day=date(2026, 6, 12),  # Friday
        end_day=date(2026, 6, 16),  # Tuesday
        now=NOW,
    )
    assert [slot.start for slot in slots] == [
        at("09:00", date(2026, 6, 12)),
        at("09:00", date(2026, 6, 15)),
        at("09:00", date(2026, 6, 16)),
    ]


def test_blocked_interval_is_what_a_booking_stores():
    start = at("10:00")
    assert blocked_interval(start, BUFFERED) == Interval(at("09:50"), at("11:15"))
    # A booking stored that way blocks exactly the slots that would overlap it, and no others.
    assert offered(rules=[rule("08:00", "13:00")], service=BUFFERED, busy=[blocked_interval(start, BUFFERED)]) == [
        "08:00",
        "08:30",
        "11:30",
        "12:00",
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"now": datetime(2026, 6, 1, 12)}, "aware", id="naive-now"),
        pytest.param({"step": timedelta(0)}, "step", id="zero-step"),
    ],
)
def test_bad_search_input_is_refused_clearly(kwargs, message):
    arguments = {
        "professionals": [],
        "service": SERVICE,
        "start_day": MONDAY,
        "end_day": MONDAY,
        "now": NOW,
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        available_slots(**arguments)


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: rule("12:00", "09:00"), id="rule-ending-before-start"),
        pytest.param(lambda: rule("09:00", "12:00", weekday=7), id="weekday-out-of-range"),
        pytest.param(lambda: Interval(at("10:00"), at("10:00")), id="empty-interval"),
        pytest.param(lambda: Interval(datetime(2026, 6, 1, 9), datetime(2026, 6, 1, 10)), id="naive-interval"),
        pytest.param(lambda: ServiceSpec(1, timedelta(0)), id="service-without-duration"),
        pytest.param(
            lambda: ServiceSpec(1, timedelta(hours=1), buffer_before=timedelta(minutes=-5)), id="negative-buffer"
        ),
    ],
)
def test_inconsistent_data_is_refused_where_it_is_built(build):
    with pytest.raises(ValueError):
        build()


# --- Daylight saving time in America/Santiago (clocks change at midnight) ---------------------------------

SPRING_SATURDAY = date(2026, 9, 5)  # the night after this Saturday, 24:00 becomes Sunday 01:00
SPRING_SUNDAY = date(2026, 9, 6)
AUTUMN_SATURDAY = date(2026, 4, 4)  # the night after this Saturday, 24:00 becomes 23:00 again
AUTUMN_SUNDAY = date(2026, 4, 5)
WEEKEND_NOW = datetime(2026, 3, 1, tzinfo=UTC)
WEEKEND_SERVICE = ServiceSpec(1, timedelta(minutes=30), horizon=timedelta(days=365))


def test_2026_santiago_transition_dates_are_the_ones_the_tests_assume():
    zone = ZoneInfo(SANTIAGO)

    def offset(day):
        return datetime.combine(day, time(12), tzinfo=zone).utcoffset()

    assert (offset(AUTUMN_SATURDAY), offset(AUTUMN_SUNDAY)) == (timedelta(hours=-3), timedelta(hours=-4))
    assert (offset(SPRING_SATURDAY), offset(SPRING_SUNDAY)) == (timedelta(hours=-4), timedelta(hours=-3))


def weekend_slots(*rules: WeeklyRule, saturday: date) -> list[Slot]:
    return available_slots(
        professionals=[ProfessionalAvailability(7, rules=rules)],
        service=WEEKEND_SERVICE,
        start_day=saturday,
        end_day=saturday + timedelta(days=1),
        now=WEEKEND_NOW,
    )


def utc_hm(slots: list[Slot]) -> list[str]:
    return [slot.start.astimezone(UTC).strftime("%a %H:%M") for slot in slots]


@pytest.mark.parametrize(
    ("saturday", "expected_utc"),
    [
        pytest.param(SPRING_SATURDAY, ["Sat 13:00", "Sun 12:00"], id="spring-forward"),
        pytest.param(AUTUMN_SATURDAY, ["Sat 12:00", "Sun 13:00"], id="fall-back"),
    ],
)
def test_nine_oclock_stays_nine_oclock_local_across_the_change(saturday, expected_utc):
    slots = weekend_slots(rule("09:00", "09:30", weekday=5), rule("09:00", "09:30", weekday=6), saturday=saturday)
    assert local_times(slots) == ["09:00", "09:00"]
    assert utc_hm(slots) == expected_utc


def test_spring_forward_rule_spanning_the_missing_hour_gives_only_real_instants():
    slots = weekend_slots(rule("00:00", "02:00", weekday=6), saturday=SPRING_SATURDAY)
    # 00:00-00:59 does not exist that Sunday: the window holds one real hour, 01:00-02:00 (UTC-3).
    assert local_times(slots) == ["01:00", "01:30"]
    assert utc_hm(slots) == ["Sun 04:00", "Sun 04:30"]


def test_spring_forward_rule_inside_the_missing_hour_gives_nothing():
    assert weekend_slots(rule("00:00", "00:45", weekday=6), saturday=SPRING_SATURDAY) == []


def test_spring_forward_saturday_until_midnight_ends_at_the_jump():
    slots = weekend_slots(rule("22:00", "00:00", weekday=5), saturday=SPRING_SATURDAY)
    assert local_times(slots) == ["22:00", "22:30", "23:00", "23:30"]
    assert slots[-1].end == datetime(2026, 9, 6, 4, 0, tzinfo=UTC)


def test_fall_back_saturday_until_midnight_offers_the_repeated_hour_twice_once_each():
    slots = weekend_slots(rule("22:00", "00:00", weekday=5), saturday=AUTUMN_SATURDAY)
    # 22:00 (UTC-3) until local midnight (UTC-4) is three real hours; 23:00-23:59 shows twice.
    assert local_times(slots) == ["22:00", "22:30", "23:00", "23:30", "23:00", "23:30"]
    assert utc_hm(slots) == ["Sun 01:00", "Sun 01:30", "Sun 02:00", "Sun 02:30", "Sun 03:00", "Sun 03:30"]
    assert len({slot.start for slot in slots}) == len(slots)


def test_fall_back_sunday_after_midnight_is_an_ordinary_night():
    slots = weekend_slots(rule("00:00", "02:00", weekday=6), saturday=AUTUMN_SATURDAY)
    assert local_times(slots) == ["00:00", "00:30", "01:00", "01:30"]
    assert utc_hm(slots) == ["Sun 04:00", "Sun 04:30", "Sun 05:00", "Sun 05:30"]


def test_fall_back_window_ending_inside_the_repeated_hour_closes_at_its_first_occurrence():
    slots = weekend_slots(rule("22:00", "23:30", weekday=5), saturday=AUTUMN_SATURDAY)
    assert utc_hm(slots) == ["Sun 01:00", "Sun 01:30", "Sun 02:00"]


def test_madrid_spring_forward_at_two_in_the_morning():
    rules = (WeeklyRule(weekday=6, start=hm("01:00"), end=hm("04:00"), tz=MADRID, location_id=None),)
    slots = available_slots(
        professionals=[ProfessionalAvailability(7, rules=rules)],
        service=WEEKEND_SERVICE,
        start_day=date(2026, 3, 29),
        end_day=date(2026, 3, 29),
        now=WEEKEND_NOW,
    )
    assert local_times(slots, MADRID) == ["01:00", "01:30", "03:00", "03:30"]


@pytest.mark.parametrize(
    ("saturday", "expected_madrid"),
    [
        # Madrid is on summer time (UTC+2) both weekends; only Santiago changes.
        pytest.param(SPRING_SATURDAY, ["15:00", "14:00"], id="spring-forward"),
        pytest.param(AUTUMN_SATURDAY, ["14:00", "15:00"], id="fall-back"),
    ],
)
def test_patient_in_madrid_sees_the_same_sessions_in_madrid_time(saturday, expected_madrid):
    online = (rule("09:00", "09:30", weekday=5, location_id=None), rule("09:00", "09:30", weekday=6, location_id=None))
    slots = weekend_slots(*online, saturday=saturday)
    in_madrid = to_timezone(slots, MADRID)
    assert [slot.start.strftime("%H:%M") for slot in in_madrid] == expected_madrid
    assert {slot.start.tzinfo for slot in in_madrid} == {ZoneInfo(MADRID)}
    assert in_madrid == slots  # same instants, same professional and place


# --- next available --------------------------------------------------------------------------------------


def test_next_available_per_professional():
    professionals = [
        # Monday is fully booked, so Tuesday 09:00.
        ProfessionalAvailability(
            1,
            rules=(rule("09:00", "12:00"), rule("09:00", "12:00", weekday=1)),
            busy=(span("08:00", "13:00"),),
        ),
        ProfessionalAvailability(2, rules=(rule("15:00", "16:00", weekday=2),)),  # Wednesday
        ProfessionalAvailability(3),  # no hours at all
        ProfessionalAvailability(4, rules=(rule("09:00", "12:00", weekday=3),)),  # Thursday, after the range
    ]
    assert next_available(
        professionals=professionals, service=SERVICE, start_day=MONDAY, end_day=MONDAY + timedelta(days=2), now=NOW
    ) == {1: at("09:00", TUESDAY), 2: at("15:00", MONDAY + timedelta(days=2)), 3: None, 4: None}


def test_next_available_respects_notice_and_location():
    professional = ProfessionalAvailability(
        1, rules=(rule("09:00", "12:00"), rule("14:00", "16:00", location_id=None), rule("09:00", "10:00", weekday=1))
    )
    common = {"professionals": [professional], "start_day": MONDAY, "end_day": TUESDAY}
    late_morning = at("10:00")
    assert next_available(**common, service=SERVICE, now=late_morning) == {1: at("10:00")}
    assert next_available(**common, service=SERVICE, now=late_morning, location_id=None) == {1: at("14:00")}
    noticed = ServiceSpec(1, timedelta(hours=1), min_notice=timedelta(hours=8))
    assert next_available(**common, service=noticed, now=late_morning) == {1: at("09:00", TUESDAY)}


def test_next_available_finds_an_earlier_instant_on_a_later_local_date_elsewhere():
    """Local dates differ between zones: Kiritimati's Tuesday morning comes before Santiago's Monday night."""
    professional = ProfessionalAvailability(
        1,
        rules=(
            rule("20:00", "21:00", location_id=CLINIC),
            WeeklyRule(weekday=1, start=hm("08:00"), end=hm("09:00"), tz="Pacific/Kiritimati", location_id=None),
        ),
    )
    earliest = next_available(
        professionals=[professional], service=SERVICE, start_day=MONDAY, end_day=TUESDAY, now=NOW
    )
    assert earliest == {1: at("08:00", TUESDAY, "Pacific/Kiritimati")}
    assert earliest[1] < at("20:00")


# --- rooms: an in-person session needs one room of its location free for the session and its buffers ------


def as_span(interval: Interval) -> tuple[int, int]:
    return epoch_us(interval.start), epoch_us(interval.end)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({"rooms": [RoomOccupancy(CLINIC, rooms=2)]}, ALL_MORNING, id="rooms-without-bookings"),
        pytest.param(
            {"rooms": [RoomOccupancy(CLINIC, rooms=2, busy=((span("09:00", "12:00"),),))]},
            ALL_MORNING,
            id="one-of-two-rooms-busy",
        ),
        pytest.param(
            {"rooms": [RoomOccupancy(CLINIC, rooms=1, busy=((span("09:00", "10:00"),),))]},
            ["10:00", "10:30", "11:00"],
            id="the-only-room-busy-at-nine",
        ),
        pytest.param(
            {"rooms": [RoomOccupancy(CLINIC, rooms=2, busy=((span("09:00", "10:00"),), (span("10:30", "11:30"),)))]},
            ["09:00", "09:30", "10:00", "10:30", "11:00"],
            id="a-different-room-free-at-each-time",
        ),
        pytest.param(
            {"rooms": [RoomOccupancy(CLINIC, rooms=2, busy=((span("09:00", "10:15"),), (span("09:30", "10:45"),)))]},
            ["10:30", "11:00"],
            id="no-room-until-one-frees-up",
        ),
        pytest.param(
            {"rooms": [RoomOccupancy(CLINIC, rooms=1, busy=((span("09:00", "10:00"), span("10:00", "11:00")),))]},
            ["11:00"],
            id="touching-bookings-in-one-room",
        ),
        pytest.param(
            {"rooms": [RoomOccupancy(CLINIC, rooms=1, busy=((as_span(span("09:00", "10:00")),),))]},
            ["10:00", "10:30", "11:00"],
            id="busy-given-as-epoch-microseconds",
        ),
        pytest.param(
            {"service": BUFFERED, "rooms": [RoomOccupancy(CLINIC, rooms=1, busy=((span("08:00", "09:05"),),))]},
            ["09:30", "10:00", "10:30", "11:00"],
            id="room-busy-within-the-buffer-before",
        ),
        pytest.param(
            {"rooms": [RoomOccupancy(OTHER_CLINIC, rooms=1, busy=((span("09:00", "12:00"),),))]},
            ALL_MORNING,
            id="another-locations-rooms",
        ),
        pytest.param(
            {
                "rules": [rule("09:00", "12:00", location_id=None)],
                "rooms": [RoomOccupancy(CLINIC, rooms=1, busy=((span("09:00", "12:00"),),))],
            },
            ALL_MORNING,
            id="online-needs-no-room",
        ),
    ],
)
def test_room_capacity(changes, expected):
    assert offered(**changes) == expected


def test_next_available_waits_for_a_free_room():
    professional = ProfessionalAvailability(7, rules=(MORNING,))
    rooms = [RoomOccupancy(CLINIC, rooms=1, busy=((span("08:00", "10:30"),),))]

    earliest = next_available(
        professionals=[professional], service=SERVICE, start_day=MONDAY, end_day=MONDAY, now=NOW, rooms=rooms
    )

    assert earliest == {7: at("10:30")}


@pytest.mark.parametrize(
    ("rooms", "busy_rooms"),
    [(-1, 0), (1, 2)],
    ids=["negative-count", "more-busy-rooms-than-rooms"],
)
def test_room_occupancy_rejects_inconsistent_data(rooms, busy_rooms):
    with pytest.raises(ValueError):
        RoomOccupancy(CLINIC, rooms=rooms, busy=tuple((span("09:00", "10:00"),) for _ in range(busy_rooms)))
