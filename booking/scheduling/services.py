"""Booking use cases: hold, book, confirm, reschedule, cancel, complete, no-show, release expired holds.

Every function follows the same skeleton (see CONVENTIONS.md): check the rule and raise ``BookingError``;
``transaction.atomic()``, re-read the rows with ``select_for_update()``, change, save, write an
``AppointmentEvent``; side effects run in ``transaction.on_commit`` through the ``appointment_changed`` signal,
so that a notification is never sent for a change that was rolled back. What must happen *with* a change, in its
transaction, hooks in through ``appointment_closing`` and ``appointment_moving`` (packs settles or guards a
session's pack credit there), so scheduling needs no import of the apps built on it.

Overlaps: on SQLite every transaction is ``BEGIN IMMEDIATE``, so writers serialise and the check under the lock
is exact. On PostgreSQL the professional's row is locked with ``SELECT ... FOR UPDATE`` (bookings of one
professional serialise) and an exclusion constraint backs it up; an ``IntegrityError`` becomes
``BookingError("slot_unavailable")``, never a 500.

Who may act for the clinic is a permission, not the ``is_staff`` flag: ``scheduling.change_appointment`` (held by
the Receptionists and Clinic administrators groups, see ``portal.accounts.roles``) lets a user act on other
people's appointments and override the reschedule and cancellation windows (and the reschedule limit) by giving a
reason; the reason is stored on the event. Minimum notice and horizon still apply to the new time. A professional
may close (complete, no-show) their own sessions; a patient acts on their own bookings only.

Rooms: an in-person session at a location with active rooms takes a room free for its blocked interval, chosen
under the same lock as the overlap check (``_assign_room``); with every room busy the slot is unavailable.

Modality: a session is only booked (or moved) in a modality its service has (``_check_modality``); the engine
never offers the other one either. An online session gets its own unguessable video room when it is created
(``video.new_room_name``); it keeps it when it moves, since the session never changes modality.

The patient: one patient cannot be in two sessions at once. Booking and rescheduling lock the patient's row
(after the professional's) and refuse a session overlapping another open one of theirs (confirmed, or held and
not lapsed) with ``BookingError("patient_overlap")``, naming the time. Two racing bookings of one patient with two
professionals take different professional locks but the same patient lock, so the second one reads the first one's
session (READ COMMITTED reads what committed before each statement) and is refused. Staff with
``scheduling.change_appointment`` may go past it by giving a reason, which the event keeps.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Literal, NamedTuple

import django.dispatch
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import formats, timezone
from django.utils.translation import gettext

from portal.accounts.models import Patient

from .availability import available_slots
from .errors import BookingError
from .models import (
    Appointment,
    AppointmentEvent,
    AppointmentModality,
    AppointmentStatus,
    Location,
    Professional,
    ProfessionalService,
    Room,
    Service,
)
from .models.appointments import OPEN_STATUSES, expired_hold_q
from .selectors import DEFAULT_STEP, load_availability
from .timefmt import format_local_time
from .video import new_room_name

Action = AppointmentEvent.Action
UNKNOWN = object()  # "not read yet", where None is a meaningful value

# Sent on commit with ``appointment`` and ``action`` (an AppointmentEvent.Action). Today one receiver listens: the
# booking box's confirmation email (``booking.widget.signals``, connected in WidgetConfig.ready()). Payments do not:
# billing calls these services itself (``billing.cancel_booking``, ``cancel_unpaid_hold``, the checkout and its
# webhook); these never call billing.
appointment_changed = django.dispatch.Signal()

# Sent INSIDE the transaction that ends an open session, right after its new status is saved and before it commits:
# cancelled (``cancel_appointment``; a lapsed hold too), completed or a no-show (``mark_completed``,
# ``mark_no_show``). Arguments: ``appointment`` (locked, already in its new status), ``action`` (the
# AppointmentEvent.Action written), ``late`` (a cancellation the policy treats as late: past the free window and not
# waived by a staff override; False for every other ending), ``actor`` and ``now``. A receiver does what must
# happen together with the status change (booking.packs settles the session's pack credit on its ledger, see
# ``booking.packs.receivers``) and may return a ``PackCredit``, which ``cancel_appointment`` hands back in its
# outcome. It is a plain synchronous ``send``: a receiver that raises rolls the whole change back, so a session
# never ends with its credit left as it was. Scheduling never imports packs: packs connects itself in
# PacksConfig.ready().
appointment_closing = django.dispatch.Signal()

# Sent INSIDE ``reschedule_appointment``'s transaction, under its locks, once the new time has passed scheduling's
# own checks and before anything is saved. Arguments: ``appointment`` (locked, still at its old time), ``start`` and
# ``end`` (the new session), ``professional``, ``actor``, ``now``. A receiver refuses the move by raising
# ``BookingError`` (booking.packs: a pack session may not move past its pack's expiry or to a professional the pack
# does not allow); nothing is then changed.
appointment_moving = django.dispatch.Signal()

# Sent INSIDE ``hold_slot`` / ``book_appointment``'s transaction, under the professional's and the patient's locks,
# before the slot is checked and anything is saved. Arguments: ``patient``, ``professional``, ``service``, ``start``,
# ``source``, ``actor``, ``for_clinic`` (a callable: whether the actor acts for the clinic, staff; call it only
# when needed, it may read the actor's permissions) and ``now``. A receiver refuses the
# new booking by raising ``BookingError`` (portal.records: a patient discharged by this professional books them
# again only through the clinic or after a new referral); nothing is then written. Every way of booking (the box,
# the portal, the API, packs) goes through here, so none can skip the rule.
appointment_creating = django.dispatch.Signal()


class RefundDecision(enum.Enum):
    """What the cancellation policy says about money already paid."""

    FULL_REFUND = "full_refund"
    NO_REFUND = "no_refund"
    NOTHING_PAID = "nothing_paid"  # a hold cancelled before payment


class PackCredit(enum.Enum):
    """What ending a session booked from a pack did to its credit (scheduling's word for it; packs decides).

    Returned by ``booking.packs``' receiver of ``appointment_closing``; None for a session not booked from a pack.
    """

    RETURNED = "returned"  # the session goes back to the pack (timely cancel, professional's no-show, or the policy)
    FORFEITED = "forfeited"  # the session is lost (late cancel or the patient's no-show, by the service's policy)
    USED = "used"  # the session took place


@dataclass(frozen=True)
class CancellationOutcome:
    appointment: Appointment
    refund: RefundDecision
    late: bool
    pack_credit: PackCredit | None = None  # what the cancellation did to the session's pack credit, if from a pack


def _now(now: datetime | None) -> datetime:
    return now if now is not None else timezone.now()


# The permission that lets a user act on anybody's appointment and go past the policy with a reason.
ACT_FOR_CLINIC_PERMISSION = "scheduling.change_appointment"


def _acts_for_clinic(user) -> bool:
    """Whether ``user`` may act on other people's appointments: a model permission (group or own), not is_staff.

    ``has_perm`` is False for inactive users and True for active superusers.
    """
    return bool(
        user is not None and getattr(user, "is_authenticated", False) and user.has_perm(ACT_FOR_CLINIC_PERMISSION)
    )


def _snapshot(appointment: Appointment) -> dict:
    return {
        "status": appointment.status,
        "start": appointment.start.isoformat(),
        "end": appointment.end.isoformat(),
        "professional_id": appointment.professional_id,
        "location_id": appointment.location_id,
        "room_id": appointment.room_id,
        "reschedule_count": appointment.reschedule_count,
    }


def _log(appointment: Appointment, action: str, *, actor, at: datetime, before=None, reason: str = "") -> None:
    AppointmentEvent.objects.create(
        appointment=appointment,
        action=action,
        actor=actor,
        at=at,
        before=before or {},
        after=_snapshot(appointment),
        reason=reason or "",
    )
    transaction.on_commit(lambda: appointment_changed.send(sender=Appointment, appointment=appointment, action=action))


def _log_many(appointment: Appointment, actions: list[tuple[str, str | None]], *, actor, at: datetime) -> None:
    """``_log`` for several ``(action, reason)`` of one change, written in one INSERT, signalled in order."""
    after = _snapshot(appointment)
    AppointmentEvent.objects.bulk_create(
        AppointmentEvent(
            appointment=appointment, action=action, actor=actor, at=at, before={}, after=after, reason=reason or ""
        )
        for action, reason in actions
    )
    for action, _reason in actions:
        transaction.on_commit(
            lambda action=action: appointment_changed.send(sender=Appointment, appointment=appointment, action=action)
        )


def _announce_closing(appointment: Appointment, action: str, *, actor, now: datetime, late: bool = False):
    """Send ``appointment_closing`` (in the caller's transaction); the ``PackCredit`` a receiver returned, or None."""
    responses = appointment_closing.send(
        sender=Appointment, appointment=appointment, action=action, late=late, actor=actor, now=now
    )
    return next((response for _receiver, response in responses if isinstance(response, PackCredit)), None)


def _require_owner_or_clinic(appointment: Appointment, actor) -> None:
    if _acts_for_clinic(actor):
        return
    if actor is None or appointment.patient.user_id != actor.pk:
        raise BookingError("not_allowed")


def _check_staff_override(actor, staff_override_reason: str | None) -> bool:
    if not staff_override_reason:
        return False
    if not _acts_for_clinic(actor):
        raise BookingError("not_allowed")
    return True


def _check_modality(*, service: Service, modality: str, location: Location | None) -> None:
    """Refuse a modality the service does not have, then a place that does not fit the modality.

    Checked before anything is locked: it depends on the request and the catalog only.
    """
    if modality not in AppointmentModality.values:
        raise BookingError("invalid_request")
    if modality == AppointmentModality.ONLINE and not service.offers_online:
        raise BookingError(
            "modality_not_offered",
            gettext("“%(service)s” is only offered in person.") % {"service": service.name},
        )
    if modality == AppointmentModality.IN_PERSON and not service.offers_in_person:
        raise BookingError(
            "modality_not_offered", gettext("“%(service)s” is only offered online.") % {"service": service.name}
        )
    if (modality == AppointmentModality.IN_PERSON) != (location is not None):
        raise BookingError("invalid_request")


def _lock_patient(patient_id: int) -> None:
    """Serialise the bookings of one patient (taken after the professional's lock, always in that order)."""
    Patient.objects.select_for_update().only("pk").get(pk=patient_id)


def _check_patient_free(
    *,
    patient_id: int,
    start: datetime,
    end: datetime,
    now: datetime,
    actor,
    override: bool,
    exclude_appointment_id: int | None = None,
    by_professional: bool = False,
) -> None:
    """Refuse a session overlapping another open session of the same patient, unless staff override.

    Compares the sessions themselves (not the buffers, which are the professional's time); touching is fine. Must
    run under ``_lock_patient`` so that a concurrent booking of the same patient cannot slip in after the read.
    """
    clashes = (
        Appointment.objects.active(now)
        .filter(patient_id=patient_id, status__in=OPEN_STATUSES, start__lt=end, end__gt=start)
        .select_related("location", "service", "professional")
        .order_by("start")
    )
    if exclude_appointment_id is not None:
        clashes = clashes.exclude(pk=exclude_appointment_id)
    _refuse_patient_clash(clashes.first(), actor=actor, override=override, by_professional=by_professional)


def _refuse_patient_clash(clash: Appointment | None, *, actor, override: bool, by_professional: bool = False) -> None:
    """Raise ``patient_overlap`` naming the patient's other session ``clash``, if any, unless staff override."""
    if clash is None or override:
        return
    zone = clash.location.tzinfo if clash.location else timezone.get_default_timezone()
    local_start = timezone.localtime(clash.start, zone)
    details = {
        "date": formats.date_format(local_start, "DATE_FORMAT"),
        "time": format_local_time(local_start),
        "service": clash.service.name,
        "professional": clash.professional.display_name,
    }
    if by_professional:
        message = gettext(
            "The patient has another session on %(date)s at %(time)s (%(service)s with %(professional)s). "
            "Please choose another time."
        )
    elif _acts_for_clinic(actor):
        message = gettext(
            "This patient already has a session on %(date)s at %(time)s (%(service)s with %(professional)s). "
            "To go ahead anyway, give a staff override reason."
        )
    else:
        message = gettext(
            "You already have a session on %(date)s at %(time)s (%(service)s with %(professional)s). "
            "Please choose another time."
        )
    raise BookingError("patient_overlap", message % details)


def _read_patient_clash_and_expired_holds(
    *,
    patient_id: int,
    start: datetime,
    end: datetime,
    blocked_start: datetime,
    blocked_end: datetime,
    now: datetime,
    exclude_appointment_id: int | None = None,
) -> tuple[Appointment | None, list[Appointment]]:
    """What ``_check_patient_free`` and ``_release_expired_holds_overlapping`` read, in one locked query.

    Returns the patient's first open session overlapping ``[start, end)`` (not an expired hold) and the expired
    holds overlapping the blocked interval (anyone's: the caller keeps those of the professional or the room), all
    locked. Runs under the professional's and the patient's locks, like the two reads it replaces.
    """
    expired_hold = expired_hold_q(now)
    patient_session = Q(patient_id=patient_id, status__in=OPEN_STATUSES, start__lt=end, end__gt=start) & ~expired_hold
    in_the_way = expired_hold & Q(blocked_start__lt=blocked_end, blocked_end__gt=blocked_start)
    rows = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("location", "service", "professional")
        .filter(patient_session | in_the_way)
        .order_by("start", "pk")
    )
    if exclude_appointment_id is not None:
        rows = rows.exclude(pk=exclude_appointment_id)
    clash, holds = None, []
    for row in rows:
        if row.hold_expired(now):
            holds.append(row)
        elif clash is None:
            clash = row
    return clash, holds


def _expire_holds_in_the_way(holds: list[Appointment], *, professional_id: int, room_id: int | None, now) -> None:
    """Cancel the expired holds (read by ``_read_patient_clash_and_expired_holds``) of the professional or room."""
    for hold in holds:
        if hold.professional_id == professional_id or (room_id is not None and hold.room_id == room_id):
            _expire_hold(hold, now)


def _release_expired_holds_overlapping(*, professional_id: int, room_id: int | None, start, end, now) -> None:
    """Cancel expired holds in the way, so the new row does not trip the PostgreSQL exclusion constraint."""
    expired = (
        Appointment.objects.select_for_update().expired_holds(now).filter(blocked_start__lt=end, blocked_end__gt=start)
    )
    for hold in expired:
        if hold.professional_id == professional_id or (room_id is not None and hold.room_id == room_id):
            _expire_hold(hold, now)


def _expire_hold(hold: Appointment, now: datetime) -> None:
    before = _snapshot(hold)
    hold.status = AppointmentStatus.CANCELLED
    hold.cancellation_reason = "hold expired"
    hold.save(update_fields=["status", "cancellation_reason", "updated_at"])
    _log(hold, Action.HOLD_EXPIRED, actor=None, at=now, before=before)
    _announce_closing(hold, Action.HOLD_EXPIRED, actor=None, now=now)


def _assign_room(
    *,
    location: Location | None,
    modality: str,
    blocked_start: datetime,
    blocked_end: datetime,
    now: datetime,
    keep: Room | None = None,
    exclude_appointment_id: int | None = None,
    has_rooms: bool = True,
) -> Room | None:
    """A room of ``location`` free over the blocked interval, or None when the session needs none.

    In-person sessions at a location with active rooms need one; online sessions and locations without rooms do
    not. ``keep`` (the room a rescheduled session already has) wins when it is still active and free; otherwise
    the first free room by name. Locks the location's active rooms (in id order, after the professional), so two
    bookings at one location cannot pick the same room at once on PostgreSQL; SQLite serialises writers anyway.
    Raises ``BookingError("slot_unavailable")`` when every room is taken. ``has_rooms=False`` (the engine's data,
    read a moment ago in this transaction, shows no active room there) skips the look-up: there is nothing to lock.
    """
    if modality != AppointmentModality.IN_PERSON or location is None or not has_rooms:
        return None
    rooms = list(Room.objects.select_for_update().filter(location=location, active=True).order_by("pk"))
    if not rooms:
        return None
    taken = Appointment.objects.active(now).filter(room__in=rooms).overlapping(blocked_start, blocked_end)
    if exclude_appointment_id is not None:
        taken = taken.exclude(pk=exclude_appointment_id)
    taken_ids = set(taken.values_list("room_id", flat=True))
    free = sorted((room for room in rooms if room.pk not in taken_ids), key=lambda room: (room.name, room.pk))
    if not free:
        raise BookingError("slot_unavailable")
    kept = [room for room in free if keep is not None and room.pk == keep.pk]
    return (kept or free)[0]


class SlotCheck(NamedTuple):
    start: datetime
    end: datetime
    blocked_start: datetime
    blocked_end: datetime
    has_rooms: bool  # the location had active rooms when the engine's data was read (in this transaction)


def _check_slot(
    *,
    professional: Professional,
    service: Service,
    location: Location | None,
    start: datetime,
    now: datetime,
    exclude_appointment_id: int | None = None,
    duration_override: int | None | object = UNKNOWN,
) -> SlotCheck:
    """Verify ``start`` is an engine slot now; returns its times and whether its location has rooms, or raises.

    Runs inside the booking transaction, so the busy time it reads is the time under the lock. A caller that has
    just read (under the lock) the professional's offer of the service gives its ``duration_override`` (minutes or
    None), which spares the selector its catalog query.
    """
    if timezone.is_naive(start):
        raise BookingError("invalid_request")
    # In UTC: a local time with fold=1 (the second 23:00) never compares equal across zones, and a local ``now``
    # plus the notice would add wall-clock hours rather than real ones.
    start, now = start.astimezone(UTC), now.astimezone(UTC)
    first_day, last_day = (start - timedelta(days=1)).date(), (start + timedelta(days=1)).date()
    loaded = load_availability(
        service=service,
        professionals=[professional],
        location=location,
        start_day=first_day,
        end_day=last_day,
        now=now,
        exclude_appointment_id=exclude_appointment_id,
        durations=None if duration_override is UNKNOWN else {professional.pk: duration_override},
    )
    spec = loaded.spec
    if not loaded.professionals:
        raise BookingError("not_allowed")
    if start < now + spec.min_notice:
        raise BookingError("too_late")
    if start > spec.latest_start(now, location.time_zone if location else timezone.get_default_timezone_name()):
        raise BookingError("too_far")
    (own,) = loaded.professionals
    location_id = location.pk if location else None

    def offered(professional_availability, rooms) -> bool:
        slots = available_slots(
            professionals=[professional_availability],
            service=spec,
            start_day=first_day,
            end_day=last_day,
            now=now,
            step=DEFAULT_STEP,
            location_id=location_id,
            rooms=rooms,
        )
        return any(slot.start == start for slot in slots)

    if not offered(own, loaded.rooms):
        # Would it be offered if nobody had booked? Then it is taken, not outside the hours.
        free = offered(replace(own, busy=()), ())
        raise BookingError("slot_unavailable" if free else "outside_availability")
    duration = own.duration or spec.duration
    end = start + duration
    has_rooms = any(occupancy.location_id == location_id and occupancy.rooms for occupancy in loaded.rooms)
    return SlotCheck(start, end, start - spec.buffer_before, end + spec.buffer_after, has_rooms)


def _create(
    *,
    status: str,
    patient: Patient,
    professional: Professional,
    service: Service,
    start: datetime,
    location: Location | None,
    modality: str,
    now: datetime,
    hold_minutes: int | None,
    source: str,
    actor,
    note: str,
    staff_override_reason: str | None,
    savepoint: bool,
) -> Appointment:
    _check_modality(service=service, modality=modality, location=location)
    if not service.active:
        raise BookingError("not_allowed")
    override = _check_staff_override(actor, staff_override_reason)
    try:
        with transaction.atomic(savepoint=savepoint):
            # The professional's lock and their offer of the service in one query (no offer: nothing to lock).
            offer = (
                ProfessionalService.objects.select_for_update(of=("professional",))
                .select_related("professional", "service")
                .filter(professional_id=professional.pk, service_id=service.pk)
                .first()
            )
            if offer is None or not offer.professional.active:
                raise BookingError("not_allowed")
            professional, service = offer.professional, offer.service
            _lock_patient(patient.pk)
            appointment_creating.send(
                sender=Appointment,
                patient=patient,
                professional=professional,
                service=service,
                start=start,
                source=source,
                actor=actor,
                for_clinic=lambda: _acts_for_clinic(actor),
                now=now,
            )
            start, end, blocked_start, blocked_end, has_rooms = _check_slot(
                professional=professional,
                service=service,
                location=location,
                start=start,
                now=now,
                duration_override=offer.duration_override_minutes,
            )
            clash, expired_holds = _read_patient_clash_and_expired_holds(
                patient_id=patient.pk,
                start=start,
                end=end,
                blocked_start=blocked_start,
                blocked_end=blocked_end,
                now=now,
            )
            _refuse_patient_clash(clash, actor=actor, override=override)
            room = _assign_room(
                location=location,
                modality=modality,
                blocked_start=blocked_start,
                blocked_end=blocked_end,
                now=now,
                has_rooms=has_rooms,
            )
            _expire_holds_in_the_way(
                expired_holds, professional_id=professional.pk, room_id=room.pk if room else None, now=now
            )
            appointment = Appointment.objects.create(
                patient=patient,
                professional=professional,
                service=service,
                location=location,
                room=room,
                modality=modality,
                start=start,
                end=end,
                blocked_start=blocked_start,
                blocked_end=blocked_end,
                status=status,
                hold_expires_at=now + timedelta(minutes=hold_minutes) if hold_minutes else None,
                price=Decimal(offer.price),
                currency=service.currency,
                patient_note=note,
                video_room=new_room_name() if modality == AppointmentModality.ONLINE else "",
                source=source,
                created_by=actor,
            )
            second = Action.HELD if status == AppointmentStatus.PENDING_PAYMENT else Action.CONFIRMED
            _log_many(appointment, [(Action.CREATED, staff_override_reason), (second, "")], actor=actor, at=now)
    except IntegrityError as exc:  # PostgreSQL's exclusion constraint: someone else won the race
        raise BookingError("slot_unavailable") from exc
    return appointment


def hold_slot(
    *,
    patient: Patient,
    professional: Professional,
    service: Service,
    start: datetime,
    location: Location | None = None,
    modality: str,
    now: datetime | None = None,
    hold_minutes: int = 15,
    source: str,
    actor,
    note: str = "",
    staff_override_reason: str | None = None,
    savepoint: bool = True,
) -> Appointment:
    """Reserve a slot for ``hold_minutes`` while the patient pays: a ``pending_payment`` appointment.

    ``staff_override_reason`` (staff only) books even though the patient has another session at that time.
    ``savepoint=False`` is for a caller whose own ``transaction.atomic()`` block surrounds the call and lets a
    refusal out (``billing.book_with_invoice``): its block is rolled back whole, so the SAVEPOINT is not needed.
    """
    return _create(
        status=AppointmentStatus.PENDING_PAYMENT,
        patient=patient,
        professional=professional,
        service=service,
        start=start,
        location=location,
        modality=modality,
        now=_now(now),
        hold_minutes=hold_minutes,
        source=source,
        actor=actor,
        note=note,
        staff_override_reason=staff_override_reason,
        savepoint=savepoint,
    )


def book_appointment(
    *,
    patient: Patient,
    professional: Professional,
    service: Service,
    start: datetime,
    location: Location | None = None,
    modality: str,
    now: datetime | None = None,
    source: str,
    actor,
    note: str = "",
    staff_override_reason: str | None = None,
    savepoint: bool = True,
) -> Appointment:
    """Book a slot, confirmed at once (services paid later or at the clinic, staff bookings).

    ``staff_override_reason`` (staff only) books even though the patient has another session at that time; the
    reason is kept on the ``created`` event. ``savepoint``: as for :func:`hold_slot`.
    """
    return _create(
        status=AppointmentStatus.CONFIRMED,
        patient=patient,
        professional=professional,
        service=service,
        start=start,
        location=location,
        modality=modality,
        now=_now(now),
        hold_minutes=None,
        source=source,
        actor=actor,
        note=note,
        staff_override_reason=staff_override_reason,
        savepoint=savepoint,
    )


def confirm_appointment(*, appointment: Appointment, actor, now: datetime | None = None) -> Appointment:
    """Confirm a held appointment (payment received).

    A hold that expired is confirmed only if its time is still free: for the professional, the room, and the
    patient (who may have booked another session at that time once the hold lapsed).
    """
    now = _now(now)
    try:
        with transaction.atomic():
            appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
            if appointment.status != AppointmentStatus.PENDING_PAYMENT:
                raise BookingError("invalid_state")
            if appointment.hold_expired(now):
                Professional.objects.select_for_update().get(pk=appointment.professional_id)
                same_people_or_room = Q(professional_id=appointment.professional_id)
                if appointment.room_id is not None:
                    same_people_or_room |= Q(room_id=appointment.room_id)
                taken = (
                    Appointment.objects.active(now)
                    .filter(same_people_or_room)
                    .overlapping(appointment.blocked_start, appointment.blocked_end)
                    .exclude(pk=appointment.pk)
                    .exists()
                )
                if taken:
                    raise BookingError("slot_unavailable")
                _lock_patient(appointment.patient_id)
                _check_patient_free(
                    patient_id=appointment.patient_id,
                    start=appointment.start,
                    end=appointment.end,
                    now=now,
                    actor=actor,
                    override=False,
                    exclude_appointment_id=appointment.pk,
                )
            before = _snapshot(appointment)
            appointment.status = AppointmentStatus.CONFIRMED
            appointment.hold_expires_at = None
            appointment.save(update_fields=["status", "hold_expires_at", "updated_at"])
            _log(appointment, Action.CONFIRMED, actor=actor, at=now, before=before)
    except IntegrityError as exc:
        raise BookingError("slot_unavailable") from exc
    return appointment


def release_expired_holds(*, now: datetime | None = None) -> int:
    """Cancel every hold whose time ran out (event ``hold_expired``); returns how many were released."""
    now = _now(now)
    with transaction.atomic():
        expired = list(Appointment.objects.select_for_update().expired_holds(now))
        for hold in expired:
            _expire_hold(hold, now)
    return len(expired)


def release_hold(*, appointment: Appointment, reason: str = "", now: datetime | None = None) -> Appointment:
    """Give a held slot back at once (checkout abandoned or expired at the provider, or the patient cancelled it
    before paying: ``billing.cancel_unpaid_hold``), before its deadline.

    Does nothing to an appointment that is no longer held: a late "expired" message after the payment
    confirmed it must not cancel a paid session.
    """
    now = _now(now)
    with transaction.atomic():
        appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if appointment.status != AppointmentStatus.PENDING_PAYMENT:
            return appointment
        _expire_hold(appointment, now)
        if reason:
            appointment.cancellation_reason = reason
            appointment.save(update_fields=["cancellation_reason", "updated_at"])
    return appointment


def reschedule_appointment(
    *,
    appointment: Appointment,
    start: datetime,
    actor,
    now: datetime | None = None,
    staff_override_reason: str | None = None,
    professional_reason: str | None = None,
) -> Appointment:
    """Move an appointment to another free slot of the same professional, service and location.

    The session keeps its modality, which its service must still offer. ``staff_override_reason`` (staff only) goes
    past the reschedule window and limit and past another session of the patient at the new time.

    ``professional_reason`` is the session's own professional moving it (an internal reschedule: they fell ill, a
    course): only that professional may give it, it must say something (the patient reads it in the email), it
    goes past the patient's window and limit — those rules are about the patient changing their mind — and does
    not count towards the patient's limit; it never goes past another session of the patient.

    A session booked from a pack keeps its reserved credit (no ledger row); the pack may refuse the new time
    (``appointment_moving``: past its expiry, or a professional it does not allow) with a ``BookingError``.
    """
    now = _now(now)
    override = _check_staff_override(actor, staff_override_reason)
    by_professional = professional_reason is not None
    if by_professional and not professional_reason.strip():
        raise BookingError("reason_required")
    try:
        with transaction.atomic():
            Professional.objects.select_for_update().get(pk=appointment.professional_id)
            appointment = (
                Appointment.objects.select_for_update(of=("self",))
                .select_related("service", "patient", "location", "professional", "room")
                .get(pk=appointment.pk)
            )
            if by_professional:
                if actor is None or appointment.professional.user_id != actor.pk:
                    raise BookingError("not_allowed")
            else:
                _require_owner_or_clinic(appointment, actor)
            if appointment.status not in OPEN_STATUSES or appointment.hold_expired(now):
                raise BookingError("invalid_state")
            _check_modality(service=appointment.service, modality=appointment.modality, location=appointment.location)
            _lock_patient(appointment.patient_id)
            if not override and not by_professional:
                if appointment.reschedule_count >= appointment.service.max_reschedules:
                    raise BookingError("max_reschedules")
                if not appointment.can_reschedule(now):
                    raise BookingError("policy_window")
            start, end, blocked_start, blocked_end, has_rooms = _check_slot(
                professional=appointment.professional,
                service=appointment.service,
                location=appointment.location,
                start=start,
                now=now,
                exclude_appointment_id=appointment.pk,
            )
            _check_patient_free(
                patient_id=appointment.patient_id,
                start=start,
                end=end,
                now=now,
                actor=actor,
                override=override,
                exclude_appointment_id=appointment.pk,
                by_professional=by_professional,
            )
            room = _assign_room(
                location=appointment.location,
                modality=appointment.modality,
                blocked_start=blocked_start,
                blocked_end=blocked_end,
                now=now,
                keep=appointment.room,
                exclude_appointment_id=appointment.pk,
                has_rooms=has_rooms,
            )
            _release_expired_holds_overlapping(
                professional_id=appointment.professional_id,
                room_id=room.pk if room else None,
                start=blocked_start,
                end=blocked_end,
                now=now,
            )
            appointment_moving.send(
                sender=Appointment,
                appointment=appointment,
                start=start,
                end=end,
                professional=appointment.professional,
                actor=actor,
                now=now,
            )
            before = _snapshot(appointment)
            appointment.start, appointment.end = start, end
            appointment.blocked_start, appointment.blocked_end = blocked_start, blocked_end
            appointment.room = room
            if not by_professional:
                appointment.reschedule_count += 1
            appointment.save(
                update_fields=[
                    "start",
                    "end",
                    "blocked_start",
                    "blocked_end",
                    "room",
                    "reschedule_count",
                    "updated_at",
                ]
            )
            reason = professional_reason.strip() if by_professional else staff_override_reason
            _log(appointment, Action.RESCHEDULED, actor=actor, at=now, before=before, reason=reason)
    except IntegrityError as exc:
        raise BookingError("slot_unavailable") from exc
    return appointment


def cancel_appointment(
    *,
    appointment: Appointment,
    actor,
    reason: str = "",
    now: datetime | None = None,
    staff_override_reason: str | None = None,
) -> CancellationOutcome:
    """Cancel an open appointment and say what the policy decides about money.

    Inside the service's cancellation window: full refund. Later (until the start): allowed, but no refund,
    unless staff override with a reason. After the start only staff may cancel.

    The decision is only returned: ``billing.cancel_booking`` calls this and then carries it out on the invoice,
    so views cancel through that, never through this alone (a session cancelled with its money left as it was).

    A session booked from a pack has its credit settled in this transaction (``appointment_closing``): returned
    when cancelled in the window or with a staff override, otherwise as the service's policy says; the outcome's
    ``pack_credit`` tells which (None for a session not booked from a pack).
    """
    now = _now(now)
    override = _check_staff_override(actor, staff_override_reason)
    with transaction.atomic():
        appointment = (
            Appointment.objects.select_for_update(of=("self",))
            .select_related("service", "patient")
            .get(pk=appointment.pk)
        )
        _require_owner_or_clinic(appointment, actor)
        if appointment.status not in OPEN_STATUSES:
            raise BookingError("invalid_state")
        if not appointment.can_cancel(now) and not _acts_for_clinic(actor):
            raise BookingError("policy_window")
        late = not appointment.cancellation_is_free(now)
        if appointment.status == AppointmentStatus.PENDING_PAYMENT:
            refund = RefundDecision.NOTHING_PAID
        elif late and not override:
            refund = RefundDecision.NO_REFUND
        else:
            refund = RefundDecision.FULL_REFUND
        before = _snapshot(appointment)
        appointment.status = AppointmentStatus.CANCELLED
        appointment.cancellation_reason = reason
        appointment.cancelled_by = actor
        appointment.save(update_fields=["status", "cancellation_reason", "cancelled_by", "updated_at"])
        event_reason = "; ".join(
            part for part in (reason, staff_override_reason and f"override: {staff_override_reason}") if part
        )
        _log(appointment, Action.CANCELLED, actor=actor, at=now, before=before, reason=event_reason)
        pack_credit = _announce_closing(
            appointment, Action.CANCELLED, actor=actor, now=now, late=late and not override
        )
    return CancellationOutcome(appointment=appointment, refund=refund, late=late, pack_credit=pack_credit)


def mark_completed(*, appointment: Appointment, actor, now: datetime | None = None) -> Appointment:
    """Record that a confirmed session took place (only once it has started)."""
    return _close(
        appointment=appointment, status=AppointmentStatus.COMPLETED, action=Action.COMPLETED, actor=actor, now=now
    )


def mark_no_show(
    *, appointment: Appointment, who: Literal["patient", "professional"], actor, now: datetime | None = None
) -> Appointment:
    """Record that the patient or the professional did not attend (only once the session has started)."""
    if who == "patient":
        status, action = AppointmentStatus.NO_SHOW_PATIENT, Action.NO_SHOW_PATIENT
    elif who == "professional":
        status, action = AppointmentStatus.NO_SHOW_PROFESSIONAL, Action.NO_SHOW_PROFESSIONAL
    else:
        raise BookingError("invalid_request")
    return _close(appointment=appointment, status=status, action=action, actor=actor, now=now)


def _close(*, appointment: Appointment, status: str, action: str, actor, now: datetime | None) -> Appointment:
    now = _now(now)
    if not _acts_for_clinic(actor) and not (actor is not None and appointment.professional.user_id == actor.pk):
        raise BookingError("not_allowed")
    with transaction.atomic():
        appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
        if appointment.status != AppointmentStatus.CONFIRMED or now < appointment.start:
            raise BookingError("invalid_state")
        before = _snapshot(appointment)
        appointment.status = status
        appointment.save(update_fields=["status", "updated_at"])
        _log(appointment, action, actor=actor, at=now, before=before)
        _announce_closing(appointment, action, actor=actor, now=now)
    return appointment


__all__ = [
    "CancellationOutcome",
    "PackCredit",
    "RefundDecision",
    "appointment_changed",
    "appointment_closing",
    "appointment_creating",
    "appointment_moving",
    "book_appointment",
    "cancel_appointment",
    "confirm_appointment",
    "hold_slot",
    "mark_completed",
    "mark_no_show",
    "release_expired_holds",
    "release_hold",
    "reschedule_appointment",
]
