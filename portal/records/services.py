"""Sharing a document with a patient, and taking it back; discharging a patient and referring them on. One function
per use case; views and admin call these.

A shared document is one row and one file: the file is written first and removed again if the row cannot be, and
a withdrawn document's file is deleted only once the row's deletion has committed, so neither is ever left
without the other. The upload is checked by its content, not only its name: a page renamed ``.pdf`` is refused.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.scheduling.models import Appointment, AppointmentStatus, Professional, ProfessionalService, Service
from portal.accounts.models import Patient

from . import crypto
from .models import ALLOWED_EXTENSIONS, MAX_DOCUMENT_BYTES, Discharge, DocumentKind, PatientDocument, Referral
from .signals import document_shared, document_withdrawn, referral_made

logger = logging.getLogger(__name__)

CONTENT_TYPES = {"pdf": "application/pdf", "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png"}
# The first bytes each kind of file starts with.
SIGNATURES = {"pdf": b"%PDF-", "jpg": b"\xff\xd8\xff", "jpeg": b"\xff\xd8\xff", "png": b"\x89PNG\r\n\x1a\n"}


class DocumentError(Exception):
    """A document that cannot be shared as given; ``message`` says why, for the person sharing it."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _checked_extension(upload) -> str:
    extension = Path(upload.name or "").suffix.lower().lstrip(".")
    if extension not in ALLOWED_EXTENSIONS:
        raise DocumentError(_("Share a PDF, JPG or PNG file."))
    if not upload.size:
        raise DocumentError(_("The file is empty."))
    if upload.size > MAX_DOCUMENT_BYTES:
        raise DocumentError(_("The file is larger than %(megabytes)s MB.") % {"megabytes": MAX_DOCUMENT_BYTES >> 20})
    upload.seek(0)
    head = upload.read(len(SIGNATURES[extension]))
    upload.seek(0)
    if head != SIGNATURES[extension]:
        raise DocumentError(_("The file's content is not a %(kind)s file.") % {"kind": extension.upper()})
    return extension


def share_document(
    *, appointment, upload, title: str, kind: str, message: str = "", actor, now: datetime | None = None
) -> PatientDocument:
    """Share ``upload`` with the patient of ``appointment`` (the session it comes from) and tell them.

    The nutrition evaluation email is planned in the same transaction (``document_shared``), so a document that is
    not saved is never announced.
    """
    now = now or timezone.now()
    title = (title or "").strip()
    if not title:
        raise DocumentError(_("Give the document a title."))
    if kind not in DocumentKind.values:
        raise DocumentError(_("Choose what kind of document it is."))
    extension = _checked_extension(upload)
    document = PatientDocument(
        patient_id=appointment.patient_id,
        appointment=appointment,
        kind=kind,
        title=title[:200],
        message=(message or "").strip()[:2000],
        filename=Path(upload.name).name[-200:],
        content_type=CONTENT_TYPES[extension],
        size=upload.size,
        shared_by=actor,
        shared_at=now,
    )
    document.file.save(upload.name, upload, save=False)
    try:
        with transaction.atomic():
            document.save()
            document_shared.send(sender=PatientDocument, document=document, now=now)
    except BaseException:
        document.file.storage.delete(document.file.name)
        raise
    return document


def withdraw_document(document: PatientDocument, *, actor) -> None:
    """Stop sharing: the patient no longer sees it, its pending email is cancelled, its file goes after the commit."""
    storage, name = document.file.storage, document.file.name
    with transaction.atomic():
        document_withdrawn.send(sender=PatientDocument, document=document)
        document.delete()
        transaction.on_commit(lambda: storage.delete(name))
    logger.info("Document %s withdrawn by %s", document.reference, getattr(actor, "pk", None))


# --- discharge and referral ----------------------------------------------------------------------------------

MAX_SUMMARY_LENGTH = 5_000
MAX_REFERRAL_NOTE_LENGTH = 3_000
# Sessions that took place (or that the patient missed): a professional who only had cancelled bookings has not
# treated the patient.
TREATED_STATUSES = (
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.COMPLETED,
    AppointmentStatus.NO_SHOW_PATIENT,
)


class CareError(Exception):
    """A discharge or a referral that cannot be recorded as given; ``message`` says why, for the professional."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _require_professional(professional: Professional, actor) -> None:
    if actor is None or professional.user_id != actor.pk:
        raise CareError(_("Only the professional themselves records this."))


def _clean_text(text: str, *, limit: int, empty: str) -> str:
    text = (text or "").strip()
    if not text:
        raise CareError(empty)
    if len(text) > limit:
        raise CareError(_("The text is too long (at most %(count)s characters).") % {"count": limit})
    return text


def _lock_patient(patient: Patient) -> None:
    """The patient's row, locked as the booking services lock it: a discharge and a booking of the same patient
    do not interleave (the booking then reads the discharge and is refused)."""
    Patient.objects.select_for_update().filter(pk=patient.pk).values_list("pk", flat=True).first()


def discharge_patient(
    *, patient: Patient, professional: Professional, date: date, summary: str, actor, now: datetime | None = None
) -> Discharge:
    """Record the end of the patient's treatment with ``professional`` (an "alta"), with its clinical summary.

    Only the professional who treated the patient (a session that has started, not cancelled) discharges them, on
    a date between their first session and today (the clinic's calendar). From then on the patient's own new
    bookings with that professional are refused (``receivers``) until a newer referral; sessions already booked
    stay as they are, for the professional to keep or cancel.
    """
    now = now or timezone.now()
    _require_professional(professional, actor)
    summary = _clean_text(summary, limit=MAX_SUMMARY_LENGTH, empty=_("Write the discharge summary."))
    first_session = (
        Appointment.objects.filter(
            patient=patient, professional=professional, status__in=TREATED_STATUSES, start__lte=now
        )
        .order_by("start")
        .values_list("start", flat=True)
        .first()
    )
    if first_session is None:
        raise CareError(_("You can only discharge a patient you have had a session with."))
    zone = timezone.get_default_timezone()
    if date > now.astimezone(zone).date():
        raise CareError(_("The discharge date cannot be in the future."))
    if date < first_session.astimezone(zone).date():
        raise CareError(_("The discharge date cannot be before your first session with the patient."))
    body = crypto.encrypt(summary)
    with transaction.atomic():
        _lock_patient(patient)
        discharge = Discharge.objects.create(
            patient=patient,
            professional=professional,
            date=date,
            summary_encrypted=body,
            created_by=actor,
            created_at=now,
        )
    logger.info("Patient %s discharged by professional %s", patient.pk, professional.pk)
    return discharge


def _check_receiver(
    *, from_professional: Professional, to_professional: Professional | None, to_service: Service | None
) -> None:
    if to_professional is None and to_service is None:
        raise CareError(_("Choose the professional or the service you refer the patient to."))
    if to_professional is not None:
        if to_professional.pk == from_professional.pk:
            raise CareError(_("Refer the patient to another professional."))
        if not to_professional.active:
            raise CareError(_("That professional is not working with the clinic now."))
    if to_service is not None and not to_service.active:
        raise CareError(_("That service is not offered now."))
    if (
        to_professional is not None
        and to_service is not None
        and not ProfessionalService.objects.filter(professional=to_professional, service=to_service).exists()
    ):
        raise CareError(
            _("%(professional)s does not offer %(service)s.")
            % {"professional": to_professional.display_name, "service": to_service.name}
        )


def is_patient_of(professional: Professional, patient: Patient) -> bool:
    """A session with them (any status) or a referral to them: whom a professional may refer or see."""
    return (
        Appointment.objects.filter(professional=professional, patient=patient).exists()
        or Referral.objects.filter(to_professional=professional, patient=patient).exists()
    )


def refer_patient(
    *,
    patient: Patient,
    from_professional: Professional,
    to_professional: Professional | None = None,
    to_service: Service | None = None,
    note: str,
    share_notes: bool = False,
    actor,
    now: datetime | None = None,
) -> Referral:
    """Refer one of the professional's patients to another professional and/or a service.

    The note is for the receiving professional only (encrypted). ``share_notes`` lets the receiving professional
    read the author's signed notes of this patient, so it needs a professional to share with. The patient's email
    with the booking link (and the pack that includes the service, if any) is planned in the same transaction
    (``referral_made``), so a referral that is not saved is never announced and one that is cannot lose its email.
    """
    now = now or timezone.now()
    _require_professional(from_professional, actor)
    if not is_patient_of(from_professional, patient):
        raise CareError(_("You can only refer your own patients."))
    _check_receiver(from_professional=from_professional, to_professional=to_professional, to_service=to_service)
    if share_notes and to_professional is None:
        raise CareError(_("Choose a professional to share your notes with."))
    note = _clean_text(
        note, limit=MAX_REFERRAL_NOTE_LENGTH, empty=_("Write a note for the professional who receives the patient.")
    )
    body = crypto.encrypt(note)
    with transaction.atomic():
        _lock_patient(patient)
        referral = Referral.objects.create(
            patient=patient,
            from_professional=from_professional,
            to_professional=to_professional,
            to_service=to_service,
            note_encrypted=body,
            share_notes=bool(share_notes),
            created_by=actor,
            created_at=now,
        )
        referral_made.send(sender=Referral, referral=referral, now=now)
    logger.info("Patient %s referred by professional %s", patient.pk, from_professional.pk)
    return referral
