"""Reads for the booking box: the services a box offers and the free times of a month, in bounded queries."""

from __future__ import annotations

import calendar
import zoneinfo
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import OuterRef, Q, Subquery

from booking.scheduling.availability import ALL, Slot
from booking.scheduling.models import (
    AppointmentModality,
    Location,
    Modality,
    Professional,
    ProfessionalService,
    Service,
    ServiceCategory,
)
from booking.scheduling.selectors import find_slots


def box_services(
    *,
    service: Service | None,
    professional: Professional | None,
    location: Location | None,
    modality: str,
    category: ServiceCategory | None = None,
    team: Sequence[Professional] = (),
) -> list[Service]:
    """The active services a box lists, in one query whatever the number of services or professionals.

    A service is listed when a bookable professional (active and accepting new patients, as step 1 lists them)
    offers it who is the chosen ``professional`` (else one of the box's ``team``, else anyone) and works at
    ``location`` when one is set: the conditions sit in ONE ``filter()`` so they hold for the same professional
    (separate calls would join the relation once per condition). With a single professional, ``price`` is theirs.
    """
    services = Service.objects.filter(active=True).order_by("sort_order", "name")
    if service is not None:
        services = services.filter(pk=service.pk)
    if category is not None:
        services = services.filter(category=category)
    if modality == AppointmentModality.ONLINE:
        services = services.exclude(modality=Modality.IN_PERSON)
    elif modality == AppointmentModality.IN_PERSON or location is not None:
        services = services.exclude(modality=Modality.ONLINE)
    offered = Q(offered_by__professional__active=True, offered_by__professional__accepting_new_patients=True)
    if professional is None and len(team) == 1:
        professional = team[0]
    if professional is not None:
        offered &= Q(offered_by__professional=professional)
    elif team:
        offered &= Q(offered_by__professional__in=[member.pk for member in team])
    if location is not None:
        offered &= Q(offered_by__professional__locations=location)
    services = services.filter(offered)
    if professional is not None:
        own_price = ProfessionalService.objects.filter(professional=professional, service=OuterRef("pk")).values(
            "price_override"
        )[:1]
        services = services.annotate(own_price=Subquery(own_price))
    rows = list(services.distinct())
    for row in rows:
        if getattr(row, "own_price", None) is not None:
            row.price = row.own_price
    return rows


def team_argument(professional: Professional | None, team: Sequence[Professional]) -> list[Professional] | None:
    """Whom ``find_slots`` looks at: the chosen professional, else the box's team, else everyone (None)."""
    if professional is not None:
        return [professional]
    return list(team) or None


def location_argument(location: Location | None, modality: str):
    """The availability engine's location filter for the chosen place: a location, online (None) or any."""
    if location is not None:
        return location
    if modality == AppointmentModality.ONLINE:
        return None
    return ALL


def clinic_zone(location: Location | None) -> zoneinfo.ZoneInfo:
    return location.tzinfo if location is not None else zoneinfo.ZoneInfo(settings.TIME_ZONE)


@dataclass(frozen=True)
class TimeChoice:
    """One time the patient can pick: the first slot at that start and place (its professional is pinned)."""

    slot: Slot
    local_start: datetime
    location: Location | None


@dataclass
class Month:
    first_day: date
    weeks: list[list[date | None]]
    free_days: set[date]
    times_by_day: dict[date, list[TimeChoice]]
    previous: date | None
    next: date | None


def _choices(slots: list[Slot], zone: zoneinfo.ZoneInfo) -> dict[date, list[TimeChoice]]:
    """Slots by local day, one per (start, place): with "first available" several professionals share a time."""
    locations = Location.objects.in_bulk({slot.location_id for slot in slots if slot.location_id is not None})
    by_day: dict[date, list[TimeChoice]] = defaultdict(list)
    seen = set()
    for slot in sorted(slots):
        if (slot.start, slot.location_id) in seen:
            continue
        seen.add((slot.start, slot.location_id))
        location = locations.get(slot.location_id)
        local_start = slot.start.astimezone(location.tzinfo if location is not None else zone)
        by_day[local_start.date()].append(TimeChoice(slot, local_start, location))
    return by_day


def _filtered(slots: list[Slot], modality: str) -> list[Slot]:
    if modality == AppointmentModality.IN_PERSON:
        return [slot for slot in slots if slot.location_id is not None]
    return slots


def month_availability(
    *,
    service: Service,
    professional: Professional | None,
    location: Location | None,
    modality: str,
    month: date,
    now: datetime,
    team: Sequence[Professional] = (),
) -> Month:
    """The days of ``month`` with free times and those times: one ``find_slots`` call for the whole month.

    Without a chosen professional, "first available" means the first of the box's ``team`` (of everyone if empty).
    """
    zone = clinic_zone(location)
    today = now.astimezone(zone).date()
    first_day = month.replace(day=1)
    last_day = first_day.replace(day=calendar.monthrange(first_day.year, first_day.month)[1])
    slots: list[Slot] = []
    if last_day >= today:
        slots = find_slots(
            service=service,
            professionals=team_argument(professional, team),
            location=location_argument(location, modality),
            start_day=max(first_day, today),
            end_day=last_day,
            now=now,
        )
    times_by_day = _choices(_filtered(slots, modality), zone)
    horizon_end = (now + timedelta(days=service.booking_horizon_days)).astimezone(zone).date()
    previous = (first_day - timedelta(days=1)).replace(day=1)
    following = last_day + timedelta(days=1)
    return Month(
        first_day=first_day,
        weeks=calendar.Calendar(firstweekday=0).monthdatescalendar(first_day.year, first_day.month),
        free_days=set(times_by_day),
        times_by_day=times_by_day,
        previous=previous if previous >= today.replace(day=1) else None,
        next=following if following <= horizon_end else None,
    )


def nearest_times(
    *,
    service: Service,
    professional: Professional | None,
    location: Location | None,
    modality: str,
    around: datetime,
    now: datetime,
    limit: int = 6,
    team: Sequence[Professional] = (),
) -> list[TimeChoice]:
    """The first free times from the day of ``around`` on (two weeks ahead), to offer when a time was taken.

    Like ``month_availability``, looks at the chosen professional, else at the box's ``team``, else at everyone.
    """
    zone = clinic_zone(location)
    start_day = max(around, now).astimezone(zone).date()
    slots = find_slots(
        service=service,
        professionals=team_argument(professional, team),
        location=location_argument(location, modality),
        start_day=start_day,
        end_day=start_day + timedelta(days=14),
        now=now,
    )
    by_day = _choices(_filtered(slots, modality), zone)
    return [choice for day in sorted(by_day) for choice in by_day[day]][:limit]


def slot_is_offered(
    *, service: Service, professional: Professional, location: Location | None, start: datetime, now: datetime
) -> bool:
    """Whether ``find_slots`` offers exactly this start with this professional at this place right now."""
    zone = clinic_zone(location)
    local_day = start.astimezone(zone).date()
    slots = find_slots(
        service=service,
        professionals=[professional],
        location=location,
        start_day=local_day - timedelta(days=1),
        end_day=local_day + timedelta(days=1),
        now=now,
    )
    wanted_location = location.pk if location is not None else None
    return any(
        slot.start == start and slot.professional_id == professional.pk and slot.location_id == wanted_location
        for slot in slots
    )
