"""Discharge (alta) and referral: the rule a discharge puts on the patient's own bookings, the referral's email
with its booking link, who sees the referred patient and the shared notes, encryption at rest, and the professional's
patient page that drives it all."""

from datetime import date, datetime, time, timedelta
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import translation

from booking.notifications.dispatch import dispatch_due
from booking.notifications.events import Event
from booking.notifications.models import Notification
from booking.scheduling import services as scheduling
from booking.scheduling.errors import BookingError
from booking.scheduling.models import Appointment
from portal.records import notes
from portal.records.models import Discharge, NoteAccess, Referral
from portal.records.services import CareError, discharge_patient, refer_patient
from tests.booking.scheduling.people import receptionist_user
from tests.factories.accounts import PatientFactory, VerifiedUserFactory, activate_totp
from tests.factories.packs import PackageFactory, PackageItemFactory
from tests.factories.scheduling import (
    AppointmentFactory,
    ProfessionalFactory,
    ServiceFactory,
    WeeklyAvailabilityFactory,
)

pytestmark = pytest.mark.django_db

SANTIAGO = ZoneInfo("America/Santiago")
NOW = datetime(2026, 12, 1, 10, 30, tzinfo=SANTIAGO)  # a Tuesday
THURSDAY_9 = datetime(2026, 12, 3, 9, 0, tzinfo=SANTIAGO)
SUMMARY = "Alta por cumplimiento de objetivos terapéuticos; duerme 7 horas."
NOTE = "Derivo por alimentación emocional; sugiero evaluación nutricional."
SIGNED = "Paciente relata atracones nocturnos dos veces por semana."
KEY_A = "dGVzdC1vbmx5LXJlY29yZHMta2V5LTMyLWJ5dGVzLSE="
KEY_B = "dGVzdC1vbmx5LXJlY29yZHMta2V5LXJvdGF0ZWQtISE="


@pytest.fixture(autouse=True)
def pinned_clock(settings, home_page, client):
    """The clock pinned, and English for the messages the tests read (the services' and the pages')."""
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    with time_machine.travel(NOW, tick=False), translation.override("en"):
        yield


def professional(name: str, slug: str, service):
    user = VerifiedUserFactory(email=f"{slug}@clinic.example", preferred_language="en")
    activate_totp(user)
    pro = ProfessionalFactory(user=user, display_name=name, slug=slug, services=[service])
    WeeklyAvailabilityFactory(professional=pro, location=None, weekday=3, start_time=time(9), end_time=time(13))
    return pro


@pytest.fixture
def clinic():
    therapy = ServiceFactory(name="Psicoterapia", slug="psicoterapia")
    nutrition = ServiceFactory(name="Nutrición", slug="nutricion")
    psychologist = professional("Ps. Ana Rojas", "ana-rojas", therapy)
    nutritionist = professional("Nta. Paula Fuentes", "paula-fuentes", nutrition)
    other = professional("Ps. Bruno Soto", "bruno-soto", therapy)
    patient = PatientFactory(
        user=VerifiedUserFactory(
            email="camila@example.com", first_name="Camila", last_name="Zúñiga", preferred_language="en"
        )
    )
    past = AppointmentFactory(
        patient=patient,
        professional=psychologist,
        service=therapy,
        start=NOW - timedelta(days=7),
        status="completed",
    )

    class Clinic:
        pass

    world = Clinic()
    world.therapy, world.nutrition, world.patient, world.past = therapy, nutrition, patient, past
    world.psychologist, world.nutritionist, world.other = psychologist, nutritionist, other
    return world


def discharge(clinic, **overrides):
    arguments = {
        "patient": clinic.patient,
        "professional": clinic.psychologist,
        "date": NOW.date(),
        "summary": SUMMARY,
        "actor": clinic.psychologist.user,
    }
    return discharge_patient(**{**arguments, **overrides})


def refer(clinic, **overrides):
    arguments = {
        "patient": clinic.patient,
        "from_professional": clinic.psychologist,
        "to_professional": clinic.nutritionist,
        "to_service": clinic.nutrition,
        "note": NOTE,
        "actor": clinic.psychologist.user,
    }
    return refer_patient(**{**arguments, **overrides})


def book(clinic, professional, *, actor=None, source="booking_box", start=THURSDAY_9):
    service = clinic.therapy if professional != clinic.nutritionist else clinic.nutrition
    return scheduling.book_appointment(
        patient=clinic.patient,
        professional=professional,
        service=service,
        start=start,
        modality="online",
        source=source,
        actor=actor or clinic.patient.user,
    )


def raw_column(table: str, column: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table}")
        return [row[0] for row in cursor.fetchall()]


# --- discharge --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["booking_box", "portal", "api"])
def test_after_a_discharge_the_patient_cannot_book_that_professional_by_themselves(clinic, source):
    booked_before = book(clinic, clinic.psychologist, start=THURSDAY_9 + timedelta(hours=2))
    discharge(clinic)

    with pytest.raises(BookingError) as refused:
        book(clinic, clinic.psychologist, source=source)

    assert refused.value.code == "discharged"
    assert "contact the clinic" in str(refused.value.message)
    booked_before.refresh_from_db()
    assert booked_before.status == "confirmed"  # sessions already booked stay
    assert not Appointment.objects.filter(start=THURSDAY_9).exists()


def test_a_discharge_does_not_stop_other_professionals_nor_the_clinic_staff(clinic):
    discharge(clinic)

    with_other = book(clinic, clinic.other)
    by_staff = book(
        clinic, clinic.psychologist, actor=receptionist_user(), source="admin", start=THURSDAY_9 + timedelta(hours=1)
    )

    assert with_other.professional == clinic.other and with_other.status == "confirmed"
    assert by_staff.professional == clinic.psychologist and by_staff.status == "confirmed"


def test_a_referral_newer_than_the_discharge_lets_the_patient_book_again(clinic):
    discharge(clinic)
    AppointmentFactory(
        patient=clinic.patient, professional=clinic.other, service=clinic.therapy, start=NOW - timedelta(days=2)
    )
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        refer(
            clinic,
            from_professional=clinic.other,
            to_professional=clinic.psychologist,
            to_service=None,
            actor=clinic.other.user,
        )

    appointment = book(clinic, clinic.psychologist)

    assert appointment.professional == clinic.psychologist


def test_a_referral_older_than_the_discharge_does_not_lift_it(clinic):
    AppointmentFactory(
        patient=clinic.patient, professional=clinic.other, service=clinic.therapy, start=NOW - timedelta(days=2)
    )
    refer(
        clinic,
        from_professional=clinic.other,
        to_professional=clinic.psychologist,
        to_service=None,
        actor=clinic.other.user,
    )
    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        discharge(clinic)

        with pytest.raises(BookingError):
            book(clinic, clinic.psychologist)


def test_the_summary_is_encrypted_in_the_database(clinic):
    discharge(clinic)

    [stored] = raw_column("records_discharge", "summary_encrypted")
    assert "objetivos" not in stored and stored


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"summary": "   "}, "Write the discharge summary."),
        ({"date": NOW.date() + timedelta(days=1)}, "cannot be in the future"),
        ({"date": NOW.date() - timedelta(days=30)}, "before your first session"),
        ({"professional": "other", "actor": "other"}, "had a session with"),
        ({"actor": "nutritionist"}, "Only the professional themselves"),
    ],
    ids=["no-summary", "future", "before-first-session", "never-treated", "someone-else"],
)
def test_a_discharge_that_does_not_hold_says_why_and_records_nothing(clinic, overrides, message):
    people = {"professional": lambda name: getattr(clinic, name), "actor": lambda name: getattr(clinic, name).user}
    overrides = {key: people[key](value) if key in people else value for key, value in overrides.items()}

    with pytest.raises(CareError) as refused:
        discharge(clinic, **overrides)

    assert message in refused.value.message
    assert not Discharge.objects.exists()


def test_reencrypting_moves_the_summary_and_the_note_to_the_new_key(clinic, settings, client):
    from django.core.management import call_command

    settings.RECORDS_ENCRYPTION_KEYS = [KEY_A]
    discharge(clinic)
    refer(clinic)
    before = raw_column("records_discharge", "summary_encrypted") + raw_column("records_referral", "note_encrypted")

    settings.RECORDS_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    call_command("reencrypt_notes")
    settings.RECORDS_ENCRYPTION_KEYS = [KEY_B]  # the old key removed

    after = raw_column("records_discharge", "summary_encrypted") + raw_column("records_referral", "note_encrypted")
    assert all(old != new for old, new in zip(before, after, strict=True))
    page = client_for(client, clinic.psychologist).get(reverse("portal:pro_patient", args=[clinic.patient.pk]))
    assert "objetivos terapéuticos" in page.content.decode() and NOTE in page.content.decode()


# --- referral -----------------------------------------------------------------------------------------------------


def test_a_referral_plans_the_patients_email_with_the_booking_link_in_their_language(clinic):
    package = PackageFactory(name="Pack Nutrición 3 sesiones", slug="pack-nutricion")
    PackageItemFactory(package=package, service=clinic.nutrition)
    referral = refer(clinic)

    [row] = Notification.objects.filter(event=Event.REFERRAL)
    assert row.email == "camila@example.com" and row.language == "en"
    assert NOTE not in str(row.data)  # the note is for the professional, never in the patient's email
    dispatch_due(now=NOW + timedelta(minutes=1))
    [message] = [m for m in mail.outbox if m.tags == [Event.REFERRAL]]
    assert "recommends that you continue your care with Nta. Paula Fuentes (Nutrición)" in message.body
    link = next(word for word in message.body.split() if "/booking/?" in word)
    assert link.startswith("http")
    assert parse_qs(urlparse(link).query) == {"service": ["nutricion"], "professional": ["paula-fuentes"]}
    assert "/booking/packs/pack-nutricion/" in message.body
    assert referral.to_professional == clinic.nutritionist


def test_the_referral_email_is_in_spanish_for_a_spanish_speaking_patient(clinic):
    clinic.patient.user.preferred_language = "es-cl"
    clinic.patient.user.save()

    refer(clinic, to_professional=None)

    dispatch_due(now=NOW + timedelta(minutes=1))
    [message] = [m for m in mail.outbox if m.tags == [Event.REFERRAL]]
    assert "te recomienda continuar tu atención en Nutrición" in message.body
    assert "/booking/?service=nutricion" in message.body


def test_the_note_is_encrypted_in_the_database(clinic):
    refer(clinic)

    [stored] = raw_column("records_referral", "note_encrypted")
    assert stored and "alimentación" not in stored


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"to_professional": None, "to_service": None}, "Choose the professional or the service"),
        ({"to_professional": "psychologist", "to_service": None}, "another professional"),
        ({"to_service": "therapy"}, "does not offer"),
        ({"to_professional": None, "share_notes": True}, "share your notes with"),
        ({"note": ""}, "Write a note"),
        ({"from_professional": "other"}, "your own patients"),
    ],
    ids=["no-receiver", "to-self", "service-not-offered", "share-without-professional", "no-note", "not-mine"],
)
def test_a_referral_that_does_not_hold_says_why_and_sends_nothing(clinic, overrides, message):
    resolved = {
        key: getattr(clinic, value) if isinstance(value, str) and key != "note" else value
        for key, value in overrides.items()
    }
    if "from_professional" in resolved:
        resolved["actor"] = resolved["from_professional"].user

    with pytest.raises(CareError) as refused:
        refer(clinic, **resolved)

    assert message in refused.value.message
    assert not Referral.objects.exists()
    assert not Notification.objects.filter(event=Event.REFERRAL).exists()


# --- who sees what ----------------------------------------------------------------------------------------------


def client_for(client, professional):
    client.force_login(professional.user)
    return client


def test_the_referred_patient_is_in_the_receivers_list_and_not_in_others(client, clinic):
    refer(clinic)

    receiver = client_for(client, clinic.nutritionist).get(reverse("portal:pro_patients"), HTTP_ACCEPT_LANGUAGE="en")
    body = receiver.content.decode()
    assert "Zúñiga" in body and "Referred by Ps. Ana Rojas" in body
    assert "No sessions with you yet" in body
    page = client.get(reverse("portal:pro_patient", args=[clinic.patient.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and NOTE in page.content.decode()

    client.force_login(clinic.other.user)
    assert "Zúñiga" not in client.get(reverse("portal:pro_patients")).content.decode()
    assert client.get(reverse("portal:pro_patient", args=[clinic.patient.pk])).status_code == 404


def test_the_receivers_list_runs_the_same_queries_for_one_or_many_referred_patients(
    client, clinic, django_assert_max_num_queries
):
    refer(clinic)
    url = reverse("portal:pro_patients")
    client_for(client, clinic.nutritionist).get(url)
    with django_assert_max_num_queries(20) as one:
        client.get(url)
    for number in range(5):
        patient = PatientFactory(user=VerifiedUserFactory(email=f"p{number}@example.com"))
        AppointmentFactory(
            patient=patient,
            professional=clinic.psychologist,
            service=clinic.therapy,
            start=NOW - timedelta(days=3, hours=number),
        )
        refer(clinic, patient=patient)
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get(url)
    assert response.content.decode().count("Referred by Ps. Ana Rojas") == 6


def sign_note(clinic):
    note = notes.save_draft(appointment=clinic.past, author=clinic.psychologist.user, text=SIGNED)
    return notes.sign(note=note, author=clinic.psychologist.user)


def test_shared_notes_are_read_by_the_receiver_only_when_shared_and_each_read_is_logged(client, clinic):
    note = sign_note(clinic)
    refer(clinic, share_notes=False)
    url = reverse("portal:pro_patient", args=[clinic.patient.pk])

    page = client_for(client, clinic.nutritionist).get(url).content.decode()
    assert SIGNED not in page
    assert not notes.may_read(note, clinic.nutritionist.user)

    with time_machine.travel(NOW + timedelta(minutes=5), tick=False):
        refer(clinic, share_notes=True)
    page = client.get(url).content.decode()

    assert SIGNED in page
    assert notes.may_read(note, clinic.nutritionist.user)
    assert not notes.may_read(note, clinic.other.user)
    assert NoteAccess.objects.filter(note=note, user=clinic.nutritionist.user, action="read").count() == 1


def test_a_draft_is_never_shared(clinic):
    notes.save_draft(appointment=clinic.past, author=clinic.psychologist.user, text=SIGNED)
    refer(clinic, share_notes=True)

    assert notes.shared_notes(patient_id=clinic.patient.pk, reader=clinic.nutritionist.user) == []
    with pytest.raises(notes.NoteError):
        notes.read(appointment=clinic.past, reader=clinic.nutritionist.user)


# --- the professional's page ------------------------------------------------------------------------------------


def test_the_professional_discharges_from_the_patient_page_and_sees_the_status(client, clinic):
    url = reverse("portal:pro_patient", args=[clinic.patient.pk])
    page = client_for(client, clinic.psychologist).get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert reverse("portal:pro_discharge", args=[clinic.patient.pk]) in page
    assert reverse("portal:pro_refer", args=[clinic.patient.pk]) in page

    response = client.post(
        reverse("portal:pro_discharge", args=[clinic.patient.pk]),
        {"date": "2026-12-01", "summary": SUMMARY},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )

    body = response.content.decode()
    assert "The discharge is recorded." in body
    assert "You discharged this patient on 1 December 2026." in body and "objetivos terapéuticos" in body
    assert Discharge.objects.get().date == date(2026, 12, 1)


def test_a_refused_discharge_or_referral_is_a_message_on_the_page(client, clinic):
    client_for(client, clinic.psychologist)

    future = client.post(
        reverse("portal:pro_discharge", args=[clinic.patient.pk]),
        {"date": "2026-12-09", "summary": SUMMARY},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )
    no_target = client.post(
        reverse("portal:pro_refer", args=[clinic.patient.pk]), {"note": NOTE}, HTTP_ACCEPT_LANGUAGE="en", follow=True
    )
    unknown = client.post(
        reverse("portal:pro_refer", args=[clinic.patient.pk]),
        {"note": NOTE, "to_professional": "999999"},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )

    assert "The discharge date cannot be in the future." in future.content.decode()
    assert "Choose the professional or the service you refer the patient to." in no_target.content.decode()
    assert "Choose a professional from the list." in unknown.content.decode()
    assert not Discharge.objects.exists() and not Referral.objects.exists()


def test_the_professional_refers_from_the_patient_page(client, clinic):
    response = client_for(client, clinic.psychologist).post(
        reverse("portal:pro_refer", args=[clinic.patient.pk]),
        {"to_professional": clinic.nutritionist.pk, "note": NOTE, "share_notes": "on"},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )

    assert "The referral is recorded" in response.content.decode()
    referral = Referral.objects.get()
    assert referral.to_professional == clinic.nutritionist and referral.share_notes
    assert Notification.objects.filter(event=Event.REFERRAL, email="camila@example.com").count() == 1


def test_a_patient_not_mine_is_a_404_for_both_forms(client, clinic):
    client_for(client, clinic.other)

    for name in ("pro_discharge", "pro_refer"):
        response = client.post(reverse(f"portal:{name}", args=[clinic.patient.pk]), {"note": NOTE})
        assert response.status_code == 404
    assert not Referral.objects.exists()
