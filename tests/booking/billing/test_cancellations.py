"""Cancelling with the money: ``billing.cancel_booking`` and ``billing.cancel_unpaid_hold``, and the one path.

The API, the admin and the booking box cancel through these two use cases and nothing else: each entry point is
checked with a spy on the name it calls (the real thing runs behind it, so the result is checked too) and with a
stand-in that does nothing (then nothing is cancelled: the view has no other way to cancel).

The clock is pinned at Sunday 29 November 2026, 10:00 in Santiago; the session is Tuesday 1 December at 09:00 and
the cancellation window is 24 hours. Stripe is the fake gateway of ``fakes.py``.
"""

import ast
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from booking.billing import services as billing
from booking.billing import stripe_gateway
from booking.billing.errors import PaymentError
from booking.billing.models import Invoice, InvoiceEvent, InvoiceStatus, Payment, PaymentStatus, Refund, RefundStatus
from booking.billing.services import cancellations
from booking.scheduling import services as scheduling
from booking.scheduling.errors import BookingError
from booking.scheduling.models import Appointment, AppointmentStatus
from booking.scheduling.services import CancellationOutcome, RefundDecision
from tests.factories.accounts import PatientFactory, VerifiedUserFactory
from tests.factories.scheduling import (
    LocationFactory,
    ProfessionalFactory,
    ServiceFactory,
    StaffUserFactory,
    SuperuserFactory,
    WeeklyAvailabilityFactory,
)

from .fakes import install_fake_gateway

pytestmark = pytest.mark.django_db

SANTIAGO = ZoneInfo("America/Santiago")
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=SANTIAGO)
TUESDAY_9 = datetime(2026, 12, 1, 9, 0, tzinfo=SANTIAGO)
TUESDAY_11 = datetime(2026, 12, 1, 11, 0, tzinfo=SANTIAGO)
LATE = datetime(2026, 11, 30, 12, 0, tzinfo=SANTIAGO)  # 21 hours before: inside the 24-hour window, no refund
STARTED = TUESDAY_9 + timedelta(minutes=10)
SUCCESS_URL = "https://clinic.test/billing/checkout/success/?session_id={CHECKOUT_SESSION_ID}"
CANCEL_URL = "https://clinic.test/billing/checkout/cancel/"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture(autouse=True)
def pinned_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def gateway(monkeypatch, settings):
    return install_fake_gateway(monkeypatch, settings)


class World:
    pass


@pytest.fixture
def world(db, gateway):
    service = ServiceFactory(
        slug="therapy",
        duration_minutes=50,
        min_notice_minutes=60,
        booking_horizon_days=60,
        cancellation_window_hours=24,
        price=Decimal("35000"),
        payment_mode="later",
    )
    location = LocationFactory(slug="providencia")
    professional = ProfessionalFactory(slug="ana", services=[service], locations=[location])
    WeeklyAvailabilityFactory(
        professional=professional, location=location, weekday=1, start_time=time(9), end_time=time(13)
    )
    world = World()
    world.service, world.location, world.professional = service, location, professional
    world.patient = PatientFactory(user=VerifiedUserFactory())
    world.cashier = SuperuserFactory()
    world.gateway = gateway
    return world


def book(world, *, hold=False, start=TUESDAY_9) -> tuple[Appointment, Invoice]:
    """A session of the patient's with its open invoice: confirmed (paid later), or held 15 minutes until paid."""
    return billing.book_with_invoice(
        patient=world.patient,
        professional=world.professional,
        service=world.service,
        start=start,
        location=world.location,
        modality="in_person",
        source="booking_box" if hold else "api",
        actor=world.patient.user,
        hold=hold,
        now=NOW,
    )


def pay_cash(world, invoice, amount=None) -> Payment:
    return billing.record_offline_payment(
        invoice=invoice, method="cash", amount=amount or invoice.balance_due, actor=world.cashier, now=NOW
    )


def open_checkout(world, invoice) -> Payment:
    return billing.start_checkout(
        invoice=invoice, success_url=SUCCESS_URL, cancel_url=CANCEL_URL, actor=world.patient.user, now=NOW
    )


def pay_online(world, invoice) -> Payment:
    """The patient goes through Checkout and the webhook confirms it."""
    session = world.gateway.pay(open_checkout(world, invoice).provider_reference)
    return billing.confirm_checkout(world.gateway.checkout_state(session), now=NOW)


def state(appointment, invoice) -> dict:
    """What a refused cancellation must leave as it was."""
    appointment = Appointment.objects.get(pk=appointment.pk)
    invoice = Invoice.objects.get(pk=invoice.pk)
    return {
        "appointment": (appointment.status, appointment.cancellation_reason, appointment.hold_expires_at),
        "invoice": (invoice.status, invoice.amount_paid, invoice.amount_refunded),
        "events": (InvoiceEvent.objects.count(), appointment.events.count()),
        "payments": list(Payment.objects.order_by("pk").values_list("status", flat=True)),
        "refunds": Refund.objects.count(),
    }


def staff_with(*permissions):
    user = StaffUserFactory()
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return type(user).objects.get(pk=user.pk)  # a fresh instance: no cached permissions


# --- cancel_booking ---------------------------------------------------------------------------------------------


def test_cancelling_in_the_window_refunds_everything_paid(world):
    appointment, invoice = book(world)
    pay_cash(world, invoice, "10000")
    pay_online(world, invoice)

    cancelled = billing.cancel_booking(appointment=appointment, actor=world.patient.user, reason="Ill", now=NOW)

    invoice.refresh_from_db()
    assert (cancelled.outcome.refund, cancelled.outcome.late) == (RefundDecision.FULL_REFUND, False)
    assert (cancelled.appointment.status, cancelled.appointment.cancellation_reason) == ("cancelled", "Ill")
    assert sorted((refund.amount, refund.status) for refund in cancelled.refunds) == [
        (Decimal("10000"), RefundStatus.SUCCEEDED),
        (Decimal("25000"), RefundStatus.SUCCEEDED),
    ]
    assert not cancelled.refund_failed
    assert [call["amount"] for call in world.gateway.calls_of("create_refund")] == [Decimal("25000")]
    assert (invoice.status, invoice.amount_refunded) == (InvoiceStatus.REFUNDED, Decimal("35000"))


def test_a_late_cancellation_keeps_the_fee(world):
    appointment, invoice = book(world)
    pay_cash(world, invoice)

    cancelled = billing.cancel_booking(appointment=appointment, actor=world.patient.user, now=LATE)

    invoice.refresh_from_db()
    assert (cancelled.outcome.refund, cancelled.outcome.late) == (RefundDecision.NO_REFUND, True)
    assert cancelled.refunds == ()
    assert cancelled.appointment.status == AppointmentStatus.CANCELLED
    assert (invoice.status, invoice.amount_paid, invoice.amount_refunded) == ("paid", Decimal("35000"), 0)
    event = invoice.events.last()
    assert (event.action, event.reason) == (billing.LATE_CANCELLATION, billing.REASON_LATE_CANCELLATION)
    assert not Refund.objects.exists()


def test_a_late_cancellation_of_an_unpaid_session_leaves_it_owed(world):
    appointment, invoice = book(world)

    billing.cancel_booking(appointment=appointment, actor=world.patient.user, now=LATE)

    invoice.refresh_from_db()
    assert (invoice.status, invoice.balance_due) == (InvoiceStatus.OPEN, Decimal("35000"))


def test_staff_override_of_a_late_cancellation_refunds(world):
    appointment, invoice = book(world)
    pay_cash(world, invoice)
    receptionist = staff_with("scheduling.change_appointment")

    cancelled = billing.cancel_booking(
        appointment=appointment,
        actor=receptionist,
        reason="Ill",
        staff_override_reason="Doctor's note",
        now=LATE,
    )

    invoice.refresh_from_db()
    assert (cancelled.outcome.refund, cancelled.outcome.late) == (RefundDecision.FULL_REFUND, True)
    assert cancelled.appointment.cancelled_by == receptionist
    assert invoice.status == InvoiceStatus.REFUNDED


def test_an_unpaid_invoice_is_voided(world):
    appointment, invoice = book(world)

    cancelled = billing.cancel_booking(appointment=appointment, actor=world.patient.user, now=NOW)

    invoice.refresh_from_db()
    assert cancelled.refunds == ()
    assert invoice.status == InvoiceStatus.VOID
    assert invoice.events.last().reason == billing.REASON_CANCELLED


def test_a_refund_the_provider_refuses_keeps_the_cancellation_and_says_so(world):
    appointment, invoice = book(world)
    pay_online(world, invoice)
    world.gateway.fail_on("create_refund")

    cancelled = billing.cancel_booking(appointment=appointment, actor=world.patient.user, now=NOW)

    invoice.refresh_from_db()
    assert cancelled.refund_failed
    assert cancelled.appointment.status == AppointmentStatus.CANCELLED
    assert (invoice.status, invoice.amount_refunded) == (InvoiceStatus.PAID, 0)  # staff retry from the invoice


@pytest.mark.parametrize(
    ("who", "at", "override", "code"),
    [
        ("another patient", NOW, None, "not_allowed"),
        ("patient", NOW, "I insist", "not_allowed"),
        ("staff without permission", NOW, None, "not_allowed"),
        ("patient", STARTED, None, "policy_window"),
        ("nobody", NOW, None, "not_allowed"),
    ],
    ids=["someone-elses", "patient-override", "staff-flag-only", "after-the-start", "anonymous"],
)
def test_a_refused_cancellation_says_why_and_moves_no_money(world, who, at, override, code):
    appointment, invoice = book(world)
    pay_cash(world, invoice)
    actor = {
        "another patient": lambda: PatientFactory().user,
        "patient": lambda: world.patient.user,
        "staff without permission": StaffUserFactory,
        "nobody": lambda: None,
    }[who]()
    before = state(appointment, invoice)

    with pytest.raises(BookingError) as error:
        billing.cancel_booking(appointment=appointment, actor=actor, now=at, staff_override_reason=override)

    assert error.value.code == code
    assert str(error.value.message)
    assert state(appointment, invoice) == before


def test_cancelling_twice_is_refused_the_second_time(world):
    appointment, invoice = book(world)
    pay_cash(world, invoice)
    billing.cancel_booking(appointment=appointment, actor=world.patient.user, now=NOW)
    before = state(appointment, invoice)

    with pytest.raises(BookingError) as error:
        billing.cancel_booking(appointment=appointment, actor=world.patient.user, now=NOW)

    assert error.value.code == "invalid_state"
    assert state(appointment, invoice) == before


# --- cancel_unpaid_hold -----------------------------------------------------------------------------------------


def test_a_hold_is_released_and_its_invoice_voided(world):
    appointment, invoice = book(world, hold=True)

    cancelled = billing.cancel_unpaid_hold(appointment=appointment, invoice=invoice, actor=world.patient.user, now=NOW)

    assert not cancelled.paid
    assert (cancelled.appointment.status, cancelled.appointment.cancellation_reason) == (
        AppointmentStatus.CANCELLED,
        billing.REASON_HOLD_GIVEN_BACK,
    )
    assert cancelled.invoice.status == InvoiceStatus.VOID
    event = cancelled.invoice.events.last()
    assert (event.action, event.reason, event.actor) == (
        InvoiceEvent.Action.VOIDED,
        billing.REASON_HOLD_CANCELLED,
        world.patient.user,
    )
    assert world.gateway.calls == []  # no checkout was open: nothing to ask the provider


def test_open_checkouts_are_closed_at_the_provider_outside_any_transaction(world, monkeypatch):
    appointment, invoice = book(world, hold=True)
    payment = open_checkout(world, invoice)
    depth_at_call = []
    expire = stripe_gateway.expire_checkout_session

    def expiring(session_id):
        depth_at_call.append(len(connection.atomic_blocks))
        return expire(session_id)

    monkeypatch.setattr(stripe_gateway, "expire_checkout_session", expiring)
    depth_outside = len(connection.atomic_blocks)  # the test's own transaction

    cancelled = billing.cancel_unpaid_hold(appointment=appointment, invoice=invoice, actor=world.patient.user, now=NOW)

    payment.refresh_from_db()
    assert depth_at_call == [depth_outside]
    assert world.gateway.sessions[payment.provider_reference].status == "expired"
    assert payment.status == PaymentStatus.CANCELLED
    assert (cancelled.appointment.status, cancelled.invoice.status) == ("cancelled", "void")


def test_a_checkout_paid_meanwhile_confirms_the_session_instead(world):
    appointment, invoice = book(world, hold=True)
    world.gateway.pay(open_checkout(world, invoice).provider_reference)  # in another tab, no webhook yet

    cancelled = billing.cancel_unpaid_hold(appointment=appointment, invoice=invoice, actor=world.patient.user, now=NOW)

    assert cancelled.paid
    assert cancelled.appointment.status == AppointmentStatus.CONFIRMED
    assert cancelled.invoice.status == InvoiceStatus.PAID
    assert not cancelled.invoice.events.filter(action=InvoiceEvent.Action.VOIDED).exists()


def money_arrives_after_the_checkouts_are_closed(world, monkeypatch):
    """The webhook (here the desk) records the payment between closing the checkouts and taking the lock."""
    close = cancellations.close_open_checkouts

    def closing_then_paid(invoice, *, now):
        paid = close(invoice, now=now)
        pay_cash(world, invoice)
        return paid

    monkeypatch.setattr(cancellations, "close_open_checkouts", closing_then_paid)


def test_money_that_arrived_before_the_lock_changes_nothing_and_says_so(world, monkeypatch):
    appointment, invoice = book(world, hold=True)
    money_arrives_after_the_checkouts_are_closed(world, monkeypatch)

    cancelled = billing.cancel_unpaid_hold(appointment=appointment, invoice=invoice, actor=world.patient.user, now=NOW)

    assert cancelled.paid
    assert cancelled.appointment.status == AppointmentStatus.CONFIRMED
    assert (cancelled.invoice.status, cancelled.invoice.amount_paid) == (InvoiceStatus.PAID, Decimal("35000"))
    assert not Refund.objects.exists()


def test_a_hold_with_part_of_its_price_paid_is_neither_released_nor_voided(world):
    """Release and void are one transaction: the invoice refusing to be voided keeps the time held too."""
    appointment, invoice = book(world, hold=True)
    pay_cash(world, invoice, "10000")
    before = state(appointment, invoice)

    with pytest.raises(PaymentError) as error:
        billing.cancel_unpaid_hold(appointment=appointment, invoice=invoice, actor=world.patient.user, now=NOW)

    assert error.value.code == "invalid_state"
    assert state(appointment, invoice) == before


def test_an_unreachable_provider_changes_nothing(world):
    appointment, invoice = book(world, hold=True)
    open_checkout(world, invoice)
    world.gateway.fail_on("expire_checkout_session")
    before = state(appointment, invoice)

    with pytest.raises(PaymentError) as error:
        billing.cancel_unpaid_hold(appointment=appointment, invoice=invoice, actor=world.patient.user, now=NOW)

    assert error.value.code == "provider_error"
    assert state(appointment, invoice) == before


def test_a_session_booked_at_the_clinic_meanwhile_keeps_its_invoice(world):
    """The other tab chose "pay at the clinic": the session is booked, its invoice stays open to be paid."""
    appointment, invoice = book(world, hold=True)
    stale = Appointment.objects.get(pk=appointment.pk)  # what the pay step had loaded
    scheduling.confirm_appointment(appointment=appointment, actor=world.patient.user, now=NOW)
    before = state(appointment, invoice)

    with pytest.raises(PaymentError) as error:
        billing.cancel_unpaid_hold(appointment=stale, invoice=invoice, actor=world.patient.user, now=NOW)

    assert error.value.code == "invalid_state"
    assert state(appointment, invoice) == before


def test_staff_with_the_invoice_permission_may_give_a_hold_back(world):
    appointment, invoice = book(world, hold=True)

    cancelled = billing.cancel_unpaid_hold(
        appointment=appointment, invoice=invoice, actor=staff_with("billing.change_invoice"), now=NOW
    )

    assert (cancelled.appointment.status, cancelled.invoice.status) == ("cancelled", "void")


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("another patient", "not_allowed"),
        ("staff without permission", "not_allowed"),
        ("another session's invoice", "invalid_request"),
        ("not an invoice", "invalid_request"),
        ("a booked session", "invalid_state"),
    ],
    ids=["someone-elses", "staff-flag-only", "wrong-invoice", "no-invoice", "not-a-hold"],
)
def test_a_refused_hold_cancellation_says_why_and_changes_nothing(world, case, code):
    appointment, invoice = book(world, hold=True)
    booked, booked_invoice = book(world, start=TUESDAY_11)  # the same patient's other session, booked
    actor, asked_appointment, asked_invoice = world.patient.user, appointment, invoice
    if case == "another patient":
        actor = PatientFactory().user
    elif case == "staff without permission":
        actor = StaffUserFactory()
    elif case == "another session's invoice":
        asked_invoice = booked_invoice
    elif case == "not an invoice":
        asked_invoice = invoice.pk
    elif case == "a booked session":
        asked_appointment, asked_invoice = booked, booked_invoice
    before = (state(appointment, invoice), state(booked, booked_invoice))

    with pytest.raises(PaymentError) as error:
        billing.cancel_unpaid_hold(appointment=asked_appointment, invoice=asked_invoice, actor=actor, now=NOW)

    assert error.value.code == code
    assert str(error.value.message)
    assert (state(appointment, invoice), state(booked, booked_invoice)) == before


# --- one cancellation path: the API, the admin and the booking box ----------------------------------------------


def spy(monkeypatch, module, name) -> list[dict]:
    """Record the keyword arguments of every call of ``module.name`` and run the real function."""
    real = getattr(module, name)
    calls = []

    def recording(**kwargs):
        calls.append(kwargs)
        return real(**kwargs)

    monkeypatch.setattr(module, name, recording)
    return calls


def api_cancel(user, appointment):
    client = APIClient()
    client.force_login(user)
    return client.post(f"/api/v1/appointments/{appointment.reference}/cancel/", {"reason": "Ill"}, format="json", **EN)


def admin_cancel(user, appointment):
    client = Client()
    client.force_login(user)
    return client.post(
        reverse("clinic_appointments:cancel", args=[appointment.reference]), {"cancel-reason": "Ill"}, **EN
    )


def box_cancel(user, appointment):
    client = Client()
    client.force_login(user)
    return client.post(f"/booking/pay/{appointment.reference}/", {"action": "cancel"}, **EN)


def test_the_api_cancels_through_cancel_booking(world, monkeypatch):
    appointment, invoice = book(world)
    pay_cash(world, invoice)
    calls = spy(monkeypatch, billing, "cancel_booking")
    scheduling_calls = spy(monkeypatch, scheduling, "cancel_appointment")

    response = api_cancel(world.patient.user, appointment)

    assert response.status_code == 200, response.content
    assert [(call["appointment"].pk, call["actor"], call["reason"]) for call in calls] == [
        (appointment.pk, world.patient.user, "Ill")
    ]
    assert len(scheduling_calls) == 1  # the one inside cancel_booking: the view does not cancel on its own
    assert (response.json()["status"], response.json()["refund"]) == ("cancelled", "full_refund")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.REFUNDED


def test_the_admin_cancels_through_cancel_booking(world, monkeypatch):
    appointment, invoice = book(world)
    pay_cash(world, invoice)
    receptionist = SuperuserFactory()
    calls = spy(monkeypatch, billing, "cancel_booking")
    scheduling_calls = spy(monkeypatch, scheduling, "cancel_appointment")

    with time_machine.travel(LATE, tick=False):
        response = admin_cancel(receptionist, appointment)

    assert response.status_code == 302
    assert [(call["appointment"].pk, call["actor"], call["reason"]) for call in calls] == [
        (appointment.pk, receptionist, "Ill")
    ]
    assert len(scheduling_calls) == 1
    messages = [str(message) for message in response.wsgi_request._messages]
    assert "This was a late cancellation: by the policy, nothing is refunded." in messages
    invoice.refresh_from_db()
    assert (Appointment.objects.get().status, invoice.status) == (AppointmentStatus.CANCELLED, InvoiceStatus.PAID)


def test_the_admin_says_when_the_provider_refused_the_refund(world, monkeypatch):
    appointment, invoice = book(world)
    pay_online(world, invoice)
    world.gateway.fail_on("create_refund")

    response = admin_cancel(SuperuserFactory(), appointment)

    messages = [str(message) for message in response.wsgi_request._messages]
    assert "The refund could not be made at the payment provider. Retry it from the invoice." in messages
    assert Appointment.objects.get().status == AppointmentStatus.CANCELLED


def test_the_box_gives_a_hold_back_through_cancel_unpaid_hold(world, monkeypatch):
    appointment, invoice = book(world, hold=True)
    calls = spy(monkeypatch, billing, "cancel_unpaid_hold")

    response = box_cancel(world.patient.user, appointment)

    assert response.status_code == 303
    assert [(call["appointment"].pk, call["invoice"].pk, call["actor"]) for call in calls] == [
        (appointment.pk, invoice.pk, world.patient.user)
    ]
    invoice.refresh_from_db()
    assert (Appointment.objects.get().status, invoice.status) == (AppointmentStatus.CANCELLED, InvoiceStatus.VOID)


def test_the_box_sends_the_patient_to_done_when_the_money_arrived_before_the_lock(world, monkeypatch):
    """Before billing's use case the box voided nothing here but still said "cancelled" for a paid session."""
    appointment, _invoice = book(world, hold=True)
    money_arrives_after_the_checkouts_are_closed(world, monkeypatch)

    response = box_cancel(world.patient.user, appointment)

    assert response.status_code == 302
    assert response["Location"] == f"/booking/done/{appointment.reference}/"
    assert not [str(message) for message in response.wsgi_request._messages]
    assert Appointment.objects.get().status == AppointmentStatus.CONFIRMED


def _nothing(world):
    """Stand-ins for the two use cases that cancel nothing, answering as if they had."""

    def cancel_booking(*, appointment, **kwargs):
        outcome = CancellationOutcome(appointment=appointment, refund=RefundDecision.FULL_REFUND, late=False)
        return billing.CancelledBooking(outcome=outcome)

    def cancel_unpaid_hold(*, appointment, invoice, **kwargs):
        return billing.CancelledHold(appointment=appointment, invoice=invoice)

    return {"cancel_booking": cancel_booking, "cancel_unpaid_hold": cancel_unpaid_hold}


@pytest.mark.parametrize(
    ("entry_point", "use_case", "hold"),
    [
        (api_cancel, "cancel_booking", False),
        (admin_cancel, "cancel_booking", False),
        (box_cancel, "cancel_unpaid_hold", True),
    ],
    ids=["api", "admin", "box"],
)
def test_no_entry_point_cancels_any_other_way(world, monkeypatch, entry_point, use_case, hold):
    appointment, invoice = book(world, hold=hold)
    user = SuperuserFactory() if entry_point is admin_cancel else world.patient.user
    monkeypatch.setattr(billing, use_case, _nothing(world)[use_case])
    before = state(appointment, invoice)

    response = entry_point(user, appointment)

    assert response.status_code in (200, 302, 303)
    assert state(appointment, invoice) == before


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_billing_depends_on_no_scheduling_view_and_scheduling_services_not_on_billing():
    """Scheduling's API and admin call billing's use cases, never the other way round."""
    root = Path(billing.__file__).resolve().parents[3]
    views = ("booking.scheduling.api", "booking.scheduling.admin_views", "booking.scheduling.views")

    def is_view(name: str) -> bool:
        return any(name == view or name.startswith(f"{view}.") for view in views)

    for path in (root / "booking" / "billing").rglob("*.py"):
        assert not any(is_view(name) for name in imported_modules(path)), path
    scheduling_services = imported_modules(root / "booking" / "scheduling" / "services.py")
    assert not any(name.startswith("booking.billing") for name in scheduling_services)
