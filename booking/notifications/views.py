"""The pages behind the links of the clinic's emails: confirm attendance, cancel, unsubscribe.

Nobody logs in: the signed token in the URL is the proof (``links`` for the appointment links, ``preferences`` for
unsubscribing). A GET only shows a page with the session and a button; the button POSTs (with Django's CSRF
token) and the POST acts, then redirects back to the page (Post/Redirect/Get), which now says what was done. A
link that is tampered with, expired, or used already gets a page saying so (status 400 or 410 for the first two,
200 for "already done"), never a 500 and never an action.

The one exception to CSRF is RFC 8058's one-click unsubscribe: mail programs POST ``List-Unsubscribe=One-Click``
to the link without any page, so ``unsubscribe`` alone is ``csrf_exempt``. What it can do is only turn the
non-essential emails of the token's user off, which is what the token is for.
"""

from __future__ import annotations

from allauth.account.decorators import verified_email_required
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from booking.billing.errors import PaymentError
from booking.scheduling.errors import BookingError
from booking.scheduling.models import Appointment, AppointmentModality, AppointmentStatus
from booking.scheduling.timefmt import format_local_time
from booking.widget.selectors import clinic_zone
from portal.accounts.adapters import supported_language
from portal.accounts.roles import is_professional

from . import attendance, links, preferences
from .forms import DailyAgendaForm, EmailPreferencesForm
from .web_models import AttendanceConfirmation, NotificationPreference

# Status codes of the pages for links that cannot be used: a bad link is the client's error; an expired one is gone.
BAD_LINK_STATUS = 400
EXPIRED_LINK_STATUS = 410


def _appointment_for(token: str, purpose: str):
    """``(appointment, problem)``: the appointment the token names for ``purpose``, or why it cannot be used.

    The token's key is ``attendance.link_key``: the appointment's reference and its patient, so a link answers
    only for that session of that patient.
    """
    try:
        key = links.read_token(purpose, token)
    except links.BadToken as error:
        return None, "expired" if error.expired else "invalid"
    reference, _sep, patient_id = str(key).partition(":")
    if not reference or not patient_id.isdigit():
        return None, "invalid"
    appointment = (
        Appointment.objects.select_related("service", "professional", "location", "patient__user", "room")
        .filter(reference=reference, patient_id=int(patient_id))
        .first()
    )
    if appointment is None:
        return None, "invalid"
    return appointment, None


def _session(appointment: Appointment) -> dict:
    """What the page says about the session: the local date and time with the zone named, and the place."""
    zone = clinic_zone(appointment.location)
    local_start = timezone.localtime(appointment.start, zone)
    return {
        "appointment": appointment,
        "date": local_start,
        "time": format_local_time(local_start),
        "zone": zone.key,
        "online": appointment.modality == AppointmentModality.ONLINE,
        "place": appointment.location,
    }


def _in_patient_language(appointment: Appointment | None) -> None:
    """Show the page in the language of the email that carried the link: the patient's own."""
    language = supported_language(appointment.patient.user.preferred_language) if appointment else None
    if language:
        translation.activate(language)


def _link_problem(request, problem: str) -> HttpResponse:
    status = EXPIRED_LINK_STATUS if problem == "expired" else BAD_LINK_STATUS
    return render(request, "notifications/link_problem.html", {"problem": problem}, status=status)


def _closed_context(appointment: Appointment) -> dict:
    """For a session that can no longer be confirmed or cancelled: why, in the patient's words."""
    return {"closed": True, "cancelled": appointment.status == AppointmentStatus.CANCELLED}


@never_cache
@require_http_methods(["GET", "POST"])
def confirm_attendance(request, token: str):
    """ "I will come": the confirmation request email's first button."""
    appointment, problem = _appointment_for(token, attendance.CONFIRM)
    if problem:
        return _link_problem(request, problem)
    _in_patient_language(appointment)
    if request.method == "POST":
        try:
            _confirmation, created = attendance.confirm_attendance(appointment=appointment)
        except BookingError as error:
            messages.error(request, error.message)
        else:
            if created:
                messages.success(request, _("Thank you: the clinic knows you will come."))
        return redirect(request.path)
    confirmation = AttendanceConfirmation.objects.filter(appointment=appointment).first()
    context = {**_session(appointment), "confirmation": confirmation, "token": token}
    if confirmation is None and (
        appointment.status != AppointmentStatus.CONFIRMED or appointment.start <= timezone.now()
    ):
        context |= _closed_context(appointment)
    return render(request, "notifications/confirm_attendance.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
def cancel_appointment(request, token: str):
    """Cancel from the email: the policy's outcome (late, no refund, the pack session) is shown before the button."""
    appointment, problem = _appointment_for(token, attendance.CANCEL)
    if problem:
        return _link_problem(request, problem)
    _in_patient_language(appointment)
    if request.method == "POST":
        try:
            cancelled = attendance.cancel_from_link(appointment=appointment)
        except (BookingError, PaymentError) as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Your session has been cancelled."))
            if cancelled.refund_failed:
                messages.warning(
                    request, _("The refund could not be made right away; the clinic will sort it out with you.")
                )
        return redirect(request.path)
    preview = attendance.cancellation_preview(appointment=appointment)
    context = {**_session(appointment), "preview": preview, "token": token}
    if not preview.allowed:
        context |= _closed_context(appointment)
    return render(request, "notifications/cancel_appointment.html", context)


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """Turn off the emails after sessions and by session number for the token's user.

    GET: a page with a button (a link scanner that follows links must not unsubscribe anyone). POST: from that
    button, or straight from a mail program with ``List-Unsubscribe=One-Click`` (RFC 8058), which gets a bare 200.
    """
    user = preferences.read_unsubscribe_token(token)
    if user is None:
        return _link_problem(request, "invalid")
    language = supported_language(user.preferred_language)
    if language:
        translation.activate(language)
    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    if request.method == "POST":
        via = NotificationPreference.Via.ONE_CLICK if one_click else NotificationPreference.Via.UNSUBSCRIBE_PAGE
        preferences.set_non_essential_email(user=user, enabled=False, via=via)
        if one_click:
            return HttpResponse(_("You have been unsubscribed."), content_type="text/plain; charset=utf-8")
        return redirect(request.path)
    enabled = preferences.non_essential_email_enabled(user)
    return render(request, "notifications/unsubscribe.html", {"enabled": enabled, "token": token})


@verified_email_required
@require_POST
def email_preferences(request):
    """The profile's "emails after my sessions" box (Post/Redirect/Get back to the profile)."""
    form = EmailPreferencesForm(request.POST)
    if form.is_valid():
        preferences.set_non_essential_email(
            user=request.user, enabled=form.cleaned_data["non_essential_email"], via=NotificationPreference.Via.PROFILE
        )
        messages.success(request, _("Your email preferences have been saved."))
    else:
        messages.error(request, _("Your email preferences could not be saved. Please try again."))
    return redirect("portal:profile")


@verified_email_required
@require_POST
def daily_agenda(request):
    """The professional's "email me my agenda every morning" box on the portal home (Post/Redirect/Get)."""
    if not is_professional(request.user):
        raise Http404
    form = DailyAgendaForm(request.POST)
    if not form.is_valid():  # a single optional box: only a forged POST gets here
        messages.error(request, _("Your email preferences could not be saved. Please try again."))
        return redirect("portal:home")
    enabled = form.cleaned_data["daily_agenda_email"]
    preferences.set_daily_agenda(professional=request.user.professional, enabled=enabled)
    if enabled:
        messages.success(request, _("You will get your agenda by email at 07:00 on days with sessions."))
    else:
        messages.success(request, _("You will no longer get your agenda by email."))
    return redirect("portal:home")
