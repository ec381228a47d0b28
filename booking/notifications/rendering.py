"""Turning a notification into subject, plain text and HTML, from an editor's template or the built-in default.

Templates are Django template strings rendered by a private ``Engine`` with no template directories and no
libraries beyond Django's built-in tags and filters: ``{% include %}``/``{% extends %}`` find nothing and
``{% load %}`` loads nothing. The context is a flat dict of strings (``CONTEXT_DOC``) computed here, so a template
can reach no model, manager or setting. HTML is autoescaped; the subject and the plain text are not (they are not
HTML). Unknown variables render empty.

Defaults live in files, ``templates/notifications/defaults/<event>/<audience>.<es|en>.subject.txt`` and
``….txt`` (and an optional ``….html``; without it the plain text is wrapped in ``_layout.html``). No database row
is made for them: a ``NotificationTemplate`` exists only when an editor customises a message, so the defaults
always follow the code. An editor's template that fails to render (syntax error, empty subject) is logged, the
default is sent instead, and staff get one alert per published version of that template.

Discretion: default subjects and first lines name the clinic and the time, never the service or the
professional's specialty: a locked phone shows them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from django.conf import settings
from django.template import Context, Engine
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.html import escape, linebreaks, urlize
from django.utils.safestring import mark_safe

from booking.scheduling.models import AppointmentModality
from booking.scheduling.money import format_money
from booking.scheduling.timefmt import format_local_time
from booking.scheduling.video import video_page_url

from . import links
from .attendance import link_key
from .events import Audience, Event, rule
from .models import Notification, NotificationTemplate, object_key
from .preferences import unsubscribe_url

logger = logging.getLogger(__name__)

DEFAULTS_DIR = Path(__file__).parent / "templates" / "notifications" / "defaults"

# Every name a template may use. Values are plain strings, empty when they do not apply to the message.
CONTEXT_DOC = {
    "clinic_name": "The clinic's public name.",
    "recipient_first_name": "First name of the person the email goes to.",
    "patient_first_name": "The patient's first name.",
    "service": "The service booked (never put it in the subject).",
    "professional": "The professional's display name.",
    "date": "The session's local date, e.g. 'martes 1 diciembre 2026'.",
    "time": "The session's local time, e.g. '09:00' (says which, on the night the clock repeats an hour).",
    "time_zone": "The zone named, e.g. 'America/Santiago'.",
    "when": "Date, time and zone in one phrase.",
    "previous_when": "A rescheduled session's previous date, time and zone.",
    "reschedule_reason": "Why the professional moved the session (only when they moved it themselves).",
    "modality": "'In person' or 'Online'.",
    "place": "The place's name and address (in person).",
    "directions": "How to get to the place.",
    "video_link": "Online sessions: the session's video page in the portal (the call opens there 10 minutes before).",
    "reference": "The booking's (or pack's, invoice's) reference.",
    "portal_url": "The patient portal.",
    "documents_url": "The documents page of the patient portal.",
    "calendar_url": "The session's calendar file.",
    "reschedule_url": "Where to move the session.",
    "cancel_url": "Signed one-click page to cancel (asks for a click).",
    "confirm_url": "Signed one-click page to confirm attendance (asks for a click).",
    "pack_name": "The pack's name.",
    "pack_expires": "The pack's local expiry date.",
    "amount": "An amount with its currency.",
    "invoice_url": "The invoice in the portal (receipt download).",
    "detail": "Staff alerts: what happened.",
    "unsubscribe_url": "Non-essential emails: the one-click page that turns them off.",
    "rule_message": "Emails by session number: the rule's own paragraph, in the email's language.",
    "agenda": "Professionals' daily agenda: one line per session (time, patient, service, where; video page online).",
    "session_count": "Professionals' daily agenda: how many sessions the day has.",
    "referred_to": "Referrals: the professional the patient is referred to (empty when only a service).",
    "referred_by": "Referrals: the professional who refers the patient.",
    "booking_url": "Referrals: the booking box opened on that professional or service.",
    "pack_url": "Referrals: the page of the pack that includes the service, when there is one.",
}

# What a referral's email takes from the facts copied when it was planned (``services.plan_referral``).
REFERRAL_KEYS = ("referred_to", "referred_by", "service", "booking_url", "pack_name", "pack_url")

ENGINE = Engine(dirs=[], app_dirs=False, libraries={}, string_if_invalid="")
DATE_FORMAT = "l j F Y"


class RenderError(Exception):
    """A template produced no usable message."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    source: str  # "default" or the template's object key


def template_language(language: str) -> str:
    """A site language code ("es-cl", "en") as a template language ("es", "en")."""
    short = (language or "").split("-")[0].lower()
    return short if short in ("es", "en") else "es"


@lru_cache(maxsize=512)
def default_sources(event: str, audience: str, language: str) -> tuple[str, str, str | None]:
    """The default's subject, text and optional HTML sources (read once per process)."""
    base = DEFAULTS_DIR / event / f"{audience}.{language}"
    html = Path(f"{base}.html")
    return (
        Path(f"{base}.subject.txt").read_text(encoding="utf-8"),
        Path(f"{base}.txt").read_text(encoding="utf-8"),
        html.read_text(encoding="utf-8") if html.exists() else None,
    )


def _layout(language: str, text: str, context: dict) -> str:
    source = (DEFAULTS_DIR / f"_layout.{language}.html").read_text(encoding="utf-8")
    body = mark_safe(linebreaks(urlize(escape(text))))
    return ENGINE.from_string(source).render(Context({**context, "body": body}, autoescape=True))


def render_strings(subject: str, text: str, html: str | None, context: dict, *, language: str) -> tuple:
    """Render the three parts; ``RenderError`` (or the template engine's error) if unusable."""
    subject_out = " ".join(ENGINE.from_string(subject).render(Context(context, autoescape=False)).split())
    text_out = ENGINE.from_string(text).render(Context(context, autoescape=False)).strip()
    if not subject_out or not text_out:
        raise RenderError("empty subject or body")
    if html and html.strip():
        html_out = ENGINE.from_string(html).render(Context(context, autoescape=True))
    else:
        html_out = _layout(language, text_out, context)
    return subject_out, text_out + "\n", html_out


def live_templates() -> dict[tuple[str, str, str], NotificationTemplate]:
    """The editors' live templates by (event, audience, language): one query per dispatcher batch."""
    return {(t.event, t.audience, t.language): t for t in NotificationTemplate.objects.filter(live=True)}


def render(notification: Notification, context: dict, templates: dict) -> Rendered:
    """The editor's live template if any and it renders, else the default."""
    language = template_language(notification.language)
    custom = templates.get((notification.event, notification.audience, language))
    if custom is not None:
        try:
            parts = render_strings(custom.subject, custom.body_text, custom.body_html, context, language=language)
            return Rendered(*parts, source=object_key(custom))
        except Exception as error:  # any failure of an editor's template falls back; the default must not fail
            logger.exception("Notification template %s failed to render; sending the default", custom.pk)
            _alert_broken_template(custom, error)
    parts = render_strings(
        *default_sources(notification.event, notification.audience, language), context, language=language
    )
    return Rendered(*parts, source="default")


def _alert_broken_template(template: NotificationTemplate, error: Exception) -> None:
    from .services import plan_staff_alert

    plan_staff_alert(
        Event.STAFF_TEMPLATE_BROKEN,
        about=object_key(template),
        at=template.last_published_at or timezone.now(),
        data={"detail": f"{template}: {error}"},
    )


# --- the context --------------------------------------------------------------------------


def _local_phrases(moment: datetime, zone) -> dict:
    """Date, time and zone as every page of the site writes them ("Saturday 3 April 2027, 23:00 (after the clock
    change)"): the time says which showing on the night the clock repeats an hour."""
    local = moment.astimezone(zone)
    date = formats.date_format(local, DATE_FORMAT)
    time = format_local_time(local, "H:i")
    return {"date": date, "time": time, "time_zone": zone.key, "when": f"{date}, {time} ({zone.key})"}


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _appointment_context(notification: Notification) -> dict:

    appointment = notification.appointment
    zone = appointment.location.tzinfo if appointment.location_id else timezone.get_default_timezone()
    in_person = appointment.modality == AppointmentModality.IN_PERSON
    context = {
        **_local_phrases(appointment.start, zone),
        "patient_first_name": appointment.patient.user.first_name,
        "service": appointment.service.name,
        "professional": appointment.professional.display_name,
        "modality": str(AppointmentModality(appointment.modality).label),
        "place": f"{appointment.location.name}, {appointment.location.address}" if in_person else "",
        "directions": appointment.location.directions if in_person else "",
        # the portal page, never the room: the page lets in only the patient and the professional, when it is time
        "video_link": video_page_url(appointment),
        "reference": appointment.reference,
        "calendar_url": _absolute(reverse("portal:appointment_calendar", kwargs={"reference": appointment.reference})),
        "reschedule_url": _absolute(reverse("portal:session_reschedule", args=[appointment.reference])),
        # the pages check the token's key, the session's reference AND its patient (attendance.link_key)
        "cancel_url": links.action_url("cancel", link_key(appointment)),
        "confirm_url": links.action_url("confirm", link_key(appointment)),
    }
    previous = notification.data.get("previous_start")
    if previous:
        previous_when = _local_phrases(datetime.fromisoformat(previous), zone)["when"]
        context["previous_when"] = previous_when
    context["reschedule_reason"] = notification.data.get("reason", "")
    return context


def _pack_context(notification: Notification) -> dict:
    purchase = notification.pack_purchase
    zone = timezone.get_default_timezone()
    return {
        "patient_first_name": purchase.patient.user.first_name,
        "pack_name": purchase.snapshot_name,
        "pack_expires": formats.date_format(purchase.expires_at.astimezone(zone), DATE_FORMAT),
        "reference": purchase.reference,
        "amount": format_money(purchase.price, purchase.currency),
    }


def _invoice_context(notification: Notification) -> dict:

    invoice = notification.invoice
    return {
        "reference": invoice.reference,
        "amount": format_money(notification.data.get("amount") or invoice.total, invoice.currency),
        "invoice_url": _absolute(reverse("portal:invoice_detail", args=[invoice.reference])),
    }


def _agenda_context(notification: Notification) -> dict:
    """The daily agenda's day and lines, from the facts copied when it was planned (``services``)."""
    zone = timezone.get_default_timezone()
    sessions = notification.data.get("sessions", [])
    lines = []
    for session in sessions:
        place_zone = ZoneInfo(session.get("zone") or zone.key)
        start = datetime.fromisoformat(session["start"]).astimezone(place_zone)
        end = datetime.fromisoformat(session["end"]).astimezone(place_zone)
        modality = str(AppointmentModality(session["modality"]).label)
        where = f"{modality}, {session['place']}" if session.get("place") else modality
        times = f"{format_local_time(start, 'H:i')}–{format_local_time(end, 'H:i')}"
        line = f"{times}  {session['patient']} · {session['service']} · {where}"
        if session["modality"] == AppointmentModality.ONLINE and session.get("reference"):
            # the session's video page (the room opens there from 10 minutes before), never the room itself
            line += f" · {_absolute(reverse('portal:video', args=[session['reference']]))}"
        lines.append(line)
    day = date.fromisoformat(notification.data["day"]) if notification.data.get("day") else None
    return {
        "date": formats.date_format(day, DATE_FORMAT) if day else "",
        "time_zone": zone.key,
        "agenda": "\n".join(lines),
        "session_count": str(len(sessions)),
    }


def build_context(notification: Notification, *, clinic_name: str) -> dict:
    """The documented context of one message, in its language. Needs the objects ``dispatch`` select_related."""

    with translation.override(notification.language):
        context = dict.fromkeys(CONTEXT_DOC, "")
        context["clinic_name"] = clinic_name
        context["recipient_first_name"] = notification.user.first_name if notification.user_id else ""
        context["portal_url"] = _absolute(reverse("portal:home"))
        context["documents_url"] = _absolute(reverse("portal:documents"))
        if notification.appointment_id:
            context |= _appointment_context(notification)
        if notification.pack_purchase_id:
            context |= _pack_context(notification)
        if notification.invoice_id:
            context |= _invoice_context(notification)
        if notification.audience == Audience.STAFF:
            context["detail"] = str(notification.data.get("detail", ""))
        if notification.event == Event.PRO_DAILY_AGENDA:
            context |= _agenda_context(notification)
        if notification.event == Event.REFERRAL:
            context |= {key: notification.data.get(key, "") for key in REFERRAL_KEYS}
        context["rule_message"] = str(notification.data.get("rule_message", ""))
        if notification.user_id and not rule(notification.event).essential:
            context["unsubscribe_url"] = unsubscribe_url(notification.user)
        return {key: str(value) for key, value in context.items()}


# --- the editor's preview ---------------------------------------------------------------------------------

# A believable session for the preview: names nobody has, in Santiago, the day before a clock change is irrelevant.
SAMPLE_START = datetime(2027, 3, 9, 16, 0, tzinfo=ZoneInfo("America/Santiago"))


def sample_context(language: str) -> dict:
    """Every documented name filled with made-up values in ``language`` ("es"/"en"): what an editor previews with.

    Nothing is read from the database except the clinic's name, so a preview never shows a real patient."""
    site = settings.SITE_URL
    with translation.override("es-cl" if language == "es" else "en"):
        context = {
            **_local_phrases(SAMPLE_START, SAMPLE_START.tzinfo),
            "clinic_name": clinic_name(),
            "recipient_first_name": "Camila",
            "patient_first_name": "Camila",
            "service": "Psicoterapia individual",
            "professional": "Ps. Ana Rojas",
            "previous_when": _local_phrases(SAMPLE_START - timedelta(days=1), SAMPLE_START.tzinfo)["when"],
            "reschedule_reason": "Tengo que asistir a un congreso ese día.",
            "modality": str(AppointmentModality.IN_PERSON.label),
            "place": "Providencia, Av. Providencia 1234, of. 501",
            "directions": "Metro Pedro de Valdivia, salida norte.",
            "video_link": f"{site}/portal/video/K7Q2MX/",
            "reference": "K7Q2MX",
            "portal_url": f"{site}/portal/",
            "documents_url": f"{site}/portal/documents/",
            "calendar_url": f"{site}/portal/calendar/K7Q2MX.ics",
            "reschedule_url": f"{site}/portal/",
            "cancel_url": f"{site}/notifications/cancel/sample/",
            "confirm_url": f"{site}/notifications/confirm/sample/",
            "pack_name": "Pack 4 sesiones",
            "pack_expires": formats.date_format(SAMPLE_START + timedelta(days=90), DATE_FORMAT),
            "amount": format_money(Decimal("35000"), "CLP"),
            "invoice_url": f"{site}/portal/invoices/K7Q2MX/",
            "detail": "Tarjeta rechazada (card_declined)",
            "unsubscribe_url": f"{site}/notifications/unsubscribe/sample/",
            "rule_message": "Gracias por confiar en nosotros para tu primera sesión.",
            "agenda": "09:00–09:50  Camila Soto · Psicoterapia individual · Presencial, Providencia",
            "session_count": "1",
            "referred_to": "Nta. Paula Fuentes",
            "referred_by": "Ps. Ana Rojas",
            "booking_url": f"{site}/booking/?service=nutricion&professional=paula-fuentes",
            "pack_url": f"{site}/booking/packs/pack-nutricion/",
        }
    return {key: str(context.get(key, "")) for key in CONTEXT_DOC}


def preview(template: NotificationTemplate) -> dict:
    """The editor's (unsaved) template rendered with ``sample_context``: subject, text and HTML, or the error a
    send would hit, in which case the patient would get the default, which is shown instead."""
    context = sample_context(template.language)
    try:
        subject, text, html = render_strings(
            template.subject, template.body_text, template.body_html, context, language=template.language
        )
        return {"subject": subject, "text": text, "html": html, "error": ""}
    except Exception as error:  # what a send would do: show it, and show the default that would go instead
        subject, text, html = render_strings(
            *default_sources(template.event, template.audience, template.language), context, language=template.language
        )
        return {"subject": subject, "text": text, "html": html, "error": f"{type(error).__name__}: {error}"}


def clinic_name() -> str:
    """The clinic's public name (site settings, else ``WAGTAIL_SITE_NAME``); imported late, website imports much."""
    from website.models import clinic_name as site_clinic_name

    return site_clinic_name()
