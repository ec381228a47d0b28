"""Session notes: drafts, signing (locked), dated amendments that keep the original, who may read, the access log,
encryption at rest with key rotation, and the professional's session page that drives it all."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.urls import reverse

from portal.accounts.roles import CLINIC_ADMINISTRATORS, RECEPTIONISTS, ensure_role_groups
from portal.records import crypto, notes
from portal.records.models import NoteAccess, SessionNote, SessionNoteAmendment
from tests.factories.accounts import VerifiedUserFactory, activate_totp
from tests.factories.scheduling import AppointmentFactory, ProfessionalFactory

pytestmark = pytest.mark.django_db

SANTIAGO = ZoneInfo("America/Santiago")
NOW = datetime(2026, 12, 1, 10, 30, tzinfo=SANTIAGO)
SECRET = "Paciente refiere insomnio desde hace tres semanas."
KEY_A = "dGVzdC1vbmx5LXJlY29yZHMta2V5LTMyLWJ5dGVzLSE="
KEY_B = "dGVzdC1vbmx5LXJlY29yZHMta2V5LXJvdGF0ZWQtISE="
KEY_C = "YW5vdGhlci1rZXktdGhhdC1vcGVucy1ub3RoaW5nISE="


@pytest.fixture(autouse=True)
def pinned_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def appointment():
    user = VerifiedUserFactory(preferred_language="en")
    activate_totp(user)
    professional = ProfessionalFactory(user=user)
    return AppointmentFactory(professional=professional, start=NOW - timedelta(minutes=50))


def author(appointment):
    return appointment.professional.user


def raw_bodies() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT body_encrypted FROM records_sessionnote"
            " UNION ALL SELECT body_encrypted FROM records_sessionnoteamendment"
        )
        return [row[0] for row in cursor.fetchall()]


def test_the_database_holds_no_plaintext_and_the_author_reads_it_back(appointment):
    notes.save_draft(appointment=appointment, author=author(appointment), text=SECRET)

    assert raw_bodies() and all("insomnio" not in body for body in raw_bodies())
    note = notes.read(appointment=appointment, reader=author(appointment))
    assert note.text == SECRET and not note.note.is_signed
    assert list(NoteAccess.objects.order_by("pk").values_list("action", flat=True)) == ["write", "read"]


def test_signing_locks_and_amendments_keep_the_original(appointment):
    user = author(appointment)
    note = notes.save_draft(appointment=appointment, author=user, text=SECRET)
    notes.sign(note=note, author=user)

    with pytest.raises(notes.NoteError):
        notes.save_draft(appointment=appointment, author=user, text="otra cosa")
    with pytest.raises(notes.NoteError):
        notes.amend(note=note, author=user, text="Agrega: duerme 4 horas.", reason="  ")
    notes.amend(note=note, author=user, text="Agrega: duerme 4 horas.", reason="dato omitido")

    read = notes.read(appointment=appointment, reader=user)
    assert read.text == SECRET  # as signed
    assert [(a.reason, a.text) for a in read.amendments] == [("dato omitido", "Agrega: duerme 4 horas.")]
    assert all("duerme" not in body for body in raw_bodies())
    actions = list(NoteAccess.objects.order_by("pk").values_list("action", flat=True))
    assert actions == ["write", "sign", "amend", "read"]


def test_only_the_author_writes_and_only_the_author_and_authorised_staff_read(appointment):
    notes.save_draft(appointment=appointment, author=author(appointment), text=SECRET)
    groups = ensure_role_groups()
    other_professional = ProfessionalFactory(user=VerifiedUserFactory()).user
    receptionist = VerifiedUserFactory()
    receptionist.groups.add(groups[RECEPTIONISTS])
    administrator = VerifiedUserFactory()
    administrator.groups.add(groups[CLINIC_ADMINISTRATORS])

    with pytest.raises(notes.NoteError):
        notes.save_draft(appointment=appointment, author=other_professional, text="intruso")
    for reader in (other_professional, receptionist, appointment.patient.user):
        with pytest.raises(notes.NoteError):
            notes.read(appointment=appointment, reader=reader)
    assert notes.read(appointment=appointment, reader=administrator).text == SECRET
    assert NoteAccess.objects.filter(user=administrator, action="read").count() == 1


def test_a_new_key_still_reads_old_notes_and_reencrypting_moves_them_to_it(appointment, settings):
    user = author(appointment)
    settings.RECORDS_ENCRYPTION_KEYS = [KEY_A]
    notes.save_draft(appointment=appointment, author=user, text=SECRET)
    under_a = raw_bodies()

    settings.RECORDS_ENCRYPTION_KEYS = [KEY_B, KEY_A]  # a new key, newest first
    assert notes.read(appointment=appointment, reader=user).text == SECRET
    from django.core.management import call_command

    call_command("reencrypt_notes")
    assert raw_bodies() != under_a

    settings.RECORDS_ENCRYPTION_KEYS = [KEY_B]  # the old key removed
    assert notes.read(appointment=appointment, reader=user).text == SECRET


def test_a_note_no_key_opens_is_an_error_never_ciphertext(appointment, settings, client):
    user = author(appointment)
    notes.save_draft(appointment=appointment, author=user, text=SECRET)
    settings.RECORDS_ENCRYPTION_KEYS = [KEY_C]

    with pytest.raises(crypto.UndecryptableNote):
        notes.read(appointment=appointment, reader=user)
    client.force_login(user)
    html = client.get(reverse("portal:pro_session", args=[appointment.reference])).content.decode()
    assert 'id="note-unreadable"' in html
    assert raw_bodies()[0] not in html


def test_the_session_page_writes_signs_and_amends(client, appointment):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    user = author(appointment)
    client.force_login(user)
    page = reverse("portal:pro_session", args=[appointment.reference])
    assert 'id="note-form"' in client.get(page).content.decode()

    client.post(reverse("portal:pro_note_save", args=[appointment.reference]), {"text": SECRET, "action": "save"})
    html = client.get(page).content.decode()
    assert "Draft saved on" in html and "portal/note-editor" in html
    client.post(reverse("portal:pro_note_save", args=[appointment.reference]), {"text": SECRET, "action": "sign"})
    html = client.get(page).content.decode()
    assert 'id="note-signed"' in html and SECRET in html and 'id="amend-form"' in html
    client.post(
        reverse("portal:pro_note_amend", args=[appointment.reference]),
        {"text": "Agrega: duerme 4 horas.", "reason": "dato omitido"},
    )
    assert "dato omitido" in client.get(page).content.decode()
    assert SessionNote.objects.get().is_signed and SessionNoteAmendment.objects.count() == 1


def test_an_empty_note_is_refused_with_a_message(client, appointment):
    client.force_login(author(appointment))
    response = client.post(
        reverse("portal:pro_note_save", args=[appointment.reference]), {"text": "   ", "action": "save"}
    )
    assert response.status_code == 302
    assert not SessionNote.objects.exists()


def test_another_professional_cannot_reach_the_note(client, appointment):
    notes.save_draft(appointment=appointment, author=author(appointment), text=SECRET)
    other = VerifiedUserFactory()
    activate_totp(other)
    ProfessionalFactory(user=other)
    client.force_login(other)
    assert client.get(reverse("portal:pro_session", args=[appointment.reference])).status_code == 404
    response = client.post(
        reverse("portal:pro_note_save", args=[appointment.reference]), {"text": "intruso", "action": "save"}
    )
    assert response.status_code == 404
    assert notes.read(appointment=appointment, reader=author(appointment)).text == SECRET


def test_the_access_log_is_view_only_for_administrators(admin_client, appointment):
    notes.save_draft(appointment=appointment, author=author(appointment), text=SECRET)
    response = admin_client.get(reverse("note_access_log:index"))
    assert response.status_code == 200
    assert SECRET not in response.content.decode()
    access = NoteAccess.objects.get()
    assert admin_client.get(reverse("note_access_log:edit", args=[access.pk])).status_code in (302, 403)
    assert admin_client.post(reverse("note_access_log:delete", args=[access.pk])).status_code in (302, 403)
    assert NoteAccess.objects.filter(pk=access.pk).exists()


def test_the_editor_autosaves_the_draft_and_answers_with_the_time(client, appointment):
    client.force_login(author(appointment))
    url = reverse("portal:pro_note_autosave", args=[appointment.reference])

    saved = client.post(url, {"text": SECRET}, HTTP_ACCEPT_LANGUAGE="en")

    assert saved.status_code == 200 and saved.json() == {"message": "Draft saved at 10:30."}
    assert notes.read(appointment=appointment, reader=author(appointment)).text == SECRET
    assert client.post(url, {"text": "  "}, HTTP_ACCEPT_LANGUAGE="en").json() == {"error": "Write something first."}
    notes.sign(note=SessionNote.objects.get(), author=author(appointment))
    refused = client.post(url, {"text": "cambio"}, HTTP_ACCEPT_LANGUAGE="en")
    assert refused.status_code == 400 and "signed" in refused.json()["error"]
    assert notes.read(appointment=appointment, reader=author(appointment)).text == SECRET


def test_autosave_is_only_for_the_sessions_professional(client, appointment):
    other = VerifiedUserFactory()
    activate_totp(other)
    ProfessionalFactory(user=other)
    client.force_login(other)
    url = reverse("portal:pro_note_autosave", args=[appointment.reference])
    assert client.post(url, {"text": "intruso"}).status_code == 404
    assert client.get(url).status_code in (404, 405)
    assert not SessionNote.objects.exists()


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("Refiere **insomnio** y *cansancio*.", "<p>Refiere <strong>insomnio</strong> y <em>cansancio</em>.</p>"),
        (
            "Tareas:\n- registro\n- respiración\n\nCierre.",
            "<p>Tareas:</p><ul><li>registro</li><li>respiración</li></ul><p>Cierre.</p>",
        ),
        (
            "<script>alert(1)</script> **<b>x</b>**",
            "<p>&lt;script&gt;alert(1)&lt;/script&gt; <strong>&lt;b&gt;x&lt;/b&gt;</strong></p>",
        ),
        ("2 * 3 * 4 y 5*6", "<p>2 * 3 * 4 y 5*6</p>"),
        ("línea uno\nlínea dos", "<p>línea uno<br>línea dos</p>"),
    ],
)
def test_the_notes_simple_rich_text_is_escaped_and_only_its_marks_become_html(text, html):
    from portal.templatetags.note_format import note_html

    assert note_html(text) == html


def test_a_signed_note_shows_its_formatting(client, appointment):
    user = author(appointment)
    note = notes.save_draft(appointment=appointment, author=user, text="Plan:\n- **dormir** 7 horas")
    notes.sign(note=note, author=user)
    client.force_login(user)
    html = client.get(reverse("portal:pro_session", args=[appointment.reference])).content.decode()
    assert "<ul><li><strong>dormir</strong> 7 horas</li></ul>" in html
    assert "portal/note-editor" not in html
