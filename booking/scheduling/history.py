"""An appointment's history as staff read it: names instead of ids, local times instead of UTC, labels translated.

Each ``AppointmentEvent`` keeps two snapshots of the appointment's raw values (``before`` and ``after``, written by
the services). Shown as they are stored they read ``location_id: 1`` and ``start: 2026-12-04T13:00:00+00:00``; the
staff detail page shows "Location: Providencia → Las Condes" and "Start: Fri 4 Dec 2026, 10:00 → 11:00" instead.

Every id the whole history mentions is collected first and read with one query per model, so a history of thirty
entries costs no more queries than one of three. A row deleted since the event was written shows as
"(deleted #id)": an old entry never breaks the page.
"""

import datetime
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from portal.accounts.models import Patient

from .models import (
    Appointment,
    AppointmentEvent,
    AppointmentModality,
    AppointmentStatus,
    Location,
    Professional,
    Room,
    Service,
)
from .money import format_money
from .timefmt import format_local_time

# Snapshot keys holding a row's id, the model they point to, and how staff name such a row. Rooms are named
# without their location (``str(room)`` would read the location once per room).
REFERENCES = {
    "professional_id": (Professional.objects.all(), lambda professional: professional.display_name),
    "location_id": (Location.objects.all(), lambda location: location.name),
    "room_id": (Room.objects.all(), lambda room: room.name),
    "service_id": (Service.objects.all(), lambda service: service.name),
    "patient_id": (Patient.objects.select_related("user"), str),
}
TIMES = ("start", "end", "hold_expires_at")

# The order the changes of one entry are listed in; keys not named here follow, alphabetically.
FIELD_LABELS = {
    "status": _("Status"),
    "start": _("Start"),
    "end": _("End"),
    "professional_id": _("Professional"),
    "patient_id": _("Patient"),
    "service_id": _("Service"),
    "modality": _("Modality"),
    "location_id": _("Location"),
    "room_id": _("Room"),
    "hold_expires_at": _("Hold expires at"),
    "price": _("Price"),
    "reschedule_count": _("Times rescheduled"),
}
FIELD_ORDER = {key: position for position, key in enumerate(FIELD_LABELS)}


@dataclass(frozen=True)
class Change:
    """One value of an entry: ``before`` is None when the entry records no earlier value (a creation)."""

    key: str
    label: str
    before: str | None
    after: str


@dataclass(frozen=True)
class HistoryEntry:
    event: AppointmentEvent
    local_at: datetime.datetime
    changes: list[Change]


def appointment_history(appointment: Appointment, events=None) -> list[HistoryEntry]:
    """The entries of ``appointment``'s history (its prefetched ``events`` unless given), oldest first.

    An entry with an earlier snapshot lists only the values that changed; a creation lists every value it set.
    """
    events = list(appointment.events.all() if events is None else events)
    rows = _referenced_rows(appointment, events)
    clinic_zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    return [
        HistoryEntry(
            event=event,
            local_at=timezone.localtime(event.at, clinic_zone),
            changes=_changes(event, rows, appointment.currency),
        )
        for event in events
    ]


def _snapshots(event: AppointmentEvent) -> tuple[dict, dict]:
    before = event.before if isinstance(event.before, dict) else {}
    after = event.after if isinstance(event.after, dict) else {}
    return before, after


def _referenced_rows(appointment: Appointment, events: list[AppointmentEvent]) -> dict[str, dict]:
    """For each reference key, the rows the history names, by id: the appointment's own rows, then one query per
    model for the others."""
    wanted = {key: set() for key in REFERENCES}
    for event in events:
        for snapshot in _snapshots(event):
            for key, ids in wanted.items():
                value = snapshot.get(key)
                if _is_id(value):
                    ids.add(value)
    rows = {key: {} for key in REFERENCES}
    for key in REFERENCES:
        own = getattr(appointment, key.removesuffix("_id"), None)
        if own is not None:
            rows[key][own.pk] = own
    for key, (queryset, _name) in REFERENCES.items():
        missing = wanted[key] - rows[key].keys()
        if missing:
            rows[key].update(queryset.in_bulk(missing))
    return rows


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _zone(snapshot: dict, rows: dict[str, dict]) -> zoneinfo.ZoneInfo:
    """The zone a snapshot's times are read in: its location's (sessions are booked in its wall-clock time), else
    the clinic's for online sessions or a location that no longer exists."""
    location_id = snapshot.get("location_id")
    location = rows["location_id"].get(location_id) if _is_id(location_id) else None
    if location is not None and location.time_zone:
        return zoneinfo.ZoneInfo(str(location.time_zone))
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _moment(value, zone) -> datetime.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=datetime.UTC)
    return timezone.localtime(moment, zone)


def _format_moment(moment: datetime.datetime) -> str:
    return format_local_time(moment, pgettext("appointment history: date and time", "D j M Y, H:i"))


def _format_value(key: str, value, rows: dict[str, dict], currency: str) -> str:
    if value is None or value == "":
        if key == "location_id":
            return gettext("Online")
        return "—"
    if key in REFERENCES and _is_id(value):
        _queryset, name = REFERENCES[key]
        row = rows[key].get(value)
        if row is None:
            return gettext("(deleted #%(id)s)") % {"id": value}
        return name(row)
    if key == "status":
        return str(dict(AppointmentStatus.choices).get(value, value))
    if key == "modality":
        return str(dict(AppointmentModality.choices).get(value, value))
    if key == "price":
        return format_money(value, currency) or str(value)
    return str(value)


def _changes(event: AppointmentEvent, rows: dict[str, dict], currency: str) -> list[Change]:
    before, after = _snapshots(event)
    if before:
        keys = [key for key in after.keys() | before.keys() if before.get(key) != after.get(key)]
    else:
        keys = list(after)
    keys.sort(key=lambda key: (FIELD_ORDER.get(key, len(FIELD_ORDER)), key))
    zones = (_zone(before, rows), _zone(after, rows))
    changes = []
    for key in keys:
        label = str(FIELD_LABELS.get(key, key))
        if key in TIMES:
            old, new = _moment(before.get(key), zones[0]), _moment(after.get(key), zones[1])
            old_text = _format_moment(old) if old else _format_value(key, before.get(key), rows, currency)
            if new is not None and old is not None and new.date() == old.date() and zones[0] == zones[1]:
                new_text = format_local_time(new)  # the same day: "10:00 → 11:00"
            else:
                new_text = _format_moment(new) if new else _format_value(key, after.get(key), rows, currency)
        else:
            old_text = _format_value(key, before.get(key), rows, currency)
            new_text = _format_value(key, after.get(key), rows, currency)
        changes.append(Change(key=key, label=label, before=old_text if before else None, after=new_text))
    return changes
