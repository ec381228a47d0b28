"""Whether a person gets the emails the clinic does not have to send, and the one-click way out of them.

Essential emails (confirmations, reschedules, cancellations, reminders, receipts, refunds) always go. The others
(after a session, by session number) go unless the patient said no, in their profile or with the unsubscribe
link every such email carries. ``wants`` is the one question the planner and the dispatcher ask; a row it refuses
ends ``skipped`` instead of being sent.

Unsubscribe links follow RFC 8058: the email carries ``List-Unsubscribe: <https://…/unsubscribe/TOKEN/>`` and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (``unsubscribe_headers``), so a mail program can POST to
the link without the patient opening anything. The token is signed (``django.core.signing`` with its own salt)
and names the user; it does not expire, because a link in an old email must still work, and it does nothing but
turn these emails off, which anyone holding the email may do.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import transaction
from django.urls import reverse

from .events import rule
from .models import Notification
from .web_models import NotificationPreference

UNSUBSCRIBE_SALT = "booking.notifications.unsubscribe"
Via = NotificationPreference.Via


def _is_essential(event: str) -> bool:
    return rule(event).essential


def _user_of(notification_or_user):
    """The user a notification goes to (None for a bare address), or the user itself."""
    if isinstance(notification_or_user, Notification):
        return notification_or_user.user
    return notification_or_user


def wants(notification_or_user, event: str | None = None) -> bool:
    """Whether the person should get an email of ``event`` (a notification's own event when not given).

    Essential events: always True. Non-essential ones: False once the person turned them off. A notification with
    no user (an address only, e.g. the clinic's staff inbox) gets everything. One query at most (the preference
    row), none for an essential event or a preference already loaded
    (``select_related("user__notification_preference")``).

    Where it is asked: the dispatcher, before rendering a claimed row (``dispatch.send_claimed``): a row it refuses
    is recorded ``skipped`` with the reason "the patient unsubscribed from these emails", never sent. Asking at
    sending time (not only when planning) honours an unsubscribe made after the row was planned.
    """
    if event is None:
        event = notification_or_user.event
    if _is_essential(event):
        return True
    user = _user_of(notification_or_user)
    if user is None:
        return True
    try:
        preference = user.notification_preference
    except NotificationPreference.DoesNotExist:
        return True
    return preference.non_essential_email


def non_essential_email_enabled(user) -> bool:
    """What the profile's box shows: True unless the user turned these emails off."""
    return NotificationPreference.objects.filter(user=user, non_essential_email=False).first() is None


def set_non_essential_email(*, user, enabled: bool, via: str) -> NotificationPreference:
    """Record the person's choice (idempotent: unsubscribing twice changes nothing but the time)."""
    with transaction.atomic():
        preference, _created = NotificationPreference.objects.select_for_update().get_or_create(
            user=user, defaults={"non_essential_email": enabled, "changed_via": via}
        )
        if preference.non_essential_email != enabled or preference.changed_via != via:
            preference.non_essential_email = enabled
            preference.changed_via = via
            preference.save(update_fields=["non_essential_email", "changed_via", "changed_at"])
    return preference


def unsubscribe_token(user) -> str:
    return signing.dumps({"u": user.pk}, salt=UNSUBSCRIBE_SALT, compress=True)


def read_unsubscribe_token(token: str):
    """The active user ``token`` names, or None for a tampered, malformed or dead link."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    user_id = data.get("u") if isinstance(data, dict) else None
    if not isinstance(user_id, int):
        return None
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()


def unsubscribe_url(user) -> str:
    """The absolute one-click unsubscribe link for ``user`` (emails have no request to build it from)."""
    return settings.SITE_URL + reverse("notifications:unsubscribe", args=[unsubscribe_token(user)])


def unsubscribe_headers(notification) -> dict[str, str]:
    """The RFC 8058 headers for ``notification``'s email: empty for an essential one or one with no user.

    The dispatcher adds them to the message (``EmailMultiAlternatives(headers=...)``). Mail programs (Gmail,
    Apple Mail, Outlook) then show their own "unsubscribe" button, which POSTs to the link.
    """
    user = _user_of(notification)
    if user is None or _is_essential(notification.event):
        return {}
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(user)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def set_daily_agenda(*, professional, enabled: bool) -> None:
    """The professional's own choice of the morning agenda email (read by ``services.plan_daily_agendas``)."""
    type(professional).objects.filter(pk=professional.pk).update(daily_agenda_email=enabled)
    professional.daily_agenda_email = enabled
