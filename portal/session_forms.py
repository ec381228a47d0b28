"""The reschedule page's inputs: the month and day shown (query string) and the new time chosen (POST), read as
the booking box reads them (``booking.widget.forms``)."""

from datetime import date, datetime

from django import forms
from django.utils.translation import gettext_lazy as _

from booking.scheduling.date_range import validate_in_range
from booking.widget.forms import clean_month, clean_start


class MonthDayForm(forms.Form):
    month = forms.CharField(required=False, max_length=7)
    day = forms.DateField(
        required=False,
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": _("That date is not valid.")},
        validators=[validate_in_range],
    )

    def clean_month(self) -> date | None:
        return clean_month(self.cleaned_data.get("month"))


class NewTimeForm(forms.Form):
    start = forms.CharField(max_length=20, error_messages={"required": _("Please choose a time.")})

    def clean_start(self) -> datetime:
        return clean_start(self.cleaned_data["start"])
