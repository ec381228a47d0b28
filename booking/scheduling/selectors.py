"""Reads for scheduling: load the availability engine's plain data from the database in a constant number of queries.

``load_availability`` runs at most six queries whatever the number of professionals (catalog rows, weekly
hours with their locations' room counts, their service restrictions, date overrides, time off, busy appointments
of the professionals and of the rooms they may need); holidays come from the ``holidays`` package, not the database.

Speed: busy time is the bulk of the data (thousands of bookings), so it is read as integer microseconds computed
by the database (``EpochMicroseconds``) and handed to the engine as plain ``(start, end)`` pairs: no datetime
parsing, time zone handling or object per booking in Python.

Rooms: an in-person session at a location with active rooms takes one of them (``services._assign_room``), so the
engine gets each such location's room count and the busy time of its rooms (``RoomOccupancy``) and offers a slot
there only while a room is free.

Holidays: every Chilean public holiday (``holidays.CL``) closes every physical location that observes public
holidays (``Location.observes_public_holidays``, on by default; staff can switch it off for a location that opens on
holidays). Online hours stay open (a professional who does not work online on holidays enters time off).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import NamedTuple

import holidays
from django.conf import settings
from django.db import NotSupportedError, connection
from django.db.models import BigIntegerField, Func, IntegerField, Value

from .availability import (
    ALL,
    DateOverride,
    Interval,
    LocationFilter,
    ProfessionalAvailability,
    RoomOccupancy,
    ServiceSpec,
    Slot,
    Span,
    WeeklyRule,
    available_slots,
    next_available,
)
from .models import (
    Appointment,
    Location,
    Professional,
    ProfessionalService,
    Room,
    Service,
    TimeOff,
    WeeklyAvailability,
)
from .models import DateOverride as DateOverrideRow
from .models.appointments import BLOCKING_STATUSES, AppointmentStatus

DEFAULT_STEP = timedelta(minutes=30)


class EpochMicroseconds(Func):
    """A datetime column as integer microseconds since 1970-01-01 UTC, computed by the database.

    SQLite keeps aware datetimes as UTC text ``YYYY-MM-DD HH:MM:SS[.ffffff]``: whole seconds since the epoch plus
    the six fraction digits. PostgreSQL's ``EXTRACT(EPOCH ...)`` is exact (numeric) since version 14.
    """

    output_field = BigIntegerField()
    arity = 1

    def get_db_converters(self, connection):
        return []  # both databases return an integer already: no Python call per row

    def as_sql(self, compiler, connection, **extra_context):
        raise NotSupportedError(f"EpochMicroseconds is not implemented for {connection.vendor}.")

    def as_sqlite(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.source_expressions[0])
        return _epoch_us_sql(connection, column), (*params, *params)

    def as_postgresql(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.source_expressions[0])
        return _epoch_us_sql(connection, column), params


def _epoch_us_sql(connection, column: str) -> str:
    """SQL giving ``column`` (an aware datetime column) as integer microseconds since the epoch (see above)."""
    if connection.vendor == "sqlite":
        # The whole seconds come from the first 19 characters only: SQLite's date functions round a fraction to
        # milliseconds, so 12:59:59.999999 would become 13:00:00. unixepoch() (SQLite 3.38+) is about twice as fast
        # as strftime('%s'), which older versions need.
        whole_seconds = f"substr({column}, 1, 19)"
        if connection.Database.sqlite_version_info >= (3, 38):
            seconds = f"unixepoch({whole_seconds})"
        else:
            seconds = f"CAST(strftime('%%s', {whole_seconds}) AS INTEGER)"
        return f"({seconds} * 1000000 + CAST(substr({column}, 21, 6) AS INTEGER))"
    if connection.vendor == "postgresql":
        return f"(EXTRACT(EPOCH FROM {column}) * 1000000)::bigint"
    raise NotSupportedError(f"EpochMicroseconds is not implemented for {connection.vendor}.")


class IntegerConstant(Value):
    """An integer constant handed back as the database returns it (no converter call per row)."""

    def __init__(self, value: int):
        super().__init__(value, output_field=IntegerField())

    def get_db_converters(self, connection):
        return []


class LoadedAvailability(NamedTuple):
    """What the engine needs for one search: the service, each professional's data, the rooms of their locations."""

    spec: ServiceSpec
    professionals: list[ProfessionalAvailability]
    rooms: list[RoomOccupancy]


def service_spec(service: Service) -> ServiceSpec:
    return ServiceSpec(
        service_id=service.pk,
        duration=service.duration,
        buffer_before=timedelta(minutes=service.buffer_before_minutes),
        buffer_after=timedelta(minutes=service.buffer_after_minutes),
        min_notice=timedelta(minutes=service.min_notice_minutes),
        horizon=timedelta(days=service.booking_horizon_days),
        in_person=service.offers_in_person,
        online=service.offers_online,
    )


def location_filter(location: Location | int | None | object) -> LocationFilter:
    """A Location, its id, ``None`` (online) or ``ALL`` as the engine's location filter."""
    if isinstance(location, Location):
        return location.pk
    return location  # type: ignore[return-value]


def _professional_ids(professionals: Iterable[Professional | int] | None) -> list[int] | None:
    if professionals is None:
        return None
    return [p.pk if isinstance(p, Professional) else int(p) for p in professionals]


@lru_cache(maxsize=32)
def _chilean_holidays_of(first_year: int, last_year: int) -> tuple[date, ...]:
    """Building the calendar costs about a millisecond; the law changes with a release of ``holidays``, not daily."""
    return tuple(sorted(holidays.CL(years=range(first_year, last_year + 1))))


def _chilean_holidays(start_day: date, end_day: date) -> list[date]:
    return [day for day in _chilean_holidays_of(start_day.year, end_day.year) if start_day <= day <= end_day]


# --- raw SQL behind the selector ------------------------------------------------------------------------------
#
# Why raw SQL: for a small search (one professional, one day: what every booking checks inside its lock) building
# and compiling the ORM querysets cost about forty times as much as running them. The statements below are plain
# SQL text written once per shape (vendor, number of ids, options) and cached; a call only executes them. Table and
# column names come from the models' metadata, values are always bound parameters, and dates, times and datetimes
# are handed over as the backend stores them (``connection.ops.adapt_*``) and read back with ``_date``/``_time``
# (SQLite returns text). The ORM versions they replace are in the git history; tests/booking/scheduling covers
# both backends.


def _q(connection, model, field: str | None = None) -> str:
    """A quoted table name, or a quoted ``table.column`` of ``field``."""
    table = connection.ops.quote_name(model._meta.db_table)
    if field is None:
        return table
    return f"{table}.{connection.ops.quote_name(model._meta.get_field(field).column)}"


def _placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def _room_count_sql(connection, location_column: str) -> str:
    """A scalar subquery: how many active rooms the location of ``location_column`` has (0 online or none)."""
    room = _q(connection, Room)
    return (
        f"(SELECT COUNT(*) FROM {room} WHERE {_q(connection, Room, 'active')} "
        f"AND {_q(connection, Room, 'location')} = {location_column})"
    )


@lru_cache(maxsize=256)
def _offers_sql(vendor: str, ids: int | None) -> str:
    """Active professionals offering the service, with their own duration; ``ids``: how many wanted ids, or None."""
    offer, professional = ProfessionalService, Professional
    sql = (
        f"SELECT {_q(connection, offer, 'professional')}, {_q(connection, offer, 'duration_override_minutes')} "
        f"FROM {_q(connection, offer)} INNER JOIN {_q(connection, professional)} "
        f"ON {_q(connection, professional, 'id')} = {_q(connection, offer, 'professional')} "
        f"WHERE {_q(connection, offer, 'service')} = %s AND {_q(connection, professional, 'active')}"
    )
    if ids is not None:
        sql += f" AND {_q(connection, offer, 'professional')} IN ({_placeholders(ids)})"
    return sql


@lru_cache(maxsize=256)
def _hours_sql(vendor: str, ids: int) -> str:
    """Weekly rules, date overrides and time off of the professionals in one statement (three SELECTs, UNION ALL).

    Every row has the same 15 columns; the first says what it is (0 rule, 1 override, 2 time off), and each kind
    leaves the others' columns NULL:

    ``kind, professional, location, zone, observes holidays, rooms, weekday, start time, end time, valid from or
    override date, valid until, restricted service, rule id, time off start, time off end`` (time off as epoch
    microseconds).

    A rule restricted to several services comes once per service (LEFT JOIN on the restriction table). Rooms is the
    location's number of active rooms. Parameters: ids, last day, first day; ids, first day, last day; ids, range
    end, range start.
    """
    rule, override, location, off = WeeklyAvailability, DateOverrideRow, Location, TimeOff
    through = WeeklyAvailability.services.through
    in_ids = f"IN ({_placeholders(ids)})"
    location_id = _q(connection, location, "id")
    rule_location, override_location = _q(connection, rule, "location"), _q(connection, override, "location")
    valid_from, valid_until = _q(connection, rule, "valid_from"), _q(connection, rule, "valid_until")
    rules = (
        f"SELECT 0, {_q(connection, rule, 'professional')}, {rule_location}, {_q(connection, location, 'time_zone')}, "
        f"{_q(connection, location, 'observes_public_holidays')}, {_room_count_sql(connection, rule_location)}, "
        f"{_q(connection, rule, 'weekday')}, {_q(connection, rule, 'start_time')}, "
        f"{_q(connection, rule, 'end_time')}, "
        f"{valid_from}, {valid_until}, {_q(connection, through, 'service')}, {_q(connection, rule, 'id')}, "
        # Typed, because PostgreSQL types the columns of a UNION pairwise from the left: two untyped NULLs
        # would make text, which the time off's integers cannot join.
        "CAST(NULL AS BIGINT), CAST(NULL AS BIGINT) "
        f"FROM {_q(connection, rule)} LEFT OUTER JOIN {_q(connection, location)} ON {location_id} = {rule_location} "
        f"LEFT OUTER JOIN {_q(connection, through)} "
        f"ON {_q(connection, through, 'weeklyavailability')} = {_q(connection, rule, 'id')} "
        f"WHERE {_q(connection, rule, 'professional')} {in_ids} "
        f"AND ({valid_from} IS NULL OR {valid_from} <= %s) AND ({valid_until} IS NULL OR {valid_until} >= %s)"
    )
    day = _q(connection, override, "date")
    overrides = (
        f"SELECT 1, {_q(connection, override, 'professional')}, {override_location}, "
        f"{_q(connection, location, 'time_zone')}, {_q(connection, location, 'observes_public_holidays')}, "
        f"{_room_count_sql(connection, override_location)}, NULL, {_q(connection, override, 'start_time')}, "
        f"{_q(connection, override, 'end_time')}, {day}, NULL, NULL, NULL, NULL, NULL "
        f"FROM {_q(connection, override)} LEFT OUTER JOIN {_q(connection, location)} "
        f"ON {location_id} = {override_location} "
        f"WHERE {_q(connection, override, 'professional')} {in_ids} AND {day} >= %s AND {day} <= %s"
    )
    off_professional = _q(connection, off, "professional")
    off_start, off_end = _q(connection, off, "start"), _q(connection, off, "end")
    time_off = (
        f"SELECT 2, {off_professional}, {_q(connection, off, 'location')}, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
        f"NULL, NULL, NULL, {_epoch_us_sql(connection, off_start)}, {_epoch_us_sql(connection, off_end)} "
        f"FROM {_q(connection, off)} "
        f"WHERE ({off_professional} {in_ids} OR {off_professional} IS NULL) AND {off_start} < %s AND {off_end} > %s"
    )
    return f"{rules} UNION ALL {overrides} UNION ALL {time_off}"


@lru_cache(maxsize=256)
def _busy_sql(vendor: str, ids: int, room_locations: int, exclude: bool) -> str:
    """Busy spans of the professionals (kind 0) and of the active rooms of some locations (kind 1): one statement.

    "Busy" is ``Appointment.objects.active(now).overlapping(range)``: a blocking status, not a hold that expired
    at ``now``. Parameters: the statuses, the pending status, now, range end, range start, [excluded id], ids,
    then the same again with the room locations for the second SELECT.
    """
    appointment, room = Appointment, Room
    status, hold_expires = _q(connection, appointment, "status"), _q(connection, appointment, "hold_expires_at")
    blocked_start, blocked_end = (
        _q(connection, appointment, "blocked_start"),
        _q(connection, appointment, "blocked_end"),
    )
    spans = f"{_epoch_us_sql(connection, blocked_start)}, {_epoch_us_sql(connection, blocked_end)}"
    active = (
        f"{status} IN ({_placeholders(len(BLOCKING_STATUSES))}) "
        f"AND NOT ({status} = %s AND {hold_expires} IS NOT NULL AND {hold_expires} <= %s) "
        f"AND {blocked_start} < %s AND {blocked_end} > %s"
    )
    if exclude:
        active += f" AND {_q(connection, appointment, 'id')} <> %s"
    professional = _q(connection, appointment, "professional")
    sql = (
        f"SELECT 0, {professional}, 0, {spans} FROM {_q(connection, appointment)} "
        f"WHERE {active} AND {professional} IN ({_placeholders(ids)})"
    )
    if room_locations:
        room_location = _q(connection, room, "location")
        sql += (
            f" UNION ALL SELECT 1, {_q(connection, appointment, 'room')}, {room_location}, {spans} "
            f"FROM {_q(connection, appointment)} INNER JOIN {_q(connection, room)} "
            f"ON {_q(connection, room, 'id')} = {_q(connection, appointment, 'room')} "
            f"WHERE {active} AND {_q(connection, room, 'active')} "
            f"AND {room_location} IN ({_placeholders(room_locations)})"
        )
    return sql


def _rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _from_epoch_us(microseconds: int) -> datetime:
    return _EPOCH + timedelta(microseconds=microseconds)


def _date(value) -> date | None:
    """A date column as the backend returns it (SQLite: ISO text) as a date."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def _time(value) -> time | None:
    """A time column as the backend returns it (SQLite: ISO text) as a time."""
    if value is None or isinstance(value, time):
        return value
    return time.fromisoformat(value)


def _load_busy(
    *,
    professional_ids: list[int],
    room_location_ids: set[int],
    range_start: datetime,
    range_end: datetime,
    now: datetime,
    exclude_appointment_id: int | None,
) -> tuple[dict[int, list[Span]], dict[int, dict[int, list[Span]]]]:
    """Busy spans per professional, and per room of the active rooms of ``room_location_ids``: one query.

    The blocked intervals arrive as epoch microseconds. With rooms to check, the professionals' and the rooms'
    bookings are two SELECTs joined by UNION ALL, each using its own index.
    """
    adapt = connection.ops.adapt_datetimefield_value
    active = [
        *BLOCKING_STATUSES,
        AppointmentStatus.PENDING_PAYMENT,
        adapt(now),
        adapt(range_end),
        adapt(range_start),
    ]
    if exclude_appointment_id is not None:
        active.append(exclude_appointment_id)
    params = [*active, *professional_ids]
    if room_location_ids:
        params += [*active, *room_location_ids]
    sql = _busy_sql(
        connection.vendor, len(professional_ids), len(room_location_ids), exclude_appointment_id is not None
    )
    by_professional: dict[int, list[Span]] = defaultdict(list)
    by_room: dict[int, dict[int, list[Span]]] = defaultdict(lambda: defaultdict(list))
    for kind, owner_id, room_location_id, start, end in _rows(sql, params):
        if kind == 0:
            by_professional[owner_id].append((start, end))
        else:
            by_room[room_location_id][owner_id].append((start, end))
    return by_professional, by_room


class _Hours(NamedTuple):
    """The opening hours of some professionals as the engine's structures, read in one query (``_load_hours``)."""

    rules: dict[int, list[WeeklyRule]]
    overrides: dict[int, list[DateOverride]]
    personal_off: dict[int, list[Interval]]
    clinic_off: list[Interval]
    closes_on_holidays: set[int]  # locations that close on public holidays
    room_counts: dict[int, int]  # how many active rooms each location has

    def professional(
        self,
        professional_id: int,
        holiday_days: list[date],
        *,
        busy: tuple[Span, ...] = (),
        duration: timedelta | None = None,
    ) -> ProfessionalAvailability:
        """One professional's data for the engine: their hours, time off and the holidays closing their places."""
        own_rules = tuple(self.rules.get(professional_id, ()))
        own_overrides = tuple(self.overrides.get(professional_id, ()))
        physical = {rule.location_id for rule in own_rules} | {o.location_id for o in own_overrides}
        physical.discard(None)
        physical &= self.closes_on_holidays
        return ProfessionalAvailability(
            professional_id=professional_id,
            rules=own_rules,
            overrides=own_overrides,
            time_off=tuple(self.personal_off.get(professional_id, ())) + tuple(self.clinic_off),
            busy=busy,
            closed_days=frozenset((loc, day) for loc in physical for day in holiday_days),
            duration=duration,
        )


def _load_hours(
    ids: list[int],
    start_day: date,
    end_day: date,
    range_start: datetime,
    range_end: datetime,
    location_id: LocationFilter,
) -> _Hours:
    """Weekly rules and overrides of local days ``start_day``..``end_day`` and time off in ``range``: one query."""
    default_tz = settings.TIME_ZONE

    adapt_date, adapt_datetime = connection.ops.adapt_datefield_value, connection.ops.adapt_datetimefield_value
    first, last = adapt_date(start_day), adapt_date(end_day)
    rows = _rows(
        _hours_sql(connection.vendor, len(ids)),
        [*ids, last, first, *ids, first, last, *ids, adapt_datetime(range_end), adapt_datetime(range_start)],
    )
    closes_on_holidays: set[int] = set()  # locations that close on public holidays (read off the rows)
    room_counts: dict[int, int] = {}  # how many active rooms each location has
    rule_rows: dict[int, tuple] = {}
    restrictions: dict[int, set[int]] = defaultdict(set)
    override_pieces: dict[tuple[int, int | None, date], tuple[str, list[tuple[time, time]]]] = {}
    personal_off: dict[int, list[Interval]] = defaultdict(list)
    clinic_off: list[Interval] = []
    for kind, professional_id, row_location, tz, observes, rooms, *rest in rows:
        if kind == 2:
            start_us, end_us = rest[-2:]
            if row_location is not None and location_id is not ALL and row_location != location_id:
                continue
            interval = Interval(_from_epoch_us(start_us), _from_epoch_us(end_us))
            if professional_id is None:
                clinic_off.append(interval)
            else:
                personal_off[professional_id].append(interval)
            continue
        if observes:
            closes_on_holidays.add(row_location)
        if rooms:
            room_counts[row_location] = rooms
        weekday, start, end, day, valid_until, restricted_to, rule_id = rest[:7]
        if kind == 0:
            rule_rows[rule_id] = (professional_id, row_location, tz, weekday, start, end, day, valid_until)
            if restricted_to is not None:
                restrictions[rule_id].add(restricted_to)
        else:
            key = (professional_id, row_location, _date(day))
            _tz, pieces = override_pieces.setdefault(key, (tz or default_tz, []))
            if start is not None:
                pieces.append((_time(start), _time(end)))

    rules: dict[int, list[WeeklyRule]] = defaultdict(list)
    for rule_id, (
        professional_id,
        rule_location,
        tz,
        weekday,
        start,
        end,
        valid_from,
        valid_until,
    ) in rule_rows.items():
        restricted = restrictions.get(rule_id)
        rules[professional_id].append(
            WeeklyRule(
                weekday=weekday,
                start=_time(start),
                end=_time(end),
                tz=tz or default_tz,
                location_id=rule_location,
                valid_from=_date(valid_from),
                valid_until=_date(valid_until),
                service_ids=frozenset(restricted) if restricted else None,
            )
        )
    overrides: dict[int, list[DateOverride]] = defaultdict(list)
    for (professional_id, override_location, day), (tz, pieces) in override_pieces.items():
        overrides[professional_id].append(
            DateOverride(day=day, intervals=tuple(sorted(pieces)), tz=tz, location_id=override_location)
        )

    return _Hours(
        rules=rules,
        overrides=overrides,
        personal_off=personal_off,
        clinic_off=clinic_off,
        closes_on_holidays=closes_on_holidays,
        room_counts=room_counts,
    )


def load_hours(*, professional: Professional | int, start_day: date, end_day: date) -> ProfessionalAvailability:
    """One professional's opening hours on local days ``start_day``..``end_day``, without busy time: one query.

    Weekly hours, date overrides, their own and the clinic's time off (a location's closure counts everywhere, as
    with ``location=ALL`` in ``load_availability``) and the public holidays of their places. For asking whether
    booked sessions lie inside the hours (``availability.within_hours``), e.g. before and after the professional
    changes them (``availability_services``), where the bookings themselves must not count as busy.
    """
    professional_id = professional.pk if isinstance(professional, Professional) else int(professional)
    range_start = datetime.combine(start_day - timedelta(days=2), time(0), UTC)
    range_end = datetime.combine(end_day + timedelta(days=3), time(0), UTC)
    hours = _load_hours([professional_id], start_day, end_day, range_start, range_end, ALL)
    return hours.professional(professional_id, _chilean_holidays(start_day, end_day))


def load_availability(
    *,
    service: Service,
    professionals: Iterable[Professional | int] | None = None,
    location: Location | int | None | object = ALL,
    start_day: date,
    end_day: date,
    now: datetime,
    exclude_appointment_id: int | None = None,
    durations: Mapping[int, int | None] | None = None,
) -> LoadedAvailability:
    """The engine's input for ``service`` on local days ``start_day``..``end_day``.

    ``professionals`` (instances or ids) narrows the search; ``None`` means every active professional offering
    the service. ``location`` is a Location, ``None`` for online, or ``ALL``: it decides which location-scoped
    time off counts (with ``ALL`` a location closure also blocks the professional's online hours, erring on the
    safe side; the engine itself filters slots by location) and which locations' rooms are loaded. Busy time is
    every active appointment's blocked interval at ``now`` (expired holds free their time);
    ``exclude_appointment_id`` leaves one out, so an appointment being rescheduled blocks neither itself nor
    its room.

    ``durations`` (professional id -> own duration in minutes or None) is for a caller that has just read the
    professionals' offers of the service and checked they are active, such as the booking service under its lock:
    it replaces the catalog query, and ``professionals`` is then ignored.
    """
    spec = service_spec(service)
    if durations is None:
        wanted_ids = _professional_ids(professionals)
        # No ORDER BY anywhere below: the engine sorts what it needs, and the database need not.
        offer_params = [service.pk, *(wanted_ids or ())]
        if wanted_ids == []:
            durations = {}
        else:
            sql = _offers_sql(connection.vendor, None if wanted_ids is None else len(wanted_ids))
            durations = dict(_rows(sql, offer_params))
    if not durations:
        return LoadedAvailability(spec, [], [])
    ids = sorted(durations)
    range_start = datetime.combine(start_day - timedelta(days=2), time(0), UTC)
    range_end = datetime.combine(end_day + timedelta(days=3), time(0), UTC)
    location_id = location_filter(location)
    hours = _load_hours(ids, start_day, end_day, range_start, range_end, location_id)
    room_counts = hours.room_counts
    if location_id is not ALL:
        room_counts = {key: count for key, count in room_counts.items() if key == location_id}
    busy, room_busy = _load_busy(
        professional_ids=ids,
        room_location_ids=set(room_counts),
        range_start=range_start,
        range_end=range_end,
        now=now,
        exclude_appointment_id=exclude_appointment_id,
    )
    rooms = [
        RoomOccupancy(
            location_id=room_location,
            rooms=count,
            busy=tuple(tuple(spans) for spans in room_busy.get(room_location, {}).values()),
        )
        for room_location, count in room_counts.items()
    ]

    holiday_days = _chilean_holidays(start_day, end_day)
    result = []
    for professional_id in ids:
        own_duration = durations[professional_id]
        result.append(
            hours.professional(
                professional_id,
                holiday_days,
                busy=tuple(busy.get(professional_id, ())),
                duration=timedelta(minutes=own_duration) if own_duration else None,
            )
        )
    return LoadedAvailability(spec, result, rooms)


def find_slots(
    *,
    service: Service,
    professionals: Iterable[Professional | int] | None = None,
    location: Location | int | None | object = ALL,
    start_day: date,
    end_day: date,
    now: datetime,
    step: timedelta = DEFAULT_STEP,
    exclude_appointment_id: int | None = None,
) -> list[Slot]:
    """Bookable slots (UTC) of ``service`` on local days ``start_day``..``end_day``; see ``load_availability``."""
    loaded = load_availability(
        service=service,
        professionals=professionals,
        location=location,
        start_day=start_day,
        end_day=end_day,
        now=now,
        exclude_appointment_id=exclude_appointment_id,
    )
    return available_slots(
        professionals=loaded.professionals,
        service=loaded.spec,
        start_day=start_day,
        end_day=end_day,
        now=now,
        step=step,
        location_id=location_filter(location),
        rooms=loaded.rooms,
    )


def next_available_dates(
    *,
    service: Service,
    professionals: Iterable[Professional | int] | None = None,
    location: Location | int | None | object = ALL,
    start_day: date,
    end_day: date,
    now: datetime,
    step: timedelta = DEFAULT_STEP,
) -> dict[int, datetime | None]:
    """The earliest bookable start (UTC) per professional id in the range, ``None`` when fully booked."""
    loaded = load_availability(
        service=service,
        professionals=professionals,
        location=location,
        start_day=start_day,
        end_day=end_day,
        now=now,
    )
    return next_available(
        professionals=loaded.professionals,
        service=loaded.spec,
        start_day=start_day,
        end_day=end_day,
        now=now,
        step=step,
        location_id=location_filter(location),
        rooms=loaded.rooms,
    )
