"""The professional's pages: today (or any day), the week's agenda, their patients, and one session with its
attendance marks. Only their own sessions and patients (``professional.professional_for``: a 404 for anybody
else); marks are POSTs through ``scheduling.mark_completed`` / ``mark_no_show``, which drive the pack ledger and the
billing policy exactly as the admin's marks do.
"""

from __future__ import annotations

import calendar
import logging
from collections import defaultdict
from datetime import date, timedelta

from allauth.account.decorators import verified_email_required
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from booking.scheduling import services as scheduling
from booking.scheduling.date_range import in_range
from booking.scheduling.errors import BookingError
from booking.scheduling.models import AppointmentStatus
from booking.scheduling.timefmt import format_local_time
from booking.widget.forms import clean_month
from booking.widget.selectors import clinic_zone
from portal.records import crypto, notes
from portal.records import services as records
from portal.records.models import SessionNote
from website.models import ProfessionalNews

from . import professional as pro
from . import sessions as portal_sessions
from .care_forms import DischargeForm, ReferralForm
from .session_forms import NewTimeForm
from .session_views import free_times_month

logger = logging.getLogger(__name__)

PATIENTS_PER_PAGE = 30
NEWS_SHOWN = 3
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
        "news": list(ProfessionalNews.objects.shown_on(day)[:NEWS_SHOWN]),
    }
    return render(request, "portal/pro/today.html", context)


@never_cache
@verified_email_required
@require_GET
def agenda(request):
    """The week (Monday to Sunday) around ``?week=``: each day's sessions; ``?month=YYYY-MM``: the month view."""
    professional = pro.professional_for(request.user)
    now = timezone.now()
    zone = timezone.get_default_timezone()
    if "month" in request.GET:
        return _agenda_month(request, professional, now, zone)
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
        "month_of_week": day.replace(day=1),
    }
    return render(request, "portal/pro/agenda.html", context)


def _agenda_month(request, professional, now, zone):
    """A month's calendar (weeks Monday to Sunday) with each day's sessions: time and patient, linked."""
    today = now.astimezone(zone).date()
    try:
        first = clean_month(request.GET.get("month", "")) or today.replace(day=1)
    except ValidationError:  # a malformed or far-off month in the address: this month
        first = today.replace(day=1)
    weeks = calendar.Calendar().monthdatescalendar(first.year, first.month)
    start = pro.day_bounds(weeks[0][0], zone)[0]
    end = pro.day_bounds(weeks[-1][-1], zone)[1]
    by_day = defaultdict(list)
    for row in _rows(pro.sessions_between(professional, start, end), now):
        by_day[row["local_start"].date()].append(row)
    context = {
        "first": first,
        "weeks": [
            [
                {"date": day, "in_month": day.month == first.month, "is_today": day == today, "rows": by_day[day]}
                for day in week
            ]
            for week in weeks
        ],
        "previous_month": (first - timedelta(days=1)).replace(day=1),
        "next_month": (first + timedelta(days=32)).replace(day=1),
        "this_month": today.replace(day=1),
        "zone": zone.key,
    }
    return render(request, "portal/pro/agenda_month.html", context)


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
    """One patient of the professional's: our sessions, the discharge, the referrals to and from them with their
    notes, the notes other professionals shared by referring, and the discharge and referral forms."""
    professional = pro.professional_for(request.user)
    patient = pro.my_patient(professional, patient_id)
    now = timezone.now()
    history = list(pro.own_sessions(professional).filter(patient=patient).order_by("-start", "-pk"))
    context = {
        "patient": patient,
        "rows": _rows(history, now),
        **pro.care_record(professional, patient, now=now),
        "discharge_form": DischargeForm(initial={"date": timezone.localdate(now)}),
        "referral_form": ReferralForm(professional=professional),
        "can_discharge": any(row.start <= now and row.status != AppointmentStatus.CANCELLED for row in history),
    }
    return render(request, "portal/pro/patient.html", context)


def _form_problems(form) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


def _back_to_patient(patient_id: int, anchor: str):
    return redirect(f"{reverse('portal:pro_patient', args=[patient_id])}#{anchor}")


@verified_email_required
@require_POST
def discharge(request, patient_id: int):
    """Discharge one of the professional's patients (date and summary); the page says what was refused and why."""
    professional = pro.professional_for(request.user)
    patient = pro.my_patient(professional, patient_id)
    form = DischargeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The discharge was not recorded. %(problems)s") % {"problems": _form_problems(form)})
        return _back_to_patient(patient.pk, "discharge")
    try:
        records.discharge_patient(
            patient=patient,
            professional=professional,
            date=form.cleaned_data["date"],
            summary=form.cleaned_data["summary"],
            actor=request.user,
        )
    except records.CareError as error:
        messages.error(request, _("The discharge was not recorded. %(problems)s") % {"problems": error.message})
    else:
        messages.success(
            request, _("The discharge is recorded. From now on the patient books with you only through the clinic.")
        )
    return _back_to_patient(patient.pk, "discharge")


@verified_email_required
@require_POST
def refer(request, patient_id: int):
    """Refer one of the professional's patients to another professional or service; the patient gets an email with
    the booking link."""
    professional = pro.professional_for(request.user)
    patient = pro.my_patient(professional, patient_id)
    form = ReferralForm(request.POST, professional=professional)
    if not form.is_valid():
        messages.error(request, _("The referral was not sent. %(problems)s") % {"problems": _form_problems(form)})
        return _back_to_patient(patient.pk, "refer")
    try:
        records.refer_patient(
            patient=patient,
            from_professional=professional,
            to_professional=form.cleaned_data["to_professional"],
            to_service=form.cleaned_data["to_service"],
            note=form.cleaned_data["note"],
            share_notes=form.cleaned_data["share_notes"],
            actor=request.user,
        )
    except records.CareError as error:
        messages.error(request, _("The referral was not sent. %(problems)s") % {"problems": error.message})
    else:
        messages.success(request, _("The referral is recorded and the patient gets an email with a link to book."))
    return _back_to_patient(patient.pk, "refer")


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


@never_cache
@verified_email_required
@require_http_methods(["GET", "POST"])
def session_move(request, reference):
    """The professional moves their own session (an internal reschedule) to a free time, saying why.

    The same month view as the patient's move page; ``scheduling.reschedule_appointment`` with
    ``professional_reason`` goes past the patient's window and limit, and the patient is emailed the new time with
    the reason.
    """
    professional = pro.professional_for(request.user)
    now = timezone.now()
    appointment = get_object_or_404(pro.own_sessions(professional), reference=reference)
    if request.method == "POST":
        form = NewTimeForm(request.POST)
        if not form.is_valid():
            messages.error(request, " ".join(str(error) for error in form.errors.get("start", [])))
            return redirect("portal:pro_move", reference)
        try:
            moved = scheduling.reschedule_appointment(
                appointment=appointment,
                start=form.cleaned_data["start"],
                actor=request.user,
                now=now,
                professional_reason=request.POST.get("reason", "")[:300],
            )
        except BookingError as error:
            messages.error(request, error.message)
            return redirect("portal:pro_move", reference)
        local = timezone.localtime(moved.start, clinic_zone(moved.location))
        messages.success(
            request,
            _("The session is moved to %(day)s at %(time)s. The patient is told by email.")
            % {"day": formats.date_format(local, "l j F Y"), "time": format_local_time(local)},
        )
        return redirect("portal:pro_session", reference)
    [row] = _rows([appointment], now)
    context = {**row, "zone": clinic_zone(appointment.location).key}
    if appointment.is_open and appointment.end > now:
        context |= free_times_month(request, appointment, now)
    return render(request, "portal/pro/move.html", context)


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
def note_autosave(request, reference):
    """The editor's autosave (``note-editor.js``): saves the draft and answers JSON with the time, or the reason."""
    professional = pro.professional_for(request.user)
    appointment = get_object_or_404(pro.own_sessions(professional), reference=reference)
    try:
        note = notes.save_draft(appointment=appointment, author=request.user, text=request.POST.get("text", ""))
    except notes.NoteError as error:
        return JsonResponse({"error": error.message}, status=400)
    saved = timezone.localtime(note.updated_at, timezone.get_default_timezone())
    return JsonResponse({"message": _("Draft saved at %(time)s.") % {"time": format_local_time(saved)}})


@verified_email_required
@require_POST
def note_amend(request, reference):
    professional = pro.professional_for(request.user)
    appointment = get_object_or_404(pro.own_sessions(professional), reference=reference)
    note = SessionNote.objects.filter(appointment=appointment).first()
    try:
        if note is None:
            raise notes.NoteError(_("Sign the note before amending it; a draft can still be edited."))
        notes.amend(
            note=note, author=request.user, text=request.POST.get("text", ""), reason=request.POST.get("reason", "")
        )
        messages.success(request, _("The amendment is added."))
    except notes.NoteError as error:
        messages.error(request, error.message)
    return redirect(f"{reverse('portal:pro_session', args=[reference])}#note")
