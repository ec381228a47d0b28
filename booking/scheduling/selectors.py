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
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import NamedTuple

import holidays
from django.conf import settings
from django.db import NotSupportedError
from django.db.models import BigIntegerField, Count, F, Func, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce

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
        # The whole seconds come from the first 19 characters only: SQLite's date functions round a fraction to
        # milliseconds, so 12:59:59.999999 would become 13:00:00. unixepoch() (SQLite 3.38+) is about twice as fast
        # as strftime('%s'), which older versions need.
        whole_seconds = f"substr({column}, 1, 19)"
        if connection.Database.sqlite_version_info >= (3, 38):
            seconds = f"unixepoch({whole_seconds})"
        else:
            seconds = f"CAST(strftime('%%s', {whole_seconds}) AS INTEGER)"
        return f"({seconds} * 1000000 + CAST(substr({column}, 21, 6) AS INTEGER))", (*params, *params)

    def as_postgresql(self, compiler, connection, **extra_context):
        column, params = compiler.compile(self.source_expressions[0])
        return f"(EXTRACT(EPOCH FROM {column}) * 1000000)::bigint", params


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


@lru_cache(maxsize=1)
def _active_room_count():
    """A correlated subquery: how many active rooms the row's location has (0 online or without rooms).

    Built once, on first use (after the app registry is ready): ``annotate()`` resolves a copy for each query, and
    building the subquery costs about as much as running a short query.
    """
    rooms = (
        Room.objects.filter(location_id=OuterRef("location_id"), active=True)
        .order_by()
        .values("location_id")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return Coalesce(Subquery(rooms, output_field=IntegerField()), Value(0))


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

    The blocked intervals arrive as epoch microseconds (``EpochMicroseconds``). With rooms to check, the
    professionals' and the rooms' bookings are two SELECTs joined by UNION ALL, each using its own index.
    """
    active = Appointment.objects.active(now).overlapping(range_start, range_end).order_by()
    if exclude_appointment_id is not None:
        active = active.exclude(pk=exclude_appointment_id)
    columns = ("kind", "owner_id", "room_location_id", "start_us", "end_us")
    spans = {"start_us": EpochMicroseconds("blocked_start"), "end_us": EpochMicroseconds("blocked_end")}
    rows = active.filter(professional_id__in=professional_ids).annotate(
        kind=IntegerConstant(0),
        owner_id=F("professional_id"),
        room_location_id=IntegerConstant(0),
        **spans,
    )
    rows = rows.values_list(*columns)
    if room_location_ids:
        room_rows = active.filter(room__active=True, room__location_id__in=room_location_ids).annotate(
            kind=IntegerConstant(1),
            owner_id=F("room_id"),
            room_location_id=F("room__location_id"),
            **spans,
        )
        rows = rows.union(room_rows.values_list(*columns), all=True)
    by_professional: dict[int, list[Span]] = defaultdict(list)
    by_room: dict[int, dict[int, list[Span]]] = defaultdict(lambda: defaultdict(list))
    for kind, owner_id, room_location_id, start, end in rows:
        if kind == 0:
            by_professional[owner_id].append((start, end))
        else:
            by_room[room_location_id][owner_id].append((start, end))
    return by_professional, by_room


def load_availability(
    *,
    service: Service,
    professionals: Iterable[Professional | int] | None = None,
    location: Location | int | None | object = ALL,
    start_day: date,
    end_day: date,
    now: datetime,
    exclude_appointment_id: int | None = None,
) -> LoadedAvailability:
    """The engine's input for ``service`` on local days ``start_day``..``end_day``.

    ``professionals`` (instances or ids) narrows the search; ``None`` means every active professional offering
    the service. ``location`` is a Location, ``None`` for online, or ``ALL``: it decides which location-scoped
    time off counts (with ``ALL`` a location closure also blocks the professional's online hours, erring on the
    safe side; the engine itself filters slots by location) and which locations' rooms are loaded. Busy time is
    every active appointment's blocked interval at ``now`` (expired holds free their time);
    ``exclude_appointment_id`` leaves one out, so an appointment being rescheduled blocks neither itself nor
    its room.
    """
    spec = service_spec(service)
    wanted_ids = _professional_ids(professionals)
    # No ORDER BY anywhere below: the engine sorts what it needs, and the database need not.
    offered = ProfessionalService.objects.filter(service=service, professional__active=True).order_by()
    if wanted_ids is not None:
        offered = offered.filter(professional_id__in=wanted_ids)
    durations: dict[int, int | None] = dict(offered.values_list("professional_id", "duration_override_minutes"))
    if not durations:
        return LoadedAvailability(spec, [], [])
    ids = sorted(durations)
    default_tz = settings.TIME_ZONE
    range_start = datetime.combine(start_day - timedelta(days=2), time(0), UTC)
    range_end = datetime.combine(end_day + timedelta(days=3), time(0), UTC)
    location_id = location_filter(location)

    rule_rows = list(
        WeeklyAvailability.objects.filter(professional_id__in=ids)
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=end_day))
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=start_day))
        .annotate(location_rooms=_active_room_count())
        .order_by()
        .values(
            "id",
            "professional_id",
            "location_id",
            "location__time_zone",
            "location__observes_public_holidays",
            "location_rooms",
            "weekday",
            "start_time",
            "end_time",
            "valid_from",
            "valid_until",
        )
    )
    restrictions: dict[int, set[int]] = defaultdict(set)
    for rule_id, service_id in WeeklyAvailability.services.through.objects.filter(
        weeklyavailability__professional_id__in=ids
    ).values_list("weeklyavailability_id", "service_id"):
        restrictions[rule_id].add(service_id)
    rules: dict[int, list[WeeklyRule]] = defaultdict(list)
    for row in rule_rows:
        restricted = restrictions.get(row["id"])
        rules[row["professional_id"]].append(
            WeeklyRule(
                weekday=row["weekday"],
                start=row["start_time"],
                end=row["end_time"],
                tz=row["location__time_zone"] or default_tz,
                location_id=row["location_id"],
                valid_from=row["valid_from"],
                valid_until=row["valid_until"],
                service_ids=frozenset(restricted) if restricted else None,
            )
        )

    # Read off the rule and override rows (no extra query): locations that close on public holidays, and how
    # many active rooms each location has.
    closes_on_holidays = {row["location_id"] for row in rule_rows if row["location__observes_public_holidays"]}
    room_counts = {row["location_id"]: row["location_rooms"] for row in rule_rows if row["location_rooms"]}

    override_pieces: dict[tuple[int, int | None, date], tuple[str, list[tuple[time, time]]]] = {}
    for row in (
        DateOverrideRow.objects.filter(professional_id__in=ids, date__gte=start_day, date__lte=end_day)
        .annotate(location_rooms=_active_room_count())
        .order_by()
        .values(
            "professional_id",
            "location_id",
            "location__time_zone",
            "location__observes_public_holidays",
            "location_rooms",
            "date",
            "start_time",
            "end_time",
        )
    ):
        if row["location__observes_public_holidays"]:
            closes_on_holidays.add(row["location_id"])
        if row["location_rooms"]:
            room_counts[row["location_id"]] = row["location_rooms"]
        key = (row["professional_id"], row["location_id"], row["date"])
        _tz, pieces = override_pieces.setdefault(key, (row["location__time_zone"] or default_tz, []))
        if row["start_time"] is not None:
            pieces.append((row["start_time"], row["end_time"]))
    overrides: dict[int, list[DateOverride]] = defaultdict(list)
    for (professional_id, override_location, day), (tz, pieces) in override_pieces.items():
        overrides[professional_id].append(
            DateOverride(day=day, intervals=tuple(sorted(pieces)), tz=tz, location_id=override_location)
        )

    personal_off: dict[int, list[Interval]] = defaultdict(list)
    clinic_off: list[Interval] = []
    for row in (
        TimeOff.objects.filter(Q(professional_id__in=ids) | Q(professional__isnull=True))
        .filter(start__lt=range_end, end__gt=range_start)
        .order_by()
        .values("professional_id", "location_id", "start", "end")
    ):
        if row["location_id"] is not None and location_id is not ALL and row["location_id"] != location_id:
            continue
        interval = Interval(row["start"], row["end"])
        if row["professional_id"] is None:
            clinic_off.append(interval)
        else:
            personal_off[row["professional_id"]].append(interval)

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
        own_rules = tuple(rules.get(professional_id, ()))
        own_overrides = tuple(overrides.get(professional_id, ()))
        physical = {rule.location_id for rule in own_rules} | {o.location_id for o in own_overrides}
        physical.discard(None)
        physical &= closes_on_holidays
        own_duration = durations[professional_id]
        result.append(
            ProfessionalAvailability(
                professional_id=professional_id,
                rules=own_rules,
                overrides=own_overrides,
                time_off=tuple(personal_off.get(professional_id, ())) + tuple(clinic_off),
                busy=tuple(busy.get(professional_id, ())),
                closed_days=frozenset((loc, day) for loc in physical for day in holiday_days),
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
