"""Mailgun's tracking webhooks: a sent email becomes ``delivered``, ``bounced``, ``complained`` or ``failed``.

Anymail's ``MailgunTrackingWebhookView`` checks Mailgun's HMAC signature with ``MAILGUN_WEBHOOK_SIGNING_KEY`` and
answers 400 to an unsigned or badly signed call before any receiver runs; ``record_tracking_event`` (connected to
``anymail.signals.tracking`` in the app's ``ready()``) then updates the notification the event names, found by the
provider's message id the dispatcher stored when Mailgun accepted the message.

A state only moves forward (``STATE_RANK``): Mailgun retries webhooks and does not keep their order, so a late
"delivered" never turns a bounce back into a success, and a repeated event changes nothing. A bounce or a message
Mailgun refused alerts the clinic's staff ("messages that could not be delivered"). An unsubscribe or a
complaint reported by Mailgun turns the person's non-essential emails off, as their own unsubscribe would.
"""

from __future__ import annotations

import logging

from anymail.exceptions import AnymailConfigurationError
from anymail.signals import EventType
from anymail.webhooks.mailgun import MailgunTrackingWebhookView
from django.db import transaction
from django.http import HttpResponseNotFound
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from . import preferences
from .events import Audience, Event
from .models import Notification, State, object_key

logger = logging.getLogger(__name__)

# How far along a message is; an event moves a notification only to a higher rank.
STATE_RANK = {
    State.SENT: 1,
    State.DELIVERED: 2,
    State.FAILED: 3,
    State.BOUNCED: 3,
    State.COMPLAINED: 4,
}

# Mailgun's events (normalised by anymail) and the state each one means. Opens, clicks and temporary deferrals
# change nothing: the clinic neither tracks reading nor gives up on a message the provider is still retrying.
EVENT_STATES = {
    EventType.DELIVERED: State.DELIVERED,
    EventType.BOUNCED: State.BOUNCED,
    EventType.REJECTED: State.FAILED,
    EventType.COMPLAINED: State.COMPLAINED,
}
UNDELIVERED = (State.BOUNCED, State.FAILED)

_mailgun_tracking_view = MailgunTrackingWebhookView.as_view()


@csrf_exempt
def mailgun_tracking(request, *args, **kwargs):
    """Anymail's view; a 404 where Mailgun is not configured (no signing key: nothing could be verified)."""
    try:
        return _mailgun_tracking_view(request, *args, **kwargs)
    except AnymailConfigurationError:
        return HttpResponseNotFound()


def record_tracking_event(sender, event, esp_name, **kwargs) -> None:
    """Receiver of ``anymail.signals.tracking``: apply a (verified) Mailgun event to its notification."""
    if esp_name != "Mailgun":
        return
    if event.event_type in (EventType.UNSUBSCRIBED, EventType.COMPLAINED):
        _turn_off_non_essential(event)
    state = EVENT_STATES.get(event.event_type)
    if state is None or not event.message_id:
        return
    apply_tracking_state(
        message_id=event.message_id,
        recipient=event.recipient or "",
        state=state,
        detail=event.description or event.mta_response or event.reject_reason or "",
        at=event.timestamp,
    )


def apply_tracking_state(*, message_id: str, recipient: str, state: str, detail: str = "", at=None) -> list[int]:
    """Move the notifications of ``message_id`` (to ``recipient`` when the message went to several) to ``state``.

    One transaction: the rows are locked, only those behind ``state`` move, and an undelivered one alerts staff in
    the same transaction. Returns the ids changed (none for an unknown id or a stale event).
    """
    changed = []
    with transaction.atomic():
        rows = list(Notification.objects.select_for_update().filter(provider_message_id=message_id).order_by("pk"))
        if len(rows) > 1 and recipient:
            rows = [row for row in rows if row.email.lower() == recipient.lower()] or rows
        for notification in rows:
            if STATE_RANK.get(state, 0) <= STATE_RANK.get(notification.state, 99):
                continue
            notification.state = state
            fields = ["state", "updated_at"]
            if state in UNDELIVERED or state == State.COMPLAINED:
                notification.error = detail[:1000]
                fields.append("error")
            notification.save(update_fields=fields)
            changed.append(notification.pk)
            if state in UNDELIVERED and notification.audience != Audience.STAFF:
                _alert_staff(notification, at=at or timezone.now(), detail=detail)
    if not changed:
        logger.info("tracking event %s for %s changed nothing", state, message_id)
    return changed


def _alert_staff(notification: Notification, *, at, detail: str) -> None:
    """ "A message could not be delivered", to the clinic's staff, once per notification (the planner's key)."""
    from .services import plan_staff_alert

    plan_staff_alert(
        Event.STAFF_UNDELIVERABLE,
        about=object_key(notification),
        at=at,
        data={"detail": f"{notification.get_event_display()} → {notification.email}: {detail}"[:2000]},
    )


def _turn_off_non_essential(event) -> None:
    """Mailgun says the person unsubscribed or marked a message as spam: stop the optional emails too."""
    if not event.message_id:
        return
    notification = (
        Notification.objects.filter(provider_message_id=event.message_id, user__isnull=False)
        .select_related("user")
        .first()
    )
    if notification is not None:
        preferences.set_non_essential_email(user=notification.user, enabled=False, via=preferences.Via.PROVIDER)
