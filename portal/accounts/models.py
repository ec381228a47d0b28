"""Accounts: the custom user (email is the login), patient profiles, consent records and calendar feeds."""

import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from .rut import normalize_rut, validate_rut


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        email = self.normalize_email(email)
        user = self.model(email=email, **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)


class User(AbstractUser):
    """A person who logs in: patient, professional, staff, editor or company owner.

    The email address is the login; there is no username.
    """

    username = None
    email = models.EmailField(_("email address"), unique=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    preferred_language = models.CharField(
        _("preferred language"),
        max_length=10,
        choices=settings.LANGUAGES,
        default=settings.LANGUAGE_CODE,
        help_text=_("Language for emails and for the site after logging in."),
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["last_name", "first_name", "email"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self):
        return self.get_full_name() or self.email

    def save(self, *args, **kwargs):
        self.email = self.__class__.objects.normalize_email(self.email).strip()
        super().save(*args, **kwargs)


class Patient(models.Model):
    """The clinical profile of a user who books sessions; created when the user signs up."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="patient", verbose_name=_("user")
    )
    rut = models.CharField(
        _("RUT"),
        max_length=12,
        null=True,
        blank=True,
        validators=[validate_rut],
        help_text=_("Chilean national ID, for example 12.345.678-5. Optional."),
    )
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    emergency_contact_name = models.CharField(_("emergency contact name"), max_length=150, blank=True)
    emergency_contact_phone = models.CharField(_("emergency contact phone"), max_length=32, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("patient")
        verbose_name_plural = _("patients")
        ordering = ["user__last_name", "user__first_name"]
        constraints = [
            models.UniqueConstraint(fields=["rut"], name="accounts_patient_rut_unique"),
        ]

    def __str__(self):
        return str(self.user)

    def save(self, *args, **kwargs):
        # An empty RUT is stored as NULL so that "unique when present" holds.
        self.rut = normalize_rut(self.rut or "") or None
        super().save(*args, **kwargs)


class ConsentRecord(models.Model):
    """Which version of a legal document (privacy policy, terms) a user accepted, and when."""

    class Document(models.TextChoices):
        PRIVACY = "privacy", _("Privacy policy")
        TERMS = "terms", _("Terms of service")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consents", verbose_name=_("user")
    )
    document = models.CharField(_("document"), max_length=20, choices=Document.choices)
    version = models.CharField(
        _("version"), max_length=64, help_text=_("The page revision the user saw when accepting.")
    )
    page_id = models.PositiveIntegerField(_("page"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted at"), auto_now_add=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        ordering = ["-accepted_at"]

    def __str__(self):
        return f"{self.user} · {self.get_document_display()} {self.version}"


def new_calendar_feed_token() -> str:
    """256 random bits, URL-safe: the token is the only thing guarding a feed, so it must not be guessable."""
    return secrets.token_urlsafe(32)


class CalendarFeedQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class CalendarFeed(models.Model):
    """A private ICS subscription URL for one user's appointments.

    Calendar apps cannot log in, so the random token in the URL is the credential. Revoking keeps the row (so a
    leaked link keeps answering 404 and we can tell when it was turned off); a user has at most one active feed.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feeds", verbose_name=_("user")
    )
    token = models.CharField(_("token"), max_length=64, unique=True, default=new_calendar_feed_token, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    objects = CalendarFeedQuerySet.as_manager()

    class Meta:
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(revoked_at__isnull=True),
                name="accounts_calendarfeed_one_active_per_user",
            ),
        ]

    def __str__(self):
        return f"{self.user} · {self.created_at:%Y-%m-%d}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AccountClosure(models.Model):
    """A patient's request to close their account, kept as the record that it was asked for and carried out.

    The account itself is not deleted: what Chilean law requires the clinic to keep (clinical records for 15 years,
    with the patient's name, RUT and birth date; invoices with their billing snapshot) stays, and the rest (login,
    email, phones, emergency contact, preferences, calendar feeds) is anonymised (``portal.privacy.close_account``).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="closure", verbose_name=_("user")
    )
    requested_at = models.DateTimeField(_("requested at"))
    kept = models.TextField(_("what was kept and why"), blank=True)

    class Meta:
        verbose_name = _("account closure")
        verbose_name_plural = _("account closures")
        ordering = ["-requested_at"]

    def __str__(self):
        return f"{self.user_id} · {self.requested_at:%Y-%m-%d}"
