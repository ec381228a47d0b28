"""The demo psychologist looks after her own hours: she may change them all, and has a congress day off and a
Saturday without online hours ahead. DEMO ONLY. Written through ``booking.scheduling.availability_services``, so
the demo never puts time off over one of her booked sessions: a day that would strand one is skipped for the next.
Created once: running the seed again adds nothing (and an editor's later setting is left alone)."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from django.conf import settings

from booking.scheduling import availability_services as hours
from booking.scheduling.availability import local_instant
from booking.scheduling.models import AvailabilitySelfService, DateOverride, Professional, TimeOff

DEMO_PROFESSIONAL = "catalina-munoz"
TIME_OFF_REASON = "Congreso Chileno de Psicología Clínica"
SEARCH_DAYS = 21


def _candidate_days(now: datetime.datetime, after_days: int, weekdays: set[int]) -> list[datetime.date]:
    today = now.astimezone(ZoneInfo(settings.TIME_ZONE)).date()
    days = (today + datetime.timedelta(days=after_days + offset) for offset in range(SEARCH_DAYS))
    return [day for day in days if day.weekday() in weekdays]


def create_demo_availability(*, now: datetime.datetime) -> bool:
    """Full self-service for the demo psychologist, a Friday off three weeks ahead, a Saturday closed online."""
    professional = Professional.objects.filter(slug=DEMO_PROFESSIONAL, user__isnull=False).first()
    if professional is None or TimeOff.objects.filter(professional=professional, reason=TIME_OFF_REASON).exists():
        return False
    professional.availability_self_service = AvailabilitySelfService.FULL
    professional.save(update_fields=["availability_self_service"])
    actor, zone = professional.user, settings.TIME_ZONE
    for day in _candidate_days(now, 18, {4}):  # a Friday
        try:
            hours.add_time_off(
                professional=professional,
                actor=actor,
                start=local_instant(day, datetime.time(0), zone),
                end=local_instant(day + datetime.timedelta(days=1), datetime.time(0), zone),
                all_day=True,
                reason=TIME_OFF_REASON,
                now=now,
            )
            break
        except hours.AvailabilityError:
            continue
    if not DateOverride.objects.filter(professional=professional).exists():
        for day in _candidate_days(now, 8, {5}):  # a Saturday: no online hours that morning
            try:
                hours.add_date_override(professional=professional, actor=actor, day=day, location=None, now=now)
                break
            except hours.AvailabilityError:
                continue
    return True
