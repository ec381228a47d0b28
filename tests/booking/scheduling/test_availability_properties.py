"""Property-based tests of the availability engine: random schedules, bookings and time off.

The dates are drawn around 2026's clock changes (Santiago in April and September, Madrid in March), so the
properties hold across skipped and repeated hours too. Besides the safety properties (nothing offered over busy
time, time off, outside hours, notice or horizon), a deliberately naive reference built from the documented
rules checks that the engine also offers every slot it should.
"""

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from booking.scheduling.availability import (
    ALL,
    DateOverride,
    Interval,
    ProfessionalAvailability,
    RoomOccupancy,
    ServiceSpec,
    WeeklyRule,
    available_slots,
    next_available,
    to_timezone,
)

# Each location keeps one time zone, as in the database (online hours follow the professional's zone).
ZONE_OF_LOCATION = {None: "America/Santiago", 1: "America/Santiago", 2: "Europe/Madrid", 3: "UTC"}
LOCATIONS = list(ZONE_OF_LOCATION)
FIRST_DAYS = [date(2026, 4, 1), date(2026, 9, 2), date(2026, 3, 26), date(2026, 6, 10)]
SERVICE_ID = 1

PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

quarter_hours = st.integers(min_value=0, max_value=95)
# Strategies lean towards schedules that do produce slots, so the properties have something to check.
MOSTLY_NONE = [None, None, None]


def wall(quarter: int) -> time:
    """Quarter-hour number 0..96 as a wall-clock time; 96 is midnight at the end of the day (00:00)."""
    return time(0) if quarter == 96 else time(quarter // 4, quarter % 4 * 15)


@st.composite
def wall_intervals(draw):
    # Some windows start late at night or just after midnight, where the clocks change.
    start = draw(st.one_of(quarter_hours, st.integers(84, 95), st.integers(0, 8)))
    end = draw(st.integers(min_value=start + 1, max_value=min(start + 40, 96)))
    return wall(start), wall(end)


@st.composite
def scenarios(draw):
    first_day = draw(st.sampled_from(FIRST_DAYS))
    days = [first_day + timedelta(days=offset) for offset in range(draw(st.integers(0, 6)) + 1)]
    origin = datetime.combine(first_day, time(0), tzinfo=UTC) - timedelta(days=1)

    def some_day():
        return st.sampled_from(days)

    maybe_day = st.sampled_from([*MOSTLY_NONE, *days])

    @st.composite
    def intervals(draw_interval, longest_minutes):
        start = origin + timedelta(minutes=5 * draw_interval(st.integers(0, (len(days) + 2) * 288)))
        return Interval(start, start + timedelta(minutes=5 * draw_interval(st.integers(1, longest_minutes // 5))))

    @st.composite
    def weekly_rules(draw_rule):
        location = draw_rule(st.sampled_from(LOCATIONS))
        start, end = draw_rule(wall_intervals())
        valid_from, valid_until = draw_rule(maybe_day), draw_rule(maybe_day)
        if valid_from and valid_until and valid_until < valid_from:
            valid_from, valid_until = valid_until, valid_from
        return WeeklyRule(
            weekday=draw_rule(st.sampled_from([day.weekday() for day in days]) | st.integers(0, 6)),
            start=start,
            end=end,
            tz=ZONE_OF_LOCATION[location],
            location_id=location,
            valid_from=valid_from,
            valid_until=valid_until,
            service_ids=draw_rule(st.sampled_from([*MOSTLY_NONE, frozenset({1}), frozenset({2}), frozenset({1, 2})])),
        )

    @st.composite
    def date_overrides(draw_override):
        location = draw_override(st.sampled_from(LOCATIONS))
        return DateOverride(
            day=draw_override(some_day()),
            intervals=tuple(draw_override(st.lists(wall_intervals(), max_size=2))),
            tz=ZONE_OF_LOCATION[location],
            location_id=location,
        )

    service = ServiceSpec(
        service_id=SERVICE_ID,
        duration=timedelta(minutes=draw(st.sampled_from([15, 30, 45, 50, 60, 90]))),
        buffer_before=timedelta(minutes=draw(st.sampled_from([0, 5, 10, 15, 30]))),
        buffer_after=timedelta(minutes=draw(st.sampled_from([0, 5, 10, 15, 30]))),
        min_notice=timedelta(minutes=draw(st.sampled_from([0, 0, 30, 120, 1440]) | st.integers(0, 4320))),
        horizon=timedelta(hours=draw(st.sampled_from([720, 720]) | st.integers(0, 240))),
    )
    step = timedelta(minutes=draw(st.sampled_from([10, 15, 20, 30, 60])))

    @st.composite
    def near_a_slot_edge(draw_interval, rules, duration, before, after):
        """An interval starting or ending at, or five minutes either side of, a would-be slot's edge.

        Uniformly placed intervals rarely land where touching versus overlapping decides; these do.
        """
        rule = draw_interval(st.sampled_from(rules))
        day = draw_interval(st.sampled_from([day for day in days if day.weekday() == rule.weekday] or days))
        opening = datetime.combine(day, rule.start, tzinfo=ZoneInfo(rule.tz)).astimezone(UTC)
        grid_point = opening + draw_interval(st.integers(0, 12)) * step
        nudge = timedelta(minutes=draw_interval(st.sampled_from([-5, 0, 0, 5])))
        length = timedelta(minutes=5 * draw_interval(st.integers(1, 36)))
        if draw_interval(st.booleans()):
            start = grid_point + duration + after + nudge
            return Interval(start, start + length)
        end = grid_point - before + nudge
        return Interval(end - length, end)

    @st.composite
    def professionals(draw_professional, professional_id):
        rules = draw_professional(st.lists(weekly_rules(), min_size=1, max_size=8))
        own_duration = draw_professional(st.sampled_from([*MOSTLY_NONE, timedelta(minutes=40), timedelta(minutes=75)]))
        duration = own_duration or service.duration
        edge_of_booking = near_a_slot_edge(rules, duration, service.buffer_before, service.buffer_after)
        edge_of_session = near_a_slot_edge(rules, duration, timedelta(0), timedelta(0))
        return ProfessionalAvailability(
            professional_id=professional_id,
            rules=tuple(rules),
            overrides=tuple(draw_professional(st.lists(date_overrides(), max_size=2))),
            time_off=tuple(
                draw_professional(st.lists(edge_of_session, max_size=3))
                + draw_professional(st.lists(intervals(3 * 24 * 60), max_size=1))
            ),
            busy=tuple(
                draw_professional(st.lists(edge_of_booking, max_size=8))
                + draw_professional(st.lists(intervals(180), max_size=6))
            ),
            closed_days=frozenset(
                draw_professional(st.lists(st.tuples(st.sampled_from(LOCATIONS), some_day()), max_size=2))
            ),
            duration=own_duration,
        )

    count = draw(st.integers(1, 3))
    team = [draw(professionals(professional_id)) for professional_id in range(1, count + 1)]
    return {
        "professionals": team,
        "service": service,
        "start_day": days[0],
        "end_day": days[-1],
        "now": origin + timedelta(minutes=draw(st.integers(0, 1440) | st.integers(0, (len(days) + 1) * 1440))),
        "step": step,
        "location_id": draw(st.sampled_from([ALL, ALL, ALL, *LOCATIONS])),
    }


def overlaps(start_a, end_a, start_b, end_b) -> bool:
    return start_a < end_b and start_b < end_a


# --- the naive reference: documented rules, brute force ---------------------------------------------------


@cache
def first_instant_showing(naive: datetime, tz: str) -> datetime:
    """Scan real instants every five minutes until the clock in ``tz`` shows ``naive`` or later.

    Exact here: wall times are quarter hours and these zones change clocks on whole hours.
    """
    zone = ZoneInfo(tz)
    instant = naive.replace(tzinfo=UTC) - timedelta(hours=3)  # no zone used here is more than UTC+2
    assert instant.astimezone(zone).replace(tzinfo=None) < naive
    while instant.astimezone(zone).replace(tzinfo=None) < naive:
        instant += timedelta(minutes=5)
    return instant


def reference_windows(professional, location, day) -> list[tuple[datetime, datetime]]:
    if (None, day) in professional.closed_days or (location, day) in professional.closed_days:
        return []
    overrides = [o for o in professional.overrides if o.location_id == location and o.day == day]
    if overrides:
        pieces = [(start, end, o.tz) for o in overrides for start, end in o.intervals]
    else:
        pieces = [
            (rule.start, rule.end, rule.tz)
            for rule in professional.rules
            if rule.location_id == location
            and rule.weekday == day.weekday()
            and (rule.valid_from is None or rule.valid_from <= day)
            and (rule.valid_until is None or day <= rule.valid_until)
            and (rule.service_ids is None or SERVICE_ID in rule.service_ids)
        ]
    windows = []
    for start, end, tz in pieces:
        end_day = day + timedelta(days=1) if end == time(0) else day
        opens = first_instant_showing(datetime.combine(day, start), tz)
        closes = first_instant_showing(datetime.combine(end_day, end), tz)
        if opens < closes:
            windows.append((opens, closes))
    merged: list[tuple[datetime, datetime]] = []
    for opens, closes in sorted(windows):
        if merged and opens <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], closes))
        else:
            merged.append((opens, closes))
    return merged


def days_of(scenario) -> list[date]:
    return [
        scenario["start_day"] + timedelta(days=offset)
        for offset in range((scenario["end_day"] - scenario["start_day"]).days + 1)
    ]


def wanted_locations(scenario) -> list[int | None]:
    return LOCATIONS if scenario["location_id"] is ALL else [scenario["location_id"]]


def reference_slots(scenario) -> set[tuple[datetime, datetime, int, int | None]]:
    service, step = scenario["service"], scenario["step"]
    earliest = scenario["now"] + service.min_notice
    expected = set()
    for professional in scenario["professionals"]:
        duration = professional.duration or service.duration
        for location in wanted_locations(scenario):
            # The horizon ends on the local calendar of the place (ServiceSpec.latest_start, tested on its own).
            latest = service.latest_start(scenario["now"], ZONE_OF_LOCATION[location])
            for day in days_of(scenario):
                for opens, closes in reference_windows(professional, location, day):
                    start = opens
                    while start + duration <= closes:
                        end = start + duration
                        blocked = (start - service.buffer_before, end + service.buffer_after)
                        if (
                            earliest <= start <= latest
                            and not any(overlaps(*blocked, busy.start, busy.end) for busy in professional.busy)
                            and not any(overlaps(start, end, off.start, off.end) for off in professional.time_off)
                        ):
                            expected.add((start, end, professional.professional_id, location))
                        start += step
    return expected


# --- properties ------------------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(scenarios())
def test_offered_slots_are_safe_sorted_and_complete(scenario):
    slots = available_slots(**scenario)
    service = scenario["service"]
    by_id = {professional.professional_id: professional for professional in scenario["professionals"]}

    assert slots == sorted(slots)
    assert len(set(slots)) == len(slots)
    for slot in slots:
        professional = by_id[slot.professional_id]
        assert slot.start.utcoffset() == timedelta(0)
        assert slot.end - slot.start == (professional.duration or service.duration)
        latest = service.latest_start(scenario["now"], ZONE_OF_LOCATION[slot.location_id])
        assert scenario["now"] + service.min_notice <= slot.start <= latest
        blocked_start, blocked_end = slot.start - service.buffer_before, slot.end + service.buffer_after
        assert not any(overlaps(blocked_start, blocked_end, busy.start, busy.end) for busy in professional.busy)
        assert not any(overlaps(slot.start, slot.end, off.start, off.end) for off in professional.time_off)
        assert scenario["location_id"] is ALL or slot.location_id == scenario["location_id"]
        assert any(
            opens <= slot.start and slot.end <= closes
            for day in days_of(scenario)
            for opens, closes in reference_windows(professional, slot.location_id, day)
        ), "session outside every opening window of its location"

    assert {(slot.start, slot.end, slot.professional_id, slot.location_id) for slot in slots} == reference_slots(
        scenario
    )


@PROPERTY_SETTINGS
@given(scenarios())
def test_next_available_is_each_professionals_first_slot(scenario):
    slots = available_slots(**scenario)
    expected = {professional.professional_id: None for professional in scenario["professionals"]}
    for slot in reversed(slots):
        expected[slot.professional_id] = slot.start
    assert next_available(**scenario) == expected


@settings(PROPERTY_SETTINGS, max_examples=50)  # presentation only: fewer examples suffice
@given(scenarios(), st.sampled_from(["Europe/Madrid", "America/New_York", "Asia/Tokyo"]))
def test_patient_time_zone_changes_presentation_only(scenario, tz):
    slots = available_slots(**scenario)
    shown = to_timezone(slots, tz)
    assert shown == slots
    assert all(slot.start.tzinfo == ZoneInfo(tz) for slot in shown)


@st.composite
def room_occupancies(draw, scenario):
    """Rooms for some physical locations: each room busy with bookings placed like the professionals' ones."""
    origin = datetime.combine(scenario["start_day"], time(0), tzinfo=UTC) - timedelta(days=1)
    length_in_days = (scenario["end_day"] - scenario["start_day"]).days + 3
    booking = st.builds(
        lambda start, minutes: Interval(
            origin + timedelta(minutes=5 * start), origin + timedelta(minutes=5 * (start + minutes))
        ),
        st.integers(0, length_in_days * 288),
        st.integers(1, 36),
    )
    occupancies = []
    for location in draw(st.sets(st.sampled_from([1, 2, 3]))):
        rooms = draw(st.integers(1, 3))
        busy = draw(st.lists(st.lists(booking, min_size=1, max_size=12), max_size=rooms))
        occupancies.append(RoomOccupancy(location, rooms=rooms, busy=tuple(tuple(room) for room in busy)))
    return occupancies


@PROPERTY_SETTINGS
@given(st.data())
def test_rooms_keep_exactly_the_slots_with_a_free_room(data):
    """With rooms, a slot stays offered exactly when some room of its location is free for its blocked interval."""
    scenario = data.draw(scenarios())
    rooms = data.draw(room_occupancies(scenario))
    service = scenario["service"]
    by_location = {occupancy.location_id: occupancy for occupancy in rooms}

    def has_a_free_room(slot) -> bool:
        occupancy = by_location.get(slot.location_id)
        if occupancy is None:
            return True
        blocked = (slot.start - service.buffer_before, slot.end + service.buffer_after)
        busy_rooms = [room for room in occupancy.busy if any(overlaps(*blocked, b.start, b.end) for b in room)]
        return len(busy_rooms) < occupancy.rooms

    with_rooms = available_slots(**scenario, rooms=rooms)

    assert with_rooms == [slot for slot in available_slots(**scenario) if has_a_free_room(slot)]
    expected_first = {professional.professional_id: None for professional in scenario["professionals"]}
    for slot in reversed(with_rooms):
        expected_first[slot.professional_id] = slot.start
    assert next_available(**scenario, rooms=rooms) == expected_first
