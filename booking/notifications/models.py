"""The outbox of every message the clinic sends, and the templates editors may customise.

One ``Notification`` row per message and recipient, written in the transaction (or on the commit) of the fact it
announces and sent later by the dispatcher (``dispatch``). The database's unique constraint on (event, object,
recipient, scheduled time) is what makes a signal fired twice, a retried task or two workers harmless: the copy is
never inserted. ``object_key`` ("appointment:42", "invoice:7", "pack_purchase:3") is the object in that
constraint because a nullable foreign key would not be: NULLs never collide in a unique index. The typed foreign
keys beside it let the dispatcher load what it renders with ``select_related``.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Value
from django.db.models.functions import Cast, Concat
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, MultiFieldPanel
from wagtail.models import DraftStateMixin, PreviewableMixin, RevisionMixin

from .events import Audience, Event


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")


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


class Language(models.TextChoices):
    ES = "es", _("Spanish")
    EN = "en", _("English")


def new_message_key() -> str:
    """The random half of a message's Message-ID (the row's pk is the other half): unique across databases too."""
    return secrets.token_hex(8)


def object_key(obj) -> str:
    """The object part of a notification's identity: ``"<model>:<pk>"``."""
    return f"{obj._meta.model_name}:{obj.pk}"


class Notification(models.Model):
    """One message to one recipient about one object, from planned to sent (and, with the webhooks, delivered)."""

    event = models.CharField(_("event"), max_length=40, choices=Event.choices)
    audience = models.CharField(_("audience"), max_length=16, choices=Audience.choices)
    object_key = models.CharField(_("about"), max_length=64)
    appointment = models.ForeignKey(
        "scheduling.Appointment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("appointment"),
    )
    invoice = models.ForeignKey(
        "billing.Invoice",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("invoice"),
    )
    pack_purchase = models.ForeignKey(
        "packs.PackagePurchase",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("pack purchase"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="notifications",
        verbose_name=_("recipient"),
    )
    email = models.EmailField(_("email"))
    # The site's language code (settings.LANGUAGES: "es-cl", "en"), activated while the message is rendered.
    language = models.CharField(
        _("language"), max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, default=Channel.EMAIL)
    scheduled_for = models.DateTimeField(_("scheduled for"))
    # When the dispatcher may take it next: the planned time, pushed back after each failed attempt.
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.SCHEDULED)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_attempt_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    # The dispatcher run that claimed it: it sends only the rows it finds under its own token.
    claimed_by = models.CharField(_("claimed by"), max_length=32, blank=True)
    provider_message_id = models.CharField(_("provider message id"), max_length=255, blank=True)
    # Set as the email's Message-ID before every send: after a dispatcher died mid-send, the provider is asked
    # whether it accepted this Message-ID before the row is sent again (``dispatch.release_stuck``).
    message_key = models.CharField(_("message key"), max_length=32, default=new_message_key, editable=False)
    error = models.TextField(_("error"), blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    # Facts the message needs that the object no longer holds, e.g. the previous time of a rescheduled session.
    data = models.JSONField(_("data"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-scheduled_for", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "object_key", "email", "scheduled_for"], name="notification_once_per_recipient"
            ),
        ]
        indexes = [
            # the dispatcher: due rows of one state, oldest first
            models.Index(fields=["state", "next_attempt_at"], name="notification_due"),
            # the planner: the pending rows of one object (move, cancel)
            models.Index(fields=["object_key", "state"], name="notification_object"),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_display()} → {self.email} ({self.get_state_display()})"

    @property
    def message_id(self) -> str:
        """The Message-ID header this row's email carries, the same on every attempt."""
        return f"<notification-{self.pk}.{self.message_key}@{message_id_domain()}>"


def message_id_expression():
    """``Notification.message_id`` in SQL, for one UPDATE over many rows."""
    return Concat(
        Value("<notification-"),
        Cast("pk", models.CharField()),
        Value("."),
        "message_key",
        Value(f"@{message_id_domain()}>"),
        output_field=models.CharField(),
    )


def message_id_domain() -> str:
    """The sending domain (Mailgun's, else ``DEFAULT_FROM_EMAIL``'s): Message-IDs are unique under it."""
    domain = settings.ANYMAIL.get("MAILGUN_SENDER_DOMAIN") or settings.DEFAULT_FROM_EMAIL.rpartition("@")[2]
    return domain.strip(" >") or "localhost"


class NotificationTemplate(PreviewableMixin, DraftStateMixin, RevisionMixin, models.Model):
    """An editor's version of one event's message for one audience and language.

    Without a live row the built-in default (files under ``templates/notifications/defaults``) is used: defaults
    stay current with the code, and a row exists only for what an editor chose to change. The body may use only
    the documented context (``rendering.CONTEXT_DOC``); a template that fails to render falls back to the default.
    """

    event = models.CharField(_("event"), max_length=40, choices=Event.choices)
    audience = models.CharField(_("audience"), max_length=16, choices=Audience.choices)
    language = models.CharField(_("language"), max_length=10, choices=Language.choices)
    subject = models.CharField(
        _("subject"),
        max_length=200,
        help_text=_("Shown on locked phones: name the clinic and the time, never the service or the specialty."),
    )
    body_html = models.TextField(_("HTML body"))
    body_text = models.TextField(_("plain-text body"))

    panels = [
        MultiFieldPanel([FieldPanel("event"), FieldPanel("audience"), FieldPanel("language")], heading=_("Message")),
        FieldPanel("subject"),
        FieldPanel("body_html"),
        FieldPanel("body_text"),
    ]

    class Meta:
        verbose_name = _("notification template")
        verbose_name_plural = _("notification templates")
        constraints = [
            models.UniqueConstraint(fields=["event", "audience", "language"], name="notification_template_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_event_display()} · {self.get_audience_display()} · {self.language}"

    # Wagtail's live preview beside the editor: the message as the recipient would get it, with made-up data.
    def get_preview_template(self, request, mode_name):
        return "notifications/admin/template_preview.html"

    def get_preview_context(self, request, mode_name):
        from .rendering import preview

        return {**super().get_preview_context(request, mode_name), "preview": preview(self)}


# The patient-facing side's rows (preferences, attendance confirmations, rules by session number), registered here.
from .web_models import AttendanceConfirmation, NotificationPreference, SessionNumberRule  # noqa: E402, F401
