"""The clinical record in the admin: the clinic's authorised staff read every session note of a patient, all
professionals, oldest first; every note shown is logged as read; nobody else reaches it."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from portal.accounts.roles import CLINIC_ADMINISTRATORS, EDITORS, RECEPTIONISTS, ensure_role_groups
from portal.records import notes
from portal.records.models import NoteAccess, SessionNote
from tests.factories.accounts import PatientFactory, VerifiedUserFactory, activate_totp
from tests.factories.scheduling import AppointmentFactory, ProfessionalFactory

pytestmark = pytest.mark.django_db

SANTIAGO = ZoneInfo("America/Santiago")
NOW = datetime(2026, 12, 1, 10, 30, tzinfo=SANTIAGO)
OTHER_KEY = "YW5vdGhlci1rZXktdGhhdC1vcGVucy1ub3RoaW5nISE="


@pytest.fixture(autouse=True)
def pinned_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def professional():
    user = VerifiedUserFactory(preferred_language="en")
    activate_totp(user)
    return ProfessionalFactory(user=user)


def staff_in(group_name, email):
    user = VerifiedUserFactory(email=email, is_staff=True)
    user.groups.add(ensure_role_groups()[group_name])
    activate_totp(user)
    return user


def signed_note(professional, patient, days_ago, text, amendment=None):
    appointment = AppointmentFactory(
        professional=professional, patient=patient, start=NOW - timedelta(days=days_ago), status="completed"
    )
    note = notes.save_draft(appointment=appointment, author=professional.user, text=text)
    notes.sign(note=note, author=professional.user)
    if amendment:
        notes.amend(note=note, author=professional.user, text=amendment, reason="dato omitido")
    return appointment


@pytest.fixture
def record(home_page):
    patient = PatientFactory(user__first_name="Camila", user__last_name="Pérez", rut="15.432.876-9")
    psychologist, nutritionist = professional(), professional()
    first = signed_note(psychologist, patient, 20, "Motivo de consulta: ansiedad.", amendment="Duerme 5 horas.")
    second = signed_note(nutritionist, patient, 10, "Evaluación nutricional: IMC 23.")
    someone_else = signed_note(psychologist, PatientFactory(), 5, "Otro paciente, otra historia.")
    NoteAccess.objects.all().delete()
    return {"patient": patient, "first": first, "second": second, "someone_else": someone_else}


def test_an_administrator_reads_every_professionals_notes_oldest_first_and_each_reading_is_logged(client, record):
    administrator = staff_in(CLINIC_ADMINISTRATORS, "boss@example.com")
    client.force_login(administrator)

    html = client.get(reverse("records_clinical:record", args=[record["patient"].pk])).content.decode()

    assert html.index("Motivo de consulta: ansiedad.") < html.index("Evaluación nutricional: IMC 23.")
    assert "Duerme 5 horas." in html and "dato omitido" in html
    assert "Otro paciente" not in html
    logged = NoteAccess.objects.filter(user=administrator, action="read")
    assert sorted(logged.values_list("note__appointment", flat=True)) == sorted(
        [record["first"].pk, record["second"].pk]
    )


def test_the_list_finds_patients_with_notes_by_name_or_rut(client, record):
    client.force_login(staff_in(CLINIC_ADMINISTRATORS, "boss@example.com"))
    url = reverse("records_clinical:patients")

    assert "Camila Pérez" in client.get(url).content.decode()
    assert "Camila Pérez" in client.get(url, {"q": "15432876"}).content.decode()
    assert "Camila Pérez" not in client.get(url, {"q": "nadie"}).content.decode()
    assert not NoteAccess.objects.exists()  # listing patients reads no note


@pytest.mark.parametrize("group", [RECEPTIONISTS, EDITORS])
def test_staff_without_the_clinical_records_permission_cannot_read_or_find_them(client, record, group):
    client.force_login(staff_in(group, "desk@example.com"))

    for url in (reverse("records_clinical:patients"), reverse("records_clinical:record", args=[record["patient"].pk])):
        response = client.get(url)
        assert response.status_code in (302, 403)
        assert "Motivo de consulta" not in response.content.decode()
    assert "Clinical records" not in client.get(reverse("wagtailadmin_home")).content.decode()
    assert not NoteAccess.objects.exists()


def test_a_professional_or_a_patient_is_sent_away(client, record):
    for user in (record["first"].professional.user, record["patient"].user):
        client.force_login(user)
        response = client.get(reverse("records_clinical:record", args=[record["patient"].pk]))
        assert response.status_code in (302, 403)
        assert "Evaluación nutricional" not in response.content.decode()


def test_a_note_no_key_opens_is_marked_the_others_still_show(client, record, settings):
    SessionNote.objects.filter(appointment=record["second"]).update(
        body_encrypted=notes.crypto._fernet((OTHER_KEY,)).encrypt(b"x").decode()
    )
    client.force_login(staff_in(CLINIC_ADMINISTRATORS, "boss@example.com"))

    url = reverse("records_clinical:record", args=[record["patient"].pk])
    html = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Motivo de consulta: ansiedad." in html
    assert "cannot be decrypted" in html
    assert NoteAccess.objects.filter(action="read").count() == 1


def test_the_record_runs_the_same_queries_for_2_and_for_8_notes(client, record):
    client.force_login(staff_in(CLINIC_ADMINISTRATORS, "boss@example.com"))
    url = reverse("records_clinical:record", args=[record["patient"].pk])

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    queries()
    few = queries()
    author = record["first"].professional
    for days_ago in range(30, 36):
        signed_note(author, record["patient"], days_ago, "Sesión de seguimiento.", amendment="Agrega tarea.")
    assert queries() == few


def test_the_appointment_page_links_the_record_for_those_who_may_read_it(client, record):
    url = reverse("clinic_appointments:detail", args=[record["first"].reference])
    record_url = reverse("records_clinical:record", args=[record["patient"].pk])

    client.force_login(staff_in(CLINIC_ADMINISTRATORS, "boss@example.com"))
    assert record_url in client.get(url).content.decode()

    client.force_login(staff_in(RECEPTIONISTS, "desk@example.com"))
    html = client.get(url).content.decode()
    assert record_url not in html and 'id="appointment-note"' not in html
