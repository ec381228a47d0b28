"""The booking box for a patient their professional discharged: the review says to contact the clinic and offers
no confirm button; a POST books nothing; other professionals and a newer referral book as usual."""

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.utils.html import escape

from booking.scheduling.models import Appointment
from portal.records.models import Discharge, Referral
from tests.factories.scheduling import AppointmentFactory

from .conftest import NOW

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
CONSENT = {"consent": "on", "note": "", "coupon": ""}
MESSAGE = "Your treatment with this professional has ended. To book with them again, please contact the clinic."


def review_url(professional: str, start: str, location: str = "") -> str:
    query = {"service": "therapy", "professional": professional, "start": start}
    query |= {"location": location, "modality": "in_person"} if location else {"modality": "online"}
    return "/booking/review/?" + urlencode(query)


ANA = review_url("ana", "2026-12-01T12:00Z", "providencia")  # Tuesday 09:00 in Santiago
BRUNO = review_url("bruno", "2026-12-02T18:00Z")  # Wednesday 15:00, online


@pytest.fixture
def discharged(clinic):
    """Ana treated the patient last week and discharged them (rows as ``records.services`` writes them)."""
    AppointmentFactory(
        patient=clinic.patient, professional=clinic.ana, service=clinic.service, start=NOW - timedelta(days=7)
    )
    return Discharge.objects.create(
        patient=clinic.patient,
        professional=clinic.ana,
        date=NOW.date(),
        summary_encrypted="not read here",
        created_by=clinic.ana.user,
        created_at=NOW,
    )


def test_the_review_tells_a_discharged_patient_to_contact_the_clinic(patient_client, discharged):
    response = patient_client.get(ANA, **EN)

    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="discharged"' in body and escape(MESSAGE) in body
    assert 'id="confirm-booking"' not in body
    assert "Choose another professional" in body


def test_confirming_anyway_books_nothing(patient_client, discharged):
    response = patient_client.post(ANA, CONSENT, **EN)

    assert response.status_code == 409
    assert escape(MESSAGE) in response.content.decode()
    assert Appointment.objects.count() == 1  # only last week's session


def test_another_professional_is_booked_as_usual(patient_client, discharged):
    assert 'id="discharged"' not in patient_client.get(BRUNO, **EN).content.decode()

    patient_client.post(BRUNO, CONSENT, **EN)

    assert Appointment.objects.filter(professional__slug="bruno").count() == 1


def test_a_referral_back_after_the_discharge_opens_the_booking_again(patient_client, clinic, discharged):
    Referral.objects.create(
        patient=clinic.patient,
        from_professional=clinic.bruno,
        to_professional=clinic.ana,
        note_encrypted="not read here",
        created_by=clinic.bruno.user,
        created_at=NOW + timedelta(minutes=1),
    )

    patient_client.post(ANA, CONSENT, **EN)

    assert Appointment.objects.filter(professional__slug="ana").count() == 2


DATE_STEP = "/booking/date/?" + urlencode(
    {"service": "therapy", "professional": "ana", "location": "providencia", "modality": "in_person"}
)


def test_a_logged_in_discharged_patient_is_told_at_the_date_step_before_choosing_a_time(
    client, patient_client, discharged
):
    body = patient_client.get(DATE_STEP, **EN).content.decode()

    assert 'id="discharged"' in body and escape(MESSAGE) in body
    assert "slot-time" not in body
    client.logout()
    assert "slot-time" in client.get(DATE_STEP, **EN).content.decode()  # a visitor not logged in sees the times
