"""Notifications for the tests of the link pages, preferences, webhooks and the admin log."""

from datetime import UTC, datetime

from booking.notifications.models import Notification
from tests.factories.accounts import VerifiedUserFactory

ESSENTIAL_EVENT = "reminder_24h"
NON_ESSENTIAL_EVENT = "after_session"
UNDELIVERABLE_EVENT = "message_undeliverable"


def make_notification(*, recipient=None, event=ESSENTIAL_EVENT, obj=None, **fields) -> Notification:
    recipient = recipient or VerifiedUserFactory()
    values = {
        "event": event,
        "recipient": recipient,
        "to_email": recipient.email,
        "scheduled_at": datetime(2026, 11, 29, 12, tzinfo=UTC),
        **fields,
    }
    if obj is not None:
        values["object"] = obj
    return Notification.objects.create(**values)


def staff_alerts() -> list[Notification]:
    return list(Notification.objects.filter(event=UNDELIVERABLE_EVENT))
