"""A professional changes their own hours: weekly hours, date overrides and time off, within what the clinic allows.

Why a module of its own: ``services.py`` is about appointments; these use cases change the hours bookings are made
against, and share one guard that the booking services do not need.

The clinic decides per professional what they may change (``Professional.availability_self_service``: nothing,
time off and date overrides, or weekly hours too); staff keep editing everything in the admin.

The guard: a change that would strand booked sessions is refused. A session is stranded when it is open
(confirmed, or held and not expired), not over yet, inside the professional's hours before the change and outside
them after it (a shorter or removed weekly row, a closed or narrower date override, time off over it). The answer
comes from the availability engine itself (``availability.within_hours`` over ``selectors.load_hours``), so "inside
the hours" means what the booking box means, DST and holidays included. Each use case runs in one transaction that
locks the professional's row, the lock every booking takes first (``services._create``), so no booking can slip in
between the check and the change. The check reads the hours before the change, makes the change, reads them again
and, when sessions would be stranded, raises ``AvailabilityError`` with them, which rolls the change back: a
bounded number of queries (the lock, the sessions, two reads of the hours, the change) whatever the number of
sessions. A session that was already outside the hours (staff moved the hours earlier) does not block a change.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from booking.errors import DomainError

from .availability import BookedSession, within_hours
from .models import Appointment, DateOverride, Location, Professional, TimeOff, WeeklyAvailability
from .models.appointments import OPEN_STATUSES
from .selectors import load_hours

MIDNIGHT = time(0)


class AvailabilityError(DomainError):
    """A change of the hours was refused. ``sessions`` lists the booked sessions it would have stranded, if any."""

    messages = {
        "not_allowed": _("The clinic has not enabled you to change this yourself. Please ask the clinic."),
        "end_before_start": _("The end must be after the start."),
        "invalid_validity": _("“Valid until” cannot be before “valid from”."),
        "invalid_location": _("Choose one of your locations, or online."),
        "overlapping_hours": _("These hours overlap other weekly hours of yours at the same place."),
        "in_the_past": _("That time has already passed."),
        "strands_sessions": _(
            "This change would leave booked sessions outside your hours. Move or cancel them first, or ask the clinic."
        ),
    }

    def __init__(self, code: str, message=None, *, sessions: list[Appointment] | None = None):
        super().__init__(code, message)
        self.sessions = sessions or []


def _now(now: datetime | None) -> datetime:
    return now if now is not None else timezone.now()


def _lock(professional_id: int | None) -> Professional:
    """Re-read the professional under the lock every booking of theirs takes first (the clinic's rows: refused)."""
    if professional_id is None:
        raise AvailabilityError("not_allowed")
    return Professional.objects.select_for_update().get(pk=professional_id)


def _today(now: datetime) -> date:
    return now.astimezone(ZoneInfo(settings.TIME_ZONE)).date()


def _require(professional: Professional, actor, *, weekly: bool) -> None:
    """Only the professional themselves, and only what the clinic allows them (read under the lock)."""
    if actor is None or professional.user_id is None or professional.user_id != getattr(actor, "pk", None):
        raise AvailabilityError("not_allowed")
    allowed = professional.may_change_weekly_hours if weekly else professional.may_change_time_off
    if not allowed:
        raise AvailabilityError("not_allowed")


def _check_place(professional: Professional, location: Location | None) -> None:
    """Online (no location) or one of the professional's own locations."""
    if location is not None and not professional.locations.filter(pk=location.pk).exists():
        raise AvailabilityError("invalid_location")


def _check_times(start: time, end: time) -> None:
    """A wall-clock range: the end after the start, or 00:00 for midnight at the end of the day."""
    if end != MIDNIGHT and end <= start:
        raise AvailabilityError("end_before_start")


def _minutes(start: time, end: time) -> tuple[int, int]:
    return start.hour * 60 + start.minute, 24 * 60 if end == MIDNIGHT else end.hour * 60 + end.minute


def _check_no_overlap(
    professional: Professional,
    *,
    weekday: int,
    location: Location | None,
    start: time,
    end: time,
    valid_from: date | None,
    valid_until: date | None,
    exclude_pk: int | None = None,
) -> None:
    """Refuse weekly hours overlapping another row of the same weekday and place with a validity in common.

    The engine would merge them, but two rows covering the same time make the page unreadable and a later change
    of one of them surprising. Hours at two different places may overlap on purpose (in person or online).
    """
    rows = WeeklyAvailability.objects.filter(professional=professional, weekday=weekday, location=location)
    if exclude_pk is not None:
        rows = rows.exclude(pk=exclude_pk)
    first, last = _minutes(start, end)
    for row in rows:
        row_first, row_last = _minutes(row.start_time, row.end_time)
        if row_first >= last or first >= row_last:
            continue
        if (valid_until is not None and row.valid_from is not None and valid_until < row.valid_from) or (
            row.valid_until is not None and valid_from is not None and row.valid_until < valid_from
        ):
            continue
        raise AvailabilityError("overlapping_hours")


def _refuse_stranding(professional: Professional, affected: Q, change: Callable[[], object], *, now: datetime):
    """Make ``change`` (inside the caller's transaction, under the lock), or raise if it strands booked sessions.

    ``affected`` narrows the open sessions worth checking (those on the dates the change touches). Returns what
    ``change`` returned.
    """
    sessions = list(
        Appointment.objects.active(now)
        .filter(affected, professional=professional, status__in=OPEN_STATUSES, end__gt=now)
        .select_related("patient__user", "location", "service")
        .order_by("start", "pk")
    )
    if not sessions:
        return change()
    booked = [
        BookedSession(start=s.start, end=s.end, location_id=s.location_id, service_id=s.service_id) for s in sessions
    ]
    # UTC dates one day either side cover every session's local date, whatever its zone.
    first_day = min(s.start for s in sessions).astimezone(UTC).date() - timedelta(days=1)
    last_day = max(s.start for s in sessions).astimezone(UTC).date() + timedelta(days=1)

    def fits() -> list[bool]:
        hours = load_hours(professional=professional, start_day=first_day, end_day=last_day)
        return within_hours(hours, booked, default_tz=settings.TIME_ZONE)

    before = fits()
    result = change()
    after = fits()
    stranded = [session for session, was, still in zip(sessions, before, after, strict=True) if was and not still]
    if stranded:
        raise AvailabilityError("strands_sessions", sessions=stranded)
    return result


def _around(day: date) -> Q:
    """Sessions that may fall on local date ``day`` in any zone (the exact answer comes from the engine)."""
    return Q(
        start__lt=datetime.combine(day + timedelta(days=2), MIDNIGHT, UTC),
        end__gt=datetime.combine(day - timedelta(days=1), MIDNIGHT, UTC),
    )


# --- weekly hours -----------------------------------------------------------------------------------------------


def add_weekly_hours(
    *,
    professional: Professional,
    actor,
    weekday: int,
    start_time: time,
    end_time: time,
    location: Location | None,
    valid_from: date | None = None,
    valid_until: date | None = None,
    now: datetime | None = None,
) -> WeeklyAvailability:
    """New recurring hours. Adding hours never strands a session, but runs the same guard for uniformity."""
    now = _now(now)
    _check_weekly_input(weekday, start_time, end_time, valid_from, valid_until)
    with transaction.atomic():
        professional = _lock(professional.pk)
        _require(professional, actor, weekly=True)
        _check_place(professional, location)
        _check_no_overlap(
            professional,
            weekday=weekday,
            location=location,
            start=start_time,
            end=end_time,
            valid_from=valid_from,
            valid_until=valid_until,
        )
        return _refuse_stranding(
            professional,
            Q(),
            lambda: WeeklyAvailability.objects.create(
                professional=professional,
                weekday=weekday,
                start_time=start_time,
                end_time=end_time,
                location=location,
                valid_from=valid_from,
                valid_until=valid_until,
            ),
            now=now,
        )


def change_weekly_hours(
    *,
    row: WeeklyAvailability,
    actor,
    weekday: int,
    start_time: time,
    end_time: time,
    location: Location | None,
    valid_from: date | None = None,
    valid_until: date | None = None,
    now: datetime | None = None,
) -> WeeklyAvailability:
    """Move, shorten or lengthen recurring hours; refused when a booked session would fall outside them.

    The row keeps its service restriction (set by the clinic in the admin).
    """
    now = _now(now)
    _check_weekly_input(weekday, start_time, end_time, valid_from, valid_until)
    with transaction.atomic():
        professional = _lock(row.professional_id)
        _require(professional, actor, weekly=True)
        row = WeeklyAvailability.objects.select_for_update().get(pk=row.pk, professional=professional)
        _check_place(professional, location)
        _check_no_overlap(
            professional,
            weekday=weekday,
            location=location,
            start=start_time,
            end=end_time,
            valid_from=valid_from,
            valid_until=valid_until,
            exclude_pk=row.pk,
        )

        def change():
            row.weekday, row.start_time, row.end_time = weekday, start_time, end_time
            row.location, row.valid_from, row.valid_until = location, valid_from, valid_until
            row.save()
            return row

        return _refuse_stranding(professional, Q(), change, now=now)


def remove_weekly_hours(*, row: WeeklyAvailability, actor, now: datetime | None = None) -> None:
    """Remove recurring hours; refused when booked sessions lie in them and no other hours cover them."""
    now = _now(now)
    with transaction.atomic():
        professional = _lock(row.professional_id)
        _require(professional, actor, weekly=True)
        row = WeeklyAvailability.objects.select_for_update().get(pk=row.pk, professional=professional)
        _refuse_stranding(professional, Q(), row.delete, now=now)


def _check_weekly_input(
    weekday: int, start_time: time, end_time: time, valid_from: date | None, valid_until: date | None
) -> None:
    if not 0 <= weekday <= 6:
        raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {weekday}.")
    _check_times(start_time, end_time)
    if valid_from is not None and valid_until is not None and valid_until < valid_from:
        raise AvailabilityError("invalid_validity")


# --- date overrides --------------------------------------------------------------------------------------------


def add_date_override(
    *,
    professional: Professional,
    actor,
    day: date,
    location: Location | None,
    start_time: time | None = None,
    end_time: time | None = None,
    now: datetime | None = None,
) -> DateOverride:
    """Special hours at one place on one date (both times empty: closed there that day).

    Either kind can strand sessions: an override replaces the weekly hours at that place on that date.
    """
    now = _now(now)
    if (start_time is None) != (end_time is None):
        raise AvailabilityError("end_before_start")
    if start_time is not None:
        _check_times(start_time, end_time)
    with transaction.atomic():
        professional = _lock(professional.pk)
        _require(professional, actor, weekly=False)
        _check_place(professional, location)
        if day < _today(now):
            raise AvailabilityError("in_the_past")
        return _refuse_stranding(
            professional,
            _around(day),
            lambda: DateOverride.objects.create(
                professional=professional, date=day, location=location, start_time=start_time, end_time=end_time
            ),
            now=now,
        )


def remove_date_override(*, override: DateOverride, actor, now: datetime | None = None) -> None:
    """Remove special hours; refused when sessions booked in them fall outside the weekly hours that come back."""
    now = _now(now)
    with transaction.atomic():
        professional = _lock(override.professional_id)
        _require(professional, actor, weekly=False)
        override = DateOverride.objects.select_for_update().get(pk=override.pk, professional=professional)
        if override.date < _today(now):
            raise AvailabilityError("in_the_past")
        _refuse_stranding(professional, _around(override.date), override.delete, now=now)


# --- time off ---------------------------------------------------------------------------------------------------


def add_time_off(
    *,
    professional: Professional,
    actor,
    start: datetime,
    end: datetime,
    all_day: bool = False,
    reason: str = "",
    now: datetime | None = None,
) -> TimeOff:
    """Time away (every location); refused when it would cover a booked session."""
    now = _now(now)
    if timezone.is_naive(start) or timezone.is_naive(end):
        raise ValueError("Time off needs aware datetimes.")
    if end <= start:
        raise AvailabilityError("end_before_start")
    if end <= now:
        raise AvailabilityError("in_the_past")
    with transaction.atomic():
        professional = _lock(professional.pk)
        _require(professional, actor, weekly=False)
        return _refuse_stranding(
            professional,
            Q(start__lt=end, end__gt=start),
            lambda: TimeOff.objects.create(
                professional=professional, start=start, end=end, all_day=all_day, reason=reason[:200]
            ),
            now=now,
        )


def remove_time_off(*, time_off: TimeOff, actor, now: datetime | None = None) -> None:
    """Remove the professional's own time off that has not ended (the clinic's closures stay the clinic's)."""
    now = _now(now)
    with transaction.atomic():
        professional = _lock(time_off.professional_id)
        _require(professional, actor, weekly=False)
        time_off = TimeOff.objects.select_for_update().get(pk=time_off.pk, professional=professional)
        if time_off.end <= now:
            raise AvailabilityError("in_the_past")
        _refuse_stranding(professional, Q(start__lt=time_off.end, end__gt=time_off.start), time_off.delete, now=now)
