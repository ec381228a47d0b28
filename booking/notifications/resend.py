"""Staff send a message again from the notification log ("resend").

Two cases, so the log keeps the truth about every attempt:

- a ``failed`` message (never accepted by the provider) is re-queued as it is: the same row goes back to
  ``scheduled`` with its attempts and error cleared, and the dispatcher's next run sends it (the row's planned time
  is kept, so the dispatcher's "still useful?" rule still applies: a "1 hour before" after the session started ends
  ``skipped``, not sent; ``next_attempt_at`` becomes now, so the next run takes it);
- a message the provider took (``sent``, ``delivered``, ``bounced``, ``complained``) gets a NEW row, due now, to the
  recipient's current address (staff may have corrected a bounced one), and the old row stays as it was.

Messages still on their way (``scheduled``, ``sending``) or deliberately not sent (``cancelled``, ``skipped``) are
not resent: ``NotificationError`` says why. Permission: ``notifications.change_notification``.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from booking.errors import DomainError

from .models import Notification, State

RESEND_PERMISSION = "notifications.change_notification"
REQUEUED = (State.FAILED,)
COPIED = (State.SENT, State.DELIVERED, State.BOUNCED, State.COMPLAINED)
RESENDABLE = REQUEUED + COPIED


class ResendError(DomainError):
    messages = {
        "not_allowed": _("You are not allowed to resend messages."),
        "not_resendable": _("This message is not sent yet or was deliberately not sent, so it cannot be resent."),
    }


def resend_notification(*, notification: Notification, actor, now: datetime | None = None) -> Notification:
    """Send ``notification`` again (see the module's docstring); returns the row that will be sent."""
    if actor is None or not actor.has_perm(RESEND_PERMISSION):
        raise ResendError("not_allowed")
    now = now if now is not None else timezone.now()
    with transaction.atomic():
        notification = Notification.objects.select_for_update().get(pk=notification.pk)
        if notification.state in REQUEUED:
            notification.state = State.SCHEDULED
            notification.attempts = 0
            notification.error = ""
            notification.next_attempt_at = now
            notification.save(update_fields=["state", "attempts", "error", "next_attempt_at", "updated_at"])
            return notification
        if notification.state not in COPIED:
            raise ResendError("not_resendable")
        user = notification.user
        return Notification.objects.create(
            event=notification.event,
            audience=notification.audience,
            object_key=notification.object_key,
            appointment_id=notification.appointment_id,
            invoice_id=notification.invoice_id,
            pack_purchase_id=notification.pack_purchase_id,
            user=user,
            email=user.email if user is not None and user.email else notification.email,
            language=notification.language,
            channel=notification.channel,
            scheduled_for=now,
            next_attempt_at=now,
            data=notification.data,
            state=State.SCHEDULED,
        )
