"""Reads for scheduling: load the availability engine's plain data from the database in a constant number of queries.

``load_availability`` runs at most six queries whatever the number of professionals (catalog rows, weekly
hours, their service restrictions, date overrides, time off, busy appointments); holidays come from the
``holidays`` package, not the database.

Holidays: every Chilean public holiday (``holidays.CL``) closes every physical location that observes public
holidays (``Location.observes_public_holidays``, on by default; staff can switch it off for a location that opens on
holidays). Online hours stay open (a professional who does not work online on holidays enters time off).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

import holidays
from django.conf import settings
from django.db.models import Q

from .availability import (
    ALL,
    DateOverride,
    Interval,
    LocationFilter,
    ProfessionalAvailability,
    ServiceSpec,
    Slot,
    WeeklyRule,
    available_slots,
    next_available,
)
from .models import Appointment, Location, Professional, ProfessionalService, Service, TimeOff, WeeklyAvailability
from .models import DateOverride as DateOverrideRow

DEFAULT_STEP = timedelta(minutes=30)


def service_spec(service: Service) -> ServiceSpec:
    return ServiceSpec(
        service_id=service.pk,
        duration=service.duration,
        buffer_before=timedelta(minutes=service.buffer_before_minutes),
        buffer_after=timedelta(minutes=service.buffer_after_minutes),
        min_notice=timedelta(minutes=service.min_notice_minutes),
        horizon=timedelta(days=service.booking_horizon_days),
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


def _chilean_holidays(start_day: date, end_day: date) -> list[date]:
    calendar = holidays.CL(years=range(start_day.year, end_day.year + 1))
    return sorted(day for day in calendar if start_day <= day <= end_day)


def load_availability(
    *,
    service: Service,
    professionals: Iterable[Professional | int] | None = None,
    location: Location | int | None | object = ALL,
    start_day: date,
    end_day: date,
    now: datetime,
    exclude_appointment_id: int | None = None,
) -> tuple[ServiceSpec, list[ProfessionalAvailability]]:
    """The engine's input for ``service`` on local days ``start_day``..``end_day``.

    ``professionals`` (instances or ids) narrows the search; ``None`` means every active professional offering
    the service. ``location`` is a Location, ``None`` for online, or ``ALL``: it only decides which
    location-scoped time off counts (with ``ALL`` a location closure also blocks the professional's online
    hours, erring on the safe side; the engine itself filters slots by location). Busy time is every active
    appointment's blocked interval at ``now`` (expired holds free their time); ``exclude_appointment_id``
    leaves one out, so an appointment being rescheduled does not block itself.
    """
    spec = service_spec(service)
    wanted_ids = _professional_ids(professionals)
    offered = ProfessionalService.objects.filter(service=service, professional__active=True)
    if wanted_ids is not None:
        offered = offered.filter(professional_id__in=wanted_ids)
    durations: dict[int, int | None] = dict(offered.values_list("professional_id", "duration_override_minutes"))
    if not durations:
        return spec, []
    ids = sorted(durations)
    default_tz = settings.TIME_ZONE
    range_start = datetime.combine(start_day - timedelta(days=2), time(0), UTC)
    range_end = datetime.combine(end_day + timedelta(days=3), time(0), UTC)
    location_id = location_filter(location)

    rule_rows = list(
        WeeklyAvailability.objects.filter(professional_id__in=ids)
        .filter(Q(valid_from__isnull=True) | Q(valid_from__lte=end_day))
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=start_day))
        .values(
            "id",
            "professional_id",
            "location_id",
            "location__time_zone",
            "location__observes_public_holidays",
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

    # Read off the rule rows (no extra query): locations that close on public holidays.
    closes_on_holidays = {row["location_id"] for row in rule_rows if row["location__observes_public_holidays"]}

    override_pieces: dict[tuple[int, int | None, date], tuple[str, list[tuple[time, time]]]] = {}
    for row in DateOverrideRow.objects.filter(professional_id__in=ids, date__gte=start_day, date__lte=end_day).values(
        "professional_id",
        "location_id",
        "location__time_zone",
        "location__observes_public_holidays",
        "date",
        "start_time",
        "end_time",
    ):
        if row["location__observes_public_holidays"]:
            closes_on_holidays.add(row["location_id"])
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
        .values("professional_id", "location_id", "start", "end")
    ):
        if row["location_id"] is not None and location_id is not ALL and row["location_id"] != location_id:
            continue
        interval = Interval(row["start"], row["end"])
        if row["professional_id"] is None:
            clinic_off.append(interval)
        else:
            personal_off[row["professional_id"]].append(interval)

    busy: dict[int, list[Interval]] = defaultdict(list)
    appointments = Appointment.objects.active(now).filter(professional_id__in=ids).overlapping(range_start, range_end)
    if exclude_appointment_id is not None:
        appointments = appointments.exclude(pk=exclude_appointment_id)
    for professional_id, blocked_start, blocked_end in appointments.values_list(
        "professional_id", "blocked_start", "blocked_end"
    ):
        busy[professional_id].append(Interval(blocked_start, blocked_end))

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
    return spec, result


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
    spec, availability = load_availability(
        service=service,
        professionals=professionals,
        location=location,
        start_day=start_day,
        end_day=end_day,
        now=now,
        exclude_appointment_id=exclude_appointment_id,
    )
    return available_slots(
        professionals=availability,
        service=spec,
        start_day=start_day,
        end_day=end_day,
        now=now,
        step=step,
        location_id=location_filter(location),
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
    spec, availability = load_availability(
        service=service,
        professionals=professionals,
        location=location,
        start_day=start_day,
        end_day=end_day,
        now=now,
    )
    return next_available(
        professionals=availability,
        service=spec,
        start_day=start_day,
        end_day=end_day,
        now=now,
        step=step,
        location_id=location_filter(location),
    )
