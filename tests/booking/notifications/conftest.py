"""A patient who reads English and a professional who reads Spanish, at a place in Santiago.

Clocks are explicit: planners take ``now=``, the dispatcher too; nothing depends on today's date.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from booking.scheduling.models import Appointment, AppointmentEvent, Location, Professional, Service
from portal.accounts.models import Patient
from tests.factories.accounts import PatientFactory, VerifiedUserFactory
from tests.factories.scheduling import AppointmentFactory, LocationFactory, ProfessionalFactory, ServiceFactory

SANTIAGO = ZoneInfo("America/Santiago")
# Sunday 29 November 2026, 10:00 in Santiago (summer time, UTC-3)
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=SANTIAGO)
# Tuesday 1 December 2026, 09:00 in Santiago
TUESDAY_9 = datetime(2026, 12, 1, 9, 0, tzinfo=SANTIAGO)


@dataclass
class Clinic:
    service: Service
    location: Location
    professional: Professional
    patient: Patient


@pytest.fixture
def clinic(db, home_page) -> Clinic:
    service = ServiceFactory(name="Psicoterapia individual", duration_minutes=50)
    location = LocationFactory(name="Providencia", address="Av. Providencia 1234")
    professional = ProfessionalFactory(
        display_name="Ana Rojas",
        user=VerifiedUserFactory(email="ana@clinic.example", first_name="Ana", preferred_language="es-cl"),
    )
    patient = PatientFactory(
        user=VerifiedUserFactory(email="camila@example.com", first_name="Camila", preferred_language="en")
    )
    return Clinic(service=service, location=location, professional=professional, patient=patient)


def confirmed(clinic: Clinic, *, start=TUESDAY_9, modality="in_person", at=NOW, **fields) -> Appointment:
    """A confirmed session with its audit event (what scheduling writes), ready for the planner."""
    appointment = AppointmentFactory(
        patient=clinic.patient,
        professional=clinic.professional,
        service=clinic.service,
        location=clinic.location if modality == "in_person" else None,
        modality=modality,
        start=start.astimezone(UTC),
        end=(start + timedelta(minutes=50)).astimezone(UTC),
        **fields,
    )
    AppointmentEvent.objects.create(appointment=appointment, action=AppointmentEvent.Action.CONFIRMED, at=at)
    return Appointment.objects.select_related("service", "location", "professional__user", "patient__user").get(
        pk=appointment.pk
    )
