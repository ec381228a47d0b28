"""Notifications for the tests of the link pages, preferences, webhooks and the admin log."""

from datetime import UTC, datetime

from booking.notifications.events import Event, rule
from booking.notifications.models import Notification, object_key
from tests.factories.accounts import VerifiedUserFactory

ESSENTIAL_EVENT = Event.REMINDER_24H
NON_ESSENTIAL_EVENT = Event.AFTER_SESSION_IN_PERSON
PLANNED_AT = datetime(2026, 11, 29, 12, tzinfo=UTC)


def make_notification(*, user=None, event=ESSENTIAL_EVENT, appointment=None, **fields) -> Notification:
    """A row as the planner writes it (to a patient's account unless ``user`` is given)."""
    user = user or VerifiedUserFactory()
    when = fields.pop("scheduled_for", PLANNED_AT)
    values = {
        "event": event,
        "audience": rule(event).audience,
        "object_key": object_key(appointment) if appointment is not None else f"test:{user.pk}",
        "appointment": appointment,
        "user": user,
        "email": user.email,
        "scheduled_for": when,
        "next_attempt_at": when,
        **fields,
    }
    return Notification.objects.create(**values)


def staff_alerts() -> list[Notification]:
    return list(Notification.objects.filter(event=Event.STAFF_UNDELIVERABLE))
