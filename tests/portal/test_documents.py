"""Documents the clinic shares with one patient: shared from the appointment's admin page, kept in private storage,
listed and downloaded only by their patient, announced by email when they are a nutrition evaluation, and
withdrawn without leaving a file or an email behind. Bad uploads are refused with a message and store nothing."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from django.conf import settings
from django.contrib.messages import get_messages
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from booking.notifications.dispatch import dispatch_due
from booking.notifications.events import Event
from booking.notifications.models import Notification
from portal.accounts.roles import RECEPTIONISTS, ensure_role_groups
from portal.records.models import PatientDocument
from portal.records.services import DocumentError, share_document, withdraw_document
from tests.factories.accounts import PatientFactory, VerifiedUserFactory, activate_totp
from tests.factories.scheduling import AppointmentFactory, ServiceFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
PDF = b"%PDF-1.4\n% an evaluation\n"


@pytest.fixture(autouse=True)
def pinned_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def session():
    """Last week's nutrition session of a patient who reads English."""
    patient = PatientFactory(user=VerifiedUserFactory(first_name="Camila", preferred_language="en"))
    return AppointmentFactory(
        patient=patient,
        service=ServiceFactory(name="Evaluación nutricional"),
        start=datetime(2026, 11, 26, 13, 0, tzinfo=UTC),
        end=datetime(2026, 11, 26, 14, 0, tzinfo=UTC),
        status="completed",
    )


def pdf(name="evaluacion.pdf", content=PDF):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def stored_files() -> list[Path]:
    root = Path(settings.PRIVATE_MEDIA_ROOT)
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def share(session, **fields):
    values = {"upload": pdf(), "title": "Evaluación de noviembre", "kind": "evaluation", "actor": None} | fields
    return share_document(appointment=session, **values)


# --- sharing ----------------------------------------------------------------------------------------------


def test_a_shared_document_is_stored_privately_under_a_random_name(session):
    document = share(session, message="Te dejo tus resultados.")

    [path] = stored_files()
    assert path.read_bytes() == PDF
    assert "evaluacion" not in path.name and path.suffix == ".pdf"
    assert not Path(settings.MEDIA_ROOT).exists() or not any(Path(settings.MEDIA_ROOT).rglob("*.pdf"))
    assert (document.patient, document.filename, document.size) == (session.patient, "evaluacion.pdf", len(PDF))
    assert (document.content_type, document.shared_at) == ("application/pdf", NOW)
    with pytest.raises(ValueError):
        document.file.url  # noqa: B018  (no public address, ever)


def test_an_evaluation_is_announced_by_email_with_the_session_date_and_the_documents_page(session):
    share(session)
    mail.outbox.clear()

    dispatch_due(now=NOW)

    [message] = mail.outbox
    assert message.to == [session.patient.user.email]
    assert "new document" in message.subject
    assert "Evaluación" not in message.subject  # a locked phone shows the subject
    assert "Thursday 26 November 2026" in message.body
    assert f"{settings.SITE_URL}/portal/documents/" in message.body


def test_other_kinds_of_document_send_no_email(session):
    share(session, kind="plan", title="Pauta de alimentación")
    assert not Notification.objects.filter(event=Event.NUTRITION_EVALUATION).exists()


@pytest.mark.parametrize(
    ("upload", "title", "kind", "message"),
    [
        (pdf("notas.html", b"<script>alert(1)</script>"), "Notas", "other", "PDF, JPG or PNG"),
        (pdf("falso.pdf", b"<html>not a pdf</html>"), "Falso", "other", "not a PDF file"),
        (pdf("vacio.pdf", b""), "Vacío", "other", "empty"),
        (pdf("grande.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024)), "Grande", "other", "larger than 10 MB"),
        (pdf(), "   ", "other", "title"),
        (pdf(), "Evaluación", "horoscope", "kind"),
    ],
    ids=["html", "renamed-html", "empty", "too-large", "no-title", "unknown-kind"],
)
def test_bad_uploads_are_refused_with_a_reason_and_store_nothing(session, upload, title, kind, message):
    with translation.override("en"), pytest.raises(DocumentError) as refused:
        share(session, upload=upload, title=title, kind=kind)
    assert message in refused.value.message
    assert not PatientDocument.objects.exists()
    assert stored_files() == []
    assert not Notification.objects.exists()


def test_a_failure_after_the_file_is_written_leaves_no_file_and_no_email(session, monkeypatch):
    from portal.records.signals import document_shared

    def broken_receiver(**kwargs):
        raise RuntimeError("boom")

    document_shared.connect(broken_receiver, dispatch_uid="test_broken")
    try:
        with pytest.raises(RuntimeError):
            share(session)
    finally:
        document_shared.disconnect(dispatch_uid="test_broken")
    assert not PatientDocument.objects.exists()
    assert stored_files() == []
    assert not Notification.objects.exists()


def test_withdrawing_removes_the_file_after_the_commit_and_cancels_the_unsent_email(
    session, django_capture_on_commit_callbacks
):
    document = share(session)
    with django_capture_on_commit_callbacks(execute=True):
        withdraw_document(document, actor=None)

    assert not PatientDocument.objects.exists()
    assert stored_files() == []
    [row] = Notification.objects.filter(event=Event.NUTRITION_EVALUATION)
    assert row.state == "cancelled"


# --- the portal -------------------------------------------------------------------------------------------


def test_the_patient_lists_and_downloads_their_documents(client, session):
    document = share(session, message="Resultados de tu evaluación")
    client.force_login(session.patient.user)

    page = client.get(reverse("portal:documents"))
    assert page.status_code == 200
    assert "Evaluación de noviembre" in page.content.decode()
    assert "Resultados de tu evaluación" in page.content.decode()

    response = client.get(reverse("portal:document_download", args=[document.reference]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="evaluacion.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]


def test_another_patients_document_is_a_404_and_never_listed(client, session):
    document = share(session)
    other = PatientFactory()
    client.force_login(other.user)

    assert client.get(reverse("portal:document_download", args=[document.reference])).status_code == 404
    page = client.get(reverse("portal:documents")).content.decode()
    assert "Evaluación de noviembre" not in page
    assert 'id="no-documents"' in page


def test_a_visitor_is_sent_to_log_in(client, session):
    document = share(session)
    response = client.get(reverse("portal:document_download", args=[document.reference]))
    assert response.status_code == 302 and reverse("account_login") in response["Location"]


def test_the_list_runs_the_same_queries_for_3_and_for_30_documents(client, session):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for_the_list() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("portal:documents")).status_code == 200
        return len(captured)

    client.force_login(session.patient.user)
    for number in range(3):
        share(session, title=f"Documento {number}", kind="plan")
    client.get(reverse("portal:documents"))  # warm the session and site caches
    with_3 = queries_for_the_list()
    for number in range(3, 30):
        share(session, title=f"Documento {number}", kind="plan")
    assert queries_for_the_list() == with_3


def test_the_documents_section_is_in_the_portal_navigation(client, session):
    client.force_login(session.patient.user)
    page = client.get(reverse("portal:home")).content.decode()
    assert f'href="{reverse("portal:documents")}"' in page


# --- the admin --------------------------------------------------------------------------------------------


def test_an_administrator_shares_from_the_appointment_page(admin_client, session):
    detail = reverse("clinic_appointments:detail", args=[session.reference])
    assert 'id="share-document-form"' in admin_client.get(detail).content.decode()

    response = admin_client.post(
        reverse("records_admin:share", args=[session.reference]),
        {"kind": "evaluation", "title": "Evaluación de noviembre", "message": "", "file": pdf()},
    )

    assert response.status_code == 302 and response["Location"] == detail
    document = PatientDocument.objects.get()
    assert (document.patient, document.appointment, document.kind) == (session.patient, session, "evaluation")
    assert Notification.objects.filter(event=Event.NUTRITION_EVALUATION, email=session.patient.user.email).exists()
    assert "Evaluación de noviembre" in admin_client.get(detail).content.decode()


def test_a_refused_upload_in_the_admin_says_why_and_shares_nothing(admin_client, session):
    response = admin_client.post(
        reverse("records_admin:share", args=[session.reference]),
        {"kind": "other", "title": "Notas", "file": pdf("notas.pdf", b"<html></html>")},
    )
    assert response.status_code == 302
    [message] = list(get_messages(response.wsgi_request))
    assert message.level_tag == "error" and "PDF" in str(message)  # in the administrator's language
    assert not PatientDocument.objects.exists()


def test_a_receptionist_can_neither_see_nor_share_documents(client, session):
    receptionist = VerifiedUserFactory()
    receptionist.groups.add(ensure_role_groups()[RECEPTIONISTS])
    activate_totp(receptionist)
    share(session)
    client.force_login(receptionist)

    detail = client.get(reverse("clinic_appointments:detail", args=[session.reference])).content.decode()
    assert "Evaluación de noviembre" not in detail and "share-document-form" not in detail
    client.post(
        reverse("records_admin:share", args=[session.reference]),
        {"kind": "other", "title": "Intruso", "file": pdf()},
    )
    assert PatientDocument.objects.count() == 1
