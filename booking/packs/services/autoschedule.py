"""Auto-scheduling a pack: propose every remaining session as a concrete free slot, then book them all or none.

Why it is built this way:

- **One load, then memory.** ``propose_schedule`` reads the scheduling engine's data for the whole range once per
  service (``scheduling.selectors.load_availability``: a fixed number of queries), asks the pure engine for every
  free slot, and places the sessions in memory. Its query count does not depend on how many sessions it places
  (``bench/packs.py`` shows it; a test asserts it).
- **The engine decides what is free.** Weekly hours, date overrides, holidays, time off, durations, buffers,
  minimum notice, horizon and rooms are the engine's rules, so a proposal is exactly a slot the booking box would
  offer. On top of them the planner keeps the patient's preferences (weekdays, a local time window, the chosen
  professionals and places), the pack's rules (its services, its allowed professionals, its expiry: a session
  must start before ``expires_at``) and the patient's own calendar (never two of their sessions at once, one
  session per local day unless asked otherwise).
- **Preview, then confirm.** A plan is a value (frozen dataclasses). The admin and the booking box carry it between
  requests as a signed string (``sign_plan`` / ``unsign_plan``); unsigning re-reads and re-checks every id, and
  ``confirm_schedule`` books through ``book_from_pack``, which checks everything again under the locks.
- **All or none.** ``confirm_schedule`` books every proposal in ONE transaction. Each booking runs in its own
  savepoint so that every proposal that fails is found (not only the first); if any failed, the whole transaction
  is rolled back and ``ScheduleConflict`` lists them, each with alternatives computed after the rollback.

Lock order (as ``book_from_pack``): professionals, patient, appointment, purchase. ``confirm_schedule`` first locks
every professional of the plan in id order, then the patient, so two plans sharing professionals serialise
instead of deadlocking.

Time windows are local wall-clock times in the zone of the place (the location's zone; online sessions use the
clinic's default zone, America/Santiago): a session fits the window when it starts at or after ``time_from`` and
ends at or before ``time_to`` on the same local day, so it keeps its local time across a DST change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from booking.scheduling.availability import ALL, Slot, available_slots
from booking.scheduling.errors import BookingError
from booking.scheduling.models import (
    Appointment,
    AppointmentModality,
    Location,
    Professional,
    ProfessionalService,
    Service,
)
from booking.scheduling.models.appointments import OPEN_STATUSES
from booking.scheduling.selectors import DEFAULT_STEP, load_availability
from booking.scheduling.services import ACT_FOR_CLINIC_PERMISSION
from portal.accounts.models import Patient

from ..errors import PackError
from ..models import LIVE_STATUSES, PackagePurchase
from ..selectors import balances
from .booking import book_from_pack

__all__ = [
    "CADENCES",
    "Proposal",
    "ProposalFailure",
    "ScheduleConflict",
    "SchedulePlan",
    "ScheduleRequest",
    "Unplaced",
    "alternatives_for",
    "confirm_schedule",
    "plan_alternatives",
    "propose_schedule",
    "replace_proposal",
    "sign_plan",
    "sign_proposal",
    "unsign_plan",
    "unsign_proposal",
]

WEEKLY, BIWEEKLY, ASAP = "weekly", "biweekly", "asap"
CADENCES = (WEEKLY, BIWEEKLY, ASAP)
_PERIOD_DAYS = {WEEKLY: 7, BIWEEKLY: 14, ASAP: 0}
# A plan never looks further than this: no service's horizon is longer in practice, and it bounds the load.
MAX_RANGE_DAYS = 366
# More than this in one plan is a tampered form, not a pack.
MAX_PROPOSALS = 200
SIGNING_SALT = "booking.packs.autoschedule"
# A signed plan older than this is refused: the calendar has moved on, propose again.
PLAN_MAX_AGE = timedelta(hours=6)
DEFAULT_ALTERNATIVES = 8


# --- values -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleRequest:
    """What staff (or the patient) asked for, normalised: ids, local dates and times, the cadence.

    ``location_ids`` is None for "any place" (every location of the professionals, and online where the service
    has it); otherwise a tuple of location ids, where ``None`` stands for online.
    """

    professional_ids: tuple[int, ...]
    location_ids: tuple[int | None, ...] | None
    start_date: date
    weekdays: tuple[int, ...]
    time_from: time
    time_to: time
    cadence: str
    one_per_day: bool = True

    def as_data(self) -> dict:
        return {
            "professionals": list(self.professional_ids),
            "locations": None if self.location_ids is None else list(self.location_ids),
            "start": self.start_date.isoformat(),
            "weekdays": list(self.weekdays),
            "from": self.time_from.isoformat(),
            "to": self.time_to.isoformat(),
            "cadence": self.cadence,
            "one_per_day": self.one_per_day,
        }

    @classmethod
    def from_data(cls, data: dict) -> ScheduleRequest:
        locations = data["locations"]
        return cls(
            professional_ids=tuple(int(pk) for pk in data["professionals"]),
            location_ids=None if locations is None else tuple(None if pk is None else int(pk) for pk in locations),
            start_date=date.fromisoformat(data["start"]),
            weekdays=tuple(int(day) for day in data["weekdays"]),
            time_from=time.fromisoformat(data["from"]),
            time_to=time.fromisoformat(data["to"]),
            cadence=str(data["cadence"]),
            one_per_day=bool(data["one_per_day"]),
        )


@dataclass(frozen=True)
class Proposal:
    """One session the plan would book: ``start``/``end`` aware (UTC); ``location`` None means online."""

    service: Service
    professional: Professional
    location: Location | None
    modality: str
    start: datetime
    end: datetime

    @property
    def zone(self) -> ZoneInfo:
        """The zone the session's time is read in: its location's, or the clinic's for an online session."""
        return self.location.tzinfo if self.location is not None else ZoneInfo(settings.TIME_ZONE)

    @property
    def local_start(self) -> datetime:
        return self.start.astimezone(self.zone)

    @property
    def local_end(self) -> datetime:
        return self.end.astimezone(self.zone)

    @property
    def key(self) -> tuple:
        """What identifies the proposal: service, professional, place and start (ids and the UTC instant)."""
        return (
            self.service.pk,
            self.professional.pk,
            self.location.pk if self.location else None,
            self.start.astimezone(UTC),
        )

    def as_data(self) -> list:
        return [
            self.service.pk,
            self.professional.pk,
            self.location.pk if self.location else None,
            self.modality,
            self.start.astimezone(UTC).isoformat(),
        ]


@dataclass(frozen=True)
class Unplaced:
    """Sessions of ``service`` the planner could not place, how many, and why (``code`` and a message)."""

    service: Service
    count: int
    code: str
    message: str


@dataclass(frozen=True)
class SchedulePlan:
    """A proposed schedule for ``purchase``: proposals sorted by start, what could not be placed, and the request."""

    purchase: PackagePurchase
    request: ScheduleRequest
    proposals: tuple[Proposal, ...]
    unplaced: tuple[Unplaced, ...] = ()

    @property
    def unplaced_count(self) -> int:
        return sum(item.count for item in self.unplaced)


@dataclass(frozen=True)
class ProposalFailure:
    """A proposal that could not be booked when confirming: why, and other free times for it."""

    index: int
    proposal: Proposal
    code: str
    message: str
    alternatives: tuple[Proposal, ...] = ()


class ScheduleConflict(PackError):
    """Confirming found proposals no longer bookable: nothing was booked. ``failures`` lists them."""

    def __init__(self, failures: Sequence[ProposalFailure]):
        self.failures = tuple(failures)
        count = len(self.failures)
        message = ngettext(
            "One proposed session can no longer be booked, so nothing was booked. Choose another time for it "
            "and confirm again.",
            "%(count)d proposed sessions can no longer be booked, so nothing was booked. Choose other times for "
            "them and confirm again.",
            count,
        ) % {"count": count}
        super().__init__("schedule_conflict", message)


# --- helpers ----------------------------------------------------------------------------------------------------


def _refuse(message: str, code: str = "invalid_request") -> PackError:
    return PackError(code, message)


def _acts_for_clinic(user) -> bool:
    return bool(
        user is not None and getattr(user, "is_authenticated", False) and user.has_perm(ACT_FOR_CLINIC_PERMISSION)
    )


def _check_actor(purchase: PackagePurchase, actor) -> None:
    if _acts_for_clinic(actor):
        return
    if actor is None or not getattr(actor, "is_authenticated", False) or purchase.patient.user_id != actor.pk:
        raise PackError("not_allowed")


def _check_purchase(purchase: PackagePurchase, now: datetime) -> None:
    if not isinstance(purchase, PackagePurchase) or purchase.pk is None:
        raise PackError("invalid_request")
    if purchase.status not in LIVE_STATUSES:
        raise PackError("not_active")
    if purchase.has_expired(now):
        raise PackError("expired")


def _default_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _pk(value) -> int | None:
    """An instance's pk or an id as int; raises ValueError/TypeError on anything else."""
    if value is None:
        return None
    if hasattr(value, "pk"):
        return int(value.pk)
    if isinstance(value, bool):
        raise TypeError("not an id")
    return int(value)


def _normalise_request(
    *,
    professionals,
    locations,
    start_date,
    weekdays,
    time_from,
    time_to,
    cadence,
    one_per_day,
    now: datetime,
) -> ScheduleRequest:
    try:
        professional_ids = tuple(dict.fromkeys(_pk(p) for p in (professionals or ())))
        location_ids = None if locations is None else tuple(dict.fromkeys(_pk(loc) for loc in locations))
        days = tuple(sorted({int(day) for day in (weekdays or ())}))
    except (TypeError, ValueError) as exc:
        raise _refuse(gettext("The scheduling details are not valid.")) from exc
    if not professional_ids or None in professional_ids:
        raise _refuse(gettext("Choose at least one professional."))
    if location_ids is not None and not location_ids:
        raise _refuse(gettext("Choose at least one place."))
    if not days or not all(0 <= day <= 6 for day in days):
        raise _refuse(gettext("Choose at least one weekday."))
    if not isinstance(start_date, date) or isinstance(start_date, datetime):
        raise _refuse(gettext("The start date is not valid."))
    if start_date < timezone.localtime(now, _default_zone()).date():
        raise _refuse(gettext("The start date cannot be in the past."))
    if not isinstance(time_from, time) or not isinstance(time_to, time) or time_from >= time_to:
        raise _refuse(gettext("The time window must end after it starts."))
    if cadence not in CADENCES:
        raise _refuse(gettext("Choose how often the sessions should be."))
    return ScheduleRequest(
        professional_ids=professional_ids,
        location_ids=location_ids,
        start_date=start_date,
        weekdays=days,
        time_from=time_from.replace(tzinfo=None),
        time_to=time_to.replace(tzinfo=None),
        cadence=cadence,
        one_per_day=bool(one_per_day),
    )


def _targets(purchase: PackagePurchase, sessions: Mapping | None) -> list[tuple[int, int]]:
    """``(service id, how many)`` to place, in the snapshot's order, validated against the balance (one query)."""
    current = balances(purchase)
    service_ids = purchase.service_ids
    if sessions is not None:
        try:
            wanted = {int(service_id): int(count) for service_id, count in dict(sessions).items()}
        except (TypeError, ValueError) as exc:
            raise PackError("invalid_quantity") from exc
        if any(service_id not in service_ids for service_id in wanted):
            raise PackError("service_not_in_pack")
        if any(count < 0 for count in wanted.values()):
            raise PackError("invalid_quantity")
        if purchase.is_pool:
            if sum(wanted.values()) > max(current.remaining, 0):
                raise PackError("no_sessions_left")
        else:
            for service_id, count in wanted.items():
                bucket = current.for_service(service_id)
                if bucket is None or count > max(bucket.remaining, 0):
                    raise PackError("no_sessions_left")
        targets = [(service_id, wanted.get(service_id, 0)) for service_id in service_ids]
        if not any(count for _, count in targets):
            raise PackError("invalid_quantity")
    elif purchase.is_pool:
        left = max(current.remaining, 0)
        share, extra = divmod(left, len(service_ids)) if service_ids else (0, 0)
        targets = [(service_id, share + (1 if index < extra else 0)) for index, service_id in enumerate(service_ids)]
    else:
        targets = []
        for service_id in service_ids:
            bucket = current.for_service(service_id)
            targets.append((service_id, max(bucket.remaining, 0) if bucket else 0))
    targets = [(service_id, count) for service_id, count in targets if count > 0]
    if not targets:
        raise PackError("no_sessions_left", gettext("There are no sessions left to schedule in this pack."))
    if sum(count for _, count in targets) > MAX_PROPOSALS:
        raise PackError("invalid_quantity")
    return targets


@dataclass
class _Candidate:
    """A free slot already filtered by the request, with what the placement compares."""

    slot: Slot
    service_id: int
    local_day: date
    blocked_start: datetime
    blocked_end: datetime


@dataclass
class _Board:
    """Everything the planner needs in memory: the pack's services, the people and places, the free slots."""

    purchase: PackagePurchase
    request: ScheduleRequest
    now: datetime
    services: dict[int, Service]
    professionals: dict[int, Professional]
    locations: dict[int, Location]
    candidates: dict[int, list[_Candidate]]  # per service, sorted by start
    offering: dict[int, set[int]]  # service id -> chosen professionals who offer it
    patient_busy: list[tuple[datetime, datetime]]
    buffers: dict[int, tuple[timedelta, timedelta]]
    # Locations with rooms: two proposals there must not overlap even in their buffers (conservative: one room is
    # assumed, since the patient's own sessions never overlap and only the buffers could).
    rooms_limited: set[int] = field(default_factory=set)

    def proposal(self, candidate: _Candidate) -> Proposal:
        slot = candidate.slot
        location = self.locations.get(slot.location_id) if slot.location_id is not None else None
        return Proposal(
            service=self.services[candidate.service_id],
            professional=self.professionals[slot.professional_id],
            location=location,
            modality=AppointmentModality.ONLINE if location is None else AppointmentModality.IN_PERSON,
            start=slot.start,
            end=slot.end,
        )

    def blocked(self, proposal: Proposal) -> tuple[datetime, datetime]:
        before, after = self.buffers.get(proposal.service.pk, (timedelta(0), timedelta(0)))
        return proposal.start - before, proposal.end + after


def _load_board(
    *,
    purchase: PackagePurchase,
    request: ScheduleRequest,
    service_ids: Iterable[int],
    now: datetime,
) -> _Board:
    """Read once what placing needs, in a number of queries that depends on the services, never on the sessions.

    Queries: the services (1), the chosen professionals (1), their offers of the pack's services (1), the
    patient's open sessions in the range (1), per service ``load_availability`` (3), and the places of the slots
    found (1). The range runs from the request's start date to the pack's expiry (at most ``MAX_RANGE_DAYS``).
    """
    service_ids = list(dict.fromkeys(service_ids))
    services = {service.pk: service for service in Service.objects.filter(pk__in=service_ids, active=True)}
    professionals = {
        professional.pk: professional
        for professional in Professional.objects.filter(pk__in=request.professional_ids, active=True)
    }
    missing = [pk for pk in request.professional_ids if pk not in professionals]
    if missing:
        raise _refuse(gettext("One of the chosen professionals does not exist or is not active."))
    allowed = purchase.allowed_professional_ids
    if allowed and any(pk not in allowed for pk in professionals):
        raise PackError("professional_not_in_pack")
    offering: dict[int, set[int]] = defaultdict(set)
    offers_any: set[int] = set()  # who offers any of the pack's services, even one not planned now
    for professional_id, service_id in ProfessionalService.objects.filter(
        professional_id__in=list(professionals), service_id__in=purchase.service_ids
    ).values_list("professional_id", "service_id"):
        offers_any.add(professional_id)
        if service_id in services:
            offering[service_id].add(professional_id)
    idle = [professionals[pk].display_name for pk in request.professional_ids if pk not in offers_any]
    if idle:
        raise _refuse(
            gettext("%(names)s does not offer any of this pack's services.") % {"names": ", ".join(idle)},
            "professional_not_in_pack",
        )
    wanted_locations = [pk for pk in (request.location_ids or ()) if pk is not None]
    zone = _default_zone()
    first_day = request.start_date
    expiry_day = timezone.localtime(purchase.expires_at, zone).date() + timedelta(days=1)
    last_day = min(expiry_day, first_day + timedelta(days=MAX_RANGE_DAYS))
    range_start = datetime.combine(first_day - timedelta(days=1), time(0), zone)
    range_end = datetime.combine(last_day + timedelta(days=2), time(0), zone)
    patient_busy = list(
        Appointment.objects.active(now)
        .filter(patient_id=purchase.patient_id, status__in=OPEN_STATUSES, start__lt=range_end, end__gt=range_start)
        .values_list("start", "end")
    )
    raw: dict[int, list[Slot]] = {}
    buffers: dict[int, tuple[timedelta, timedelta]] = {}
    rooms_limited: set[int] = set()
    for service_id in service_ids:
        service = services.get(service_id)
        chosen = sorted(offering.get(service_id, ()))
        if service is None or not chosen:
            raw[service_id] = []
            continue
        loaded = load_availability(
            service=service, professionals=chosen, location=ALL, start_day=first_day, end_day=last_day, now=now
        )
        spec = loaded.spec
        buffers[service_id] = (spec.buffer_before, spec.buffer_after)
        rooms_limited.update(occupancy.location_id for occupancy in loaded.rooms if occupancy.rooms)
        slots = available_slots(
            professionals=loaded.professionals,
            service=spec,
            start_day=first_day,
            end_day=last_day,
            now=now,
            step=DEFAULT_STEP,
            location_id=ALL,
            rooms=loaded.rooms,
        )
        raw[service_id] = [
            slot
            for slot in slots
            if slot.start < purchase.expires_at
            and (request.location_ids is None or slot.location_id in request.location_ids)
        ]
    # The places the slots are at, read once (an inactive location gives no proposal).
    seen = {slot.location_id for slots in raw.values() for slot in slots if slot.location_id is not None}
    locations = Location.objects.filter(active=True).in_bulk(seen | set(wanted_locations))
    if any(pk not in locations for pk in wanted_locations):
        raise _refuse(gettext("One of the chosen places does not exist or is not active."))
    candidates: dict[int, list[_Candidate]] = {}
    for service_id, slots in raw.items():
        before, after = buffers.get(service_id, (timedelta(0), timedelta(0)))
        found = []
        for slot in slots:
            if slot.location_id is not None and slot.location_id not in locations:
                continue
            slot_zone = locations[slot.location_id].tzinfo if slot.location_id is not None else zone
            local_start, local_end = slot.start.astimezone(slot_zone), slot.end.astimezone(slot_zone)
            if (
                local_start.date() < first_day
                or local_start.weekday() not in request.weekdays
                or local_start.time() < request.time_from
                or local_end.date() != local_start.date()
                or local_end.time() > request.time_to
            ):
                continue
            found.append(
                _Candidate(
                    slot=slot,
                    service_id=service_id,
                    local_day=local_start.date(),
                    blocked_start=slot.start - before,
                    blocked_end=slot.end + after,
                )
            )
        candidates[service_id] = found
    return _Board(
        purchase=purchase,
        request=request,
        now=now,
        services=services,
        professionals=professionals,
        locations=locations,
        candidates=candidates,
        offering=offering,
        patient_busy=patient_busy,
        buffers=buffers,
        rooms_limited=rooms_limited,
    )


class _Placed:
    """The proposals placed so far, for the in-memory checks: the patient's time, the professionals', the days."""

    def __init__(self, board: _Board, one_per_day: bool):
        self.board = board
        self.one_per_day = one_per_day
        self.days: set[date] = set()
        self.sessions: list[tuple[datetime, datetime]] = list(board.patient_busy)
        self.blocked: list[tuple[int, int | None, datetime, datetime]] = []
        if one_per_day:
            self.days.update(timezone.localtime(start, _default_zone()).date() for start, _ in board.patient_busy)

    def fits(self, candidate: _Candidate) -> bool:
        slot = candidate.slot
        if self.one_per_day and candidate.local_day in self.days:
            return False
        if any(start < slot.end and slot.start < end for start, end in self.sessions):
            return False
        for professional_id, location_id, start, end in self.blocked:
            same_room_pool = location_id is not None and location_id == slot.location_id
            shares = professional_id == slot.professional_id or (
                same_room_pool and location_id in self.board.rooms_limited
            )
            if shares and start < candidate.blocked_end and candidate.blocked_start < end:
                return False
        return True

    def add(self, candidate: _Candidate) -> None:
        slot = candidate.slot
        self.days.add(candidate.local_day)
        self.sessions.append((slot.start, slot.end))
        self.blocked.append((slot.professional_id, slot.location_id, candidate.blocked_start, candidate.blocked_end))

    def add_proposal(self, proposal: Proposal) -> None:
        blocked_start, blocked_end = self.board.blocked(proposal)
        self.days.add(proposal.local_start.date())
        self.sessions.append((proposal.start, proposal.end))
        self.blocked.append(
            (proposal.professional.pk, proposal.location.pk if proposal.location else None, blocked_start, blocked_end)
        )


def _unplaced_reason(board: _Board, service_id: int, earliest: date) -> tuple[str, str]:
    if service_id not in board.services:
        return "service_inactive", gettext("This service is not offered any more.")
    if not board.offering.get(service_id):
        return "no_professional", gettext("None of the chosen professionals offers this service.")
    if earliest > timezone.localtime(board.purchase.expires_at, _default_zone()).date():
        return "expiry", gettext("The pack expires before another session fits.")
    return "no_free_time", gettext(
        "No free time on the chosen days and hours before the pack expires or as far ahead as the service can be "
        "booked."
    )


def _service_names(purchase: PackagePurchase) -> dict[int, str]:
    return {item["service_id"]: item.get("service_name", "") for item in (purchase.snapshot or {}).get("items", [])}


def propose_schedule(
    *,
    purchase: PackagePurchase,
    professionals,
    locations=None,
    start_date: date,
    weekdays,
    time_from: time,
    time_to: time,
    cadence: str,
    one_per_day: bool = True,
    actor,
    now: datetime | None = None,
    sessions: Mapping[int, int] | None = None,
) -> SchedulePlan:
    """Propose every remaining session of ``purchase`` as a concrete free slot (nothing is written).

    Per service, as many sessions as it has left (a shared pool: what is left, split over the pack's services in
    the snapshot's order, the first ones taking the odd sessions; or as ``sessions`` {service id: count} says,
    checked against the balance). The sessions of each service follow the ``cadence``: ``weekly`` and
    ``biweekly`` place each one at least 7 or 14 local days after the previous one of the same service, ``asap``
    as early as possible; services are interleaved in rounds (the first session of each, then the second...). Each
    session takes the earliest free slot on the first possible day, preferring (that day) the professional of the
    service's first session, so the patient keeps their professional when they can (continuity of care). Sessions
    that find no slot are reported in ``plan.unplaced``.

    Refuses (``PackError``) a pack that is not active or has expired, an actor who is neither the patient nor
    clinic staff, bad input (no professional, no weekday, an empty or inverted time window, a start date in the
    past, an unknown cadence), professionals the pack does not allow or who offer none of its services, and a
    ``sessions`` mapping the balance does not cover.
    """
    now = now if now is not None else timezone.now()
    _check_purchase(purchase, now)
    _check_actor(purchase, actor)
    request = _normalise_request(
        professionals=professionals,
        locations=locations,
        start_date=start_date,
        weekdays=weekdays,
        time_from=time_from,
        time_to=time_to,
        cadence=cadence,
        one_per_day=one_per_day,
        now=now,
    )
    targets = _targets(purchase, sessions)
    board = _load_board(purchase=purchase, request=request, service_ids=[pk for pk, _ in targets], now=now)
    placed = _Placed(board, request.one_per_day)
    period = timedelta(days=_PERIOD_DAYS[request.cadence])
    left = dict(targets)
    cursor = {service_id: 0 for service_id, _ in targets}  # candidates before it are past the service's earliest
    earliest_day = {service_id: request.start_date for service_id, _ in targets}
    earliest_instant: dict[int, datetime | None] = {service_id: None for service_id, _ in targets}
    first_professional: dict[int, int] = {}
    proposals: list[Proposal] = []
    unplaced: dict[tuple[int, str], tuple[int, str]] = {}
    while any(left.values()):
        for service_id, _ in targets:
            if not left[service_id]:
                continue
            left[service_id] -= 1
            chosen = _place_one(
                board.candidates.get(service_id, []),
                placed,
                start_index=cursor[service_id],
                earliest_day=earliest_day[service_id],
                earliest_instant=earliest_instant[service_id],
                prefer_professional=first_professional.get(service_id),
            )
            if chosen is None:
                code, message = _unplaced_reason(board, service_id, earliest_day[service_id])
                count, _message = unplaced.get((service_id, code), (0, message))
                unplaced[service_id, code] = (count + 1, message)
                continue
            index, candidate = chosen
            placed.add(candidate)
            proposals.append(board.proposal(candidate))
            first_professional.setdefault(service_id, candidate.slot.professional_id)
            cursor[service_id] = index + 1
            if request.cadence == ASAP:
                earliest_instant[service_id] = candidate.slot.end
                earliest_day[service_id] = candidate.local_day
            else:
                earliest_day[service_id] = candidate.local_day + period
    proposals.sort(key=lambda proposal: (proposal.start, proposal.professional.pk))
    names = _service_names(purchase)
    fallback = {pk: Service(pk=pk, name=names.get(pk) or str(pk)) for pk, _ in targets}
    return SchedulePlan(
        purchase=purchase,
        request=request,
        proposals=tuple(proposals),
        unplaced=tuple(
            Unplaced(service=board.services.get(service_id) or fallback[service_id], count=count, code=code, message=m)
            for (service_id, code), (count, m) in unplaced.items()
        ),
    )


def _place_one(
    candidates: list[_Candidate],
    placed: _Placed,
    *,
    start_index: int,
    earliest_day: date,
    earliest_instant: datetime | None,
    prefer_professional: int | None,
) -> tuple[int, _Candidate] | None:
    """The earliest fitting candidate on the first day that has one, the preferred professional first that day."""
    best: tuple[int, _Candidate] | None = None
    for index in range(start_index, len(candidates)):
        candidate = candidates[index]
        if candidate.local_day < earliest_day:
            continue
        if earliest_instant is not None and candidate.slot.start < earliest_instant:
            continue
        if best is not None and candidate.local_day != best[1].local_day:
            break
        if not placed.fits(candidate):
            continue
        if best is None:
            best = (index, candidate)
            if prefer_professional is None or candidate.slot.professional_id == prefer_professional:
                break
        elif candidate.slot.professional_id == prefer_professional:
            best = (index, candidate)
            break
    return best


# --- alternatives -----------------------------------------------------------------------------------------------


def _alternatives(
    board: _Board, *, target: Proposal, others: Sequence[Proposal], limit: int, professional_ids: set[int] | None
) -> tuple[Proposal, ...]:
    """Free times for ``target``'s service that fit beside ``others``, nearest to ``target`` first."""
    placed = _Placed(board, board.request.one_per_day)
    for other in others:
        placed.add_proposal(other)
    found = []
    for candidate in board.candidates.get(target.service.pk, ()):
        slot = candidate.slot
        if professional_ids is not None and slot.professional_id not in professional_ids:
            continue
        if (slot.start, slot.professional_id, slot.location_id) == (
            target.start,
            target.professional.pk,
            target.location.pk if target.location else None,
        ):
            continue
        if placed.fits(candidate):
            found.append(candidate)
    found.sort(key=lambda candidate: (abs(candidate.slot.start - target.start), candidate.slot.start))
    chosen = sorted(found[:limit], key=lambda candidate: candidate.slot.start)
    return tuple(board.proposal(candidate) for candidate in chosen)


def alternatives_for(
    *,
    plan: SchedulePlan,
    index: int,
    actor,
    now: datetime | None = None,
    limit: int = DEFAULT_ALTERNATIVES,
) -> tuple[Proposal, ...]:
    """Other free times for proposal ``index`` of ``plan``, for the swap: same service, the plan's professionals
    (those who offer it and the pack allows), places, weekdays and time window, before the expiry, fitting beside
    the plan's other proposals and the patient's sessions. Nearest to the current proposal first, then by time.

    One load of the scheduling data (a fixed number of queries), whatever the plan's size.
    """
    now = now if now is not None else timezone.now()
    purchase = plan.purchase
    _check_purchase(purchase, now)
    _check_actor(purchase, actor)
    if not isinstance(index, int) or not 0 <= index < len(plan.proposals):
        raise PackError("invalid_request")
    target = plan.proposals[index]
    others = [proposal for position, proposal in enumerate(plan.proposals) if position != index]
    board = _load_board(purchase=purchase, request=plan.request, service_ids=[target.service.pk], now=now)
    return _alternatives(board, target=target, others=others, limit=limit, professional_ids=None)


def plan_alternatives(
    *, plan: SchedulePlan, actor, now: datetime | None = None, limit: int = DEFAULT_ALTERNATIVES
) -> tuple[tuple[Proposal, ...], ...]:
    """``alternatives_for`` every proposal of ``plan`` at once (the swap choices of a preview), in the plan's order.

    One load of the scheduling data for all the plan's services: the query count does not grow with the plan.
    """
    now = now if now is not None else timezone.now()
    purchase = plan.purchase
    _check_purchase(purchase, now)
    _check_actor(purchase, actor)
    if not plan.proposals:
        return ()
    board = _load_board(
        purchase=purchase, request=plan.request, service_ids=[p.service.pk for p in plan.proposals], now=now
    )
    return tuple(
        _alternatives(
            board,
            target=target,
            others=[other for position, other in enumerate(plan.proposals) if position != index],
            limit=limit,
            professional_ids=None,
        )
        for index, target in enumerate(plan.proposals)
    )


def replace_proposal(plan: SchedulePlan, index: int, proposal: Proposal) -> SchedulePlan:
    """The plan with proposal ``index`` swapped for ``proposal`` (same service; it must not clash with the others).

    Checked in memory only; ``confirm_schedule`` checks everything again under the locks.
    """
    if not 0 <= index < len(plan.proposals):
        raise PackError("invalid_request")
    current = plan.proposals[index]
    if proposal.service.pk != current.service.pk:
        raise PackError("invalid_request")
    for position, other in enumerate(plan.proposals):
        if position == index:
            continue
        if other.start < proposal.end and proposal.start < other.end:
            raise _refuse(gettext("That time overlaps another session of the plan."))
        if plan.request.one_per_day and other.local_start.date() == proposal.local_start.date():
            raise _refuse(gettext("The plan already has a session that day."))
    proposals = list(plan.proposals)
    proposals[index] = proposal
    proposals.sort(key=lambda item: (item.start, item.professional.pk))
    return replace(plan, proposals=tuple(proposals))


# --- confirm ----------------------------------------------------------------------------------------------------


def _criteria_from(proposals: Sequence[Proposal], now: datetime) -> ScheduleRequest:
    """A request that covers ``proposals`` (their professionals, places, weekdays and hours), for alternatives."""
    starts = [proposal.local_start for proposal in proposals]
    ends = [proposal.local_end for proposal in proposals]
    time_from = min(start.time() for start in starts)
    time_to = max(end.time() for end in ends)
    if time_to <= time_from:
        time_from, time_to = time(0), time(23, 59)
    return ScheduleRequest(
        professional_ids=tuple(dict.fromkeys(proposal.professional.pk for proposal in proposals)),
        location_ids=tuple(dict.fromkeys(p.location.pk if p.location else None for p in proposals)),
        start_date=timezone.localtime(now, _default_zone()).date(),
        weekdays=tuple(range(7)),
        time_from=time_from,
        time_to=time_to,
        cadence=ASAP,
        one_per_day=len({start.date() for start in starts}) == len(starts),
    )


def _lock_people(purchase: PackagePurchase, proposals: Sequence[Proposal]) -> None:
    """Professionals in id order, then the patient: the order ``book_from_pack`` takes them, for every session."""
    professional_ids = sorted({proposal.professional.pk for proposal in proposals})
    list(Professional.objects.select_for_update().filter(pk__in=professional_ids).order_by("pk").values_list("pk"))
    Patient.objects.select_for_update().only("pk").get(pk=purchase.patient_id)


def confirm_schedule(
    *,
    purchase: PackagePurchase,
    proposals: Sequence[Proposal],
    actor,
    source: str,
    now: datetime | None = None,
) -> list[Appointment]:
    """Book every proposal with ``book_from_pack`` in ONE transaction: all of them, or none.

    Each booking runs in a savepoint so that every failing proposal is found; if any failed (the time was taken
    meanwhile, the patient booked something else then, the pack refused), the transaction is rolled back and
    ``ScheduleConflict`` lists the failures, each with alternatives read after the rollback. A refusal that is
    not about one proposal (the pack is not active any more, the actor may not use it) is raised as it is.
    Returns the appointments in the proposals' order.
    """
    now = now if now is not None else timezone.now()
    _check_purchase(purchase, now)
    _check_actor(purchase, actor)
    proposals = list(proposals or ())
    if not proposals or len(proposals) > MAX_PROPOSALS or not all(isinstance(p, Proposal) for p in proposals):
        raise _refuse(gettext("There is nothing to book in this schedule."))
    failures: list[tuple[int, Proposal, str, str]] = []
    appointments: list[Appointment] = []
    with transaction.atomic():
        _lock_people(purchase, proposals)
        for index, proposal in enumerate(proposals):
            try:  # book_from_pack's own atomic block is a savepoint here: a refusal undoes that session only
                appointment = book_from_pack(
                    purchase=purchase,
                    professional=proposal.professional,
                    service=proposal.service,
                    start=proposal.start,
                    location=proposal.location,
                    modality=proposal.modality,
                    source=source,
                    actor=actor,
                    now=now,
                )
            except (BookingError, PackError) as error:
                if isinstance(error, PackError) and error.code in ("not_allowed", "not_active", "other_patient"):
                    raise
                failures.append((index, proposal, error.code, str(error.message)))
                continue
            appointments.append(appointment)
        if failures:
            transaction.set_rollback(True)
    if not failures:
        return appointments
    raise ScheduleConflict(_failures_with_alternatives(purchase, proposals, failures, now))


def _failures_with_alternatives(
    purchase: PackagePurchase, proposals: list[Proposal], failures: list[tuple[int, Proposal, str, str]], now
) -> list[ProposalFailure]:
    """Alternatives for each failed proposal, beside the proposals that did not fail: one load per service."""
    failed = {index for index, *_ in failures}
    kept = [proposal for index, proposal in enumerate(proposals) if index not in failed]
    request = _criteria_from(proposals, now)
    try:
        purchase.refresh_from_db(fields=["status", "expires_at"])
        _check_purchase(purchase, now)
        board = _load_board(
            purchase=purchase,
            request=request,
            service_ids=[proposal.service.pk for _, proposal, *_ in failures],
            now=now,
        )
    except PackError:
        board = None
    result = []
    taken: list[Proposal] = list(kept)
    for index, proposal, code, message in failures:
        alternatives: tuple[Proposal, ...] = ()
        if board is not None:
            alternatives = _alternatives(
                board, target=proposal, others=taken, limit=DEFAULT_ALTERNATIVES, professional_ids=None
            )
        result.append(ProposalFailure(index, proposal, code, message, alternatives))
    return result


# --- carrying a plan between requests -------------------------------------------------------------------------


def sign_plan(plan: SchedulePlan) -> str:
    """The plan as a signed, tamper-proof string for a hidden form field (read back with ``unsign_plan``)."""
    data = {
        "purchase": plan.purchase.pk,
        "request": plan.request.as_data(),
        "proposals": [proposal.as_data() for proposal in plan.proposals],
        "unplaced": [[item.service.pk, item.count, item.code, item.message] for item in plan.unplaced],
    }
    return signing.dumps(data, salt=SIGNING_SALT, compress=True)


def sign_proposal(purchase: PackagePurchase, proposal: Proposal) -> str:
    """One proposal (e.g. an alternative offered for a swap) as a signed string bound to ``purchase``."""
    return signing.dumps({"purchase": purchase.pk, "proposal": proposal.as_data()}, salt=SIGNING_SALT, compress=True)


def _unsigned(value: str) -> dict:
    if not isinstance(value, str) or not value:
        raise _refuse(gettext("The schedule could not be read; please propose it again."))
    try:
        data = signing.loads(value, salt=SIGNING_SALT, max_age=PLAN_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise _refuse(gettext("This schedule is too old; please propose it again.")) from exc
    except signing.BadSignature as exc:
        raise _refuse(gettext("The schedule could not be read; please propose it again.")) from exc
    if not isinstance(data, dict):
        raise _refuse(gettext("The schedule could not be read; please propose it again."))
    return data


def _rebuild_proposals(purchase: PackagePurchase, rows: list, professional_ids: set[int] | None) -> list[Proposal]:
    """Proposals from ``[service, professional, location, modality, start]`` rows, every id re-read and re-checked.

    Three queries whatever the number of rows. The end is recomputed from the professional's duration.
    """
    try:
        parsed = [
            (int(service_id), int(professional_id), None if location_id is None else int(location_id), modality, start)
            for service_id, professional_id, location_id, modality, start in rows
        ]
        starts = [datetime.fromisoformat(start) for *_rest, start in parsed]
    except (TypeError, ValueError) as exc:
        raise _refuse(gettext("The schedule could not be read; please propose it again.")) from exc
    if len(parsed) > MAX_PROPOSALS or any(timezone.is_naive(start) for start in starts):
        raise PackError("invalid_request")
    allowed = purchase.allowed_professional_ids
    offers = {
        (offer.professional_id, offer.service_id): offer
        for offer in ProfessionalService.objects.select_related("professional", "service").filter(
            professional_id__in={row[1] for row in parsed},
            service_id__in={row[0] for row in parsed},
            professional__active=True,
            service__active=True,
        )
    }
    locations = Location.objects.filter(active=True).in_bulk({row[2] for row in parsed if row[2] is not None})
    proposals = []
    for (service_id, professional_id, location_id, modality, _), start in zip(parsed, starts, strict=True):
        offer = offers.get((professional_id, service_id))
        if offer is None or service_id not in purchase.service_ids:
            raise PackError("service_not_in_pack")
        if (allowed and professional_id not in allowed) or (
            professional_ids is not None and professional_id not in professional_ids
        ):
            raise PackError("professional_not_in_pack")
        location = locations.get(location_id) if location_id is not None else None
        expected = AppointmentModality.ONLINE if location_id is None else AppointmentModality.IN_PERSON
        if (location_id is not None and location is None) or modality != expected:
            raise PackError("invalid_request")
        start = start.astimezone(UTC)
        proposals.append(
            Proposal(
                service=offer.service,
                professional=offer.professional,
                location=location,
                modality=modality,
                start=start,
                end=start + timedelta(minutes=offer.duration_minutes),
            )
        )
    return proposals


def unsign_plan(value: str, *, purchase: PackagePurchase) -> SchedulePlan:
    """A plan from ``sign_plan``'s string, for ``purchase`` only, with every id re-read and re-checked.

    Raises ``PackError`` with a clear message for a tampered, foreign, stale or unreadable value.
    """
    data = _unsigned(value)
    if data.get("purchase") != purchase.pk:
        raise PackError("other_patient", gettext("This schedule belongs to another pack."))
    try:
        request = ScheduleRequest.from_data(data["request"])
        unplaced_rows = [(int(pk), int(n), str(code), str(text)) for pk, n, code, text in data["unplaced"]]
        rows = list(data["proposals"])
    except (KeyError, TypeError, ValueError) as exc:
        raise _refuse(gettext("The schedule could not be read; please propose it again.")) from exc
    proposals = _rebuild_proposals(purchase, rows, set(request.professional_ids))
    services = {proposal.service.pk: proposal.service for proposal in proposals}
    missing = {pk for pk, *_ in unplaced_rows if pk not in services}
    if missing:
        services.update(Service.objects.in_bulk(missing))
    unplaced = tuple(
        Unplaced(service=services.get(pk) or Service(pk=pk, name=str(pk)), count=count, code=code, message=message)
        for pk, count, code, message in unplaced_rows
        if pk in purchase.service_ids
    )
    return SchedulePlan(purchase=purchase, request=request, proposals=tuple(proposals), unplaced=unplaced)


def unsign_proposal(value: str, *, purchase: PackagePurchase, plan: SchedulePlan | None = None) -> Proposal:
    """A proposal from ``sign_proposal``'s string, for ``purchase`` only (and ``plan``'s professionals), re-checked."""
    data = _unsigned(value)
    if data.get("purchase") != purchase.pk or "proposal" not in data:
        raise PackError("other_patient", gettext("This schedule belongs to another pack."))
    professional_ids = set(plan.request.professional_ids) if plan is not None else None
    (proposal,) = _rebuild_proposals(purchase, [data["proposal"]], professional_ids)
    return proposal
