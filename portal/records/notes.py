"""Session notes: write a draft, sign it (locked), amend it after signing; read it. One function per use case.

Who may do what: only the session's professional writes, signs and amends their note; the author and clinic staff
holding ``records.read_clinical_notes`` read it, and so does a professional the author referred the patient to
with ``share_notes`` once the note is signed (never patients, editors or any other professional). Every read and
every write is logged in ``NoteAccess`` in the same transaction as the write (or right with the read), so the log
cannot miss an access that happened. The text is encrypted before it reaches the database (``crypto``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.scheduling.models import Appointment

from . import crypto
from .models import Discharge, NoteAccess, Referral, SessionNote, SessionNoteAmendment

logger = logging.getLogger(__name__)

READ_PERMISSION = "records.read_clinical_notes"
MAX_NOTE_LENGTH = 20_000


class NoteError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Amendment:
    author: object
    reason: str
    text: str
    created_at: datetime


@dataclass(frozen=True)
class NoteText:
    """A note as its reader sees it: the signed (or draft) text and its dated amendments, decrypted."""

    note: SessionNote
    text: str
    amendments: list[Amendment]


def _is_author(appointment: Appointment, user) -> bool:
    return user is not None and appointment.professional.user_id == user.pk


def _shared_with(appointment: Appointment, user) -> bool:
    """The author referred this session's patient to ``user`` (a professional) and shared their notes."""
    return Referral.objects.filter(
        patient_id=appointment.patient_id,
        from_professional_id=appointment.professional_id,
        to_professional__user_id=user.pk,
        share_notes=True,
    ).exists()


def may_read(note_or_appointment, user) -> bool:
    """The author, staff with the permission, or the receiver of a referral that shares the author's notes (signed
    notes only: a draft is still the author's own)."""
    appointment = getattr(note_or_appointment, "appointment", note_or_appointment)
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if _is_author(appointment, user) or user.has_perm(READ_PERMISSION):
        return True
    note = (
        note_or_appointment
        if isinstance(note_or_appointment, SessionNote)
        else SessionNote.objects.filter(appointment=appointment).first()
    )
    return note is not None and note.is_signed and _shared_with(appointment, user)


def _clean(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise NoteError(_("Write something first."))
    if len(text) > MAX_NOTE_LENGTH:
        raise NoteError(_("The note is too long (at most %(count)s characters).") % {"count": MAX_NOTE_LENGTH})
    return text


def save_draft(*, appointment: Appointment, author, text: str, now: datetime | None = None) -> SessionNote:
    """Create or replace the draft of the session's note (refused once signed: amend it instead)."""
    now = now or timezone.now()
    if not _is_author(appointment, author):
        raise NoteError(_("Only the session's professional writes its note."))
    body = crypto.encrypt(_clean(text))
    with transaction.atomic():
        note = SessionNote.objects.select_for_update().filter(appointment=appointment).first()
        if note is not None and note.is_signed:
            raise NoteError(_("This note is signed: add an amendment instead."))
        if note is None:
            note = SessionNote.objects.create(
                appointment=appointment, author=author, body_encrypted=body, created_at=now, updated_at=now
            )
        else:
            note.body_encrypted, note.updated_at = body, now
            note.save(update_fields=["body_encrypted", "updated_at"])
        NoteAccess.objects.create(note=note, user=author, action=NoteAccess.Action.WRITE, at=now)
    return note


def sign(*, note: SessionNote, author, now: datetime | None = None) -> SessionNote:
    """Lock the note: from now on it changes only by amendments."""
    now = now or timezone.now()
    if not _is_author(note.appointment, author):
        raise NoteError(_("Only the session's professional signs its note."))
    with transaction.atomic():
        note = SessionNote.objects.select_for_update().get(pk=note.pk)
        if note.is_signed:
            raise NoteError(_("This note is already signed."))
        note.signed_at = note.updated_at = now
        note.save(update_fields=["signed_at", "updated_at"])
        NoteAccess.objects.create(note=note, user=author, action=NoteAccess.Action.SIGN, at=now)
    return note


def amend(*, note: SessionNote, author, text: str, reason: str, now: datetime | None = None) -> SessionNoteAmendment:
    """A dated amendment to a signed note, with its reason; the original stays as it was signed."""
    now = now or timezone.now()
    if not _is_author(note.appointment, author):
        raise NoteError(_("Only the session's professional amends its note."))
    reason = (reason or "").strip()[:300]
    if not reason:
        raise NoteError(_("Say why you amend the note."))
    body = crypto.encrypt(_clean(text))
    with transaction.atomic():
        note = SessionNote.objects.select_for_update().get(pk=note.pk)
        if not note.is_signed:
            raise NoteError(_("Sign the note before amending it; a draft can still be edited."))
        amendment = SessionNoteAmendment.objects.create(
            note=note, author=author, reason=reason, body_encrypted=body, created_at=now
        )
        NoteAccess.objects.create(note=note, user=author, action=NoteAccess.Action.AMEND, at=now)
    return amendment


def read(*, appointment: Appointment, reader, now: datetime | None = None) -> NoteText | None:
    """The session's note for ``reader`` (None when there is none yet), logged; ``NoteError`` if not theirs to
    read; ``crypto.UndecryptableNote`` if no configured key opens it."""
    if not may_read(appointment, reader):
        raise NoteError(_("You may not read this note."))
    note = SessionNote.objects.filter(appointment=appointment).first()
    if note is None:
        return None
    amendments = [
        Amendment(
            author=item.author,
            reason=item.reason,
            text=crypto.decrypt(item.body_encrypted),
            created_at=item.created_at,
        )
        for item in note.amendments.select_related("author")
    ]
    text = crypto.decrypt(note.body_encrypted)
    NoteAccess.objects.create(note=note, user=reader, action=NoteAccess.Action.READ, at=now or timezone.now())
    return NoteText(note=note, text=text, amendments=amendments)


@dataclass(frozen=True)
class SharedNote:
    """A signed note another professional shared through a referral, as its receiver reads it."""

    appointment: Appointment
    author_name: str
    text: str
    amendments: list[Amendment]


def shared_notes(*, patient_id: int, reader, now: datetime | None = None) -> list[SharedNote]:
    """The signed notes of ``patient_id`` that their authors shared with ``reader`` by referring the patient to them
    (``share_notes``), oldest session first; every note returned is logged as read. Four queries whatever the
    number of notes; ``crypto.UndecryptableNote`` if no configured key opens one."""
    now = now or timezone.now()
    if reader is None or not getattr(reader, "is_authenticated", False):
        return []
    authors = Referral.objects.filter(
        patient_id=patient_id, to_professional__user_id=reader.pk, share_notes=True
    ).values("from_professional_id")
    found = list(
        SessionNote.objects.filter(
            appointment__patient_id=patient_id,
            appointment__professional_id__in=authors,
            signed_at__isnull=False,
        )
        .exclude(appointment__professional__user_id=reader.pk)
        .select_related("appointment__professional", "appointment__service")
        .prefetch_related("amendments")
        .order_by("appointment__start", "pk")
    )
    shared = [
        SharedNote(
            appointment=note.appointment,
            author_name=note.appointment.professional.display_name,
            text=crypto.decrypt(note.body_encrypted),
            amendments=[
                Amendment(
                    author=None,
                    reason=item.reason,
                    text=crypto.decrypt(item.body_encrypted),
                    created_at=item.created_at,
                )
                for item in note.amendments.all()
            ],
        )
        for note in found
    ]
    NoteAccess.objects.bulk_create(
        NoteAccess(note=note, user=reader, action=NoteAccess.Action.READ, at=now) for note in found
    )
    return shared


def reencrypt_all() -> int:
    """Every encrypted text of the records under the newest key (``manage.py reencrypt_notes``): notes, amendments,
    discharge summaries and referral notes; how many rows changed."""
    changed = 0
    columns = (
        (SessionNote, "body_encrypted"),
        (SessionNoteAmendment, "body_encrypted"),
        (Discharge, "summary_encrypted"),
        (Referral, "note_encrypted"),
    )
    for model, column in columns:
        for pk, body in model.objects.values_list("pk", column).iterator():
            with transaction.atomic():
                model.objects.filter(pk=pk, **{column: body}).update(**{column: crypto.rotate(body)})
            changed += 1
    return changed


@dataclass(frozen=True)
class RecordEntry:
    """One session of a patient's clinical record: its note for the reader, or why it cannot be shown."""

    appointment: Appointment
    note: NoteText | None
    unreadable: bool = False


def read_record(*, patient, reader, now: datetime | None = None) -> list[RecordEntry]:
    """Every session note of ``patient``, all professionals, oldest first: the clinical record the clinic keeps
    (Ley 20.584), for staff holding ``records.read_clinical_notes`` only. Each note shown is logged as read, in one
    INSERT; a note no configured key opens is marked ``unreadable`` (the others still show), never shown as
    ciphertext. Three queries whatever the number of notes."""
    if not (reader and reader.has_perm(READ_PERMISSION)):
        raise NoteError(_("You may not read this note."))
    notes = list(
        SessionNote.objects.filter(appointment__patient=patient)
        .select_related("appointment__professional", "appointment__service", "appointment__location", "author")
        .prefetch_related(Prefetch("amendments", queryset=SessionNoteAmendment.objects.select_related("author")))
        .order_by("appointment__start", "pk")
    )
    entries = []
    for note in notes:
        try:
            text = NoteText(
                note=note,
                text=crypto.decrypt(note.body_encrypted),
                amendments=[
                    Amendment(
                        author=item.author,
                        reason=item.reason,
                        text=crypto.decrypt(item.body_encrypted),
                        created_at=item.created_at,
                    )
                    for item in note.amendments.all()
                ],
            )
        except crypto.UndecryptableNote:
            logger.error("Session note %s cannot be decrypted with the configured keys", note.pk)
            entries.append(RecordEntry(appointment=note.appointment, note=None, unreadable=True))
        else:
            entries.append(RecordEntry(appointment=note.appointment, note=text))
    at = now or timezone.now()
    NoteAccess.objects.bulk_create(
        NoteAccess(note=entry.note.note, user=reader, action=NoteAccess.Action.READ, at=at)
        for entry in entries
        if entry.note is not None
    )
    return entries
