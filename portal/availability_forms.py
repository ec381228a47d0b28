"""The availability page's inputs: weekly hours, a date override and time off, read into the services' arguments.

A place is "online" or one of the professional's own locations (any other id is "not a valid choice", a message);
dates are kept inside the range the site accepts (``date_range``). Time off is typed as local dates and optional
times in the clinic's zone and turned into instants the way the engine reads wall-clock times
(``availability.local_instant``), so a time the clock skips (00:00 on the night Santiago moves its clocks forward)
means the instant of the jump.
"""

from __future__ import annotations

from datetime import time, timedelta

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from booking.scheduling.availability import local_instant
from booking.scheduling.date_range import validate_in_range
from booking.scheduling.models import Weekday

ONLINE = "online"
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")


def _date_field(label, *, required=True):
    return forms.DateField(label=label, required=required, widget=DATE, validators=[validate_in_range])


def _time_field(label, *, required=True, help_text=""):
    return forms.TimeField(label=label, required=required, widget=TIME, help_text=help_text)


class _PlaceForm(forms.Form):
    """A form with a ``place`` choice among online and the professional's locations (given once per page)."""

    def __init__(self, *args, locations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.locations = {str(location.pk): location for location in locations}
        self.fields["place"].choices = [(ONLINE, _("Online")), *((pk, loc.name) for pk, loc in self.locations.items())]

    def clean_place(self):
        return self.locations.get(self.cleaned_data["place"])  # None: online


class WeeklyHoursForm(_PlaceForm):
    weekday = forms.TypedChoiceField(label=_("Day"), choices=Weekday.choices, coerce=int)
    place = forms.ChoiceField(label=_("Place"))
    start_time = _time_field(_("From"))
    end_time = _time_field(_("Until"), help_text=_("00:00 means midnight at the end of the day."))
    valid_from = _date_field(_("Valid from"), required=False)
    valid_until = _date_field(_("Valid until"), required=False)

    @classmethod
    def for_row(cls, row, *, locations, data=None):
        initial = {
            "weekday": row.weekday,
            "place": str(row.location_id) if row.location_id else ONLINE,
            "start_time": row.start_time,
            "end_time": row.end_time,
            "valid_from": row.valid_from,
            "valid_until": row.valid_until,
        }
        return cls(data, initial=initial, locations=locations, prefix=f"row-{row.pk}")


class DateOverrideForm(_PlaceForm):
    day = _date_field(_("Date"))
    place = forms.ChoiceField(label=_("Place"))
    start_time = _time_field(_("From"), required=False, help_text=_("Leave both times empty to close that day."))
    end_time = _time_field(_("Until"), required=False)

    def clean(self):
        cleaned_data = super().clean()
        if (cleaned_data.get("start_time") is None) != (cleaned_data.get("end_time") is None) and not self.errors:
            raise ValidationError(_("Give both times, or neither to close that day."), code="half_open")
        return cleaned_data


class TimeOffForm(forms.Form):
    start_date = _date_field(_("From"))
    start_time = _time_field(_("at"), required=False, help_text=_("Empty: from the start of the day."))
    end_date = _date_field(_("Until"))
    end_time = _time_field(_("at"), required=False, help_text=_("Empty: until the end of the day."))
    reason = forms.CharField(label=_("Reason"), required=False, max_length=200)

    def clean(self):
        """Adds ``start``, ``end`` (instants) and ``all_day`` (no times given)."""
        cleaned_data = super().clean()
        if self.errors:
            return cleaned_data
        zone = settings.TIME_ZONE
        start_time, end_time = cleaned_data.get("start_time"), cleaned_data.get("end_time")
        cleaned_data["start"] = local_instant(cleaned_data["start_date"], start_time or time(0), zone)
        if end_time is None:
            cleaned_data["end"] = local_instant(cleaned_data["end_date"] + timedelta(days=1), time(0), zone)
        else:
            cleaned_data["end"] = local_instant(cleaned_data["end_date"], end_time, zone)
        cleaned_data["all_day"] = start_time is None and end_time is None
        return cleaned_data
