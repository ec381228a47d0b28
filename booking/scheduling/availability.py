"""The availability engine: which appointment slots can be offered, as a pure function over plain data.

Why a pure function: the rules that decide whether a patient may book 10:30 on Tuesday (weekly hours, date
overrides, holidays, time off, existing bookings with their buffers, minimum notice, booking horizon, daylight
saving time) are the riskiest logic of the booking system. Keeping them free of the ORM lets the tests state each
rule as a table of plain values and let hypothesis hunt for counter-examples, and lets the benchmark measure the
algorithm rather than the database. A selector loads the data into these structures in a constant number of
queries and calls :func:`available_slots` or :func:`next_available`.

Time model
----------
* Weekly rules and date overrides are **wall-clock** times in the time zone of the location they belong to
  (online rules carry the professional's time zone), so a 09:00 start stays 09:00 local when Chile changes its
  clocks; the UTC instant moves instead.
* A wall-clock window opens the first instant the clock shows its start time and closes the first instant the
  clock shows its end time. Two consequences, both on purpose:

  - a time that never shows (America/Santiago skips Sunday 00:00-00:59 when DST starts in September) is read
    as the moment the clock jumps, so a window 00:00-02:00 that night holds one real hour (01:00-02:00) and a
    window 00:00-00:45 holds none; no slot is ever placed at a nonexistent time;
  - a time that shows twice (Saturday 23:00-23:59 repeats when DST ends in April) is read as its first
    occurrence, so a window running through that hour (e.g. 20:00-24:00) holds both real occurrences of it,
    each once, and a window ending inside it closes at the first occurrence.
* An end time of 00:00 means midnight at the end of the day (24:00), so a rule can run until midnight.
* Slots start at the opening of a window and follow each other every ``step`` of absolute time. Windows of one
  professional, location and local day that overlap or touch are merged first (no duplicate slots); the grid of
  a merged window starts at its earliest opening.
* Every other instant (busy time, time off, ``now``, the returned slots) is an aware datetime; returned slots
  are in UTC. :func:`to_timezone` presents them in the patient's time zone (online sessions).
* Intervals are half-open: touching is not overlapping.
"""

from __future__ import annotations

import enum
import math
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache, total_ordering
from typing import Final, Literal
from zoneinfo import ZoneInfo

__all__ = [
    "ALL",
    "BookedSession",
    "DateOverride",
    "Interval",
    "LocationFilter",
    "ProfessionalAvailability",
    "RoomOccupancy",
    "ServiceSpec",
    "Slot",
    "Span",
    "WeeklyRule",
    "available_slots",
    "blocked_interval",
    "epoch_us",
    "iso_in_zone",
    "local_instant",
    "next_available",
    "to_timezone",
    "within_hours",
]

MIDNIGHT: Final = time(0)


class _AllLocations(enum.Enum):
    """A typed sentinel: ``None`` already means "online", so "no location filter" needs its own value."""

    ALL = "all"


ALL: Final = _AllLocations.ALL
LocationFilter = int | None | Literal[_AllLocations.ALL]


def _check_wall_interval(start: time, end: time) -> None:
    if start.tzinfo is not None or end.tzinfo is not None:
        raise ValueError("Wall-clock times must be naive; the time zone is given separately.")
    if end != MIDNIGHT and end <= start:
        raise ValueError(f"A wall-clock interval must end after it starts (got {start}-{end}).")


def _check_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {moment!r}.")


@dataclass(frozen=True, slots=True)
class WeeklyRule:
    """A professional's recurring hours on one weekday, at one location (``None`` = online).

    ``start``/``end`` are naive wall-clock times in ``tz`` (``end`` 00:00 = midnight at the end of the day).
    ``valid_from``/``valid_until`` are inclusive local dates, so a schedule change can be entered in advance.
    ``service_ids`` restricts the hours to some services (``None`` = every service the professional offers),
    e.g. couple therapy only on Saturday mornings.
    """

    weekday: int  # 0 = Monday ... 6 = Sunday, as date.weekday()
    start: time
    end: time
    tz: str
    location_id: int | None  # None = online
    valid_from: date | None = None
    valid_until: date | None = None
    service_ids: frozenset[int] | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {self.weekday}.")
        _check_wall_interval(self.start, self.end)
        ZoneInfo(self.tz)  # an unknown zone fails here, where the bad row is easy to find
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from.")

    def applies_on(self, day: date, service_id: int) -> bool:
        """Whether these hours count on ``day`` (a local date) for ``service_id``."""
        return (
            day.weekday() == self.weekday
            and (self.valid_from is None or self.valid_from <= day)
            and (self.valid_until is None or day <= self.valid_until)
            and (self.service_ids is None or service_id in self.service_ids)
        )


@dataclass(frozen=True, slots=True)
class DateOverride:
    """Special hours on one local date at one location (``None`` = online).

    On that date and location the override's intervals REPLACE the weekly rules; no intervals means closed.
    Several overrides for the same date and location add up.
    """

    day: date
    intervals: tuple[tuple[time, time], ...]
    tz: str
    location_id: int | None

    def __post_init__(self) -> None:
        for start, end in self.intervals:
            _check_wall_interval(start, end)
        ZoneInfo(self.tz)


@dataclass(frozen=True, slots=True)
class Interval:
    """A half-open span of absolute time ``[start, end)`` between aware datetimes (normally UTC).

    Used for busy time (existing bookings, already including their buffers) and for time off.
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        _check_aware(self.start, "Interval.start")
        _check_aware(self.end, "Interval.end")
        if self.end <= self.start:
            raise ValueError(f"An interval must end after it starts (got {self.start} - {self.end}).")

    def overlaps(self, other: Interval) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """What the engine needs to know about the service being booked.

    The buffers are time the professional needs before and after a session (preparing the room, notes); they
    must be free of other bookings but may fall outside working hours.

    ``min_notice`` is absolute time from ``now`` to the slot's start: 24 hours' notice is 24 real hours, whatever
    the clocks do in between. ``horizon`` is counted on the local calendar of the place the session happens
    (see :meth:`latest_start`): "up to 7 days ahead" reaches the same wall-clock time next week even when the
    clocks go back or forward in between, where 7 x 24 absolute hours would end an hour early or late.

    ``in_person`` and ``online`` say which modalities the service has. A professional's hours belong to a place
    (a location, or online), not to a service, so the engine itself drops the hours of a modality the service
    lacks: an in-person-only service never gets a slot from the professional's online hours, whoever asks.
    """

    service_id: int
    duration: timedelta
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)
    min_notice: timedelta = timedelta(0)
    horizon: timedelta = timedelta(days=60)
    in_person: bool = True
    online: bool = True

    def __post_init__(self) -> None:
        if self.duration <= timedelta(0):
            raise ValueError("A service must last some time.")
        if min(self.buffer_before, self.buffer_after, self.min_notice, self.horizon) < timedelta(0):
            raise ValueError("Buffers, minimum notice and horizon cannot be negative.")
        if not (self.in_person or self.online):
            raise ValueError("A service must be offered in person, online or both.")

    def latest_start(self, now: datetime, tz: str) -> datetime:
        """The last instant (UTC) a session in zone ``tz`` may start: the horizon's end on that local calendar.

        The clock in ``tz`` shows ``now``'s local time moved on by ``horizon``: a session may start at any
        instant the clock shows that time or earlier. When that time shows twice (the clocks went back), both
        showings count; when it never shows (the clocks jumped over it), the horizon ends just before the jump.
        """
        _check_aware(now, "now")
        return _from_us(_latest_start_us(now, self.horizon, tz))


# Busy time may also be given as ``(start, end)`` in integer microseconds since 1970-01-01 UTC (see ``epoch_us``):
# the selector loads thousands of bookings that way, without building a datetime or an Interval for each.
Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class ProfessionalAvailability:
    """Everything the engine needs about one professional, as plain data.

    ``closed_days`` holds ``(location_id, local date)`` pairs closed for holidays; a pair with location ``None``
    closes that date everywhere, online included (a national holiday), so an online-only closure is entered as
    time off or as an empty date override instead. A closed day stays closed even if an override gives hours.
    ``duration`` is the professional's own session length for this service when it differs from the service's.
    ``busy`` holds Intervals or :data:`Span` pairs (empty spans are ignored).
    """

    professional_id: int
    rules: tuple[WeeklyRule, ...] = ()
    overrides: tuple[DateOverride, ...] = ()
    time_off: tuple[Interval, ...] = ()
    busy: tuple[Interval | Span, ...] = ()
    closed_days: frozenset[tuple[int | None, date]] = frozenset()
    duration: timedelta | None = None

    def __post_init__(self) -> None:
        if self.duration is not None and self.duration <= timedelta(0):
            raise ValueError("A session must last some time.")


@dataclass(frozen=True, slots=True)
class RoomOccupancy:
    """The rooms of one location: an in-person session there needs one room free for its whole blocked interval.

    ``rooms`` is how many rooms the location can give out; ``busy`` holds, for each room that has bookings, that
    room's busy time (Intervals or :data:`Span` pairs). A room without bookings is free whenever a professional is.
    A location the engine is given no occupancy for, or one with 0 rooms, has no room limit (nor do online sessions).
    """

    location_id: int
    rooms: int
    busy: tuple[tuple[Interval | Span, ...], ...] = ()

    def __post_init__(self) -> None:
        if self.rooms < 0:
            raise ValueError("A location cannot have a negative number of rooms.")
        if len(self.busy) > self.rooms:
            raise ValueError(f"{len(self.busy)} busy rooms given for a location with {self.rooms} rooms.")


@dataclass(frozen=True, slots=True)
class BookedSession:
    """A session already booked, as :func:`within_hours` needs it: ``[start, end)`` (aware), where, which service."""

    start: datetime
    end: datetime
    location_id: int | None  # None = online
    service_id: int

    def __post_init__(self) -> None:
        _check_aware(self.start, "BookedSession.start")
        _check_aware(self.end, "BookedSession.end")


@total_ordering
@dataclass(frozen=True, slots=True)
class Slot:
    """A bookable session: ``[start, end)`` in UTC, with whom and where (``location_id`` ``None`` = online).

    Slots sort by start, then professional, then location (online first).
    """

    start: datetime
    end: datetime
    professional_id: int
    location_id: int | None

    def sort_key(self) -> tuple[datetime, int, int, datetime]:
        return (self.start, self.professional_id, -1 if self.location_id is None else self.location_id, self.end)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Slot):
            return NotImplemented
        return self.sort_key() < other.sort_key()


def blocked_interval(start: datetime, service: ServiceSpec, duration: timedelta | None = None) -> Interval:
    """The interval a booking starting at ``start`` keeps busy: the session plus the service's buffers.

    This is what a booking stores (and what the no-overlap constraint compares), so the engine and the booking
    service agree on what "busy" means.
    """
    end = start + (duration or service.duration)
    return Interval(start - service.buffer_before, end + service.buffer_after)


def to_timezone(slots: Iterable[Slot], tz: str) -> list[Slot]:
    """The same slots with start and end expressed in ``tz``, e.g. a patient in Europe/Madrid booking online.

    Only the presentation changes: the instants, equality and order are those of the UTC slots.
    Raises ``zoneinfo.ZoneInfoNotFoundError`` for an unknown zone name.
    """
    zone = ZoneInfo(tz)
    local: dict[datetime, datetime] = {}  # slots share their instants (grid, professionals): convert each once

    def convert(instant: datetime) -> datetime:
        converted = local.get(instant)
        if converted is None:
            converted = local[instant] = instant.astimezone(zone)
        return converted

    return [Slot(convert(slot.start), convert(slot.end), slot.professional_id, slot.location_id) for slot in slots]


def iso_in_zone(tz: str) -> Callable[[datetime], str]:
    """A function giving an instant's ISO-8601 text in ``tz``, each distinct instant converted and formatted once.

    For answers listing thousands of slots on a shared grid (the availability API), where building a Slot per slot
    in the patient's zone (``to_timezone``) and formatting it costs more than finding the slots.
    """
    zone = ZoneInfo(tz)
    texts: dict[datetime, str] = {}

    def text(instant: datetime) -> str:
        found = texts.get(instant)
        if found is None:
            found = texts[instant] = instant.astimezone(zone).isoformat()
        return found

    return text


def local_instant(day: date, wall_time: time, tz: str) -> datetime:
    """The first instant (UTC) a clock in ``tz`` shows ``wall_time`` on ``day``, or a later time.

    The engine's reading of a wall-clock time (see the module's docstring): a time skipped by a DST jump (00:30 on
    the Sunday Santiago's clocks go forward) is the instant of the jump, a repeated time its first showing. For
    turning what a person types ("from 6 September, 00:00") into an instant the engine agrees with.
    """
    return _first_instant_showing(datetime.combine(day, wall_time), ZoneInfo(tz))


# --- internals: absolute time as integer microseconds, so the inner loops add and compare ints -------------

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


def _us(value: datetime | timedelta) -> int:
    if isinstance(value, datetime):
        return (value - _EPOCH) // _MICROSECOND
    return value // _MICROSECOND


def epoch_us(moment: datetime) -> int:
    """An aware datetime as integer microseconds since 1970-01-01 UTC: the unit of a :data:`Span`."""
    _check_aware(moment, "moment")
    return _us(moment)


def _from_us(microseconds: int) -> datetime:
    return _EPOCH + timedelta(microseconds=microseconds)


def _first_instant_showing(naive: datetime, zone: ZoneInfo) -> datetime:
    """The first real instant at which a clock in ``zone`` shows ``naive`` or a later time.

    For an ordinary time that is its only instant; for a repeated time its first occurrence (``fold=0``); for
    a time skipped by a DST jump, the instant of the jump.
    """
    first = naive.replace(tzinfo=zone).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first
    # In a gap zoneinfo maps fold=0 with the offset before the jump (a later instant) and fold=1 with the offset
    # after it (an earlier one); the jump lies between. Transitions fall on whole seconds: bisect on seconds.
    candidates = (first, naive.replace(tzinfo=zone, fold=1).astimezone(UTC))
    low, high = math.floor(min(candidates).timestamp()), math.ceil(max(candidates).timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


@lru_cache(maxsize=16384)
def _wall_window_us(day: date, start: time, end: time, tz: str) -> tuple[int, int]:
    """A wall-clock window on a local day as absolute microseconds (cached: professionals share their hours)."""
    zone = ZoneInfo(tz)
    opens = _first_instant_showing(datetime.combine(day, start), zone)
    end_day = day + timedelta(days=1) if end == MIDNIGHT else day
    closes = _first_instant_showing(datetime.combine(end_day, end), zone)
    return _us(opens), _us(closes)


@lru_cache(maxsize=64)
def _latest_start_us(now: datetime, horizon: timedelta, tz: str) -> int:
    """The horizon's end in zone ``tz`` as absolute microseconds (one value per zone and search: cached)."""
    zone = ZoneInfo(tz)
    target = now.astimezone(zone).replace(tzinfo=None) + horizon
    last_showing = target.replace(tzinfo=zone, fold=1).astimezone(UTC)  # the second showing of a repeated time
    if last_showing.astimezone(zone).replace(tzinfo=None) == target:
        return _us(last_showing)
    return _us(_first_instant_showing(target, zone)) - 1  # a skipped time: the last instant before the jump


def _merged(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, disjoint spans covering the same time (overlapping and touching spans joined)."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


class _Timeline:
    """Busy time as sorted, disjoint spans, so "does [a, b) overlap any?" is one bisection.

    Spans are disjoint and sorted, so the last one starting before ``b`` also ends last among those that
    start before ``b``: [a, b) overlaps something exactly when that span ends after ``a``.
    """

    __slots__ = ("ends", "starts")

    def __init__(self, intervals: Iterable[Interval | Span]) -> None:
        spans = _merged(
            (_us(interval.start), _us(interval.end)) if isinstance(interval, Interval) else interval
            for interval in intervals
        )
        self.starts = [start for start, _ in spans]
        self.ends = [end for _, end in spans]

    def __bool__(self) -> bool:
        return bool(self.starts)

    def end_of_overlap(self, start: int, end: int) -> int | None:
        """When the busy time overlapping ``[start, end)`` ends, or None when nothing overlaps it."""
        index = bisect_left(self.starts, end) - 1
        if index >= 0 and self.ends[index] > start:
            return self.ends[index]
        return None


def _room_limits(rooms: Iterable[RoomOccupancy]) -> dict[int, list[_Timeline]]:
    """Per location whose every room has bookings, the rooms' busy timelines; other locations need no check."""
    limits: dict[int, list[_Timeline]] = {}
    for occupancy in rooms:
        timelines = [timeline for timeline in map(_Timeline, occupancy.busy) if timeline]
        if occupancy.rooms and len(timelines) >= occupancy.rooms:
            limits[occupancy.location_id] = timelines
    return limits


def _room_free_from(rooms: list[_Timeline], start: int, end: int) -> int | None:
    """None when some room is free for all of ``[start, end)``; else the first instant one of them frees up.

    Each room stays busy for any interval starting before its overlapping booking ends, so no start before the
    earliest of those ends can find a room.
    """
    earliest = None
    for room in rooms:
        busy_until = room.end_of_overlap(start, end)
        if busy_until is None:
            return None
        if earliest is None or busy_until < earliest:
            earliest = busy_until
    return earliest


@dataclass(frozen=True, slots=True)
class _Search:
    service_id: int
    duration: int
    buffer_before: int
    buffer_after: int
    step: int
    earliest: int
    latest: int  # an absolute bound on every zone's horizon end, for choosing the days to look at
    now: datetime
    horizon: timedelta
    location: LocationFilter
    in_person: bool
    online: bool

    def wants(self, location_id: int | None) -> bool:
        """Whether hours at ``location_id`` (``None`` = online) count: the service's modality and the filter."""
        if not (self.online if location_id is None else self.in_person):
            return False
        return self.location is ALL or location_id == self.location

    def latest_in(self, tz: str) -> int:
        """The last start the horizon allows for hours in zone ``tz`` (see :meth:`ServiceSpec.latest_start`)."""
        return _latest_start_us(self.now, self.horizon, tz)


class _PreparedProfessional:
    """One professional's data indexed for the day-by-day search (built once per call)."""

    __slots__ = (
        "busy",
        "closed_days",
        "duration",
        "locations",
        "overrides",
        "professional_id",
        "rules",
        "time_off",
        "zones",
    )

    def __init__(self, professional: ProfessionalAvailability, search: _Search) -> None:
        wanted = search.wants
        self.professional_id = professional.professional_id
        self.duration = _us(professional.duration) if professional.duration else search.duration
        self.rules: dict[tuple[int, int | None], list[WeeklyRule]] = defaultdict(list)
        for rule in professional.rules:
            if wanted(rule.location_id) and (rule.service_ids is None or search.service_id in rule.service_ids):
                self.rules[rule.weekday, rule.location_id].append(rule)
        self.overrides: dict[tuple[int | None, date], list[tuple[time, time, str]]] = defaultdict(list)
        for override in professional.overrides:
            if wanted(override.location_id):
                pieces = self.overrides[override.location_id, override.day]
                pieces.extend((start, end, override.tz) for start, end in override.intervals)
        self.locations = {location for _, location in self.rules} | {location for location, _ in self.overrides}
        # The zone whose calendar counts the horizon at each place (one zone per place in consistent data).
        self.zones: dict[int | None, str] = {rule.location_id: rule.tz for rule in professional.rules}
        self.zones.update((override.location_id, override.tz) for override in professional.overrides)
        self.closed_days = professional.closed_days
        self.busy = _Timeline(professional.busy)
        self.time_off = _Timeline(professional.time_off)

    def windows(self, day: date, location_id: int | None, service_id: int) -> list[tuple[int, int]]:
        """The merged absolute windows of one location on one local day."""
        if (None, day) in self.closed_days or (location_id, day) in self.closed_days:
            return []
        override = self.overrides.get((location_id, day))
        if override is not None:
            pieces = override
        else:
            pieces = [
                (rule.start, rule.end, rule.tz)
                for rule in self.rules.get((day.weekday(), location_id), ())
                if rule.applies_on(day, service_id)
            ]
        if len(pieces) == 1:
            start, end, tz = pieces[0]
            window = _wall_window_us(day, start, end, tz)
            return [window] if window[0] < window[1] else []
        return _merged(_wall_window_us(day, start, end, tz) for start, end, tz in pieces)

    def starts_in(
        self, window_start: int, window_end: int, search: _Search, latest: int, rooms: list[_Timeline] | None = None
    ) -> Iterator[int]:
        """Grid starts inside one window, up to ``latest``, whose session and buffers are free, in increasing order.

        When a candidate collides, the walk jumps straight to the first grid point past the obstacle, so a
        long busy stretch costs one bisection rather than one per grid point. ``rooms`` (the location's room
        timelines when every room has bookings) also needs one room free for the session and its buffers.
        (The hot loop of the engine: plain ints and local names on purpose.)
        """
        duration, step = self.duration, search.step
        before, after = search.buffer_before, search.buffer_after
        busy_starts, busy_ends = self.busy.starts, self.busy.ends
        off_starts, off_ends = self.time_off.starts, self.time_off.ends
        candidate = window_start
        if candidate < search.earliest:
            candidate += -((window_start - search.earliest) // step) * step
        last = min(window_end - duration, latest)
        while candidate <= last:
            # The last busy span starting before the blocked interval ends is the only one that can overlap it.
            index = bisect_left(busy_starts, candidate + duration + after) - 1
            if index >= 0 and busy_ends[index] > candidate - before:
                candidate += -((candidate - before - busy_ends[index]) // step) * step
                continue
            if off_starts:
                index = bisect_left(off_starts, candidate + duration) - 1
                if index >= 0 and off_ends[index] > candidate:
                    candidate += -((candidate - off_ends[index]) // step) * step
                    continue
            if rooms is not None:
                room_free_at = _room_free_from(rooms, candidate - before, candidate + duration + after)
                if room_free_at is not None:
                    candidate += -((candidate - before - room_free_at) // step) * step
                    continue
            yield candidate
            candidate += step


def _search_for(service: ServiceSpec, now: datetime, step: timedelta, location_id: LocationFilter) -> _Search:
    _check_aware(now, "now")
    if step <= timedelta(0):
        raise ValueError("The slot step must be positive.")
    now = now.astimezone(UTC)  # aware arithmetic in a local zone would add wall-clock time, not real time
    return _Search(
        service_id=service.service_id,
        duration=_us(service.duration),
        buffer_before=_us(service.buffer_before),
        buffer_after=_us(service.buffer_after),
        step=_us(step),
        earliest=_us(now + service.min_notice),
        latest=_us(now + service.horizon),
        now=now,
        horizon=service.horizon,
        location=location_id,
        in_person=service.in_person,
        online=service.online,
    )


def _days(start_day: date, end_day: date, search: _Search) -> list[date]:
    """The local days worth looking at: the requested range cut to what notice and horizon allow.

    A window of local day ``d`` lies between ``d 00:00 UTC - 14 h`` and ``d + 1 00:00 UTC + 12 h`` whatever the
    zone (it may run until local midnight), hence the margins of one and two days. The horizon ends at a local
    time whose date is at most ``(now + horizon)`` in UTC plus one day (no zone is more than 14 h ahead of UTC).
    """
    first = max(start_day, _from_us(search.earliest).date() - timedelta(days=2))
    last = min(end_day, _from_us(search.latest).date() + timedelta(days=1))
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def available_slots(
    *,
    professionals: Iterable[ProfessionalAvailability],
    service: ServiceSpec,
    start_day: date,
    end_day: date,
    now: datetime,
    step: timedelta = timedelta(minutes=30),
    location_id: LocationFilter = ALL,
    rooms: Iterable[RoomOccupancy] = (),
) -> list[Slot]:
    """Every slot of ``service`` the given professionals can offer on local days ``start_day``..``end_day``.

    Pass several professionals for an "any professional" search: each slot names its professional.
    ``location_id`` keeps one location (``None`` = online only); :data:`ALL` keeps every location. Hours of a
    modality the service does not have (online hours for an in-person-only service, a location's hours for an
    online-only one) never give a slot, whatever the filter.
    The days are local dates in the time zone of each rule. A slot is offered when the session lies inside
    an opening window of its day (weekly rules valid that day and allowed for the service, or the date's
    override), the day is not closed, the session plus the service's buffers overlaps no busy interval, the
    session overlaps no time off, ``now + min_notice <= start <= service.latest_start(now, tz)`` (notice in
    absolute time, horizon on the local calendar of the hours' zone ``tz``), and, at a location given in
    ``rooms``, one of its rooms is free for the session plus buffers (see :class:`RoomOccupancy`).
    Returns the slots sorted (see :class:`Slot`), without duplicates.
    """
    search = _search_for(service, now, step, location_id)
    days = _days(start_day, end_day, search)
    room_limits = _room_limits(rooms)
    found: list[tuple[int, int, int, int, int | None]] = []
    for professional in professionals:
        prepared = _PreparedProfessional(professional, search)
        professional_id, duration = prepared.professional_id, prepared.duration
        for day in days:
            for location in prepared.locations:
                location_key = -1 if location is None else location
                location_rooms = room_limits.get(location)
                latest = search.latest_in(prepared.zones[location])
                for window_start, window_end in prepared.windows(day, location, search.service_id):
                    found.extend(
                        (start, professional_id, location_key, start + duration, location)
                        for start in prepared.starts_in(window_start, window_end, search, latest, location_rooms)
                    )
    # Rows sort like Slot.sort_key (equal location keys imply equal locations, so None is never compared to an
    # int); equal neighbours only arise from inconsistent input, such as one location under two time zones.
    found.sort()
    instants: dict[int, datetime] = {}  # professionals share the grid: build each datetime once
    slots: list[Slot] = []
    previous = None
    for row in found:
        if row != previous:
            start, professional_id, _, end, location = row
            if start not in instants:
                instants[start] = _from_us(start)
            if end not in instants:
                instants[end] = _from_us(end)
            slots.append(Slot(instants[start], instants[end], professional_id, location))
            previous = row
    return slots


def next_available(
    *,
    professionals: Iterable[ProfessionalAvailability],
    service: ServiceSpec,
    start_day: date,
    end_day: date,
    now: datetime,
    step: timedelta = timedelta(minutes=30),
    location_id: LocationFilter = ALL,
    rooms: Iterable[RoomOccupancy] = (),
) -> dict[int, datetime | None]:
    """The earliest slot start (UTC) per professional in the range, or None when they have nothing free.

    Same rules as :func:`available_slots`, for profile pages and listings. Each professional's search stops
    as soon as no later local day can hold an earlier slot.
    """
    search = _search_for(service, now, step, location_id)
    days = _days(start_day, end_day, search)
    room_limits = _room_limits(rooms)
    result: dict[int, datetime | None] = {}
    for professional in professionals:
        prepared = _PreparedProfessional(professional, search)
        best: int | None = None
        for day in days:
            # Local day d starts no earlier than d 00:00 UTC - 14 h, so from d - 1 00:00 UTC on nothing can win.
            if best is not None and _us(datetime.combine(day - timedelta(days=1), MIDNIGHT, UTC)) > best:
                break
            for location in prepared.locations:
                latest, rooms_there = search.latest_in(prepared.zones[location]), room_limits.get(location)
                for window_start, window_end in prepared.windows(day, location, search.service_id):
                    if best is not None and window_start >= best:
                        continue
                    start = next(prepared.starts_in(window_start, window_end, search, latest, rooms_there), None)
                    if start is not None and (best is None or start < best):
                        best = start
        result[professional.professional_id] = None if best is None else _from_us(best)
    return result


def within_hours(
    professional: ProfessionalAvailability, sessions: Iterable[BookedSession], *, default_tz: str
) -> list[bool]:
    """For each session, whether it lies inside the professional's opening hours.

    Inside means: within one merged window of its local day (the weekly rules valid that day and allowed for its
    service, or that date's override, on a day not closed), overlapping no time off. The windows and time off are
    the very ones :func:`available_slots` offers slots from, so "a booked session no longer fits" means what the
    booking box would say. Busy time, notice, horizon, grid and rooms are not looked at: the sessions are booked
    already. ``default_tz`` is the zone of a place the professional has no hours at (a session there never fits).
    Used to find the sessions a change of the hours would strand (``booking.scheduling.availability_services``).
    """
    prepared: dict[int, _PreparedProfessional] = {}
    answers = []
    for session in sessions:
        own = prepared.get(session.service_id)
        if own is None:
            spec = ServiceSpec(service_id=session.service_id, duration=timedelta(minutes=1))
            search = _search_for(spec, session.start, timedelta(minutes=1), ALL)
            own = prepared[session.service_id] = _PreparedProfessional(professional, search)
        start, end = _us(session.start), _us(session.end)
        zone = ZoneInfo(own.zones.get(session.location_id, default_tz))
        local_day = session.start.astimezone(zone).date()
        # A window of the day before can reach into this one only through a DST jump at midnight: look at both.
        inside = any(
            window_start <= start and end <= window_end
            for day in (local_day - timedelta(days=1), local_day)
            for window_start, window_end in own.windows(day, session.location_id, session.service_id)
        )
        answers.append(inside and own.time_off.end_of_overlap(start, end) is None)
    return answers
