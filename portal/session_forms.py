"""The reschedule page's inputs: the month and day shown (query string) and the new time chosen (POST)."""

from datetime import UTC, date, datetime

from django import forms
from django.utils.translation import gettext_lazy as _

from booking.scheduling.date_range import in_range, out_of_range_message, validate_in_range
from booking.widget.forms import START_FORMAT


class MonthDayForm(forms.Form):
    month = forms.CharField(required=False, max_length=7)
    day = forms.DateField(
        required=False,
        input_formats=["%Y-%m-%d"],
        error_messages={"invalid": _("That date is not valid.")},
        validators=[validate_in_range],
    )

    def clean_month(self) -> date | None:
        value = self.cleaned_data.get("month") or ""
        if not value:
            return None
        try:
            month = datetime.strptime(value, "%Y-%m").date()
        except ValueError:
            raise forms.ValidationError(_("That month is not valid.")) from None
        if not in_range(month):
            raise forms.ValidationError(out_of_range_message())
        return month


class NewTimeForm(forms.Form):
    start = forms.CharField(max_length=20, error_messages={"required": _("Please choose a time.")})

    def clean_start(self) -> datetime:
        try:
            start = datetime.strptime(self.cleaned_data["start"], START_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            raise forms.ValidationError(_("That time is not valid.")) from None
        if not in_range(start):
            raise forms.ValidationError(out_of_range_message())
        return start
