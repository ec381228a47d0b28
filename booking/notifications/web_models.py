"""The notifications app's rows that belong to the patient-facing side: email preferences, attendance confirmations
and the editors' by-session-number rules.

They live apart from the outbox (``models.py``: ``Notification``, ``NotificationTemplate``), which ``models.py``
imports at its end so that Django registers them with the app.
"""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class NotificationPreference(models.Model):
    """A person's choice about the emails the clinic does not have to send (after a session, by session number).

    No row means the default: they are sent. Essential emails (confirmations, reminders, receipts) are sent whatever
    this says. The patient changes it in their profile or with the one-click unsubscribe link of such an email
    (``preferences.set_non_essential_email``); ``changed_via`` keeps which, for the day someone asks.
    """

    class Via(models.TextChoices):
        PROFILE = "profile", _("Profile")
        UNSUBSCRIBE_PAGE = "unsubscribe_page", _("Unsubscribe page")
        ONE_CLICK = "one_click", _("One-click unsubscribe from the mail program")
        PROVIDER = "provider", _("Email provider (unsubscribe or complaint)")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_preference",
        verbose_name=_("user"),
    )
    non_essential_email = models.BooleanField(
        _("emails after sessions and about my progress"),
        default=True,
        help_text=_("Reminders, confirmations and receipts are always sent."),
    )
    changed_via = models.CharField(_("changed via"), max_length=20, choices=Via.choices, default=Via.PROFILE)
    changed_at = models.DateTimeField(_("changed at"), auto_now=True)

    class Meta:
        verbose_name = _("email preference")
        verbose_name_plural = _("email preferences")

    def __str__(self):
        return f"{self.user} · {self.non_essential_email}"


class AttendanceConfirmation(models.Model):
    """The patient said "I will come" with the link of the confirmation request email.

    One row per appointment (the database refuses a second), so a link clicked twice or in two tabs confirms once
    and the second click reads "already confirmed". Kept here, not on the appointment: it changes nothing about
    the booking (its status, its time, its money); staff see it on the appointment's admin page.
    """

    appointment = models.OneToOneField(
        "scheduling.Appointment",
        on_delete=models.CASCADE,
        related_name="attendance_confirmation",
        verbose_name=_("appointment"),
    )
    confirmed_at = models.DateTimeField(_("confirmed at"))

    class Meta:
        verbose_name = _("attendance confirmation")
        verbose_name_plural = _("attendance confirmations")

    def __str__(self):
        return f"{self.appointment_id} · {self.confirmed_at:%Y-%m-%d %H:%M}"


class SessionNumberRule(models.Model):
    """ "After the Nth session of a patient with a service, send this email": editors configure it in the admin.

    When a session is marked completed and it is the patient's Nth completed session with the rule's service (any
    service when empty, counting all their completed sessions), the patient gets the ``session_number`` email
    (``rules.rules_matching``, ``rules.plan_session_number_emails``). Its template is the event's (one per
    language, editable like every other); this rule's own paragraph, in the patient's language, goes into it as
    ``rule_message`` (kept on the notification's ``data`` when it is planned).
    """

    name = models.CharField(
        _("name"), max_length=120, help_text=_("For the admin only, e.g. “Welcome after the first session”.")
    )
    service = models.ForeignKey(
        "scheduling.Service",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="session_number_rules",
        verbose_name=_("service"),
        help_text=_("Leave empty to count the patient's completed sessions of every service."),
    )
    session_number = models.PositiveSmallIntegerField(
        _("after session number"),
        validators=[MinValueValidator(1), MaxValueValidator(500)],
        help_text=_("1 sends it after the patient's first completed session, 5 after the fifth."),
    )
    message_es = models.TextField(
        _("message (Spanish)"),
        help_text=_("The paragraph this rule adds to the email, for patients who read Spanish. Plain text."),
    )
    message_en = models.TextField(
        _("message (English)"),
        blank=True,
        help_text=_("The same for patients who read English; empty uses the Spanish one."),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("email by session number")
        verbose_name_plural = _("emails by session number")
        ordering = ["service__name", "session_number", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(session_number__gte=1), name="notifications_rule_number_positive"),
            models.UniqueConstraint(
                fields=["service", "session_number"], name="notifications_rule_unique_per_service"
            ),
            models.UniqueConstraint(
                fields=["session_number"],
                condition=Q(service__isnull=True),
                name="notifications_rule_unique_any_service",
            ),
        ]

    def __str__(self):
        return self.name

    def message_for(self, language: str) -> str:
        """The rule's paragraph in ``language`` (a site language code such as "es-cl" or "en")."""
        if language.startswith("en") and self.message_en.strip():
            return self.message_en
        return self.message_es
