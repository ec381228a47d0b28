"""Video rooms of online sessions: one unguessable room per appointment on the clinic's video service.

A room's name is the only thing that keeps strangers out of a Jitsi Meet call, so it is 160 random bits
(``ROOM_BYTES``) written in lower-case base 32: Jitsi folds room names to lower case, which would cost a
mixed-case token (``secrets.token_urlsafe``) about a sixth of its bits. The name is given when the session is
booked (``services._create``), kept across reschedules, unique in the database and never reused.

The room's address (``room_url``) is shown only on the portal's video page, to the session's patient and its
professional, from ``JOIN_BEFORE`` the start until the end. Emails and calendar files carry the address of that
page (``video_page_url``), never the room's, so a forwarded email or a shared calendar lets nobody in.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.urls import reverse

from .models import Appointment, AppointmentModality, AppointmentStatus

ROOM_BYTES = 20  # 160 bits: 32 base-32 characters
# An online session's room opens this long before the start, until its end.
JOIN_BEFORE = timedelta(minutes=10)


def new_room_name() -> str:
    """A fresh room name: 32 characters of ``a-z2-7``, safe in a URL path and in Jitsi's lower-cased names."""
    return base64.b32encode(secrets.token_bytes(ROOM_BYTES)).decode("ascii").rstrip("=").lower()


def room_url(appointment: Appointment) -> str:
    """The call's address: the session's own ``video_link`` when one was set, else its room on ``VIDEO_BASE_URL``
    ("" for a session without either, such as an in-person one)."""
    if appointment.modality != AppointmentModality.ONLINE:
        return ""
    if appointment.video_link:
        return appointment.video_link
    if appointment.video_room:
        return f"{settings.VIDEO_BASE_URL}/{appointment.video_room}"
    return ""


def opens_at(appointment: Appointment) -> datetime:
    return appointment.start - JOIN_BEFORE


def is_open(appointment: Appointment, now: datetime) -> bool:
    """Whether the call may be joined at ``now``: a confirmed online session with a room, from ``JOIN_BEFORE`` the
    start until its end."""
    return (
        appointment.status == AppointmentStatus.CONFIRMED
        and bool(room_url(appointment))
        and opens_at(appointment) <= now < appointment.end
    )


def video_page_url(appointment: Appointment) -> str:
    """The absolute address of the session's video page in the portal ("" for an in-person session): what emails
    and calendar files give, since the page itself decides who sees the room and when."""
    if appointment.modality != AppointmentModality.ONLINE:
        return ""
    return f"{settings.SITE_URL}{reverse('portal:video', args=[appointment.reference])}"
