"""Forms of the clinic's staff admin: schedules, time off, and the appointment screens and actions.

Staff type wall-clock times. A time typed for an in-person session is read in its location's time zone, any
other in the clinic's (``settings.TIME_ZONE``), the same zones the availability engine uses, so the slot the
staff member sees in the calendar is the slot the service checks.
"""

import datetime
import zoneinfo

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminModelForm

from portal.accounts.models import Patient

from .date_range import DatesInRangeMixin, validate_in_range
from .models import AppointmentStatus, Location, Professional, Service

MIDNIGHT = datetime.time(0, 0)
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TIME_WIDGET = forms.TimeInput(attrs={"type": "time", "step": 300}, format="%H:%M")


def clinic_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def zone_for(location: Location | None) -> zoneinfo.ZoneInfo:
    if location is not None and location.time_zone:
        return zoneinfo.ZoneInfo(str(location.time_zone))
    return clinic_zone()


def clinic_today() -> datetime.date:
    return timezone.localtime(timezone.now(), clinic_zone()).date()


def local_datetime(day: datetime.date, time: datetime.time, zone: zoneinfo.ZoneInfo) -> datetime.datetime:
    return datetime.datetime.combine(day, time, tzinfo=zone)


# --- Schedules ---------------------------------------------------------------------------------------------


class WeeklyAvailabilityForm(DatesInRangeMixin, WagtailAdminModelForm):
    """One row of weekly hours; says in words what the database constraints would refuse."""

    def clean(self):
        cleaned_data = super().clean()
        start, end = cleaned_data.get("start_time"), cleaned_data.get("end_time")
        if start is not None and end is not None and end != MIDNIGHT and start >= end:
            self.add_error(
                "end_time",
                ValidationError(
                    _("The end time must be later than the start time (00:00 means midnight)."),
                    code="end_before_start",
                ),
            )
        valid_from, valid_until = cleaned_data.get("valid_from"), cleaned_data.get("valid_until")
        if valid_from and valid_until and valid_from > valid_until:
            self.add_error(
                "valid_until",
                ValidationError(_("“Valid until” cannot be before “valid from”."), code="invalid_range"),
            )
        return cleaned_data


class DateOverrideForm(DatesInRangeMixin, WagtailAdminModelForm):
    """Special hours on one date: both times (hours that replace the weekly ones) or neither (closed that day)."""

    def clean(self):
        cleaned_data = super().clean()
        start, end = cleaned_data.get("start_time"), cleaned_data.get("end_time")
        unreadable = "start_time" in self.errors or "end_time" in self.errors
        if start is None and end is not None and not unreadable:
            self.add_error(
                "start_time",
                ValidationError(
                    _("Give the start time too, or leave both times empty to close that day."), code="missing_start"
                ),
            )
        elif start is not None and end is None and not unreadable:
            self.add_error(
                "end_time",
                ValidationError(
                    _("Give the end time too (00:00 means midnight), or leave both times empty to close that day."),
                    code="missing_end",
                ),
            )
        elif start is not None and end is not None and end != MIDNIGHT and start >= end:
            self.add_error(
                "end_time",
                ValidationError(
                    _("The end time must be later than the start time (00:00 means midnight)."),
                    code="end_before_start",
                ),
            )
        return cleaned_data


class TimeOffForm(DatesInRangeMixin, WagtailAdminModelForm):
    def clean(self):
        cleaned_data = super().clean()
        start, end = cleaned_data.get("start"), cleaned_data.get("end")
        if start is not None and end is not None and start >= end:
            self.add_error("end", ValidationError(_("The end must be later than the start."), code="end_before_start"))
        return cleaned_data


# --- Appointment list filters ------------------------------------------------------------------------------

MAX_LIST_DAYS = 366


class AppointmentFilterForm(forms.Form):
    """The filters of the appointment list. Without dates the list shows today in the clinic's time zone."""

    date_from = forms.DateField(label=_("From"), required=False, widget=DATE_WIDGET, validators=[validate_in_range])
    date_to = forms.DateField(label=_("Until"), required=False, widget=DATE_WIDGET, validators=[validate_in_range])
    professional = forms.ModelChoiceField(
        label=_("Professional"), required=False, queryset=Professional.objects.order_by("display_name")
    )
    service = forms.ModelChoiceField(label=_("Service"), required=False, queryset=Service.objects.order_by("name"))
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status")), *AppointmentStatus.choices]
    )
    location = forms.ChoiceField(label=_("Location"), required=False)

    ONLINE = "online"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].choices = [
            ("", _("Any location")),
            (self.ONLINE, _("Online")),
            *((str(location.pk), location.name) for location in Location.objects.order_by("name")),
        ]

    def clean(self):
        cleaned_data = super().clean()
        today = clinic_today()
        date_from = cleaned_data.get("date_from")
        date_to = cleaned_data.get("date_to")
        if date_from is None and date_to is None and not self.errors:
            date_from = date_to = today
        date_from = date_from or date_to
        date_to = date_to or date_from
        if date_from and date_to:
            if date_to < date_from:
                self.add_error("date_to", ValidationError(_("“Until” cannot be before “From”."), code="bad_range"))
            elif (date_to - date_from).days >= MAX_LIST_DAYS:
                self.add_error(
                    "date_to",
                    ValidationError(
                        _("Choose at most %(days)s days at a time."), code="range_too_long", params={"days": 366}
                    ),
                )
        cleaned_data["date_from"], cleaned_data["date_to"] = date_from, date_to
        return cleaned_data

    def filter(self, queryset):
        data = self.cleaned_data
        zone = clinic_zone()
        start = local_datetime(data["date_from"], MIDNIGHT, zone)
        end = local_datetime(data["date_to"] + datetime.timedelta(days=1), MIDNIGHT, zone)
        queryset = queryset.filter(start__gte=start, start__lt=end)
        if data.get("professional"):
            queryset = queryset.filter(professional=data["professional"])
        if data.get("service"):
            queryset = queryset.filter(service=data["service"])
        if data.get("status"):
            queryset = queryset.filter(status=data["status"])
        location = data.get("location")
        if location == self.ONLINE:
            queryset = queryset.filter(location__isnull=True)
        elif location:
            queryset = queryset.filter(location_id=int(location))
        return queryset


# --- Appointment actions -----------------------------------------------------------------------------------


class StaffOverrideField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Staff override reason"))
        kwargs.setdefault(
            "help_text",
            _(
                "Only to go past the service's policy (late change, no changes left) or to give the patient "
                "a session at the same time as another one. It is kept in the history."
            ),
        )
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 500)
        super().__init__(**kwargs)


class CancelAppointmentForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), required=False, max_length=500, widget=forms.Textarea({"rows": 2}))
    staff_override_reason = StaffOverrideField()


class RescheduleAppointmentForm(forms.Form):
    date = forms.DateField(label=_("New date"), widget=DATE_WIDGET, validators=[validate_in_range])
    time = forms.TimeField(label=_("New time"), widget=TIME_WIDGET)
    staff_override_reason = StaffOverrideField()

    def new_start(self, location: Location | None) -> datetime.datetime:
        return local_datetime(self.cleaned_data["date"], self.cleaned_data["time"], zone_for(location))


class PatientChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, patient):
        user = patient.user
        name = user.get_full_name() if hasattr(user, "get_full_name") else ""
        return f"{name} <{user.email}>" if name else user.email


class CreateAppointmentForm(forms.Form):
    """A staff booking; the service decides whether the time is free and offered."""

    patient = PatientChoiceField(
        label=_("Patient"), queryset=Patient.objects.select_related("user").order_by("user__email")
    )
    professional = forms.ModelChoiceField(
        label=_("Professional"), queryset=Professional.objects.filter(active=True).order_by("display_name")
    )
    service = forms.ModelChoiceField(label=_("Service"), queryset=Service.objects.filter(active=True).order_by("name"))
    location = forms.ModelChoiceField(
        label=_("Location"),
        queryset=Location.objects.filter(active=True).order_by("name"),
        required=False,
        empty_label=_("Online"),
        help_text=_("Leave on “Online” for an online session."),
    )
    date = forms.DateField(label=_("Date"), widget=DATE_WIDGET, validators=[validate_in_range])
    time = forms.TimeField(label=_("Start time"), widget=TIME_WIDGET)
    note = forms.CharField(label=_("Note"), required=False, max_length=2000, widget=forms.Textarea({"rows": 2}))
    staff_override_reason = StaffOverrideField(
        help_text=_(
            "Only to book a patient who already has a session at that time (e.g. a joint session). "
            "It is kept in the history."
        )
    )

    def start(self) -> datetime.datetime:
        data = self.cleaned_data
        return local_datetime(data["date"], data["time"], zone_for(data.get("location")))
