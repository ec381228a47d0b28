"""PostgreSQL only: two confirmations of the same plan racing for the same slots book one plan, never a mix.

Two patients' purchases get plans for the same slots (same professionals, same times); both confirmations start at
once, in their own connections and transactions. The professionals' locks serialise them: the first books its whole
plan, the second finds every slot taken and books nothing (``ScheduleConflict``).
"""

import threading
from datetime import date, time

import pytest
from django.contrib.auth.models import Permission
from django.db import connection

from booking.packs.errors import PackError
from booking.packs.models import CreditKind, PackCreditEntry
from booking.packs.services import confirm_schedule, propose_schedule
from booking.scheduling.models import Appointment
from tests.factories.accounts import PatientFactory, VerifiedUserFactory

from .autoschedule_world import NOW, build_world, buy

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def receptionist(db):
    """Acts for the clinic through a permission of its own (see test_concurrency_postgres.py for why)."""
    user = VerifiedUserFactory(email="desk@clinic.example")
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="scheduling", codename="change_appointment")
    )
    return user


def test_two_confirmations_racing_for_the_same_slots_book_one_plan_only(receptionist):
    world = build_world()
    purchases = [
        buy(world, {world.psychology: 2, world.nutrition: 2}),
        buy(world, {world.psychology: 2, world.nutrition: 2}, patient=PatientFactory()),
    ]
    plans = [
        propose_schedule(
            purchase=purchase,
            professionals=[world.ana, world.bruno],
            start_date=date(2027, 3, 22),
            weekdays=[0, 2],
            time_from=time(9),
            time_to=time(11),
            cadence="weekly",
            actor=receptionist,
            now=NOW,
        )
        for purchase in purchases
    ]
    assert [p.key for p in plans[0].proposals] == [p.key for p in plans[1].proposals]

    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def run(purchase, plan):
        try:
            barrier.wait()
            confirm_schedule(purchase=purchase, proposals=plan.proposals, actor=receptionist, source="admin", now=NOW)
            outcome = "booked"
        except PackError as error:
            outcome = error.code
        except Exception as error:  # anything else would be a 500
            outcome = f"error: {error!r}"
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=run, args=pair) for pair in zip(purchases, plans, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["booked", "schedule_conflict"]
    booked = Appointment.objects.filter(pack_purchase__isnull=False)
    assert booked.count() == 4
    assert len({appointment.patient_id for appointment in booked}) == 1
    assert PackCreditEntry.objects.filter(kind=CreditKind.RESERVED).count() == 4
