"""A professional's practice for the browser tests of the professional's portal (accessibility, care flows).

Built on ``booking_clinic`` (the clock runs from Friday 20 November 2026, 09:00 in Santiago; Ana Rojas works on
Tuesdays 09:00-13:00 at Providencia). Ana logs in (two-factor on) and may change all her availability herself. Her
patient Camila Soto has an online session that started at 08:30 today (its video room is open, its note unsigned)
and an in-person one on Tuesday 24 November at 10:00 (it can be moved to another free time). A colleague, Tomás
Fuentes, can receive referrals, and the clinic has a notice for professionals today.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from booking.scheduling.models import Appointment, AvailabilitySelfService, Professional
from portal.accounts.models import Patient
from tests.factories.accounts import VerifiedUserFactory, activate_totp
from tests.factories.scheduling import AppointmentFactory, ProfessionalFactory
from website.models import ProfessionalNews

SANTIAGO = ZoneInfo("America/Santiago")
TODAY = date(2026, 11, 20)
TODAY_0830 = datetime(2026, 11, 20, 8, 30, tzinfo=SANTIAGO)
TUESDAY_1000 = datetime(2026, 11, 24, 10, 0, tzinfo=SANTIAGO)
#: A Tuesday Ana works with nothing booked (not a public holiday: 8 December is).
FREE_TUESDAY = date(2026, 12, 1)


@dataclass
class Practice:
    professional: Professional
    colleague: Professional
    patient: Patient
    online_today: Appointment
    in_person_tuesday: Appointment


@pytest.fixture
def practice(booking_clinic, make_patient) -> Practice:
    professional = booking_clinic.professional
    professional.user = VerifiedUserFactory(email="ana.rojas@clinic.example", first_name="Ana", last_name="Rojas")
    professional.availability_self_service = AvailabilitySelfService.FULL
    professional.save()
    activate_totp(professional.user)

    colleague = ProfessionalFactory(
        user=VerifiedUserFactory(email="tomas.fuentes@clinic.example", first_name="Tomás", last_name="Fuentes"),
        slug="tomas-fuentes",
        display_name="Tomás Fuentes",
        services=[booking_clinic.at_clinic],
        locations=[booking_clinic.location],
    )
    activate_totp(colleague.user)

    patient = make_patient("camila.soto@example.com", "Camila")
    online_today = AppointmentFactory(
        patient=patient,
        professional=professional,
        service=booking_clinic.online,
        modality="online",
        location=None,
        start=TODAY_0830,
        end=TODAY_0830 + timedelta(minutes=50),
    )
    in_person_tuesday = AppointmentFactory(
        patient=patient,
        professional=professional,
        service=booking_clinic.at_clinic,
        modality="in_person",
        location=booking_clinic.location,
        start=TUESDAY_1000,
        end=TUESDAY_1000 + timedelta(minutes=50),
        blocked_end=TUESDAY_1000 + timedelta(minutes=60),
    )
    ProfessionalNews.objects.create(
        title="Sede Providencia: ascensor en mantención",
        body="<p>El viernes se atiende en el <b>primer piso</b>.</p>",
        show_from=TODAY,
        show_until=TODAY + timedelta(days=3),
    )
    return Practice(professional, colleague, patient, online_today, in_person_tuesday)
