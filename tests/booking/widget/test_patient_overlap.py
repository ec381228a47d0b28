"""The booking box when the patient already has a session at the chosen time: a message on the page, no booking."""

from urllib.parse import urlencode

import pytest
from django.utils.html import escape

from booking.billing.models import Invoice
from booking.scheduling.models import Appointment
from tests.factories.scheduling import AppointmentFactory

from .conftest import TUESDAY_9

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
REVIEW = "/booking/review/?" + urlencode(
    {
        "service": "therapy",
        "professional": "ana",
        "location": "providencia",
        "modality": "in_person",
        "start": "2026-12-01T12:00Z",  # Tuesday 09:00 in Santiago
    }
)
CONSENT = {"consent": "on", "note": "", "coupon": ""}


def test_booking_a_time_when_the_patient_has_another_session_shows_why(patient_client, clinic):
    AppointmentFactory(patient=clinic.patient, professional=clinic.bruno, service=clinic.service, start=TUESDAY_9)

    response = patient_client.post(REVIEW, CONSENT, **EN)

    assert response.status_code == 200
    message = "You already have a session on Dec. 1, 2026 at 09:00 (Individual therapy with Bruno Soto)."
    assert escape(message) in response.content.decode()
    assert Appointment.objects.count() == 1
    assert Invoice.objects.count() == 0
