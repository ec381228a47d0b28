"""The patient's sessions in the portal: the list, one session, cancelling it and moving it.

Every page looks the session up among the logged-in patient's own (``sessions.sessions_for_user``) by its
unguessable reference: anybody else's is a 404. Changes are POSTs that redirect (Post/Redirect/Get) and go through
the services the API, the admin and the email links use; a refusal comes back as a message, never a 500.
"""

from __future__ import annotations

from allauth.account.decorators import verified_email_required
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from booking.billing import services as billing
from booking.billing.errors import PaymentError
from booking.scheduling import services as scheduling
from booking.scheduling.errors import BookingError
from booking.scheduling.timefmt import format_local_time
from booking.widget.forms import format_start
from booking.widget.selectors import clinic_zone, month_availability

from . import sessions as portal_sessions
from .session_forms import MonthDayForm, NewTimeForm

PAST_PER_PAGE = 20
CANCELLED_IN_PORTAL = "cancelled by the patient in the portal"


def session_row(appointment, now) -> dict:
    """One session as the portal's pages show it: local time with the zone, invoice, whether to offer "join"."""
    zone = clinic_zone(appointment.location)
    local_start = timezone.localtime(appointment.start, zone)
    return {
        "appointment": appointment,
        "local_start": local_start,
        "time": format_local_time(local_start),
        "zone": zone.key,
        "invoice": portal_sessions.current_invoice(appointment),
        "can_join": portal_sessions.can_join(appointment, now),
        "joins_later": portal_sessions.joins_later(appointment, now),
    }


def _own_session(request, reference):
    return get_object_or_404(portal_sessions.sessions_for_user(request.user), reference=reference)


@verified_email_required
@require_GET
def sessions(request):
    """Upcoming sessions (all of them) and past ones (paginated): three queries whatever the lengths."""
    now = timezone.now()
    own = portal_sessions.sessions_for_user(request.user)
    upcoming = [session_row(appointment, now) for appointment in portal_sessions.upcoming(own, now)]
    page = Paginator(portal_sessions.past(own, now), PAST_PER_PAGE).get_page(request.GET.get("p"))
    past = [session_row(appointment, now) for appointment in page.object_list]
    return render(request, "portal/sessions.html", {"upcoming": upcoming, "past": past, "page": page})


@never_cache
@verified_email_required
@require_GET
def session_detail(request, reference):
    now = timezone.now()
    appointment = _own_session(request, reference)
    context = session_row(appointment, now)
    context["local_end"] = timezone.localtime(appointment.end, clinic_zone(appointment.location))
    context["can_cancel"] = appointment.can_cancel(now)
    context["can_reschedule"] = appointment.can_reschedule(now)
    context["reschedule_blocked"] = _reschedule_blocked(appointment, now)
    return render(request, "portal/session_detail.html", context)


def _reschedule_blocked(appointment, now) -> str:
    """Why an open session cannot be moved here any more ("" when it can, or when it is not open)."""
    if not appointment.is_open or appointment.can_reschedule(now):
        return ""
    if appointment.reschedule_count >= appointment.service.max_reschedules:
        if not appointment.service.max_reschedules:
            return _("This service cannot be moved online.")
        return _("This session has already been moved as many times as the clinic allows online.")
    return _("It is too close to the session to move it online (the limit is %(hours)s hours before).") % {
        "hours": appointment.service.reschedule_window_hours
    }


@never_cache
@verified_email_required
@require_http_methods(["GET", "POST"])
def session_cancel(request, reference):
    """GET: what cancelling now would do (refund, fee, pack session). POST: cancel, under the same rules."""
    now = timezone.now()
    appointment = _own_session(request, reference)
    outcome = portal_sessions.cancellation_outcome(appointment, now=now)
    if request.method == "POST":
        if not outcome.allowed:
            messages.error(request, _("This session can no longer be cancelled online. Please contact the clinic."))
            return redirect("portal:session_detail", reference)
        try:
            if outcome.hold:
                invoice = portal_sessions.current_invoice(appointment)
                billing.cancel_unpaid_hold(appointment=appointment, invoice=invoice, actor=request.user, now=now)
                messages.success(request, _("The time you were holding has been released. Nothing was charged."))
            else:
                cancelled = billing.cancel_booking(
                    appointment=appointment, actor=request.user, reason=CANCELLED_IN_PORTAL, now=now
                )
                messages.success(request, _("Your session has been cancelled."))
                if cancelled.refund_failed:
                    messages.warning(
                        request, _("The refund could not be made right away; the clinic will sort it out with you.")
                    )
        except (BookingError, PaymentError) as error:
            messages.error(request, error.message)
        return redirect("portal:session_detail", reference)
    context = {**session_row(appointment, now), "outcome": outcome}
    return render(request, "portal/session_cancel.html", context)


@never_cache
@verified_email_required
@require_http_methods(["GET", "POST"])
def session_reschedule(request, reference):
    """The free times of the same professional, service, place (and pack) in a month view; POST moves the session."""
    now = timezone.now()
    appointment = _own_session(request, reference)
    if request.method == "POST":
        form = NewTimeForm(request.POST)
        if not form.is_valid():
            messages.error(request, " ".join(str(error) for error in form.errors.get("start", [])))
            return redirect("portal:session_reschedule", reference)
        try:
            moved = scheduling.reschedule_appointment(
                appointment=appointment, start=form.cleaned_data["start"], actor=request.user, now=now
            )
        except BookingError as error:
            messages.error(request, error.message)
            return redirect("portal:session_reschedule", reference)
        zone = clinic_zone(moved.location)
        local = timezone.localtime(moved.start, zone)
        messages.success(
            request,
            _("Your session has been moved to %(day)s at %(time)s.")
            % {"day": formats.date_format(local, "l j F Y"), "time": format_local_time(local)},
        )
        return redirect("portal:session_detail", reference)
    context = {**session_row(appointment, now), "blocked": _reschedule_blocked(appointment, now)}
    if not appointment.can_reschedule(now):
        context["blocked"] = context["blocked"] or _("This session can no longer be moved.")
        return render(request, "portal/session_reschedule.html", context)
    context |= free_times_month(request, appointment, now)
    return render(request, "portal/session_reschedule.html", context)


def free_times_month(request, appointment, now) -> dict:
    """The month view of the times ``appointment`` may move to (``?month=``, ``?day=``): its own time counts as free,
    a pack session's times end at the pack's expiry. Shared by the patient's and the professional's move pages."""
    form = MonthDayForm(request.GET)
    chosen_month = chosen_day = None
    if form.is_valid():
        chosen_month, chosen_day = form.cleaned_data["month"], form.cleaned_data["day"]
    zone = clinic_zone(appointment.location)
    month = chosen_month or (chosen_day or now.astimezone(zone).date()).replace(day=1)
    availability = month_availability(
        service=appointment.service,
        professional=appointment.professional,
        location=appointment.location,
        modality=appointment.modality,
        month=month,
        now=now,
        exclude_appointment_id=appointment.pk,
    )
    times_by_day = availability.times_by_day
    if appointment.pack_purchase_id:  # the pack's sessions must be used before it expires
        expires_at = appointment.pack_purchase.expires_at
        times_by_day = {
            day: kept
            for day, times in times_by_day.items()
            if (kept := [t for t in times if t.slot.start < expires_at])
        }
    day = chosen_day if chosen_day in times_by_day else (min(times_by_day) if times_by_day else None)
    base = request.path

    def day_url(cell):
        return f"{base}?month={cell:%Y-%m}&day={cell:%Y-%m-%d}"

    weeks = [
        [
            None
            if cell.month != availability.first_day.month
            else {"date": cell, "free": cell in times_by_day, "selected": cell == day, "url": day_url(cell)}
            for cell in week
        ]
        for week in availability.weeks
    ]
    times = [
        {
            "start": format_start(choice.slot.start),
            "label": format_local_time(choice.local_start),
            "current": choice.slot.start == appointment.start,
        }
        for choice in (times_by_day.get(day, []) if day else [])
    ]
    return {
        "month": availability,
        "weeks": weeks,
        "day": day,
        "times": times,
        "previous_url": f"{base}?month={availability.previous:%Y-%m}" if availability.previous else "",
        "next_url": f"{base}?month={availability.next:%Y-%m}" if availability.next else "",
    }
