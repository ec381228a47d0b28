"""PostgreSQL only: concurrent bookings from one pack never take more sessions than it has left.

Each thread books its own session from the same purchase in its own connection and transaction, all released at
once by a barrier. The purchase's row lock serialises them; each one derives the balance after the lock, so it
sees the reservations committed before it and the last ones are refused.
"""

import threading

import pytest
from django.contrib.auth.models import Permission
from django.db import connection

from booking.packs.errors import PackError
from booking.packs.models import CreditKind, PackCreditEntry
from booking.packs.selectors import balances
from booking.packs.services import reserve_session
from tests.factories.accounts import VerifiedUserFactory

from .conftest import NOW

# serialized_rollback: rows made by migrations (content types, the Wagtail site) come back for later tests.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

THREADS = 8


@pytest.fixture
def receptionist(db):
    """Acts for the clinic through a permission of its own: building the role groups here would clear the
    content type cache, and the serialized rollback would then recreate content types under new ids."""
    user = VerifiedUserFactory(email="desk@clinic.example")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="scheduling", codename="change_appointment")
    )
    return user


@pytest.fixture
def administrator(receptionist):
    return receptionist


def race(attempts) -> list[str]:
    barrier = threading.Barrier(len(attempts))
    results: list[str] = []
    lock = threading.Lock()

    def run(attempt):
        try:
            barrier.wait()
            attempt()
            outcome = "reserved"
        except PackError as error:
            outcome = error.code
        except Exception as error:  # anything else would be a 500
            outcome = f"error: {error!r}"
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(attempt,)) for attempt in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(results)


@pytest.mark.parametrize("mode", ["per_service", "shared_pool"])
def test_eight_bookings_racing_for_three_sessions_get_exactly_three(
    clinic, per_service_pack, pool_pack, make_session, buy, mode
):
    purchase = buy(per_service_pack if mode == "per_service" else pool_pack)
    if mode == "shared_pool":  # leave three of the pool's five
        for _ in range(2):
            reserve_session(
                purchase=purchase,
                service=clinic.nutrition,
                appointment=make_session(clinic.nutrition),
                actor=clinic.receptionist,
                now=NOW,
            )
    sessions = [make_session(clinic.psychology) for _ in range(THREADS)]

    results = race(
        [
            lambda session=session: reserve_session(
                purchase=purchase, service=clinic.psychology, appointment=session, actor=clinic.receptionist, now=NOW
            )
            for session in sessions
        ]
    )

    assert results == ["no_sessions_left"] * (THREADS - 3) + ["reserved"] * 3
    assert balances(purchase).for_service(clinic.psychology.pk).remaining == 0
    reserved = PackCreditEntry.objects.filter(purchase=purchase, kind=CreditKind.RESERVED, service=clinic.psychology)
    assert reserved.count() == 3
    assert sorted(reserved.values_list("appointment_id", flat=True)) == sorted(
        purchase.appointments.filter(service=clinic.psychology).values_list("pk", flat=True)
    )


def test_one_session_reserved_twice_at_once_takes_one_credit(clinic, per_service_pack, make_session, buy):
    purchase = buy(per_service_pack)
    session = make_session(clinic.psychology)

    results = race(
        [
            lambda: reserve_session(
                purchase=purchase, service=clinic.psychology, appointment=session, actor=clinic.receptionist, now=NOW
            )
        ]
        * 4
    )

    assert results == ["already_reserved"] * 3 + ["reserved"]
    assert balances(purchase).for_service(clinic.psychology.pk).remaining == 2
