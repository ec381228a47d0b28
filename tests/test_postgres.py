"""Invariants that PostgreSQL enforces itself, whatever the code in front of it does.

Run with ``make test-pg``; skipped on SQLite (see tests/conftest.py).
"""

import pytest
from django.db import IntegrityError, connection, transaction

from portal.accounts.models import Patient
from tests.factories.accounts import PatientFactory, UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def test_the_suite_really_runs_on_postgresql():
    assert connection.vendor == "postgresql"


def test_one_rut_belongs_to_one_patient_whatever_its_spelling():
    PatientFactory(rut="12.345.678-5")
    other = PatientFactory()
    other.rut = "123456785"

    with pytest.raises(IntegrityError), transaction.atomic():
        other.save()

    assert Patient.objects.filter(rut="12.345.678-5").count() == 1


def test_the_rut_constraint_holds_even_for_writes_that_skip_the_model():
    first = PatientFactory(rut="12.345.678-5")
    second = PatientFactory()

    with pytest.raises(IntegrityError), transaction.atomic():
        Patient.objects.filter(pk=second.pk).update(rut=first.rut)


def test_many_patients_may_leave_the_rut_empty():
    PatientFactory(rut="")
    PatientFactory(rut=None)

    assert Patient.objects.filter(rut__isnull=True).count() == 2


def test_an_email_address_is_one_account_whatever_its_capitals():
    UserFactory(email="ana.rojas@example.com")
    duplicate = UserFactory.build(email="Ana.Rojas@example.com")

    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()
