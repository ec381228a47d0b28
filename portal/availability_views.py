"""The professional's availability page: their weekly hours, upcoming date overrides and time off, and the forms to
change them as far as the clinic allows (``Professional.availability_self_service``).

Each change is a POST to its own address that calls one service of ``booking.scheduling.availability_services``
and comes back to the page (Post/Redirect/Get). A refused change (bad input, not allowed, or sessions it would
strand) shows the page again with the reason, the sessions concerned with links to them, and what was typed. Rows
are looked up among the professional's own: anybody else's id is a 404. The page runs a fixed number of queries.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from allauth.account.decorators import verified_email_required
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from booking.scheduling import availability_services as hours
from booking.scheduling.availability_services import AvailabilityError
from booking.scheduling.models import DateOverride, TimeOff, Weekday, WeeklyAvailability
from booking.scheduling.timefmt import format_local_time

from . import professional as pro
from .availability_forms import DateOverrideForm, TimeOffForm, WeeklyHoursForm


def _locations(professional) -> list:
    return list(professional.locations.order_by("sort_order", "name"))


def _stranded_rows(sessions) -> list[dict]:
    zone = timezone.get_default_timezone()
    rows = []
    for appointment in sessions:
        local_start = timezone.localtime(
            appointment.start, appointment.location.tzinfo if appointment.location_id else zone
        )
        user = appointment.patient.user
        rows.append(
            {
                "reference": appointment.reference,
                "local_start": local_start,
                "time": format_local_time(local_start),
                "patient_name": user.get_full_name() or user.email,
                "place": appointment.location.name if appointment.location_id else _("Online"),
            }
        )
    return rows


def _page(request, professional, locations, *, forms=None, row_forms=None, refusal=None):
    """The page with blank forms, except the bound ones given (a refused POST shows what was typed)."""
    now = timezone.now()
    zone = timezone.get_default_timezone()
    today = now.astimezone(zone).date()
    forms, row_forms = forms or {}, row_forms or {}
    rows = list(
        WeeklyAvailability.objects.filter(professional=professional)
        .exclude(valid_until__lt=today)
        .select_related("location")
        .prefetch_related("services")
        .order_by("weekday", "start_time", "pk")
    )
    days = {value: {"label": label, "rows": []} for value, label in Weekday.choices}
    for row in rows:
        form = row_forms.get(row.pk) or WeeklyHoursForm.for_row(row, locations=locations)
        days[row.weekday]["rows"].append({"row": row, "form": form})
    overrides = (
        DateOverride.objects.filter(professional=professional, date__gte=today)
        .select_related("location")
        .order_by("date", "start_time", "pk")
    )
    time_off = [
        {
            "time_off": item,
            "local_start": timezone.localtime(item.start, zone),
            "local_end": timezone.localtime(item.end, zone),
            "last_day": timezone.localtime(item.end - timedelta(microseconds=1), zone).date(),
        }
        for item in TimeOff.objects.filter(professional=professional, end__gt=now).order_by("start", "pk")
    ]
    context = {
        "professional": professional,
        "may_change_weekly": professional.may_change_weekly_hours,
        "may_change_time_off": professional.may_change_time_off,
        "days": [day for day in days.values() if day["rows"]],
        "overrides": overrides,
        "time_off": time_off,
        "weekly_form": forms.get("weekly") or WeeklyHoursForm(locations=locations, prefix="weekly"),
        "override_form": forms.get("override") or DateOverrideForm(locations=locations, prefix="override"),
        "time_off_form": forms.get("time_off") or TimeOffForm(prefix="off"),
        "refusal": refusal,
        "zone": zone.key,
    }
    return render(request, "portal/pro/availability.html", context)


def _refusal(error: AvailabilityError) -> dict:
    return {"message": error.message, "sessions": _stranded_rows(error.sessions)}


def _attempt(request, professional, locations, change: Callable[[], object], success, **page_kwargs):
    """Run ``change``; on success back to the page with ``success``, on refusal the page with the reason."""
    try:
        change()
    except AvailabilityError as error:
        return _page(request, professional, locations, refusal=_refusal(error), **page_kwargs)
    messages.success(request, success)
    return redirect("portal:pro_availability")


@never_cache
@verified_email_required
@require_GET
def availability(request):
    professional = pro.professional_for(request.user)
    return _page(request, professional, _locations(professional))


@verified_email_required
@require_POST
def weekly_add(request):
    professional = pro.professional_for(request.user)
    locations = _locations(professional)
    form = WeeklyHoursForm(request.POST, locations=locations, prefix="weekly")
    if not form.is_valid():
        return _page(request, professional, locations, forms={"weekly": form})
    data = form.cleaned_data
    return _attempt(
        request,
        professional,
        locations,
        lambda: hours.add_weekly_hours(
            professional=professional,
            actor=request.user,
            weekday=data["weekday"],
            start_time=data["start_time"],
            end_time=data["end_time"],
            location=data["place"],
            valid_from=data["valid_from"],
            valid_until=data["valid_until"],
        ),
        _("The weekly hours are added."),
        forms={"weekly": form},
    )


@verified_email_required
@require_POST
def weekly_change(request, pk: int):
    professional = pro.professional_for(request.user)
    row = get_object_or_404(WeeklyAvailability, pk=pk, professional=professional)
    locations = _locations(professional)
    form = WeeklyHoursForm.for_row(row, locations=locations, data=request.POST)
    if not form.is_valid():
        return _page(request, professional, locations, row_forms={row.pk: form})
    data = form.cleaned_data
    return _attempt(
        request,
        professional,
        locations,
        lambda: hours.change_weekly_hours(
            row=row,
            actor=request.user,
            weekday=data["weekday"],
            start_time=data["start_time"],
            end_time=data["end_time"],
            location=data["place"],
            valid_from=data["valid_from"],
            valid_until=data["valid_until"],
        ),
        _("The weekly hours are changed."),
        row_forms={row.pk: form},
    )


@verified_email_required
@require_POST
def weekly_remove(request, pk: int):
    professional = pro.professional_for(request.user)
    row = get_object_or_404(WeeklyAvailability, pk=pk, professional=professional)
    return _attempt(
        request,
        professional,
        _locations(professional),
        lambda: hours.remove_weekly_hours(row=row, actor=request.user),
        _("The weekly hours are removed."),
    )


@verified_email_required
@require_POST
def override_add(request):
    professional = pro.professional_for(request.user)
    locations = _locations(professional)
    form = DateOverrideForm(request.POST, locations=locations, prefix="override")
    if not form.is_valid():
        return _page(request, professional, locations, forms={"override": form})
    data = form.cleaned_data
    return _attempt(
        request,
        professional,
        locations,
        lambda: hours.add_date_override(
            professional=professional,
            actor=request.user,
            day=data["day"],
            location=data["place"],
            start_time=data["start_time"],
            end_time=data["end_time"],
        ),
        _("The date override is added."),
        forms={"override": form},
    )


@verified_email_required
@require_POST
def override_remove(request, pk: int):
    professional = pro.professional_for(request.user)
    override = get_object_or_404(DateOverride, pk=pk, professional=professional)
    return _attempt(
        request,
        professional,
        _locations(professional),
        lambda: hours.remove_date_override(override=override, actor=request.user),
        _("The date override is removed."),
    )


@verified_email_required
@require_POST
def time_off_add(request):
    professional = pro.professional_for(request.user)
    locations = _locations(professional)
    form = TimeOffForm(request.POST, prefix="off")
    if not form.is_valid():
        return _page(request, professional, locations, forms={"time_off": form})
    data = form.cleaned_data
    return _attempt(
        request,
        professional,
        locations,
        lambda: hours.add_time_off(
            professional=professional,
            actor=request.user,
            start=data["start"],
            end=data["end"],
            all_day=data["all_day"],
            reason=data["reason"],
        ),
        _("The time off is added."),
        forms={"time_off": form},
    )


@verified_email_required
@require_POST
def time_off_remove(request, pk: int):
    professional = pro.professional_for(request.user)
    time_off = get_object_or_404(TimeOff, pk=pk, professional=professional)
    return _attempt(
        request,
        professional,
        _locations(professional),
        lambda: hours.remove_time_off(time_off=time_off, actor=request.user),
        _("The time off is removed."),
    )
