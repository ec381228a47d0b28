"""Bad input gets a ``PackError`` with a clear code and message, and nothing is written; balances cost one query."""

import datetime

import pytest
from django.db import IntegrityError, transaction

from booking.packs.errors import PackError
from booking.packs.models import AppendOnlyError, CreditKind, PackagePurchase, PackCreditEntry, PurchaseStatus
from booking.packs.selectors import balances, balances_for_purchases
from booking.packs.services import SessionOutcome, adjust_credits, grant_purchase, reserve_session, settle_session
from tests.factories.accounts import PatientFactory
from tests.factories.packs import purchase_of
from tests.factories.scheduling import ProfessionalFactory

from .conftest import EXPIRES_AT, NOW

pytestmark = pytest.mark.django_db


def ledger_state(purchase):
    purchase = PackagePurchase.objects.get(pk=purchase.pk)
    rows = list(PackCreditEntry.objects.filter(purchase=purchase).values_list("pk", "kind", "quantity"))
    return purchase.status, rows, list(purchase.appointments.values_list("pk", flat=True))


def refused(code, call, purchase):
    """Run ``call``; it must raise ``PackError(code)`` with a message and leave the purchase as it was."""
    before = ledger_state(purchase)
    with pytest.raises(PackError) as caught:
        call()
    assert caught.value.code == code
    assert str(caught.value.message)
    assert ledger_state(purchase) == before
    return caught.value


def test_a_service_not_in_the_pack_is_refused_by_name(clinic, per_service_pack, make_session, buy):
    purchase = buy(per_service_pack)
    session = make_session(clinic.outside)

    error = refused(
        "service_not_in_pack",
        lambda: reserve_session(
            purchase=purchase, service=clinic.outside, appointment=session, actor=clinic.receptionist
        ),
        purchase,
    )
    assert "Evaluación" in error.message


def test_an_exhausted_service_is_refused(clinic, per_service_pack, make_session, buy):
    purchase = buy(per_service_pack)
    for _ in range(2):
        session = make_session(clinic.nutrition)
        reserve_session(purchase=purchase, service=clinic.nutrition, appointment=session, actor=clinic.receptionist)
    third = make_session(clinic.nutrition)

    refused(
        "no_sessions_left",
        lambda: reserve_session(
            purchase=purchase, service=clinic.nutrition, appointment=third, actor=clinic.receptionist
        ),
        purchase,
    )
    third.refresh_from_db()
    assert third.pack_purchase is None


def test_an_expired_pack_is_refused_even_before_the_daily_task_ran(clinic, per_service_pack, make_session, buy):
    purchase = buy(per_service_pack)
    session = make_session(start=EXPIRES_AT + datetime.timedelta(days=2))

    refused(
        "expired",
        lambda: reserve_session(
            purchase=purchase,
            service=clinic.psychology,
            appointment=session,
            actor=clinic.receptionist,
            now=EXPIRES_AT,
        ),
        purchase,
    )


def test_a_session_after_the_expiry_date_is_refused(clinic, per_service_pack, make_session, buy):
    purchase = buy(per_service_pack)
    session = make_session(start=EXPIRES_AT + datetime.timedelta(hours=1))

    refused(
        "expired",
        lambda: reserve_session(
            purchase=purchase, service=clinic.psychology, appointment=session, actor=clinic.receptionist, now=NOW
        ),
        purchase,
    )


def test_an_unpaid_pack_cannot_be_used(clinic, per_service_pack, make_session):
    purchase = purchase_of(per_service_pack, patient=clinic.patient)
    session = make_session()

    refused(
        "not_active",
        lambda: reserve_session(
            purchase=purchase, service=clinic.psychology, appointment=session, actor=clinic.receptionist
        ),
        purchase,
    )


def test_another_patients_pack_cannot_pay_for_a_session(clinic, per_service_pack, make_session, buy):
    purchase = buy(per_service_pack)
    stranger = PatientFactory()
    their_session = make_session(patient=stranger)

    refused(
        "other_patient",
        lambda: reserve_session(
            purchase=purchase, service=clinic.psychology, appointment=their_session, actor=clinic.receptionist
        ),
        purchase,
    )
    refused(
        "not_allowed",
        lambda: reserve_session(
            purchase=purchase, service=clinic.psychology, appointment=their_session, actor=stranger.user
        ),
        purchase,
    )


def test_a_professional_outside_the_pack_is_refused(clinic, make_session, buy):
    from tests.factories.packs import package_with

    package = package_with({clinic.psychology: 2})
    package.allowed_professionals.set([ProfessionalFactory(services=[clinic.psychology])])
    package.save()
    purchase = buy(package)
    session = make_session()

    refused(
        "professional_not_in_pack",
        lambda: reserve_session(
            purchase=purchase, service=clinic.psychology, appointment=session, actor=clinic.receptionist
        ),
        purchase,
    )


def test_one_session_takes_one_credit_only(clinic, per_service_pack, make_session, buy):
    purchase = buy(per_service_pack)
    session = make_session()
    reserve_session(purchase=purchase, service=clinic.psychology, appointment=session, actor=clinic.receptionist)

    refused(
        "already_reserved",
        lambda: reserve_session(
            purchase=purchase, service=clinic.psychology, appointment=session, actor=clinic.receptionist
        ),
        purchase,
    )


def test_a_service_that_is_not_the_sessions_is_refused(clinic, per_service_pack, make_session, buy):
    purchase = buy(per_service_pack)
    session = make_session(clinic.nutrition)

    refused(
        "invalid_request",
        lambda: reserve_session(
            purchase=purchase, service=clinic.psychology, appointment=session, actor=clinic.receptionist
        ),
        purchase,
    )


@pytest.mark.parametrize(
    ("quantity", "reason", "code"),
    [
        (-4, "Corrección", "below_zero"),
        (0, "Corrección", "invalid_quantity"),
        ("2", "Corrección", "invalid_quantity"),
        (True, "Corrección", "invalid_quantity"),
        (10**6, "Corrección", "invalid_quantity"),
        (1, "   ", "reason_required"),
    ],
    ids=["below-zero", "zero", "text", "boolean", "huge", "blank-reason"],
)
def test_a_bad_adjustment_is_refused(clinic, per_service_pack, buy, quantity, reason, code):
    purchase = buy(per_service_pack)

    refused(
        code,
        lambda: adjust_credits(
            purchase=purchase, service=clinic.psychology, quantity=quantity, reason=reason, actor=clinic.administrator
        ),
        purchase,
    )


def test_an_adjustment_needs_the_permission_and_a_service_of_the_pack(clinic, per_service_pack, buy):
    purchase = buy(per_service_pack)

    refused(
        "not_allowed",
        lambda: adjust_credits(
            purchase=purchase, service=clinic.psychology, quantity=1, reason="Regalo", actor=clinic.receptionist
        ),
        purchase,
    )
    refused(
        "service_not_in_pack",
        lambda: adjust_credits(
            purchase=purchase, service=clinic.outside, quantity=1, reason="Regalo", actor=clinic.administrator
        ),
        purchase,
    )
    refused(
        "service_not_in_pack",
        lambda: adjust_credits(
            purchase=purchase, service=None, quantity=1, reason="Regalo", actor=clinic.administrator
        ),
        purchase,
    )


@pytest.mark.parametrize(
    "tamper",
    [
        lambda snapshot: snapshot["items"][0].update(sessions=-3),
        lambda snapshot: snapshot["items"][0].update(sessions="3"),
        lambda snapshot: snapshot["items"][0].update(sessions=0),
        lambda snapshot: snapshot.update(items=[]),
        lambda snapshot: snapshot.update(credit_mode="unlimited"),
        lambda snapshot: snapshot["items"].append(dict(snapshot["items"][0])),
    ],
    ids=["negative", "text", "zero", "no-items", "unknown-mode", "duplicate-service"],
)
def test_a_tampered_snapshot_grants_nothing(clinic, per_service_pack, tamper):
    purchase = purchase_of(per_service_pack, patient=clinic.patient)
    tamper(purchase.snapshot)
    purchase.save()

    with pytest.raises(PackError) as caught:
        grant_purchase(purchase=purchase, now=NOW)

    assert caught.value.code in ("invalid_quantity", "invalid_request")
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.PENDING_PAYMENT
    assert not purchase.credit_entries.exists()


def test_settling_twice_or_against_the_status_is_refused(clinic, per_service_pack, make_session, buy):
    from booking.scheduling import services as scheduling

    purchase = buy(per_service_pack)
    session = make_session()
    reserve_session(purchase=purchase, service=clinic.psychology, appointment=session, actor=clinic.receptionist)

    refused(
        "invalid_state",
        lambda: settle_session(appointment=session, outcome=SessionOutcome.COMPLETED, now=NOW),
        purchase,
    )
    session = scheduling.mark_completed(appointment=session, actor=clinic.receptionist, now=session.start)
    # mark_completed settled the credit in its own transaction (booking.packs.receivers)
    refused(
        "already_settled",
        lambda: settle_session(appointment=session, outcome=SessionOutcome.COMPLETED, now=session.start),
        purchase,
    )


def test_the_ledger_refuses_changes_and_deletions(clinic, per_service_pack, buy):
    purchase = buy(per_service_pack)
    entry = purchase.credit_entries.first()

    entry.quantity = 30
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        PackCreditEntry.objects.filter(pk=entry.pk).update(quantity=30)
    with pytest.raises(AppendOnlyError):
        PackCreditEntry.objects.filter(pk=entry.pk).delete()
    assert PackCreditEntry.objects.get(pk=entry.pk).quantity == 3


@pytest.mark.parametrize(
    "row",
    [
        {"kind": CreditKind.RESERVED, "quantity": -1},
        {"kind": CreditKind.ADJUSTED, "quantity": 0, "reason": "x"},
        {"kind": CreditKind.ADJUSTED, "quantity": 2, "reason": ""},
        {"kind": CreditKind.RESERVED, "quantity": 1},
        {"kind": CreditKind.GRANTED, "quantity": 3},
    ],
    ids=[
        "negative-reservation",
        "zero-adjustment",
        "adjustment-without-reason",
        "reservation-without-session",
        "grant-twice",
    ],
)
def test_the_database_refuses_rows_that_break_the_ledgers_rules(clinic, per_service_pack, buy, row):
    purchase = buy(per_service_pack)

    with pytest.raises(IntegrityError), transaction.atomic():
        PackCreditEntry.objects.create(purchase=purchase, service=clinic.psychology, at=NOW, **row)


def test_a_balance_is_one_query_however_long_the_ledger(
    clinic, per_service_pack, pool_pack, make_session, buy, django_assert_num_queries
):
    purchase = buy(per_service_pack)
    for _ in range(3):
        session = make_session(clinic.psychology)
        reserve_session(purchase=purchase, service=clinic.psychology, appointment=session, actor=clinic.receptionist)
    adjust_credits(
        purchase=purchase, service=clinic.nutrition, quantity=2, reason="Regalo", actor=clinic.administrator
    )
    others = [buy(pool_pack, patient=PatientFactory()) for _ in range(3)]

    with django_assert_num_queries(1):
        result = balances(purchase)
    with django_assert_num_queries(1):
        many = balances_for_purchases([purchase, *others])

    assert [(bucket.label, bucket.remaining, bucket.booked) for bucket in result.buckets] == [
        ("Psicoterapia", 0, 3),
        ("Control nutricional", 4, 0),
    ]
    assert many[purchase.pk].remaining == 4
    assert [many[other.pk].remaining for other in others] == [5, 5, 5]
