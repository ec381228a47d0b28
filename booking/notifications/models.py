"""The outbox (``Notification``: one row per message to send) and the editors' email templates.

A row is written by the planner (``services``) in the transaction of the change it is about, or right after its
commit, and sent by the dispatcher (``dispatch``) when due. Uniqueness is the database's: one row per
(event, object, recipient address, planned time), so a signal received twice, a retried task or two workers
never plan, and so never send, the same message twice. The keys are non-null (``object_key`` is ``""`` for a
message about nothing, e.g. a test or a staff alert without object), because SQL treats NULLs as all different
and a unique constraint over a nullable column lets duplicates through on both SQLite and PostgreSQL.
"""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from wagtail.models import RevisionMixin

from .events import Audience, Event


def object_key_for(content_type_id: int | None, object_id: int | None) -> str:
    """The non-null key of a row's object for the unique constraint: ``"<content type id>:<pk>"`` or ``""``."""
    if content_type_id is None or object_id is None:
        return ""
    return f"{content_type_id}:{object_id}"


class Notification(models.Model):
    """One message to one recipient about one object, planned for one moment; its life from planned to delivered.

    ``scheduled`` → ``sending`` (claimed by a dispatcher, committed before anything is sent) → ``sent`` (the provider
    took it: ``provider_message_id``) → ``delivered`` / ``bounced`` / ``complained`` (Mailgun's tracking webhooks).
    A send that fails goes back to ``scheduled`` with ``next_attempt_at`` later, and ends ``failed`` after
    ``MAX_ATTEMPTS``. ``cancelled``: the planner withdrew it (the session was cancelled or moved); ``skipped``: the
    dispatcher decided not to send it (too late to be useful, the patient opted out, the session no longer open).
    """

    class State(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")
        BOUNCED = "bounced", _("Bounced")
        COMPLAINED = "complained", _("Complained")
        CANCELLED = "cancelled", _("Cancelled")
        SKIPPED = "skipped", _("Skipped")

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")

    event = models.CharField(_("event"), max_length=40, choices=Event.choices)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, default=Channel.EMAIL)
    content_type = models.ForeignKey(
        ContentType, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("object type")
    )
    object_id = models.PositiveBigIntegerField(_("object id"), null=True, blank=True)
    object = GenericForeignKey("content_type", "object_id")
    object_key = models.CharField(_("object key"), max_length=40, default="", blank=True, editable=False)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recipient"),
    )
    to_email = models.EmailField(_("to"), blank=True)
    language = models.CharField(_("language"), max_length=10, default="es")
    scheduled_at = models.DateTimeField(_("planned for"))
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.SCHEDULED)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    send_started_at = models.DateTimeField(_("handed to the provider at"), null=True, blank=True)
    provider_message_id = models.CharField(_("provider message id"), max_length=255, blank=True, db_index=True)
    error = models.TextField(_("error"), blank=True)
    context = models.JSONField(_("extra context"), default=dict, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.UniqueConstraint(
                fields=["event", "object_key", "to_email", "scheduled_at"], name="notifications_once_per_moment"
            ),
        ]
        indexes = [
            models.Index(fields=["state", "scheduled_at"], name="notifications_due"),
            models.Index(fields=["content_type", "object_id"], name="notifications_object"),
        ]

    def __str__(self):
        return f"{self.event} → {self.to_email} @ {self.scheduled_at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs):
        self.object_key = object_key_for(self.content_type_id, self.object_id)
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and ("object_id" in update_fields or "content_type" in update_fields):
            kwargs["update_fields"] = {*update_fields, "object_key"}
        super().save(*args, **kwargs)


class NotificationTemplate(RevisionMixin, models.Model):
    """An editor's wording of one event's email for one audience and language, overriding the built-in default.

    The subject and bodies are Django templates rendered from the string with a small documented context (see
    ``rendering.CONTEXT_HELP``); a template that fails to render falls back to the built-in default and alerts
    staff. Revisions keep every saved version (Wagtail's history and compare).
    """

    class Language(models.TextChoices):
        ES = "es", _("Spanish")
        EN = "en", _("English")

    event = models.CharField(_("event"), max_length=40, choices=Event.choices)
    audience = models.CharField(_("audience"), max_length=16, choices=Audience.choices, default=Audience.PATIENT)
    language = models.CharField(_("language"), max_length=5, choices=Language.choices, default=Language.ES)
    subject = models.CharField(
        _("subject"),
        max_length=200,
        help_text=_("Name the clinic and the time, never the service: a locked phone shows the subject."),
    )
    html_body = models.TextField(_("HTML body"))
    text_body = models.TextField(_("plain-text body"))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("email template")
        verbose_name_plural = _("email templates")
        ordering = ["event", "audience", "language"]
        constraints = [
            models.UniqueConstraint(fields=["event", "audience", "language"], name="notifications_template_unique"),
            models.CheckConstraint(condition=~Q(subject=""), name="notifications_template_subject"),
        ]

    def __str__(self):
        return f"{self.get_event_display()} · {self.get_audience_display()} · {self.language}"


from .web_models import AttendanceConfirmation, NotificationPreference, SessionNumberRule  # noqa: E402,F401
