"""Documents the clinic shares with one patient: an evaluation, a report, a certificate, a plan.

The file sits in the private storage (``storage``), under a random name; the row keeps the name the patient will
download it as, its type and size. Patients reach a document only by its unguessable ``reference`` through the
portal, which checks it is theirs.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.core.validators import FileExtensionValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from booking.scheduling.models.appointments import new_reference

from .storage import private_storage

# What the clinic shares: documents and pictures a phone opens. No HTML, SVG or office macros.
ALLOWED_EXTENSIONS = ("pdf", "jpg", "jpeg", "png")
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024


def document_path(document: PatientDocument, filename: str) -> str:
    """A random stored name: the patient's or the original file's name never appears on disk."""
    return f"patient-documents/{secrets.token_hex(16)}{Path(filename).suffix.lower()}"


class DocumentKind(models.TextChoices):
    EVALUATION = "evaluation", _("Nutrition evaluation")
    PLAN = "plan", _("Plan or guidelines")
    REPORT = "report", _("Report")
    CERTIFICATE = "certificate", _("Certificate")
    OTHER = "other", _("Other")


class PatientDocument(models.Model):
    reference = models.CharField(_("reference"), max_length=16, unique=True, default=new_reference, editable=False)
    patient = models.ForeignKey(
        "accounts.Patient", on_delete=models.PROTECT, related_name="documents", verbose_name=_("patient")
    )
    appointment = models.ForeignKey(
        "scheduling.Appointment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="documents",
        verbose_name=_("session"),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=DocumentKind.choices, default=DocumentKind.OTHER)
    title = models.CharField(_("title"), max_length=200)
    message = models.TextField(_("message to the patient"), blank=True, max_length=2000)
    file = models.FileField(
        _("file"),
        storage=private_storage,
        upload_to=document_path,
        max_length=255,
        validators=[FileExtensionValidator(ALLOWED_EXTENSIONS)],
    )
    filename = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveIntegerField(_("size in bytes"))
    shared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("shared by"),
    )
    shared_at = models.DateTimeField(_("shared at"))

    class Meta:
        verbose_name = _("patient document")
        verbose_name_plural = _("patient documents")
        ordering = ["-shared_at", "-pk"]
        indexes = [models.Index(fields=["patient", "-shared_at"], name="records_document_patient")]

    def __str__(self) -> str:
        return self.title


class SessionNote(models.Model):
    """The professional's note of one session: a draft until signed, then locked; changes after that are
    ``SessionNoteAmendment`` rows that keep the original. The text is stored encrypted (``crypto``): read and write
    it only through ``services`` (which also log every access), never through ``body_encrypted``.

    Never deleted (the clinical record is kept at least 15 years): the appointment cannot be deleted under it.
    """

    appointment = models.OneToOneField(
        "scheduling.Appointment", on_delete=models.PROTECT, related_name="note", verbose_name=_("session")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("author")
    )
    body_encrypted = models.TextField(_("text (encrypted)"), editable=False)
    created_at = models.DateTimeField(_("created at"))
    updated_at = models.DateTimeField(_("updated at"))
    signed_at = models.DateTimeField(_("signed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("session note")
        verbose_name_plural = _("session notes")
        default_permissions = ("view",)  # written only by the session's professional, through ``notes``
        permissions = [("read_clinical_notes", _("Can read the professionals' session notes"))]

    def __str__(self) -> str:
        return f"{self.appointment_id} · {self.author_id}"

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None


class SessionNoteAmendment(models.Model):
    """A dated change to a signed note: who, when, why, and the added text (encrypted too)."""

    note = models.ForeignKey(SessionNote, on_delete=models.PROTECT, related_name="amendments", verbose_name=_("note"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("author")
    )
    reason = models.CharField(_("reason"), max_length=300)
    body_encrypted = models.TextField(_("text (encrypted)"), editable=False)
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("note amendment")
        verbose_name_plural = _("note amendments")
        default_permissions = ("view",)
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.note_id} · {self.created_at:%Y-%m-%d %H:%M}"


class NoteAccess(models.Model):
    """Every read and write of a note: who, when, which note, what (the access log clinic administrators see)."""

    class Action(models.TextChoices):
        READ = "read", _("Read")
        WRITE = "write", _("Wrote the draft")
        SIGN = "sign", _("Signed")
        AMEND = "amend", _("Amended")

    note = models.ForeignKey(SessionNote, on_delete=models.PROTECT, related_name="accesses", verbose_name=_("note"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("user")
    )
    action = models.CharField(_("action"), max_length=8, choices=Action.choices)
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("note access")
        verbose_name_plural = _("note accesses")
        default_permissions = ("view",)  # nobody edits or deletes the log
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.user_id} {self.action} {self.note_id} · {self.at:%Y-%m-%d %H:%M}"


class Discharge(models.Model):
    """A professional ends a patient's treatment with them (an "alta"): the date and a clinical summary.

    The summary is clinical text, stored encrypted (``crypto``) like the notes; it is written only through
    ``services.discharge_patient``. After it, the patient cannot book that professional again by themselves (the
    booking box and the portal say to contact the clinic) until someone refers them back (a newer ``Referral``);
    the clinic's staff still can. Never deleted: it is part of the clinical record (only "view" is a permission).
    """

    patient = models.ForeignKey(
        "accounts.Patient", on_delete=models.PROTECT, related_name="discharges", verbose_name=_("patient")
    )
    professional = models.ForeignKey(
        "scheduling.Professional", on_delete=models.PROTECT, related_name="discharges", verbose_name=_("professional")
    )
    date = models.DateField(_("discharge date"))
    summary_encrypted = models.TextField(_("summary (encrypted)"), editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("discharge")
        verbose_name_plural = _("discharges")
        default_permissions = ("view",)  # written only through ``services``, never edited or deleted
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["patient", "professional", "-created_at"], name="records_discharge_latest")]

    def __str__(self) -> str:
        return f"{self.patient_id} · {self.professional_id} · {self.date:%Y-%m-%d}"


class Referral(models.Model):
    """A professional sends a patient on to another professional and/or a service, with a note for the receiver.

    The note is clinical text, encrypted like the notes. ``share_notes`` lets the receiving professional read the
    author's signed session notes of this patient (each read logged in ``NoteAccess``). The patient gets an email
    with a booking link for the professional or service (``services.refer_patient``). A referral to a professional
    newer than that professional's discharge of the patient lets the patient book them again.
    """

    patient = models.ForeignKey(
        "accounts.Patient", on_delete=models.PROTECT, related_name="referrals", verbose_name=_("patient")
    )
    from_professional = models.ForeignKey(
        "scheduling.Professional",
        on_delete=models.PROTECT,
        related_name="referrals_made",
        verbose_name=_("referred by"),
    )
    to_professional = models.ForeignKey(
        "scheduling.Professional",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="referrals_received",
        verbose_name=_("to professional"),
    )
    to_service = models.ForeignKey(
        "scheduling.Service",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("to service"),
    )
    note_encrypted = models.TextField(_("note for the receiver (encrypted)"), editable=False)
    share_notes = models.BooleanField(_("shares the author's signed notes"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        default_permissions = ("view",)
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(to_professional__isnull=False) | models.Q(to_service__isnull=False),
                name="referral_has_a_receiver",
            ),
        ]
        indexes = [
            models.Index(fields=["to_professional", "patient", "-created_at"], name="records_referral_received"),
            models.Index(fields=["patient", "-created_at"], name="records_referral_patient"),
        ]

    def __str__(self) -> str:
        return f"{self.patient_id} · {self.from_professional_id} → {self.to_professional_id or self.to_service_id}"
