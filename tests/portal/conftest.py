"""Accounts fixtures. Candidates for tests/conftest.py: other apps need a staff client that passes 2FA."""

import pytest

from tests.factories.accounts import (
    DEFAULT_PASSWORD,
    PatientFactory,
    VerifiedUserFactory,
    activate_totp,
)


@pytest.fixture
def password():
    return DEFAULT_PASSWORD


@pytest.fixture
def verified_user(db):
    """A Spanish-speaking user with a verified email and no patient profile yet."""
    return VerifiedUserFactory(email="ana@example.com", first_name="Ana", preferred_language="es-cl")


@pytest.fixture
def patient_user(db):
    """A verified user with a patient profile."""
    return PatientFactory(user=VerifiedUserFactory(email="paula@example.com", first_name="Paula")).user


@pytest.fixture
def staff_user(db):
    """A verified staff superuser WITHOUT an authenticator app: the MFA middleware will stop them."""
    return VerifiedUserFactory(email="staff@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def staff_user_with_mfa(db):
    """A verified staff superuser with an activated authenticator app (``user.totp_secret`` for codes)."""
    user = VerifiedUserFactory(email="admin@example.com", is_staff=True, is_superuser=True)
    user.totp_secret = activate_totp(user)
    return user


@pytest.fixture
def mfa_admin_client(client, staff_user_with_mfa):
    """A test client logged in as ``staff_user_with_mfa``: reaches /admin/ without being sent to 2FA setup."""
    client.force_login(staff_user_with_mfa)
    return client


@pytest.fixture
def patient_client(client, patient_user):
    client.force_login(patient_user)
    return client
