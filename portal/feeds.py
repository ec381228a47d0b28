"""Private calendar feeds: issuing and revoking a user's feed token, and choosing what the feed shows.

The feed URL carries its own credential (calendar apps cannot log in), so "Reset link" revokes the old token
and issues a new one in one transaction, and a revoked or unknown token simply answers 404.
"""

from __future__ import annotations

import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from booking.scheduling.models import Appointment, AppointmentStatus
from portal.accounts import roles
from portal.accounts.models import CalendarFeed

FEED_PAST = datetime.timedelta(days=30)
FEED_FUTURE = datetime.timedelta(days=365)
# A cancelled session stays in the feed (as STATUS:CANCELLED) this long after it was cancelled, so that
# subscribed calendars see the cancellation and remove it; after that it just disappears.
CANCELLED_KEPT_FOR = datetime.timedelta(days=30)


def active_feed(user) -> CalendarFeed | None:
    return CalendarFeed.objects.active().filter(user=user).first()


def _lock_user(user) -> None:
    """Serialise feed changes of one user, so two clicks cannot both create an active feed."""
    get_user_model().objects.select_for_update().filter(pk=user.pk).exists()


def create_feed(*, user) -> CalendarFeed:
    """The user's active feed, created if there is none (a second click returns the same link)."""
    with transaction.atomic():
        _lock_user(user)
        return active_feed(user) or CalendarFeed.objects.create(user=user)


def reset_feed(*, user, now: datetime.datetime | None = None) -> CalendarFeed:
    """Revoke the current link (if any) and issue a new one: for a link that was shared by mistake."""
    with transaction.atomic():
        _lock_user(user)
        CalendarFeed.objects.active().filter(user=user).update(revoked_at=now or timezone.now())
        return CalendarFeed.objects.create(user=user)


def revoke_feed(*, user, now: datetime.datetime | None = None) -> int:
    """Turn the feed off; returns how many links were revoked (0 when it was already off)."""
    with transaction.atomic():
        _lock_user(user)
        return CalendarFeed.objects.active().filter(user=user).update(revoked_at=now or timezone.now())


def feed_by_token(token: str) -> CalendarFeed | None:
    """The active feed for ``token`` of an active account, with the user's professional profile (one query)."""
    feeds = CalendarFeed.objects.active().filter(token=token, user__is_active=True)
    return feeds.select_related("user__professional").first()


def feed_is_for_professional(user) -> bool:
    """A professional's feed lists their sessions with patients; anyone else's lists their own sessions."""
    return roles.is_professional(user)


def feed_appointments(user, *, now: datetime.datetime | None = None) -> QuerySet[Appointment]:
    """The appointments a user's feed shows: from 30 days ago to a year ahead, recent cancellations included."""
    now = now or timezone.now()
    owner = Q(professional__user=user) if feed_is_for_professional(user) else Q(patient__user=user)
    recently_cancelled_or_live = ~Q(status=AppointmentStatus.CANCELLED) | Q(updated_at__gte=now - CANCELLED_KEPT_FOR)
    return (
        Appointment.objects.filter(owner, recently_cancelled_or_live)
        .filter(start__gte=now - FEED_PAST, start__lt=now + FEED_FUTURE)
        .select_related("service", "professional", "location", "patient__user")
        .order_by("start", "pk")
    )
