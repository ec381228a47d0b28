"""A clinic with one professional, pinned to Sunday 29 November 2026, 10:00 in Santiago (summer time, UTC-3).

Ana offers therapy (pay at the clinic) at Providencia Monday to Friday 09:00-13:00 and online on Tuesdays
15:00-18:00; Bruno offers it online only. Every test here uses the test URLconf that mounts the steps at /booking/.
"""

from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from booking.scheduling.models import Location, Professional, Service
from portal.accounts.models import Patient
from tests.factories.accounts import PatientFactory
from tests.factories.scheduling import (
    LocationFactory,
    ProfessionalFactory,
    ServiceFactory,
    WeeklyAvailabilityFactory,
)

SANTIAGO = ZoneInfo("America/Santiago")
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=SANTIAGO)
TUESDAY_9 = datetime(2026, 12, 1, 9, 0, tzinfo=SANTIAGO)


@pytest.fixture(autouse=True)
def pinned_time():
    with time_machine.travel(NOW, tick=False):
        yield


@dataclass
class Clinic:
    service: Service
    location: Location
    ana: Professional
    bruno: Professional
    patient: Patient


@pytest.fixture
def clinic(db, home_page) -> Clinic:
    service = ServiceFactory(
        slug="therapy",
        name="Individual therapy",
        duration_minutes=50,
        buffer_before_minutes=0,
        buffer_after_minutes=10,
        min_notice_minutes=12 * 60,
        booking_horizon_days=60,
        price=Decimal("35000"),
        payment_mode="clinic",
    )
    location = LocationFactory(slug="providencia", name="Providencia")
    ana = ProfessionalFactory(slug="ana", display_name="Ana Rojas", services=[service], locations=[location])
    for weekday in range(5):
        WeeklyAvailabilityFactory(
            professional=ana, location=location, weekday=weekday, start_time=time(9), end_time=time(13)
        )
    WeeklyAvailabilityFactory(professional=ana, location=None, weekday=1, start_time=time(15), end_time=time(18))
    bruno = ProfessionalFactory(slug="bruno", display_name="Bruno Soto", services=[service])
    WeeklyAvailabilityFactory(professional=bruno, location=None, weekday=2, start_time=time(15), end_time=time(17))
    patient = PatientFactory(user__preferred_language="en")
    return Clinic(service, location, ana, bruno, patient)


@pytest.fixture
def patient_client(client, clinic):
    client.force_login(clinic.patient.user)
    return client
