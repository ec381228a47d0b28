"""The professional's pages: today (or any day), the week's agenda, their patients, and one session with its
attendance marks. Only their own sessions and patients (``professional.professional_for``: a 404 for anybody
else); marks are POSTs through ``scheduling.mark_completed`` / ``mark_no_show``, which drive the pack ledger and the
billing policy exactly as the admin's marks do.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from allauth.account.decorators import verified_email_required
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from booking.scheduling import services as scheduling
from booking.scheduling.date_range import in_range
from booking.scheduling.errors import BookingError
from booking.scheduling.models import AppointmentStatus
from booking.scheduling.timefmt import format_local_time
from portal.records import crypto, notes
from portal.records.models import SessionNote

from . import professional as pro
from . import sessions as portal_sessions

logger = logging.getLogger(__name__)

PATIENTS_PER_PAGE = 30
MARKS = {
    "completed": _("The session is marked as completed."),
    "no_show_patient": _("The session is marked: the patient did not attend."),
    "no_show_professional": _("The session is marked: you did not attend."),
}


def _day_from(request, name: str, today: date) -> date:
    """A ``YYYY-MM-DD`` of the query string, or ``today`` when it is missing or not a date the site accepts."""
    try:
        day = date.fromisoformat(request.GET.get(name, ""))
    except ValueError:
        return today
    return day if in_range(day) else today


def _rows(appointments, now) -> list[dict]:
    numbers = pro.pack_numbers(appointments)
    zone = timezone.get_default_timezone()
    rows = []
    for appointment in appointments:
        local_start = timezone.localtime(
            appointment.start, appointment.location.tzinfo if appointment.location_id else zone
        )
        invoice = portal_sessions.current_invoice(appointment)
        patient = appointment.patient
        rows.append(
            {
                "appointment": appointment,
                "local_start": local_start,
                "time": format_local_time(local_start),
                "local_end": timezone.localtime(appointment.end, local_start.tzinfo),
                "patient_name": patient.user.get_full_name() or patient.user.email,
                "phone": patient.phone or patient.user.phone,
                "invoice": invoice,
                "pack_number": numbers.get(appointment.pk),
                "can_join": portal_sessions.can_join(appointment, now),
                "joins_later": portal_sessions.joins_later(appointment, now),
            }
        )
    return rows


@never_cache
@verified_email_required
@require_GET
def today(request):
    """One day's sessions in order (today unless ``?day=``), with call and join buttons; bounded queries."""
    professional = pro.professional_for(request.user)
    now = timezone.now()
    zone = timezone.get_default_timezone()
    day = _day_from(request, "day", now.astimezone(zone).date())
    start, end = pro.day_bounds(day, zone)
    rows = _rows(pro.sessions_between(professional, start, end), now)
    context = {
        "professional": professional,
        "day": day,
        "is_today": day == now.astimezone(zone).date(),
        "rows": rows,
        "previous_day": day - timedelta(days=1),
        "next_day": day + timedelta(days=1),
        "zone": zone.key,
    }
    return render(request, "portal/pro/today.html", context)


@never_cache
@verified_email_required
@require_GET
def agenda(request):
    """The week (Monday to Sunday) around ``?week=``: each day's sessions."""
    professional = pro.professional_for(request.user)
    now = timezone.now()
    zone = timezone.get_default_timezone()
    day = _day_from(request, "week", now.astimezone(zone).date())
    monday = day - timedelta(days=day.weekday())
    start = pro.day_bounds(monday, zone)[0]
    end = pro.day_bounds(monday + timedelta(days=6), zone)[1]
    rows = _rows(pro.sessions_between(professional, start, end), now)
    days = [{"date": monday + timedelta(days=offset), "rows": []} for offset in range(7)]
    for row in rows:
        days[(row["local_start"].date() - monday).days]["rows"].append(row)
    context = {
        "days": days,
        "monday": monday,
        "previous_week": monday - timedelta(days=7),
        "next_week": monday + timedelta(days=7),
        "zone": zone.key,
    }
    return render(request, "portal/pro/agenda.html", context)


@never_cache
@verified_email_required
@require_GET
def patients(request):
    professional = pro.professional_for(request.user)
    query = request.GET.get("q", "")[:100]
    page = Paginator(pro.my_patients(professional, query), PATIENTS_PER_PAGE).get_page(request.GET.get("p"))
    return render(request, "portal/pro/patients.html", {"page": page, "query": query})


@never_cache
@verified_email_required
@require_GET
def patient_detail(request, patient_id: int):
    professional = pro.professional_for(request.user)
    patient = pro.my_patient(professional, patient_id)
    now = timezone.now()
    history = list(pro.own_sessions(professional).filter(patient=patient).order_by("-start", "-pk"))
    return render(request, "portal/pro/patient.html", {"patient": patient, "rows": _rows(history, now)})


@never_cache
@verified_email_required
@require_GET
def session(request, reference):
    professional = pro.professional_for(request.user)
    now = timezone.now()
    appointment = get_object_or_404(pro.own_sessions(professional), reference=reference)
    [row] = _rows([appointment], now)
    others = pro.own_sessions(professional).filter(patient_id=appointment.patient_id).exclude(pk=appointment.pk)
    try:
        note = notes.read(appointment=appointment, reader=request.user, now=now)
        note_unreadable = False
    except crypto.UndecryptableNote:
        logger.error("Session note of appointment %s cannot be decrypted with the configured keys", appointment.pk)
        note, note_unreadable = None, True
    context = {
        **row,
        "note": note,
        "note_unreadable": note_unreadable,
        "history": _rows(list(others.order_by("-start", "-pk")[:20]), now),
        "can_mark": appointment.status == AppointmentStatus.CONFIRMED and now >= appointment.start,
        "marks_open_at": timezone.localtime(appointment.start, row["local_start"].tzinfo),
    }
    return render(request, "portal/pro/session.html", context)


@verified_email_required
@require_POST
def mark(request, reference):
    """Completed, patient absent (NPO) or professional absent (NPE): once the session has started."""
    professional = pro.professional_for(request.user)
    appointment = get_object_or_404(pro.own_sessions(professional), reference=reference)
    what = request.POST.get("mark", "")
    try:
        if what == "completed":
            scheduling.mark_completed(appointment=appointment, actor=request.user)
        elif what in ("no_show_patient", "no_show_professional"):
            who = "patient" if what == "no_show_patient" else "professional"
            scheduling.mark_no_show(appointment=appointment, who=who, actor=request.user)
        else:
            raise BookingError("invalid_request")
    except BookingError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, MARKS[what])
    return redirect("portal:pro_session", reference)


@verified_email_required
@require_POST
def note_save(request, reference):
    """Save the note's draft (``action=save``) or save and sign it (``action=sign``)."""
    professional = pro.professional_for(request.user)
    appointment = get_object_or_404(pro.own_sessions(professional), reference=reference)
    try:
        note = notes.save_draft(appointment=appointment, author=request.user, text=request.POST.get("text", ""))
        if request.POST.get("action") == "sign":
            notes.sign(note=note, author=request.user)
            messages.success(request, _("The note is signed. Later changes are dated amendments."))
        else:
            messages.success(request, _("The draft is saved."))
    except notes.NoteError as error:
        messages.error(request, error.message)
    return redirect(f"{reverse('portal:pro_session', args=[reference])}#note")


@verified_email_required
@require_POST
def note_amend(request, reference):
    professional = pro.professional_for(request.user)
    appointment = get_object_or_404(pro.own_sessions(professional), reference=reference)
    note = get_object_or_404(SessionNote, appointment=appointment)
    try:
        notes.amend(
            note=note, author=request.user, text=request.POST.get("text", ""), reason=request.POST.get("reason", "")
        )
        messages.success(request, _("The amendment is added."))
    except notes.NoteError as error:
        messages.error(request, error.message)
    return redirect(f"{reverse('portal:pro_session', args=[reference])}#note")
