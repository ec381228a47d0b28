"""A small clinic for the pack tests: two services with opposite late-cancel policies, a professional offering both,
a patient, a receptionist (acts for the clinic) and a clinic administrator (may adjust credits).

The clock is explicit: purchases are made on ``PURCHASED_AT`` (valid 90 days), the tests act at ``NOW`` and the
sessions start on ``SESSION_START``.
"""

import datetime
from types import SimpleNamespace

import pytest

from portal.accounts.roles import CLINIC_ADMINISTRATORS, ensure_role_groups
from tests.booking.billing.conftest import (  # noqa: F401  (the local test Stripe's fixtures)
    pinned_clock,
    stripe_api,
    stripe_clock,
    stripe_live,
    stripe_server,
)
from tests.booking.scheduling.people import receptionist_user
from tests.factories.accounts import PatientFactory, VerifiedUserFactory, activate_totp
from tests.factories.packs import PURCHASED_AT, active_purchase, package_with
from tests.factories.scheduling import AppointmentFactory, ProfessionalFactory, ServiceFactory

NOW = datetime.datetime(2026, 11, 20, 12, tzinfo=datetime.UTC)
SESSION_START = datetime.datetime(2026, 12, 1, 13, tzinfo=datetime.UTC)
EXPIRES_AT = PURCHASED_AT + datetime.timedelta(days=90)


def clinic_administrator(email: str = "admin@clinic.example"):
    groups = ensure_role_groups()
    user = VerifiedUserFactory(email=email)
    user.groups.add(groups[CLINIC_ADMINISTRATORS])
    activate_totp(user)
    return user


@pytest.fixture
def receptionist(db):
    return receptionist_user()


@pytest.fixture
def administrator(db):
    return clinic_administrator()


@pytest.fixture
def clinic(db, receptionist, administrator):
    psychology = ServiceFactory(name="Psicoterapia", pack_late_cancel_returns_session=False)
    nutrition = ServiceFactory(name="Control nutricional", pack_late_cancel_returns_session=True)
    outside = ServiceFactory(name="Evaluación")
    professional = ProfessionalFactory(services=[psychology, nutrition, outside])
    patient = PatientFactory()
    return SimpleNamespace(
        psychology=psychology,
        nutrition=nutrition,
        outside=outside,
        professional=professional,
        patient=patient,
        receptionist=receptionist,
        administrator=administrator,
    )


@pytest.fixture
def per_service_pack(clinic):
    """3 psychology sessions and 2 nutrition controls."""
    return package_with({clinic.psychology: 3, clinic.nutrition: 2}, name="Psico y nutri")


@pytest.fixture
def pool_pack(clinic):
    """5 sessions to share between psychology and nutrition."""
    return package_with({clinic.psychology: None, clinic.nutrition: None}, pool=5, name="Bienestar")


@pytest.fixture
def make_session(clinic):
    """A confirmed session of the patient, one a day from ``SESSION_START`` (so none overlaps another)."""
    counter = iter(range(1000))

    def make(service=None, *, patient=None, professional=None, start=None):
        return AppointmentFactory(
            patient=patient or clinic.patient,
            professional=professional or clinic.professional,
            service=service or clinic.psychology,
            start=start or SESSION_START + datetime.timedelta(days=next(counter)),
        )

    return make


@pytest.fixture
def buy(clinic):
    def buy(package, **kwargs):
        kwargs.setdefault("patient", clinic.patient)
        return active_purchase(package, **kwargs)

    return buy
