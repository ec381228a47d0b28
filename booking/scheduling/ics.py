"""iCalendar (RFC 5545) renderings of appointments: the private calendar feeds and the per-appointment download.

Times are written in UTC (``...Z``) so no VTIMEZONE is needed and every calendar app places the session at the
same instant whatever its own zone or DST rules. The UID is the appointment's public reference, stable across
reschedules, so a subscribed calendar updates the event in place; SEQUENCE counts the reschedules.

SUMMARY and DESCRIPTION also say the session's local time where the calendar app alone could mislead: a session
in the hour that repeats when daylight saving time ends gets "23:00 (after the clock change)" in its title, and
every description states the local time and zone of the place (see ``timefmt``).

What goes in is deliberately little: an online session's video page in the portal but never its room, no clinical
notes, no booking note, no cancellation reason, and nothing about other patients. A professional's feed names the
patient (the feed URL is private to that professional).
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from icalendar import Calendar, Event, vDuration

from .models import Appointment, AppointmentModality, AppointmentStatus
from .timefmt import clock_change_showing, format_local_time
from .video import video_page_url

PRODUCT_ID = "-//Clinic platform//Appointments//EN"
# Calendar apps that honour these refresh a subscription hourly instead of once a day.
REFRESH_INTERVAL = datetime.timedelta(hours=1)


def site_host() -> str:
    """The host of ``SITE_URL``: the UID's right-hand side, so UIDs are globally unique and never change."""
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def appointment_uid(appointment: Appointment) -> str:
    return f"{appointment.reference}@{site_host()}"


def _utc(moment: datetime.datetime) -> datetime.datetime:
    return moment.astimezone(datetime.UTC)


def _status(appointment: Appointment, now: datetime.datetime) -> str:
    """CANCELLED also for a payment hold that has run out but not yet been released: its time is free again."""
    if appointment.status == AppointmentStatus.CANCELLED or appointment.hold_expired(now):
        return "CANCELLED"
    if appointment.status == AppointmentStatus.PENDING_PAYMENT:
        return "TENTATIVE"
    return "CONFIRMED"


def _local_start(appointment: Appointment) -> datetime.datetime:
    """The start on the clock of the place: the location's zone, or the clinic's for an online session."""
    if appointment.location_id:
        return appointment.start.astimezone(appointment.location.tzinfo)
    return appointment.start.astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE))


def _person_name(user) -> str:
    return (user.get_full_name() or user.email).strip()


def _summary(appointment: Appointment, *, for_professional: bool, cancelled: bool) -> str:
    if for_professional:
        summary = _("%(service)s · %(patient)s") % {
            "service": appointment.service.name,
            "patient": _person_name(appointment.patient.user),
        }
    else:
        summary = _("%(service)s with %(professional)s") % {
            "service": appointment.service.name,
            "professional": appointment.professional.display_name,
        }
    local_start = _local_start(appointment)
    if clock_change_showing(local_start):
        # Calendar apps show the start time, but not which of the two 23:00s of the night the clocks go back.
        summary = _("%(summary)s · %(time)s") % {"summary": summary, "time": format_local_time(local_start)}
    if cancelled:
        summary = _("Cancelled: %(summary)s") % {"summary": summary}
    return summary


def _location(appointment: Appointment) -> str | None:
    if appointment.modality == AppointmentModality.ONLINE:
        return _("Online")
    if appointment.location_id:
        return appointment.location.full_address
    return None


def _description(appointment: Appointment) -> str:
    local_start = _local_start(appointment)
    lines = [
        _("When: %(time)s (%(zone)s)")
        % {"time": format_local_time(local_start, "l j F Y, H:i"), "zone": local_start.tzinfo.key},
        _("Reference: %(reference)s") % {"reference": appointment.reference},
    ]
    if appointment.modality == AppointmentModality.ONLINE:
        # The portal's video page, never the room itself: a calendar is easily shared, the page checks who asks.
        lines.append(_("Video link: %(url)s") % {"url": video_page_url(appointment)})
    return "\n".join(lines)


def appointment_event(
    appointment: Appointment, *, for_professional: bool, now: datetime.datetime | None = None
) -> Event:
    """One VEVENT for ``appointment``, worded for its professional or for its patient.

    Needs ``service``, ``professional``, ``location`` and ``patient__user`` loaded (select_related) to stay
    query-free.
    """
    now = now or timezone.now()
    status = _status(appointment, now)
    cancelled = status == "CANCELLED"
    event = Event()
    event.add("uid", appointment_uid(appointment))
    event.add("dtstamp", _utc(appointment.updated_at))
    event.add("dtstart", _utc(appointment.start))
    event.add("dtend", _utc(appointment.end))
    event.add("summary", _summary(appointment, for_professional=for_professional, cancelled=cancelled))
    location = _location(appointment)
    if location:
        event.add("location", location)
    event.add("description", _description(appointment))
    event.add("status", status)
    event.add("sequence", appointment.reschedule_count)
    # A cancelled session no longer blocks the person's free/busy time.
    event.add("transp", "TRANSPARENT" if cancelled else "OPAQUE")
    return event


def calendar_for(
    appointments: Iterable[Appointment],
    *,
    name: str,
    for_professional: bool,
    now: datetime.datetime | None = None,
) -> bytes:
    """A whole VCALENDAR (``METHOD:PUBLISH``) with one event per appointment, as bytes ready to serve."""
    now = now or timezone.now()
    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH_INTERVAL))
    for appointment in appointments:
        calendar.add_component(appointment_event(appointment, for_professional=for_professional, now=now))
    return calendar.to_ical()
