"""A pack session's credit settles itself, in the transaction of the status change, through the product's real entry
points: billing's ``cancel_booking`` (what every cancel button calls), ``mark_completed`` and ``mark_no_show``.

Rule table for a per-service pack (3 psychology + 2 nutrition) and a shared pool (5 for both). Psychology loses a
late-cancelled or missed session; nutrition gives it back (``pack_late_cancel_returns_session``); a staff override
returns it as it would refund money. Then: the purchase's status follows, a failing settlement rolls the status
change back, and the "what would cancelling do" preview agrees with what cancelling does.
"""

import datetime

import pytest

from booking.billing import services as billing
from booking.billing.models import Invoice, Refund
from booking.packs.models import CreditKind, PackCreditEntry, PurchaseStatus
from booking.packs.selectors import balances
from booking.packs.services import cancellation_pack_credit, reserve_session
from booking.scheduling import services as scheduling
from booking.scheduling.models import AppointmentStatus
from booking.scheduling.services import PackCredit
from tests.factories.packs import package_with

from .conftest import NOW

pytestmark = pytest.mark.django_db

HOUR = datetime.timedelta(hours=1)


def cancel_timely(session, clinic):
    return billing.cancel_booking(appointment=session, actor=clinic.patient.user, now=NOW)


def cancel_late(session, clinic):
    return billing.cancel_booking(appointment=session, actor=clinic.patient.user, now=session.start - HOUR)


def cancel_late_with_override(session, clinic):
    return billing.cancel_booking(
        appointment=session,
        actor=clinic.receptionist,
        now=session.start - HOUR,
        staff_override_reason="The professional fell ill",
    )


def complete(session, clinic):
    return scheduling.mark_completed(appointment=session, actor=clinic.receptionist, now=session.start + HOUR)


def patient_no_show(session, clinic):
    return scheduling.mark_no_show(appointment=session, who="patient", actor=clinic.receptionist, now=session.start)


def professional_no_show(session, clinic):
    return scheduling.mark_no_show(
        appointment=session, who="professional", actor=clinic.receptionist, now=session.start
    )


# (how it ends, service, appointment status, ledger row written, what a cancellation reports)
RULES = [
    (cancel_timely, "psychology", AppointmentStatus.CANCELLED, CreditKind.RELEASED, PackCredit.RETURNED),
    (cancel_late, "psychology", AppointmentStatus.CANCELLED, CreditKind.FORFEITED, PackCredit.FORFEITED),
    (cancel_late, "nutrition", AppointmentStatus.CANCELLED, CreditKind.RELEASED, PackCredit.RETURNED),
    (cancel_late_with_override, "psychology", AppointmentStatus.CANCELLED, CreditKind.RELEASED, PackCredit.RETURNED),
    (complete, "psychology", AppointmentStatus.COMPLETED, CreditKind.CONSUMED, None),
    (patient_no_show, "psychology", AppointmentStatus.NO_SHOW_PATIENT, CreditKind.FORFEITED, None),
    (patient_no_show, "nutrition", AppointmentStatus.NO_SHOW_PATIENT, CreditKind.RELEASED, None),
    (professional_no_show, "psychology", AppointmentStatus.NO_SHOW_PROFESSIONAL, CreditKind.RELEASED, None),
]
RULE_IDS = [
    "timely-cancel-returns",
    "late-cancel-loses",
    "late-cancel-returns-by-service-policy",
    "staff-override-returns",
    "completed-is-used",
    "patient-no-show-loses",
    "patient-no-show-returns-by-service-policy",
    "professional-no-show-returns",
]


@pytest.mark.parametrize("mode", ["per_service", "shared_pool"])
@pytest.mark.parametrize(("end", "service_name", "status", "settlement", "reported"), RULES, ids=RULE_IDS)
def test_ending_a_pack_session_settles_its_credit_in_the_same_step(
    clinic, per_service_pack, pool_pack, make_session, buy, mode, end, service_name, status, settlement, reported
):
    service = getattr(clinic, service_name)
    purchase = buy(per_service_pack if mode == "per_service" else pool_pack)
    before = balances(purchase).for_service(service.pk).remaining
    session = make_session(service)
    reserve_session(purchase=purchase, service=service, appointment=session, actor=clinic.receptionist, now=NOW)

    result = end(session, clinic)

    session.refresh_from_db()
    assert session.status == status
    rows = PackCreditEntry.objects.filter(appointment=session).order_by("pk")
    assert list(rows.values_list("kind", flat=True)) == [CreditKind.RESERVED, settlement]
    assert rows.last().service_id == service.pk  # a pool's rows still say which service the session was
    used_up = settlement != CreditKind.RELEASED
    after = balances(purchase).for_service(service.pk)
    assert (after.remaining, after.booked, after.used) == (before - 1 if used_up else before, 0, 1 if used_up else 0)
    if isinstance(result, billing.CancelledBooking):
        assert result.pack_credit == reported
        assert result.outcome.pack_credit == reported
        assert result.refunds == ()  # the pack's invoice carries the money; the session has none of its own
    assert not Invoice.objects.exists() and not Refund.objects.exists()


@pytest.mark.parametrize(
    ("end", "status"),
    [
        (complete, PurchaseStatus.EXHAUSTED),
        (cancel_late, PurchaseStatus.EXHAUSTED),
        (patient_no_show, PurchaseStatus.EXHAUSTED),
        (cancel_timely, PurchaseStatus.ACTIVE),
        (professional_no_show, PurchaseStatus.ACTIVE),
    ],
    ids=["used", "lost-late", "lost-no-show", "returned-timely", "returned-professional-no-show"],
)
def test_the_last_session_exhausts_the_pack_unless_it_comes_back(clinic, make_session, buy, end, status):
    purchase = buy(package_with({clinic.psychology: 1}, name="Una sesión"))
    session = make_session(clinic.psychology)
    reserve_session(purchase=purchase, service=clinic.psychology, appointment=session, actor=clinic.receptionist)
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.ACTIVE  # nothing left to book, but the session is still to come

    end(session, clinic)

    purchase.refresh_from_db()
    assert purchase.status == status
    assert balances(purchase).remaining == (1 if status == PurchaseStatus.ACTIVE else 0)


def test_an_exhausted_pack_is_active_again_when_a_late_cancelled_session_comes_back(clinic, make_session, buy):
    """Nutrition's policy returns a late-cancelled session: a pack whose other session was used comes back to life."""
    purchase = buy(package_with({clinic.nutrition: 2}, name="Dos controles"))
    first, second = make_session(clinic.nutrition), make_session(clinic.nutrition)
    for session in (first, second):
        reserve_session(purchase=purchase, service=clinic.nutrition, appointment=session, actor=clinic.receptionist)
    complete(first, clinic)
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.ACTIVE

    cancelled = cancel_late(second, clinic)

    purchase.refresh_from_db()
    assert cancelled.pack_credit == PackCredit.RETURNED
    assert purchase.status == PurchaseStatus.ACTIVE
    assert balances(purchase).remaining == 1


@pytest.mark.parametrize("end", [cancel_timely, cancel_late, complete, patient_no_show], ids=lambda f: f.__name__)
def test_if_settling_fails_the_status_change_is_rolled_back_too(
    clinic, per_service_pack, make_session, buy, monkeypatch, end
):
    purchase = buy(per_service_pack)
    session = make_session(clinic.psychology)
    reserve_session(purchase=purchase, service=clinic.psychology, appointment=session, actor=clinic.receptionist)

    def broken(**kwargs):
        raise RuntimeError("ledger unavailable")

    monkeypatch.setattr("booking.packs.receivers.settle_session", broken)

    with pytest.raises(RuntimeError):
        end(session, clinic)

    session.refresh_from_db()
    assert session.status == AppointmentStatus.CONFIRMED
    assert not session.events.filter(action__in=["cancelled", "completed", "no_show_patient"]).exists()
    assert list(PackCreditEntry.objects.filter(appointment=session).values_list("kind", flat=True)) == [
        CreditKind.RESERVED
    ]
    assert balances(purchase).for_service(clinic.psychology.pk).booked == 1


def test_a_session_not_from_a_pack_ends_as_before(clinic, make_session):
    session = make_session(clinic.psychology)

    cancelled = cancel_late(session, clinic)

    assert cancelled.pack_credit is None
    assert cancelled.appointment.status == AppointmentStatus.CANCELLED
    assert not PackCreditEntry.objects.exists()


@pytest.mark.parametrize(
    ("service_name", "when", "override", "expected"),
    [
        ("psychology", "timely", False, PackCredit.RETURNED),
        ("psychology", "late", False, PackCredit.FORFEITED),
        ("psychology", "late", True, PackCredit.RETURNED),
        ("nutrition", "late", False, PackCredit.RETURNED),
    ],
    ids=["timely", "late", "late-override", "late-returning-service"],
)
def test_the_preview_says_what_cancelling_will_do_and_writes_nothing(
    clinic, per_service_pack, make_session, buy, django_assert_max_num_queries, service_name, when, override, expected
):
    service = getattr(clinic, service_name)
    purchase = buy(per_service_pack)
    session = make_session(service)
    reserve_session(purchase=purchase, service=service, appointment=session, actor=clinic.receptionist)
    session.refresh_from_db()
    now = NOW if when == "timely" else session.start - HOUR
    rows = PackCreditEntry.objects.count()

    with django_assert_max_num_queries(1):  # the service's policy, nothing else
        preview = cancellation_pack_credit(appointment=session, now=now, staff_override=override)

    assert preview == expected
    assert PackCreditEntry.objects.count() == rows
    actor = clinic.receptionist if override else clinic.patient.user
    cancelled = billing.cancel_booking(
        appointment=session, actor=actor, now=now, staff_override_reason="Excepción" if override else None
    )
    assert cancelled.pack_credit == preview


def test_the_preview_of_a_session_not_from_a_pack_is_none(clinic, make_session):
    assert cancellation_pack_credit(appointment=make_session(), now=NOW) is None


def test_a_held_pack_session_whose_hold_lapses_gives_its_session_back(clinic, per_service_pack, make_session, buy):
    """A hold reserved on a pack (a session waiting for a top-up payment, say) that lapses is a timely cancel."""
    purchase = buy(per_service_pack)
    session = make_session(clinic.psychology)
    session.status = AppointmentStatus.PENDING_PAYMENT
    session.hold_expires_at = NOW + HOUR
    session.save(update_fields=["status", "hold_expires_at"])
    reserve_session(
        purchase=purchase, service=clinic.psychology, appointment=session, actor=clinic.receptionist, now=NOW
    )

    assert scheduling.release_expired_holds(now=NOW + 2 * HOUR) == 1

    assert list(PackCreditEntry.objects.filter(appointment=session).values_list("kind", flat=True)) == [
        CreditKind.RESERVED,
        CreditKind.RELEASED,
    ]
    assert balances(purchase).for_service(clinic.psychology.pk).remaining == 3
