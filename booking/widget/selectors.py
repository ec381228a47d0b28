"""Reads for the booking box: the services a box offers and the free times of a month, in bounded queries."""

from __future__ import annotations

import calendar
import zoneinfo
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import OuterRef, Q, Subquery

from booking.billing.models import Coupon
from booking.billing.services import check_coupon
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
from booking.scheduling.money import quantize
from booking.scheduling.selectors import find_slots
from portal.accounts.models import ConsentRecord
from portal.accounts.services import UNVERSIONED


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


@dataclass(frozen=True)
class Places:
    """Where ``service`` can really take place with some professionals: what step 1 offers and steps 2-4 accept.

    A location counts only when the service is offered in person and one of the professionals works there (their
    ``locations``); online counts only when the service is offered online. A weekly hour set at a location the
    professional is not linked to does not make that location bookable: the box never lists a time it would not
    offer as a choice.
    """

    service_online: bool
    professional_ids: frozenset[int]
    locations_of: dict[int, list[Location]]

    @property
    def locations(self) -> list[Location]:
        """Every possible location once, in the clinic's order."""
        unique = {location.pk: location for places in self.locations_of.values() for location in places}
        return sorted(unique.values(), key=lambda location: (location.sort_order, location.name))

    @property
    def online(self) -> bool:
        return self.service_online and bool(self.professional_ids)

    def __bool__(self) -> bool:
        return self.online or bool(self.locations)

    def for_professional(self, professional_id: int) -> list[Location]:
        return self.locations_of.get(professional_id, [])

    def has_place_for(self, professional_id: int) -> bool:
        if professional_id not in self.professional_ids:
            return False
        return self.service_online or bool(self.for_professional(professional_id))

    def allows(self, *, location: Location | None, modality: str) -> bool:
        """Whether the chosen place (a location, online, in person anywhere, or anywhere) is possible."""
        if location is not None:
            return any(item.pk == location.pk for item in self.locations)
        if modality == AppointmentModality.ONLINE:
            return self.online
        if modality == AppointmentModality.IN_PERSON:
            return bool(self.locations)
        return bool(self)

    def allows_slot(self, slot: Slot) -> bool:
        if slot.professional_id not in self.professional_ids:
            return False
        if slot.location_id is None:
            return self.service_online
        return any(location.pk == slot.location_id for location in self.for_professional(slot.professional_id))


def possible_places(*, service: Service, professionals: Sequence[Professional] | None) -> Places:
    """The places of ``service`` with ``professionals`` (None: everyone bookable who offers it), in one or two
    queries whatever their number."""
    if professionals is None:
        ids = set(Professional.objects.bookable().offering(service).values_list("pk", flat=True))
    else:
        ids = {professional.pk for professional in professionals}
    locations_of: dict[int, list[Location]] = defaultdict(list)
    if service.offers_in_person and ids:
        links = (
            Professional.locations.through.objects.filter(professional_id__in=ids, location__active=True)
            .select_related("location")
            .order_by("location__sort_order", "location__name")
        )
        for link in links:
            locations_of[link.professional_id].append(link.location)
    return Places(service_online=service.offers_online, professional_ids=frozenset(ids), locations_of=locations_of)


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


def _filtered(slots: list[Slot], modality: str, places: Places | None = None) -> list[Slot]:
    """The slots of the chosen modality at places that are really possible (see ``Places``)."""
    if modality == AppointmentModality.IN_PERSON:
        slots = [slot for slot in slots if slot.location_id is not None]
    if places is not None:
        slots = [slot for slot in slots if places.allows_slot(slot)]
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
    places: Places | None = None,
    exclude_appointment_id: int | None = None,
) -> Month:
    """The days of ``month`` with free times and those times: one ``find_slots`` call for the whole month.

    Without a chosen professional, "first available" means the first of the box's ``team`` (of everyone if empty).
    ``exclude_appointment_id``: a session being moved, whose own time counts as free (the portal's reschedule).
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
            exclude_appointment_id=exclude_appointment_id,
        )
    times_by_day = _choices(_filtered(slots, modality, places), zone)
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
    places: Places | None = None,
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
    by_day = _choices(_filtered(slots, modality, places), zone)
    return [choice for day in sorted(by_day) for choice in by_day[day]][:limit]


def slot_is_offered(
    *, service: Service, professional: Professional, location: Location | None, start: datetime, now: datetime
) -> bool:
    """Whether ``find_slots`` offers exactly this start with this professional at this place right now, and the
    place is one of the professional's (``Places``)."""
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
    places = possible_places(service=service, professionals=[professional])
    return any(
        places.allows_slot(slot)
        and slot.start == start
        and slot.professional_id == professional.pk
        and slot.location_id == wanted_location
        for slot in slots
    )


@dataclass(frozen=True)
class CouponPreview:
    """What a discount code would take off one session's price; nothing is redeemed."""

    code: str
    discount: Decimal
    total: Decimal


def preview_coupon(
    *, code: str, service: Service, price: Decimal, currency: str, patient_id: int | None, now: datetime
) -> CouponPreview:
    """The review step's "Apply": the discounted price of one session, or ``PaymentError`` with billing's code.

    Read-only, through the rules ``billing.services.apply_coupon`` checks (``check_coupon``: the same error codes,
    so the same messages) for a one-line invoice; the confirmation still applies the code through that service,
    inside the booking's transaction, which is what counts (a code used up meanwhile is refused there and nothing
    is booked).
    """
    code = (code or "").strip()
    coupon = Coupon.objects.filter(code__iexact=code).first() if code else None
    scoped = set(coupon.services.values_list("pk", flat=True)) if coupon is not None else set()
    check_coupon(
        coupon, currency=currency, patient_id=patient_id, in_scope=not scoped or service.pk in scoped, now=now
    )
    if coupon.kind == Coupon.Kind.PERCENT:
        discount = quantize(price * coupon.value / 100, currency)
    else:
        discount = quantize(coupon.value, currency)
    discount = min(discount, price)
    return CouponPreview(code=coupon.code, discount=discount, total=price - discount)


def has_accepted(user, document) -> bool:
    """Whether ``user`` accepted this ``LegalDocument``: the version shown now, or any if it has no version."""
    records = ConsentRecord.objects.filter(user=user, document=document.document)
    if document.version != UNVERSIONED:
        records = records.filter(version=document.version)
    return records.exists()
