"""The video page of an online session: the only page that shows the session's room, and only when it is time.

Only the session's patient and its professional reach it; for anybody else (other patients and professionals,
receptionists, editors) it does not exist (404), and an anonymous visitor is sent to log in. The room's address is
in the page from ``video.JOIN_BEFORE`` the start until the end of a confirmed session; before that the page says
when it opens, and after the end (or once the session is cancelled or marked) that it is over. Emails and calendar
files link here rather than to the room, so the room stays behind the login and the window.

The room opens in a new tab: the public meet.jit.si ends embedded calls after 5 minutes. With ``VIDEO_EMBED`` (a
self-hosted server) the page shows it in an iframe, and this response alone lets ``frame-src`` reach the video
service's origin.
"""

from __future__ import annotations

from allauth.account.decorators import verified_email_required
from django.conf import settings
from django.db.models import Q
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from booking.scheduling import video
from booking.scheduling.models import Appointment, AppointmentModality, AppointmentStatus
from booking.scheduling.timefmt import format_local_time
from booking.widget.selectors import clinic_zone
from website.csp import origin

# A page waiting for its call reloads itself when the call opens, if that is at most this many seconds away.
RELOAD_WITHIN_SECONDS = 60 * 60


def _own_online_session(user, reference: str) -> Appointment:
    """The online session ``reference`` if ``user`` is its patient or its professional; else 404."""
    sessions = (
        Appointment.objects.filter(modality=AppointmentModality.ONLINE)
        .filter(Q(patient__user_id=user.pk) | Q(professional__user_id=user.pk))
        .other_than_lapsed_holds()
        .select_related("service", "professional", "patient__user", "location")
    )
    return get_object_or_404(sessions, reference=reference)


def _state(appointment: Appointment, now) -> str:
    if appointment.status == AppointmentStatus.CANCELLED:
        return "cancelled"
    if not appointment.is_open or now >= appointment.end:
        return "over"
    if appointment.status == AppointmentStatus.PENDING_PAYMENT:
        return "unconfirmed"
    if now < video.opens_at(appointment):
        return "waiting"
    return "open" if video.is_open(appointment, now) else "missing"


@never_cache
@verified_email_required
@require_GET
def video_page(request, reference):
    appointment = _own_online_session(request.user, reference)
    now = timezone.now()
    is_professional = appointment.professional.user_id == request.user.pk
    zone = clinic_zone(appointment.location)
    local_start = timezone.localtime(appointment.start, zone)
    state = _state(appointment, now)
    room = video.room_url(appointment) if state == "open" else ""
    embed = bool(room) and settings.VIDEO_EMBED and origin(room) == origin(settings.VIDEO_BASE_URL)
    until_open = (video.opens_at(appointment) - now).total_seconds()
    context = {
        "appointment": appointment,
        "is_professional": is_professional,
        "patient_name": appointment.patient.user.get_full_name() or appointment.patient.user.email,
        "local_start": local_start,
        "time": format_local_time(local_start),
        "local_end": timezone.localtime(appointment.end, zone),
        "zone": zone.key,
        "state": state,
        "room_url": room,
        "embed": embed,
        "opens_at": format_local_time(timezone.localtime(video.opens_at(appointment), zone)),
        "reload_in": int(until_open) + 1 if state == "waiting" and until_open <= RELOAD_WITHIN_SECONDS else None,
    }
    response = render(request, "portal/video.html", context)
    if embed:
        response._csp_update = {"frame-src": [origin(settings.VIDEO_BASE_URL)]}
    return response
