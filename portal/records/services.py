"""Sharing a document with a patient, and taking it back. One function per use case; views and admin call these.

A shared document is one row and one file: the file is written first and removed again if the row cannot be, and
a withdrawn document's file is deleted only once the row's deletion has committed, so neither is ever left
without the other. The upload is checked by its content, not only its name: a page renamed ``.pdf`` is refused.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import ALLOWED_EXTENSIONS, MAX_DOCUMENT_BYTES, DocumentKind, PatientDocument
from .signals import document_shared, document_withdrawn

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
