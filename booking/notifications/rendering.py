"""The words of every email: the editors' template if there is one, else the built-in default, with a small context.

Built-in defaults live in ``templates/notifications/defaults/<language>/<event>.txt``: the first line is
``Subject: …``, the rest is the plain-text body; the HTML alternative is that text in the clinic's email layout
(``notifications/email_layout.html``). An editor's ``NotificationTemplate`` (event, audience, language) replaces
all three with its own subject, HTML body and text body.

Templates are rendered from strings by a sandboxed Django engine: no loaders (``{% include %}`` and
``{% extends %}`` of files fail), the default tags and filters only, and this documented context
(``CONTEXT_HELP``), nothing else — no model instance reaches a template, so an editor cannot walk from the
appointment to the patient's other data. A template that fails to render (a syntax error, an unknown filter)
falls back to the default for that message and alerts staff (``services.plan_template_alert``).

Discretion: subjects and the first line of each default name the clinic and the time, never the service or the
professional's specialty (a locked phone shows exactly that); the service is named lower in the body.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.template import Context, Engine
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext_lazy as _

from booking.scheduling.models import Appointment, AppointmentModality
from booking.scheduling.money import format_money
from booking.scheduling.timefmt import format_local_time
from booking.widget.selectors import clinic_zone

from . import links, preferences
from .events import spec

CONTEXT_HELP = {
    "clinic_name": _("The clinic's name."),
    "first_name": _("The recipient's first name."),
    "when": _("Local date and time of the session with the time zone named."),
    "date": _("Local date of the session."),
    "time": _("Local time of the session."),
    "zone": _("The time zone's name."),
    "service": _("The service booked (never put it in the subject)."),
    "professional": _("The professional's name."),
    "patient_name": _("The patient's full name (emails to professionals)."),
    "place": _("The address, or “Online”."),
    "video_link": _("The video call link of an online session (may be empty)."),
    "reference": _("The booking, pack or invoice reference."),
    "portal_url": _("The patient portal."),
    "reschedule_url": _("Where the patient changes their session."),
    "cancel_url": _("Signed one-click link to the cancellation page."),
    "confirm_url": _("Signed one-click link to confirm attendance."),
    "unsubscribe_url": _("Unsubscribe from non-essential emails."),
    "pack_name": _("The pack's name."),
    "remaining": _("Sessions left in the pack."),
    "expires": _("When the pack expires."),
    "amount": _("An amount paid or refunded."),
}

SANDBOX_HTML = Engine(autoescape=True, debug=False, string_if_invalid="")
SANDBOX_TEXT = Engine(autoescape=False, debug=False, string_if_invalid="")
DATE_FORMATS = {"es": r"l j \d\e F \d\e Y", "en": "l j F Y"}


class TemplateBroken(Exception):
    """An editor's template failed to render; ``template`` is the row to report."""

    def __init__(self, template, error: Exception):
        super().__init__(str(error))
        self.template = template
        self.error = error


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _person(user) -> str:
    if user is None:
        return ""
    return (user.get_full_name() or user.email).strip()


def _session_context(appointment: Appointment, language: str) -> dict:
    zone = clinic_zone(appointment.location)
    local = timezone.localtime(appointment.start, zone)
    date = formats.date_format(local, DATE_FORMATS.get(language, DATE_FORMATS["en"]))
    time = format_local_time(local)
    online = appointment.modality == AppointmentModality.ONLINE
    place = str(_("Online")) if online else (appointment.location.full_address if appointment.location_id else "")
    return {
        "when": f"{date}, {time} ({zone.key})",
        "date": date,
        "time": time,
        "zone": zone.key,
        "service": appointment.service.name,
        "professional": appointment.professional.display_name,
        "patient_name": _person(appointment.patient.user),
        "place": place,
        "video_link": appointment.video_link if online else "",
        "reference": appointment.reference,
        "reschedule_url": absolute(reverse("portal:home")),
        "cancel_url": absolute(reverse("notifications:cancel", args=[links.make_token(appointment, links.CANCEL)])),
        "confirm_url": absolute(
            reverse("notifications:confirm_attendance", args=[links.make_token(appointment, links.CONFIRM_ATTENDANCE)])
        ),
    }


def _purchase_context(purchase, notification) -> dict:
    extra = notification.context or {}
    zone = clinic_zone(None)
    expires = timezone.localtime(purchase.expires_at, zone)
    refund = extra.get("refund_amount")
    return {
        "pack_name": purchase.package.name,
        "reference": purchase.reference,
        "remaining": extra.get("remaining", ""),
        "expires": formats.date_format(expires, "j F Y"),
        "amount": format_money(Decimal(refund), purchase.currency) if refund else "",
        "patient_name": _person(purchase.patient.user),
    }


def _invoice_context(invoice) -> dict:
    return {
        "reference": invoice.display_number,
        "amount": format_money(invoice.total, invoice.currency),
    }


def build_context(notification, obj, *, clinic_name: str) -> dict:
    """The documented context for ``notification`` about ``obj`` (already loaded with its relations)."""
    from booking.billing.models import Invoice
    from booking.packs.models import PackagePurchase

    from .models import Notification

    user = notification.recipient
    context = {
        "clinic_name": clinic_name,
        "first_name": (user.first_name if user is not None else "") or "",
        "portal_url": absolute(reverse("portal:home")),
        "unsubscribe_url": preferences.unsubscribe_url(user) if user is not None else "",
    }
    if isinstance(obj, Appointment):
        context |= _session_context(obj, notification.language)
    elif isinstance(obj, PackagePurchase):
        context |= _purchase_context(obj, notification)
    elif isinstance(obj, Invoice):
        context |= _invoice_context(obj)
    elif isinstance(obj, Notification):
        context |= {"failed_to": obj.to_email, "failed_event": obj.get_event_display(), "error": obj.error}
    if notification.context.get("error"):
        context["error"] = notification.context["error"]
    return context


def _default(event: str, language: str, context: dict) -> Rendered:
    """The built-in wording for ``event`` in ``language`` (English when that language has none)."""
    name = f"notifications/defaults/{language}/{event}.txt"
    try:
        template = get_template(name)
    except Exception:
        template = get_template(f"notifications/defaults/en/{event}.txt")
    rendered = SANDBOX_TEXT.from_string(template.template.source).render(Context(context))
    first, _newline, body = rendered.partition("\n")
    subject = first.removeprefix("Subject:").strip()
    text = body.strip() + "\n"
    html = render_to_string("notifications/email_layout.html", {"body": text, **context})
    return Rendered(subject=" ".join(subject.split()), text=text, html=html)


def _editor(template, context: dict) -> Rendered:
    try:
        subject = SANDBOX_TEXT.from_string(template.subject).render(Context(context))
        text = SANDBOX_TEXT.from_string(template.text_body).render(Context(context))
        html = SANDBOX_HTML.from_string(template.html_body).render(Context(context))
    except Exception as error:
        raise TemplateBroken(template, error) from error
    subject = " ".join(subject.split())
    if not subject:
        raise TemplateBroken(template, ValueError("empty subject"))
    return Rendered(subject=subject, text=text, html=html)


def render(notification, obj, *, clinic_name: str, template=None) -> tuple[Rendered, TemplateBroken | None]:
    """The message for ``notification`` in its language; ``template`` is the editors' override, if any.

    Returns the rendered message and, when the editor's template failed, the failure (the default was used).
    """
    language = notification.language if notification.language in DATE_FORMATS else "es"
    with translation.override(language):
        context = build_context(notification, obj, clinic_name=clinic_name)
        if template is not None:
            try:
                return _editor(template, context), None
            except TemplateBroken as broken:
                return _default(notification.event, language, context), broken
        return _default(notification.event, language, context), None


def audience_of(event: str) -> str:
    return spec(event).audience
