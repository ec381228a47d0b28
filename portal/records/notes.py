"""Session notes: write a draft, sign it (locked), amend it after signing; read it. One function per use case.

Who may do what: only the session's professional writes, signs and amends their note; the author and clinic staff
holding ``records.read_clinical_notes`` read it (never patients, editors or other professionals). Every read and
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
from .models import NoteAccess, SessionNote, SessionNoteAmendment

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


def may_read(note_or_appointment, user) -> bool:
    appointment = getattr(note_or_appointment, "appointment", note_or_appointment)
    return _is_author(appointment, user) or bool(user and user.has_perm(READ_PERMISSION))


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


def reencrypt_all() -> int:
    """Every note and amendment under the newest key (``manage.py reencrypt_notes``); how many rows changed."""
    changed = 0
    for model in (SessionNote, SessionNoteAmendment):
        for pk, body in model.objects.values_list("pk", "body_encrypted").iterator():
            with transaction.atomic():
                model.objects.filter(pk=pk, body_encrypted=body).update(body_encrypted=crypto.rotate(body))
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
