"""The range of dates the site accepts from outside: query strings, API bodies, admin filters.

Python's dates stop at years 1 and 9999, and everything done with a date that comes in (a day's bounds, the week
around it, the month after it, a conversion to UTC) overflows near those limits, which was a 500. Nothing the clinic
books or keeps lies outside 1900-2199 (each service's booking horizon bounds what is bookable far more tightly), so
every date, month or instant is checked against this range first and refused with a message when it falls outside.
"""

import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

EARLIEST_DATE = datetime.date(1900, 1, 1)
LATEST_DATE = datetime.date(2199, 12, 31)

OUT_OF_RANGE_MESSAGE = _("Enter a date between %(earliest)s and %(latest)s.")


def out_of_range_message() -> str:
    """The translated refusal, with the limits written as ISO dates (readable in every language)."""
    return str(OUT_OF_RANGE_MESSAGE) % {"earliest": EARLIEST_DATE.isoformat(), "latest": LATEST_DATE.isoformat()}


def in_range(value: datetime.date | datetime.datetime) -> bool:
    """Whether a date, or an instant's date as written (its own offset, before any conversion), is in range."""
    day = value.date() if isinstance(value, datetime.datetime) else value
    return EARLIEST_DATE <= day <= LATEST_DATE


def validate_in_range(value: datetime.date | datetime.datetime) -> None:
    """A Django validator, usable on form fields and DRF serializer fields alike."""
    if not in_range(value):
        raise ValidationError(out_of_range_message(), code="date_out_of_range")


class DatesInRangeMixin:
    """A form mixin: every date and date-time field of the form is refused outside the range, with the message.

    For the staff admin's model forms (time off, special hours, weekly hours' validity), whose dates are stored:
    a local time late on 9999-12-31 is already year 10000 in UTC, and saving it overflowed.
    """

    def clean(self):
        cleaned_data = super().clean()
        for name, field in self.fields.items():
            value = cleaned_data.get(name)
            if isinstance(field, forms.DateField | forms.DateTimeField) and value is not None and not in_range(value):
                self.add_error(name, ValidationError(out_of_range_message(), code="date_out_of_range"))
        return cleaned_data
