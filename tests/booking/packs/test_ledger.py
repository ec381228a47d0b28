"""The pack credit ledger's rules: what each step of a session writes, and the balance the patient sees after it.

Rule tables for a per-service pack (3 psychology + 2 nutrition) and a shared pool (5 for both): book a session, then
close it as it happened (through the scheduling services, as the product does), which settles its credit in the
same transaction (``booking.packs.receivers``). ``test_settlement.py`` runs the same rules through billing's
``cancel_booking`` and checks the purchase's status and the rollback.
Psychology forfeits a late-cancelled or missed session; nutrition gives it back (``pack_late_cancel_returns_session``).
"""

import datetime

import pytest

from booking.packs.models import CreditKind, PackCreditEntry, PurchaseStatus
from booking.packs.selectors import balances
from booking.packs.services import (
    SessionOutcome,
    adjust_credits,
    expire_purchases,
    grant_purchase,
    reserve_session,
    settle_session,
)
from booking.packs.tasks import expire_purchases_task
from booking.scheduling import services as scheduling
from tests.factories.packs import purchase_of

from .conftest import EXPIRES_AT, NOW

pytestmark = pytest.mark.django_db


def close(appointment, outcome: SessionOutcome, actor):
    """Change the appointment's status the way the clinic would, at a moment that makes ``outcome`` true."""
    start = appointment.start
    if outcome == SessionOutcome.COMPLETED:
        return scheduling.mark_completed(appointment=appointment, actor=actor, now=start + datetime.timedelta(hours=1))
    if outcome == SessionOutcome.CANCELLED_IN_TIME:
        result = scheduling.cancel_appointment(appointment=appointment, actor=actor, now=NOW)
        assert not result.late
        return result.appointment
    if outcome == SessionOutcome.CANCELLED_LATE:
        late = start - datetime.timedelta(hours=1)
        result = scheduling.cancel_appointment(appointment=appointment, actor=actor, now=late)
        assert result.late
        return result.appointment
    who = "patient" if outcome == SessionOutcome.NO_SHOW_PATIENT else "professional"
    return scheduling.mark_no_show(
        appointment=appointment, who=who, actor=actor, now=start + datetime.timedelta(minutes=20)
    )


def kinds_of(appointment) -> list[str]:
    return list(PackCreditEntry.objects.filter(appointment=appointment).order_by("pk").values_list("kind", flat=True))


# (outcome, service, settlement written, is the session used up?)
RULES = [
    (SessionOutcome.COMPLETED, "psychology", CreditKind.CONSUMED, True),
    (SessionOutcome.CANCELLED_IN_TIME, "psychology", CreditKind.RELEASED, False),
    (SessionOutcome.CANCELLED_LATE, "psychology", CreditKind.FORFEITED, True),
    (SessionOutcome.CANCELLED_LATE, "nutrition", CreditKind.RELEASED, False),
    (SessionOutcome.NO_SHOW_PATIENT, "psychology", CreditKind.FORFEITED, True),
    (SessionOutcome.NO_SHOW_PATIENT, "nutrition", CreditKind.RELEASED, False),
    (SessionOutcome.NO_SHOW_PROFESSIONAL, "psychology", CreditKind.RELEASED, False),
    (SessionOutcome.COMPLETED, "nutrition", CreditKind.CONSUMED, True),
]
RULE_IDS = [
    "complete-consumes",
    "timely-cancel-releases",
    "late-cancel-forfeits-by-policy",
    "late-cancel-releases-by-policy",
    "patient-no-show-forfeits-by-policy",
    "patient-no-show-releases-by-policy",
    "professional-no-show-releases",
    "complete-nutrition-consumes",
]


@pytest.mark.parametrize("mode", ["per_service", "shared_pool"])
@pytest.mark.parametrize(("outcome", "service_name", "settlement", "used_up"), RULES, ids=RULE_IDS)
def test_booking_then_closing_a_session_moves_the_credit_as_the_rule_says(
    clinic, per_service_pack, pool_pack, make_session, buy, mode, outcome, service_name, settlement, used_up
):
    service = getattr(clinic, service_name)
    purchase = buy(per_service_pack if mode == "per_service" else pool_pack)
    before = balances(purchase).for_service(service.pk).remaining
    session = make_session(service)

    reserve_session(purchase=purchase, service=service, appointment=session, actor=clinic.receptionist, now=NOW)

    booked = balances(purchase).for_service(service.pk)
    assert (booked.remaining, booked.booked, booked.used) == (before - 1, 1, 0)
    session.refresh_from_db()
    assert session.pack_purchase == purchase

    session = close(session, outcome, clinic.receptionist)

    assert kinds_of(session) == [CreditKind.RESERVED, settlement]
    after = balances(purchase).for_service(service.pk)
    assert after.booked == 0
    assert after.used == (1 if used_up else 0)
    assert after.remaining == (before - 1 if used_up else before)


def test_a_pool_is_one_balance_for_all_its_services_and_keeps_which_service_each_session_was(
    clinic, pool_pack, make_session, buy
):
    purchase = buy(pool_pack)
    psychology, nutrition = make_session(clinic.psychology), make_session(clinic.nutrition)

    reserve_session(purchase=purchase, service=clinic.psychology, appointment=psychology, actor=clinic.patient.user)
    reserve_session(purchase=purchase, service=clinic.nutrition, appointment=nutrition, actor=clinic.patient.user)

    result = balances(purchase)
    assert [(bucket.service_id, bucket.remaining, bucket.booked) for bucket in result.buckets] == [(None, 3, 2)]
    assert result.for_service(clinic.nutrition.pk) is result.for_service(clinic.psychology.pk)
    assert result.for_service(clinic.outside.pk) is None
    reserved = PackCreditEntry.objects.filter(purchase=purchase, kind=CreditKind.RESERVED)
    assert sorted(reserved.values_list("service_id", flat=True)) == sorted([clinic.psychology.pk, clinic.nutrition.pk])


def test_a_per_service_pack_counts_each_service_on_its_own(clinic, per_service_pack, make_session, buy):
    purchase = buy(per_service_pack)
    for _ in range(2):
        reserve_session(
            purchase=purchase,
            service=clinic.nutrition,
            appointment=make_session(clinic.nutrition),
            actor=clinic.receptionist,
        )

    result = balances(purchase)
    assert result.for_service(clinic.nutrition.pk).remaining == 0
    assert result.for_service(clinic.psychology.pk).remaining == 3
    assert result.remaining == 3
    assert purchase.credit_entries.filter(kind=CreditKind.GRANTED).count() == 2


def test_grant_writes_the_snapshot_once_and_a_second_grant_changes_nothing(clinic, per_service_pack):
    purchase = purchase_of(per_service_pack, patient=clinic.patient)
    assert purchase.status == PurchaseStatus.PENDING_PAYMENT

    grant_purchase(purchase=purchase, now=NOW)
    grant_purchase(purchase=purchase, now=NOW)  # the payment confirmation delivered twice

    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.ACTIVE
    granted = purchase.credit_entries.filter(kind=CreditKind.GRANTED).order_by("pk")
    assert list(granted.values_list("service_id", "quantity")) == [(clinic.psychology.pk, 3), (clinic.nutrition.pk, 2)]


def test_grant_uses_the_snapshot_not_the_package_as_edited_later(clinic, per_service_pack):
    purchase = purchase_of(per_service_pack, patient=clinic.patient)
    per_service_pack.items.filter(service=clinic.psychology).update(sessions=10)

    grant_purchase(purchase=purchase, now=NOW)

    assert balances(purchase).for_service(clinic.psychology.pk).remaining == 3


def test_a_pool_is_granted_as_one_row_without_service(clinic, pool_pack):
    purchase = purchase_of(pool_pack, patient=clinic.patient)

    grant_purchase(purchase=purchase, now=NOW)

    assert list(purchase.credit_entries.values_list("kind", "service_id", "quantity")) == [
        (CreditKind.GRANTED, None, 5)
    ]


def test_using_the_last_session_exhausts_the_pack_and_a_returned_one_reactivates_it(
    clinic, per_service_pack, make_session, buy
):
    purchase = buy(per_service_pack)
    sessions = [make_session(clinic.psychology) for _ in range(3)] + [make_session(clinic.nutrition) for _ in range(2)]
    for session in sessions:
        reserve_session(purchase=purchase, service=session.service, appointment=session, actor=clinic.receptionist)
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.ACTIVE  # nothing left to book, but sessions still to come

    for session in sessions[:-1]:
        close(session, SessionOutcome.COMPLETED, clinic.receptionist)
    close(sessions[-1], SessionOutcome.CANCELLED_LATE, clinic.receptionist)

    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.ACTIVE  # nutrition's policy gave the late-cancelled session back
    assert balances(purchase).remaining == 1

    reserve_session(
        purchase=purchase,
        service=clinic.nutrition,
        appointment=make_session(clinic.nutrition),
        actor=clinic.receptionist,
    )
    adjust_credits(
        purchase=purchase, service=clinic.nutrition, quantity=1, reason="Gesto comercial", actor=clinic.administrator
    )
    session = purchase.appointments.filter(status="confirmed").get()
    session = close(session, SessionOutcome.COMPLETED, clinic.receptionist)
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.ACTIVE  # the adjustment left one to book

    adjust_credits(
        purchase=purchase, service=clinic.nutrition, quantity=-1, reason="Corrección", actor=clinic.administrator
    )
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.EXHAUSTED
    assert (balances(purchase).remaining, balances(purchase).used) == (0, 5)


@pytest.mark.parametrize("mode", ["per_service", "shared_pool"])
def test_an_adjustment_adds_or_removes_sessions_with_its_reason_and_author(
    clinic, per_service_pack, pool_pack, buy, mode
):
    purchase = buy(per_service_pack if mode == "per_service" else pool_pack)
    before = balances(purchase).for_service(clinic.psychology.pk).remaining

    added = adjust_credits(
        purchase=purchase, service=clinic.psychology, quantity=2, reason="Sesión de regalo", actor=clinic.administrator
    )
    adjust_credits(
        purchase=purchase, service=clinic.psychology, quantity=-1, reason="Error de carga", actor=clinic.administrator
    )

    assert balances(purchase).for_service(clinic.psychology.pk).remaining == before + 1
    assert (added.kind, added.quantity, added.reason, added.actor) == (
        CreditKind.ADJUSTED,
        2,
        "Sesión de regalo",
        clinic.administrator,
    )
    assert added.service_id == (None if mode == "shared_pool" else clinic.psychology.pk)


@pytest.mark.parametrize("mode", ["per_service", "shared_pool"])
def test_expiry_writes_off_what_was_left_and_keeps_booked_sessions(
    clinic, per_service_pack, pool_pack, make_session, buy, mode
):
    purchase = buy(per_service_pack if mode == "per_service" else pool_pack)
    booked = make_session(clinic.psychology)
    reserve_session(purchase=purchase, service=clinic.psychology, appointment=booked, actor=clinic.receptionist)

    assert expire_purchases(now=EXPIRES_AT - datetime.timedelta(seconds=1)) == 0
    assert expire_purchases(now=EXPIRES_AT) == 1
    assert expire_purchases(now=EXPIRES_AT) == 0  # the next day's run finds nothing more

    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.EXPIRED
    result = balances(purchase)
    assert (result.remaining, result.booked) == (0, 1)
    expired = purchase.credit_entries.filter(kind=CreditKind.EXPIRED).order_by("pk")
    if mode == "per_service":
        assert list(expired.values_list("service_id", "quantity")) == [
            (clinic.psychology.pk, 2),
            (clinic.nutrition.pk, 2),
        ]
    else:
        assert list(expired.values_list("service_id", "quantity")) == [(None, 4)]

    # The booked session took place after all: it is used. Had it been cancelled, its credit would expire at once.
    booked = close(booked, SessionOutcome.COMPLETED, clinic.receptionist)
    assert (balances(purchase).used, balances(purchase).remaining) == (1, 0)


def test_a_session_returned_after_the_pack_expired_expires_with_it(clinic, per_service_pack, make_session, buy):
    purchase = buy(per_service_pack)
    session = make_session(clinic.psychology)
    reserve_session(purchase=purchase, service=clinic.psychology, appointment=session, actor=clinic.receptionist)
    expire_purchases(now=EXPIRES_AT)

    session = close(session, SessionOutcome.NO_SHOW_PROFESSIONAL, clinic.receptionist)

    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.EXPIRED
    assert balances(purchase).remaining == 0
    assert kinds_of(session) == [CreditKind.RESERVED, CreditKind.RELEASED]
    assert purchase.credit_entries.filter(kind=CreditKind.EXPIRED).count() == 3


def test_the_daily_task_expires_purchases(clinic, per_service_pack, buy, time_machine):
    purchase = buy(per_service_pack)
    time_machine.move_to(EXPIRES_AT + datetime.timedelta(hours=2), tick=False)

    assert expire_purchases_task.call_local() == 1

    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.EXPIRED


def test_a_session_not_booked_from_a_pack_has_nothing_to_settle(clinic, make_session):
    session = close(make_session(), SessionOutcome.COMPLETED, clinic.receptionist)

    assert settle_session(appointment=session, outcome=SessionOutcome.COMPLETED) is None
    assert not PackCreditEntry.objects.exists()
