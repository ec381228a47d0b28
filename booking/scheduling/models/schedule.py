"""When professionals work: weekly hours, one-off date overrides and time off.

These rows are loaded by ``booking.scheduling.selectors`` into the plain structures of the availability engine
(``booking.scheduling.availability``). Times are wall-clock times in the location's time zone; online hours use
the clinic's time zone (``settings.TIME_ZONE``) because a professional has no time zone of their own yet.
"""

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey

from .catalog import Location, Professional, Service


class Weekday(models.IntegerChoices):
    MONDAY = 0, _("Monday")
    TUESDAY = 1, _("Tuesday")
    WEDNESDAY = 2, _("Wednesday")
    THURSDAY = 3, _("Thursday")
    FRIDAY = 4, _("Friday")
    SATURDAY = 5, _("Saturday")
    SUNDAY = 6, _("Sunday")


class WeeklyAvailability(models.Model):
    """A professional's recurring hours on one weekday at one location (no location = online).

    An end time of 00:00 means midnight at the end of the day. ``services`` optionally restricts the hours to
    some services, e.g. couple therapy only on Saturday mornings.
    """

    # A ParentalKey so the hours are edited inline on the professional's admin form.
    professional = ParentalKey(
        Professional, on_delete=models.CASCADE, related_name="weekly_availability", verbose_name=_("professional")
    )
    location = models.ForeignKey(
        Location,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="weekly_availability",
        verbose_name=_("location"),
        help_text=_("Leave empty for online sessions."),
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start_time = models.TimeField(_("start time"))
    end_time = models.TimeField(_("end time"), help_text=_("00:00 means midnight at the end of the day."))
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    services = models.ManyToManyField(
        Service,
        blank=True,
        related_name="+",
        verbose_name=_("only for services"),
        help_text=_("Leave empty to offer every service of the professional in these hours."),
    )

    class Meta:
        verbose_name = _("weekly availability")
        verbose_name_plural = _("weekly availability")
        ordering = ["professional", "weekday", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start_time__lt=F("end_time")) | Q(end_time="00:00"),
                name="scheduling_weekly_availability_start_before_end",
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_until__isnull=True)
                | Q(valid_from__lte=F("valid_until")),
                name="scheduling_weekly_availability_valid_range",
            ),
        ]

    def __str__(self):
        return f"{self.professional} · {self.get_weekday_display()} {self.start_time:%H:%M}-{self.end_time:%H:%M}"


class DateOverride(models.Model):
    """Special hours on one date at one location (no location = online), replacing the weekly hours.

    One row per interval: several rows for the same professional, date and location add up. A row without
    start and end time closes that date at that location (if other rows give hours that date, those hours count).
    """

    professional = models.ForeignKey(
        Professional, on_delete=models.CASCADE, related_name="date_overrides", verbose_name=_("professional")
    )
    date = models.DateField(_("date"))
    location = models.ForeignKey(
        Location,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="date_overrides",
        verbose_name=_("location"),
        help_text=_("Leave empty for online sessions."),
    )
    start_time = models.TimeField(_("start time"), null=True, blank=True, help_text=_("Empty: closed that day."))
    end_time = models.TimeField(_("end time"), null=True, blank=True)

    class Meta:
        verbose_name = _("date override")
        verbose_name_plural = _("date overrides")
        ordering = ["date", "start_time"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start_time__isnull=True, end_time__isnull=True)
                | Q(start_time__isnull=False, end_time="00:00")
                | Q(start_time__lt=F("end_time")),
                name="scheduling_date_override_start_before_end",
            ),
        ]

    def __str__(self):
        if self.start_time is None:
            return f"{self.professional} · {self.date} · {_('closed')}"
        return f"{self.professional} · {self.date} {self.start_time:%H:%M}-{self.end_time:%H:%M}"

    @property
    def is_closed(self) -> bool:
        return self.start_time is None


class TimeOff(models.Model):
    """Absolute time when a professional (or, without one, the whole clinic) cannot see patients.

    With a location, clinic-wide time off closes only that location (e.g. a renovation).
    """

    professional = models.ForeignKey(
        Professional,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="time_off",
        verbose_name=_("professional"),
        help_text=_("Leave empty for time off of the whole clinic."),
    )
    location = models.ForeignKey(
        Location,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="time_off",
        verbose_name=_("location"),
        help_text=_("Leave empty for every location."),
    )
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    all_day = models.BooleanField(_("all day"), default=False)
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("time off")
        verbose_name_plural = _("time off")
        ordering = ["start"]
        constraints = [
            models.CheckConstraint(condition=Q(start__lt=F("end")), name="scheduling_time_off_start_before_end"),
        ]

    def __str__(self):
        who = self.professional or _("Whole clinic")
        return f"{who} · {self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M}"
