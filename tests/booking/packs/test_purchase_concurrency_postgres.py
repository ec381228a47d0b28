"""PostgreSQL only: a patient buying the same pack in several tabs at once never gets past the package's limit of
purchases per patient (the patient's row lock serialises ``purchase_pack``; each counts after the lock)."""

import threading

import pytest
from django.contrib.auth.models import Permission
from django.db import connection

from booking.billing.models import Invoice
from booking.packs.errors import PackError
from booking.packs.models import PackagePurchase
from booking.packs.services import purchase_pack
from tests.factories.accounts import VerifiedUserFactory

from .conftest import NOW

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

THREADS = 6


@pytest.fixture
def receptionist(db):
    """A permission of its own: building the role groups would clear the content type cache (see the booking race
    test in ``test_concurrency_postgres``)."""
    user = VerifiedUserFactory(email="desk@clinic.example")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="scheduling", codename="change_appointment")
    )
    return user


@pytest.fixture
def administrator(receptionist):
    return receptionist


def test_six_tabs_buying_a_pack_limited_to_two_get_two(clinic, per_service_pack):
    per_service_pack.max_purchases_per_patient = 2
    per_service_pack.save()
    barrier = threading.Barrier(THREADS)
    results, lock = [], threading.Lock()

    def buy():
        try:
            barrier.wait()
            purchase_pack(
                package=per_service_pack, patient=clinic.patient, actor=clinic.patient.user, pay_at_clinic=False,
                source="booking_box", now=NOW,
            )  # fmt: skip
            outcome = "bought"
        except PackError as error:
            outcome = error.code
        except Exception as error:  # anything else would be a 500
            outcome = f"error: {error!r}"
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=buy) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == ["bought"] * 2 + ["limit_reached"] * (THREADS - 2)
    assert PackagePurchase.objects.filter(patient=clinic.patient).count() == 2
    assert Invoice.objects.count() == 2
