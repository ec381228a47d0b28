"""Cancelling a pack (``cancel_pack``): upcoming sessions cancelled with their credit returned, the rest written off,
the unused part refunded pro rata (CLP and USD rounding), an unpaid pack's invoice voided, who may, and the
"expiring in 7 days" notice sent once."""

import datetime
from decimal import Decimal

import pytest

from booking.billing import services as billing
from booking.billing.models import InvoiceStatus, Refund, RefundStatus
from booking.packs.errors import PackError
from booking.packs.models import CreditKind, PackagePurchase, PurchaseStatus
from booking.packs.selectors import balances
from booking.packs.services import (
    cancel_pack,
    notify_expiring_purchases,
    pack_refund_quote,
    purchase_pack,
    reserve_session,
)
from booking.packs.signals import pack_cancelled, pack_expiring
from booking.scheduling import services as scheduling
from booking.scheduling.models import AppointmentStatus
from tests.factories.accounts import PatientFactory
from tests.factories.packs import package_with
from tests.on_commit import run_commit_hooks_like_a_commit

from .conftest import NOW, SESSION_START

# The pack is bought on NOW; sessions from SESSION_START (Dec 1), one a day; the pack is cancelled on CANCEL_AT.
CANCEL_AT = SESSION_START + datetime.timedelta(days=10)


@pytest.fixture(autouse=True)
def _commit_hooks(request, monkeypatch):
    run_commit_hooks_like_a_commit(request, monkeypatch)


@pytest.fixture
def signals_sent():
    calls = []

    def cancelled(sender, purchase, **kwargs):
        calls.append(("cancelled", purchase.pk, kwargs["refund_amount"], kwargs["paid"]))

    def expiring(sender, purchase, **kwargs):
        calls.append(("expiring", purchase.pk, kwargs["remaining"]))

    pack_cancelled.connect(cancelled)
    pack_expiring.connect(expiring)
    yield calls
    pack_cancelled.disconnect(cancelled)
    pack_expiring.disconnect(expiring)


def sold(clinic, package, *, paid=True, patient=None):
    """``package`` assigned by reception, paid at the clinic in cash when ``paid``."""
    purchase = purchase_pack(
        package=package, patient=patient or clinic.patient, actor=clinic.receptionist, pay_at_clinic=True,
        source="admin", now=NOW,
    )  # fmt: skip
    if paid:
        billing.record_offline_payment(
            invoice=purchase.invoice_line.invoice,
            method="cash",
            amount=package.price,
            actor=clinic.receptionist,
            now=NOW,
        )
    purchase.refresh_from_db()
    return purchase


def booked(clinic, purchase, make_session, service, *, start=None):
    session = make_session(service, patient=purchase.patient, start=start)
    reserve_session(purchase=purchase, service=service, appointment=session, actor=clinic.receptionist, now=NOW)
    return session


def used(clinic, purchase, make_session, service):
    """A session of the pack that took place (its credit consumed)."""
    session = booked(clinic, purchase, make_session, service)
    scheduling.mark_completed(appointment=session, actor=clinic.receptionist, now=session.end)
    return session


def upcoming(clinic, purchase, make_session, service, days_after_cancel=3):
    """A session booked after ``CANCEL_AT``; ``days_after_cancel=0``: two hours after, inside the late window."""
    start = CANCEL_AT + datetime.timedelta(days=days_after_cancel, hours=2)
    return booked(clinic, purchase, make_session, service, start=start)


@pytest.mark.parametrize(
    ("currency", "price", "shape", "used_count", "upcoming_count", "refund", "per_session"),
    [
        ("CLP", "100000", "3+2", 0, 0, "100000", "20000"),
        ("CLP", "100000", "3+2", 1, 1, "80000", "20000"),  # the upcoming one is cancelled and counted unused
        ("CLP", "100000", "3", 1, 0, "66666", "33333"),  # 33333.33 rounded to whole pesos, times 2
        ("CLP", "100000", "3", 0, 0, "100000", "33333"),  # nothing used: exactly what was paid
        ("CLP", "100000", "3", 3, 0, "0", "33333"),
        ("CLP", "99999", "pool5", 2, 1, "60000", "20000"),  # 19999.8 → 20000; 3 unused
        ("USD", "100.00", "3", 1, 0, "66.66", "33.33"),
        ("USD", "99.99", "3+2", 2, 0, "60.00", "20.00"),  # 19.998 → 20.00
        ("USD", "10.00", "3", 1, 1, "6.66", "3.33"),  # 3.333… → 3.33, times 2
    ],
)
def test_refund_table(clinic, make_session, currency, price, shape, used_count, upcoming_count, refund, per_session):
    items = {
        "3+2": ({clinic.psychology: 3, clinic.nutrition: 2}, None),
        "3": ({clinic.psychology: 3}, None),
        "pool5": ({clinic.psychology: None, clinic.nutrition: None}, 5),
    }[shape]
    package = package_with(items[0], pool=items[1], price=Decimal(price), currency=currency)
    purchase = sold(clinic, package)
    for _ in range(used_count):
        used(clinic, purchase, make_session, clinic.psychology)
    sessions = [
        upcoming(clinic, purchase, make_session, clinic.psychology, day) for day in range(1, upcoming_count + 1)
    ]

    quote = pack_refund_quote(purchase=purchase, actor=clinic.administrator, now=CANCEL_AT)
    result = cancel_pack(purchase=purchase, actor=clinic.administrator, reason="Se muda", now=CANCEL_AT)

    assert (quote.amount, quote.per_session) == (Decimal(refund), Decimal(per_session))
    assert result.refund_amount == Decimal(refund)
    assert [refund_.amount for refund_ in result.refunds] == ([Decimal(refund)] if Decimal(refund) else [])
    assert all(refund_.status == RefundStatus.SUCCEEDED for refund_ in result.refunds)  # cash: at the desk
    assert [session.pk for session in result.cancelled_appointments] == [session.pk for session in sessions]
    purchase.refresh_from_db()
    assert (purchase.status, purchase.cancelled_at) == (PurchaseStatus.CANCELLED, CANCEL_AT)
    assert balances(purchase).remaining == 0 and balances(purchase).booked == 0
    invoice = purchase.invoice_line.invoice
    invoice.refresh_from_db()
    assert invoice.amount_refunded == Decimal(refund)


def test_the_ledger_and_sessions_after_a_cancellation(clinic, per_service_pack, make_session, signals_sent):
    purchase = sold(clinic, per_service_pack)
    used(clinic, purchase, make_session, clinic.psychology)
    late = upcoming(clinic, purchase, make_session, clinic.nutrition, days_after_cancel=0)  # within the window

    result = cancel_pack(purchase=purchase, actor=clinic.administrator, reason="Se muda", now=CANCEL_AT)

    late.refresh_from_db()
    assert late.status == AppointmentStatus.CANCELLED
    entries = list(purchase.credit_entries.filter(kind__in=[CreditKind.RELEASED, CreditKind.CANCELLED]))
    assert sorted((entry.kind, entry.service_id, entry.quantity) for entry in entries) == sorted(
        [
            (CreditKind.RELEASED, clinic.nutrition.pk, 1),  # staff cancel: the credit goes back even if late
            (CreditKind.CANCELLED, clinic.psychology.pk, 2),
            (CreditKind.CANCELLED, clinic.nutrition.pk, 2),
        ]
    )
    assert all(entry.reason == "Se muda" for entry in entries if entry.kind == CreditKind.CANCELLED)
    assert result.refund_amount == Decimal("80000")
    assert signals_sent == [("cancelled", purchase.pk, Decimal("80000"), True)]


def test_never_more_than_what_was_paid_and_not_refunded(clinic, per_service_pack, make_session):
    purchase = sold(clinic, per_service_pack)
    payment = purchase.invoice_line.invoice.payments.get()
    billing.refund_payment(payment=payment, amount=Decimal("90000"), reason="acuerdo", actor=clinic.administrator)

    quote = pack_refund_quote(purchase=purchase, actor=clinic.administrator, now=CANCEL_AT)
    result = cancel_pack(purchase=purchase, actor=clinic.administrator, reason="x", now=CANCEL_AT)

    assert quote.amount == result.refund_amount == Decimal("10000")
    invoice = purchase.invoice_line.invoice
    invoice.refresh_from_db()
    assert (invoice.amount_refunded, invoice.status) == (Decimal("100000"), InvoiceStatus.REFUNDED)


def test_an_unpaid_pack_has_its_invoice_voided(clinic, per_service_pack, make_session):
    purchase = sold(clinic, per_service_pack, paid=False)
    used(clinic, purchase, make_session, clinic.psychology)

    quote = pack_refund_quote(purchase=purchase, actor=clinic.administrator, now=CANCEL_AT)
    result = cancel_pack(purchase=purchase, actor=clinic.administrator, reason="No pagará", now=CANCEL_AT)

    assert quote.voids_invoice and quote.amount == 0
    assert (result.refunds, result.refund_amount, result.invoice_voided) == ((), Decimal(0), True)
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.CANCELLED
    assert purchase.invoice_line.invoice.status == InvoiceStatus.VOID
    assert not Refund.objects.exists()


def test_a_pack_paid_in_part_gets_back_at_most_what_was_paid(clinic, per_service_pack):
    purchase = sold(clinic, per_service_pack, paid=False)
    billing.record_offline_payment(
        invoice=purchase.invoice_line.invoice,
        method="cash",
        amount=Decimal("30000"),
        actor=clinic.receptionist,
        now=NOW,
    )

    result = cancel_pack(purchase=purchase, actor=clinic.administrator, reason="x", now=CANCEL_AT)

    assert result.refund_amount == Decimal("30000")
    invoice = purchase.invoice_line.invoice
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_refunded) == (InvoiceStatus.VOID, Decimal("30000"))


def test_a_pending_online_purchase_is_cancelled_by_voiding_its_invoice(clinic, per_service_pack, signals_sent):
    purchase = purchase_pack(
        package=per_service_pack, patient=clinic.patient, actor=clinic.patient.user, pay_at_clinic=False,
        source="booking_box", now=NOW,
    )  # fmt: skip

    result = cancel_pack(purchase=purchase, actor=clinic.administrator, reason="duplicada", now=NOW)

    assert result.invoice_voided and result.refund_amount == 0
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.CANCELLED
    assert signals_sent == [("cancelled", purchase.pk, Decimal(0), False)]


def test_the_patient_cancels_only_where_the_pack_allows_and_loses_a_late_session(
    clinic, per_service_pack, make_session
):
    purchase = sold(clinic, per_service_pack)
    late = upcoming(clinic, purchase, make_session, clinic.psychology, days_after_cancel=0)  # psychology forfeits

    with pytest.raises(PackError) as refused:
        cancel_pack(purchase=purchase, actor=clinic.patient.user, reason="me mudo", now=CANCEL_AT)
    assert refused.value.code == "cancel_not_allowed"

    per_service_pack.patient_may_cancel = True
    per_service_pack.save()
    PackagePurchase.objects.filter(pk=purchase.pk).update(snapshot=per_service_pack.snapshot())
    quote = pack_refund_quote(purchase=purchase, actor=clinic.patient.user, now=CANCEL_AT)
    result = cancel_pack(purchase=purchase, actor=clinic.patient.user, reason="me mudo", now=CANCEL_AT)

    assert quote.amount == result.refund_amount == Decimal("80000")  # 4 of 5: the late session is lost
    assert purchase.credit_entries.filter(kind=CreditKind.FORFEITED, appointment=late).exists()


@pytest.mark.parametrize("who", ["other_patient", "receptionist", "anonymous"])
def test_who_may_not_cancel_changes_nothing(clinic, per_service_pack, make_session, who):
    purchase = sold(clinic, per_service_pack)
    session = upcoming(clinic, purchase, make_session, clinic.psychology)
    actor = {"other_patient": PatientFactory().user, "receptionist": clinic.receptionist, "anonymous": None}[who]

    with pytest.raises(PackError) as refused:
        cancel_pack(purchase=purchase, actor=actor, reason="x", now=CANCEL_AT)

    assert refused.value.code == "not_allowed"
    purchase.refresh_from_db()
    session.refresh_from_db()
    assert (purchase.status, session.status) == (PurchaseStatus.ACTIVE, AppointmentStatus.CONFIRMED)
    assert not Refund.objects.exists()


def test_a_cancelled_pack_cannot_be_cancelled_again_and_a_reason_is_required(clinic, per_service_pack):
    purchase = sold(clinic, per_service_pack)

    with pytest.raises(PackError) as no_reason:
        cancel_pack(purchase=purchase, actor=clinic.administrator, reason="  ", now=CANCEL_AT)
    cancel_pack(purchase=purchase, actor=clinic.administrator, reason="x", now=CANCEL_AT)
    with pytest.raises(PackError) as again:
        cancel_pack(purchase=purchase, actor=clinic.administrator, reason="x", now=CANCEL_AT)

    assert (no_reason.value.code, again.value.code) == ("reason_required", "invalid_state")
    assert Refund.objects.count() == 1


# ------------------------------------------------------------------------------------------------ expiring


def test_the_expiring_notice_is_sent_once_per_pack_with_sessions_left(clinic, per_service_pack, signals_sent):
    soon = sold(clinic, per_service_pack)
    other = sold(clinic, package_with({clinic.nutrition: 1}, validity_days=200), patient=PatientFactory())
    in_six_days = soon.expires_at - datetime.timedelta(days=6)

    assert notify_expiring_purchases(now=soon.expires_at - datetime.timedelta(days=8)) == 0
    assert notify_expiring_purchases(now=in_six_days) == 1
    assert notify_expiring_purchases(now=in_six_days) == 0
    assert notify_expiring_purchases(now=in_six_days + datetime.timedelta(days=1)) == 0

    assert signals_sent == [("expiring", soon.pk, 5)]
    soon.refresh_from_db()
    other.refresh_from_db()
    assert (soon.expiry_notified_at, other.expiry_notified_at) == (in_six_days, None)


def test_a_past_session_closed_after_the_pack_was_cancelled_is_written_off(clinic, per_service_pack, make_session):
    """A session that started before the cancellation stays booked (it is not upcoming); if it later turns out the
    professional did not come, its returned credit is written off at once: a cancelled pack keeps nothing to book."""
    purchase = sold(clinic, per_service_pack)
    session = booked(clinic, purchase, make_session, clinic.psychology, start=CANCEL_AT - datetime.timedelta(hours=1))

    result = cancel_pack(purchase=purchase, actor=clinic.administrator, reason="x", now=CANCEL_AT)
    scheduling.mark_no_show(appointment=session, who="professional", actor=clinic.receptionist, now=CANCEL_AT)

    assert result.refund_amount == Decimal("80000")  # the session still open counts as used when cancelling
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.CANCELLED
    assert balances(purchase).remaining == 0
    assert purchase.credit_entries.filter(kind=CreditKind.CANCELLED, appointment=None).count() == 3


def test_pack_exhausted_is_sent_after_the_commit_when_the_last_session_is_used(clinic, make_session):
    from booking.packs.signals import pack_exhausted

    sent = []

    def receive(sender, purchase, **kwargs):
        sent.append(purchase.pk)

    pack_exhausted.connect(receive)
    try:
        purchase = sold(clinic, package_with({clinic.psychology: 2}))
        used(clinic, purchase, make_session, clinic.psychology)
        assert sent == []
        session = booked(clinic, purchase, make_session, clinic.psychology)
        assert sent == []  # nothing left to book, but one session still booked
        scheduling.mark_completed(appointment=session, actor=clinic.receptionist, now=session.end)
    finally:
        pack_exhausted.disconnect(receive)

    assert sent == [purchase.pk]
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.EXHAUSTED
