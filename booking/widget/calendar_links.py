""" "Add to calendar" links for a booked session: Google Calendar and Outlook, besides the ``.ics`` file.

Both services take the event in the address, so nothing is sent anywhere until the patient clicks. Times go
in UTC (Google's ``…Z`` basic format, Outlook's ISO 8601), so the patient's calendar shows them in its own
zone. No clinical detail goes in: only the service, the professional, the place and the reference.
"""

from __future__ import annotations

from datetime import UTC
from urllib.parse import urlencode

from django.utils.translation import gettext as _

from booking.scheduling.models import Appointment


def _title(appointment: Appointment) -> str:
    return _("%(service)s with %(professional)s") % {
        "service": appointment.service.name,
        "professional": appointment.professional.display_name,
    }


def _place(appointment: Appointment) -> str:
    if appointment.location_id is None:
        return _("Online (video call)")
    return f"{appointment.location.name}, {appointment.location.address}"


def calendar_links(appointment: Appointment, *, portal_url: str) -> list[tuple[str, str]]:
    """(label, address) pairs; ``portal_url`` is absolute, for the event's description."""
    title, place = _title(appointment), _place(appointment)
    details = _("Reference %(reference)s. Manage your session: %(url)s") % {
        "reference": appointment.reference,
        "url": portal_url,
    }
    start, end = appointment.start.astimezone(UTC), appointment.end.astimezone(UTC)
    google = urlencode(
        {
            "action": "TEMPLATE",
            "text": title,
            "dates": f"{start:%Y%m%dT%H%M%SZ}/{end:%Y%m%dT%H%M%SZ}",
            "details": details,
            "location": place,
        }
    )
    outlook = urlencode(
        {
            "path": "/calendar/action/compose",
            "rru": "addevent",
            "subject": title,
            "startdt": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "enddt": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "body": details,
            "location": place,
        }
    )
    return [
        (_("Google Calendar"), f"https://calendar.google.com/calendar/render?{google}"),
        (_("Outlook"), f"https://outlook.live.com/calendar/0/deeplink/compose?{outlook}"),
    ]
