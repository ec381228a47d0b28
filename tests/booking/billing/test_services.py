"""The billing services: invoicing, Stripe Checkout, offline payments, refunds, cancellations, voiding.

Stripe is the ``FakeGateway`` of ``fakes.py`` (no server); the clock is pinned with ``now=``. Every refusal is
checked for what it did not write as well as for its error code.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Permission
from wagtail.models import Site

from booking.billing import selectors, services
from booking.billing.errors import PaymentError
from booking.billing.models import (
    BillingSettings,
    CouponRedemption,
    Invoice,
    InvoiceEvent,
    InvoiceSeries,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from booking.billing.providers.stripe import StripeProvider
from booking.billing.services import invoices as invoices_module
from booking.billing.tasks import expire_stale_checkouts_task
from booking.scheduling import services as scheduling
from booking.scheduling.errors import BookingError
from booking.scheduling.models import AppointmentStatus
from booking.scheduling.services import CancellationOutcome, RefundDecision
from tests.factories.accounts import PatientFactory, UserFactory
from tests.factories.billing import CouponFactory
from tests.factories.scheduling import AppointmentFactory, LocationFactory, ServiceFactory, StaffUserFactory

from .fakes import install_fake_gateway

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)  # 09:00 in Santiago (summer time, UTC-3)
SESSION_START = datetime(2026, 12, 1, 13, tzinfo=UTC)  # the factories' default: 10:00 in Santiago
SUCCESS_URL = "https://clinic.test/billing/checkout/success/?session_id={CHECKOUT_SESSION_ID}"
CANCEL_URL = "https://clinic.test/billing/checkout/cancel/"


@pytest.fixture
def fake_gateway(monkeypatch, settings):
    return install_fake_gateway(monkeypatch, settings)


def staff_with(*codenames):
    user = StaffUserFactory()
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="billing", codename__in=codenames))
    return get_user_model().objects.get(pk=user.pk)  # a fresh instance: no cached permissions


@pytest.fixture
def cashier(db):
    return staff_with("add_invoice", "change_invoice", "add_payment", "add_refund")


def held(**kwargs):
    """A session held for payment until NOW + 15 minutes."""
    kwargs.setdefault("hold_expires_at", NOW + timedelta(minutes=15))
    return AppointmentFactory(status=AppointmentStatus.PENDING_PAYMENT, **kwargs)


def invoice_of(appointment, *, now=NOW):
    return services.create_invoice_for_appointment(appointment=appointment, actor=None, now=now)


def checkout(invoice, *, now=NOW, actor=None):
    return services.start_checkout(
        invoice=invoice,
        success_url=SUCCESS_URL,
        cancel_url=CANCEL_URL,
        actor=actor or invoice.patient.user,
        now=now,
    )


def pay_online(fake_gateway, invoice, *, now=NOW + timedelta(minutes=5), amount=None):
    """The patient goes through Checkout and the webhook confirms it."""
    payment = checkout(invoice, now=NOW)
    session = fake_gateway.pay(payment.provider_reference, amount=amount)
    return services.confirm_payment(
        payment=payment,
        payment_reference=session.payment_intent_id,
        data={"charge": "ch_test_1"},
        amount=session.amount_total,
        now=now,
    )


def time_already_taken(**kwargs):
    """Stands in for ``confirm_appointment`` when the hold expired and someone else booked the time."""
    raise BookingError("slot_unavailable")


def actions(invoice) -> list[str]:
    return list(InvoiceEvent.objects.filter(invoice=invoice).order_by("pk").values_list("action", flat=True))


def stored_state(invoice) -> dict:
    """Everything a refused service must leave as it was."""
    invoice = Invoice.objects.get(pk=invoice.pk)
    return {
        "invoice": (
            invoice.status,
            invoice.total,
            invoice.discount_total,
            invoice.amount_paid,
            invoice.amount_refunded,
            invoice.tax_document_type,
            invoice.tax_document_folio,
        ),
        "events": InvoiceEvent.objects.count(),
        "payments": list(Payment.objects.order_by("pk").values_list("status", "amount")),
        "refunds": list(Refund.objects.order_by("pk").values_list("status", "amount")),
        "redemptions": CouponRedemption.objects.count(),
        "next_number": InvoiceSeries.objects.get(code="default").next_number,
    }


def next_number() -> int:
    return InvoiceSeries.objects.get(code="default").next_number


# --- create_invoice_for_appointment ---------------------------------------------------------------------------


def test_invoice_snapshots_the_patient_and_issues_a_numbered_open_invoice():
    BillingSettings.objects.create(
        site=Site.objects.get(is_default_site=True), payment_due_days=5, default_tax_document_type="34"
    )
    user = UserFactory(first_name="Ana", last_name="Rojas", email="ana@example.com", preferred_language="en")
    patient = PatientFactory(user=user, rut="12.345.678-5", phone="+56 9 1234 5678")
    service = ServiceFactory(name="Psicoterapia")
    appointment = AppointmentFactory(
        patient=patient, service=service, location=LocationFactory(), modality="in_person", price=Decimal("42000")
    )
    expected_number = next_number()

    invoice = services.create_invoice_for_appointment(appointment=appointment, actor=user, now=NOW)

    assert invoice.status == InvoiceStatus.OPEN
    assert invoice.number == expected_number
    assert invoice.display_number == f"B-{expected_number:06d}"
    assert next_number() == expected_number + 1
    assert invoice.issued_at == NOW
    assert (invoice.billing_name, invoice.billing_email, invoice.billing_phone, invoice.billing_tax_id) == (
        "Ana Rojas",
        "ana@example.com",
        "+56 9 1234 5678",
        "12.345.678-5",
    )
    assert invoice.language == "en"
    assert invoice.currency == "CLP"
    assert invoice.due_date == date(2026, 12, 6)
    assert invoice.tax_document_type == "34"
    assert (invoice.subtotal, invoice.discount_total, invoice.total, invoice.balance_due) == (
        Decimal("42000"),
        Decimal("0"),
        Decimal("42000"),
        Decimal("42000"),
    )
    (line,) = invoice.lines.all()
    assert line.description == f"Psicoterapia · {appointment.professional} · 2026-12-01 10:00"
    assert (line.kind, line.quantity, line.unit_price, line.total) == (
        "appointment",
        1,
        Decimal("42000"),
        Decimal("42000"),
    )
    assert (line.appointment, line.service) == (appointment, service)
    assert actions(invoice) == ["created", "issued"]
    assert invoice.events.last().to_status == "open"


def test_invoice_defaults_without_billing_settings_spanish_and_email_as_name():
    user = UserFactory(first_name="", last_name="", email="sin.nombre@example.com")  # preferred_language es-cl
    appointment = AppointmentFactory(patient=PatientFactory(user=user))

    invoice = invoice_of(appointment)

    assert invoice.billing_name == "sin.nombre@example.com"
    assert invoice.billing_tax_id == ""
    assert invoice.language == "es"
    assert invoice.due_date == date(2026, 12, 1)  # payment_due_days 0: the day of the session
    assert invoice.tax_document_type == "41"


def test_invoice_without_any_wagtail_site_still_uses_the_defaults():
    Site.objects.all().delete()

    invoice = invoice_of(AppointmentFactory())

    assert invoice.status == InvoiceStatus.OPEN
    assert invoice.due_date == date(2026, 12, 1)


@pytest.mark.parametrize(
    ("start", "time_zone", "local"),
    [
        (datetime(2026, 12, 1, 13, tzinfo=UTC), "America/Santiago", "2026-12-01 10:00"),
        (datetime(2026, 7, 1, 13, tzinfo=UTC), "America/Santiago", "2026-07-01 09:00"),
        (datetime(2026, 7, 1, 13, tzinfo=UTC), "America/Punta_Arenas", "2026-07-01 10:00"),
        (datetime(2026, 12, 2, 2, 30, tzinfo=UTC), "America/Santiago", "2026-12-01 23:30"),
    ],
    ids=["summer-utc-3", "winter-utc-4", "location-zone-without-dst", "local-date-before-utc-date"],
)
def test_line_and_due_date_use_the_sessions_local_time(start, time_zone, local):
    appointment = AppointmentFactory(start=start, location=LocationFactory(time_zone=time_zone), modality="in_person")

    invoice = invoice_of(appointment, now=start - timedelta(days=10))

    assert invoice.lines.get().description.endswith(local)
    assert invoice.due_date.isoformat() == local[:10]


def test_online_session_uses_the_clinic_time_zone():
    appointment = AppointmentFactory(start=datetime(2026, 7, 1, 13, tzinfo=UTC), location=None)

    invoice = invoice_of(appointment, now=datetime(2026, 6, 1, tzinfo=UTC))

    assert invoice.lines.get().description.endswith("2026-07-01 09:00")


def test_invoicing_twice_returns_the_same_invoice_and_spends_one_number():
    appointment = AppointmentFactory()
    first = invoice_of(appointment)
    number_after_first = next_number()

    second = invoice_of(appointment, now=NOW + timedelta(hours=1))

    assert second.pk == first.pk
    assert next_number() == number_after_first
    assert Invoice.objects.count() == 1


def test_a_void_invoice_does_not_stop_a_new_one_for_the_session():
    appointment = AppointmentFactory()
    first = invoice_of(appointment)
    services.void_invoice(invoice=first, actor=None, reason="wrong price", now=NOW)

    second = invoice_of(appointment)

    assert second.pk != first.pk
    assert second.number == first.number + 1
    assert selectors.invoice_for_appointment(appointment) == second


def test_a_free_session_gets_a_paid_invoice_and_its_hold_is_confirmed():
    appointment = held(price=Decimal("0"))

    invoice = invoice_of(appointment)

    appointment.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.total == Decimal("0")
    assert invoice.paid_at == NOW
    assert invoice.number is not None
    assert appointment.status == AppointmentStatus.CONFIRMED
    assert Payment.objects.count() == 0


def test_a_failure_while_issuing_rolls_back_the_invoice_and_gives_the_number_back(monkeypatch):
    appointment = AppointmentFactory()
    before = next_number()
    real_log = invoices_module._log

    def failing_log(invoice, action, **kwargs):
        if action == InvoiceEvent.Action.ISSUED:
            raise RuntimeError("disk full")
        return real_log(invoice, action, **kwargs)

    monkeypatch.setattr(invoices_module, "_log", failing_log)

    with pytest.raises(RuntimeError):
        invoice_of(appointment)

    assert next_number() == before
    assert Invoice.objects.count() == 0
    assert InvoiceEvent.objects.count() == 0


@pytest.mark.parametrize(
    "who",
    ["another_patient", "staff_without_permission", "anonymous"],
    ids=["another-patient", "staff-without-add-invoice", "anonymous-visitor"],
)
def test_only_the_patient_staff_or_the_system_may_invoice_a_session(who):
    appointment = AppointmentFactory()
    actor = {
        "another_patient": lambda: PatientFactory().user,
        "staff_without_permission": lambda: StaffUserFactory(),
        "anonymous": AnonymousUser,
    }[who]()
    before = next_number()

    with pytest.raises(PaymentError) as error:
        services.create_invoice_for_appointment(appointment=appointment, actor=actor, now=NOW)

    assert error.value.code == "not_allowed"
    assert Invoice.objects.count() == 0
    assert next_number() == before


def test_staff_with_permission_may_invoice_and_is_recorded(cashier):
    invoice = services.create_invoice_for_appointment(appointment=AppointmentFactory(), actor=cashier, now=NOW)

    assert invoice.created_by == cashier
    assert set(invoice.events.values_list("actor", flat=True)) == {cashier.pk}


@pytest.mark.parametrize(
    "status", ["cancelled", "no_show_professional"], ids=["cancelled", "professional-did-not-come"]
)
def test_a_session_that_is_not_owed_cannot_be_invoiced(status):
    with pytest.raises(PaymentError) as error:
        invoice_of(AppointmentFactory(status=status))

    assert error.value.code == "invalid_state"
    assert Invoice.objects.count() == 0


def test_usd_session_gives_a_usd_invoice():
    invoice = invoice_of(AppointmentFactory(price=Decimal("80.50"), currency="USD"))

    assert (invoice.currency, invoice.total) == ("USD", Decimal("80.50"))


# --- start_checkout ----------------------------------------------------------------------------------------------


def test_start_checkout_opens_a_stripe_session_for_the_balance(fake_gateway):
    appointment = held(hold_expires_at=NOW + timedelta(minutes=15))
    invoice = invoice_of(appointment)

    payment = checkout(invoice)

    assert (payment.status, payment.method, payment.provider, payment.amount, payment.currency) == (
        "pending",
        "online",
        "stripe",
        Decimal("35000"),
        "CLP",
    )
    assert payment.provider_reference == "cs_test_1"
    assert payment.checkout_url == "https://checkout.stripe.test/c/pay/cs_test_1"
    # Stripe's 30-minute minimum plus the margin (StripeProvider.checkout_min_lifetime), though the hold is shorter
    assert payment.expires_at == NOW + timedelta(minutes=31)
    (call,) = fake_gateway.calls_of("create_checkout_session")
    assert call["client_reference_id"] == invoice.reference
    assert call["metadata"] == {"invoice": invoice.reference, "payment": str(payment.pk)}
    assert call["idempotency_key"] == f"checkout-{payment.pk}"
    assert (call["amount"], call["currency"], call["locale"]) == (Decimal("35000"), "CLP", "es")
    assert call["customer_email"] == invoice.billing_email
    assert (call["success_url"], call["cancel_url"]) == (SUCCESS_URL, CANCEL_URL)
    assert call["line_description"].startswith(invoice.display_number)
    assert actions(invoice)[-1] == "checkout_started"


def test_checkout_lasts_as_long_as_a_longer_hold(fake_gateway):
    invoice = invoice_of(held(hold_expires_at=NOW + timedelta(minutes=45)))

    payment = checkout(invoice)

    assert payment.expires_at == NOW + timedelta(minutes=45)
    assert fake_gateway.calls_of("create_checkout_session")[0]["expires_at"] == NOW + timedelta(minutes=45)


def test_a_second_click_reuses_the_open_checkout(fake_gateway):
    invoice = invoice_of(held())
    first = checkout(invoice)

    second = checkout(invoice, now=NOW + timedelta(minutes=2))

    assert second.pk == first.pk
    assert len(fake_gateway.calls_of("create_checkout_session")) == 1
    assert Payment.objects.count() == 1


def test_a_new_amount_opens_a_new_checkout_and_closes_the_old_one(fake_gateway):
    CouponFactory(code="HALF", value=Decimal("50"))
    invoice = invoice_of(held())
    first = checkout(invoice)
    services.apply_coupon(invoice=invoice, code="half", actor=invoice.patient.user, now=NOW + timedelta(minutes=1))

    second = checkout(invoice, now=NOW + timedelta(minutes=2))

    first.refresh_from_db()
    assert second.pk != first.pk
    assert second.amount == Decimal("17500")
    assert first.status == PaymentStatus.CANCELLED
    assert fake_gateway.sessions[first.provider_reference].status == "expired"


def test_an_expired_checkout_is_not_reused(fake_gateway):
    invoice = invoice_of(AppointmentFactory())  # confirmed, paid later: no hold
    first = checkout(invoice)

    second = checkout(invoice, now=first.expires_at)

    assert second.pk != first.pk
    first.refresh_from_db()
    assert first.status == PaymentStatus.CANCELLED


@pytest.mark.parametrize("released", [False, True], ids=["hold-ran-out", "hold-given-back"])
def test_checkout_for_a_hold_that_ran_out_is_refused(fake_gateway, released):
    appointment = held(hold_expires_at=NOW + timedelta(minutes=15))
    invoice = invoice_of(appointment)
    later = NOW + timedelta(minutes=15)
    if released:
        scheduling.release_expired_holds(now=later)
    before = stored_state(invoice)

    with pytest.raises(PaymentError) as error:
        checkout(invoice, now=later)

    assert error.value.code == "hold_expired"
    assert stored_state(invoice) == before
    assert fake_gateway.calls_of("create_checkout_session") == []


def test_checkout_is_refused_when_stripe_is_off(settings):
    settings.STRIPE_ENABLED = False
    invoice = invoice_of(held())
    before = stored_state(invoice)

    with pytest.raises(PaymentError) as error:
        checkout(invoice)

    assert error.value.code == "payments_unavailable"
    assert stored_state(invoice) == before


@pytest.mark.parametrize(
    ("make_unpayable", "code"),
    [
        (
            lambda invoice: services.void_invoice(invoice=invoice, actor=None, reason="duplicate", now=NOW),
            "invalid_state",
        ),
        (
            lambda invoice: services.record_offline_payment(
                invoice=invoice, method="cash", amount=invoice.total, actor=staff_with("add_payment"), now=NOW
            ),
            "invalid_state",
        ),
    ],
    ids=["void", "already-paid"],
)
def test_checkout_of_an_invoice_that_is_not_payable_is_refused(fake_gateway, make_unpayable, code):
    invoice = invoice_of(AppointmentFactory())
    make_unpayable(invoice)
    before = stored_state(invoice)

    with pytest.raises(PaymentError) as error:
        checkout(invoice)

    assert error.value.code == code
    assert stored_state(invoice) == before
    assert fake_gateway.calls_of("create_checkout_session") == []


def test_another_patient_cannot_start_a_checkout(fake_gateway):
    invoice = invoice_of(held())

    with pytest.raises(PaymentError) as error:
        checkout(invoice, actor=PatientFactory().user)

    assert error.value.code == "not_allowed"
    assert Payment.objects.count() == 0


def test_a_stripe_failure_cancels_the_attempt_and_keeps_the_hold(fake_gateway):
    appointment = held()
    invoice = invoice_of(appointment)
    fake_gateway.fail_on("create_checkout_session")

    with pytest.raises(PaymentError) as error:
        checkout(invoice)

    assert error.value.code == "provider_error"
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.CANCELLED
    assert "unreachable" in payment.failure_message
    assert "checkout_started" not in actions(invoice)
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.PENDING_PAYMENT

    fake_gateway.recover("create_checkout_session")
    retry = checkout(invoice, now=NOW + timedelta(minutes=1))
    assert retry.status == PaymentStatus.PENDING
    assert retry.checkout_url


# --- confirm_payment ---------------------------------------------------------------------------------------------


def test_confirmed_payment_pays_the_invoice_and_confirms_the_hold(fake_gateway):
    appointment = held()
    invoice = invoice_of(appointment)

    payment = pay_online(fake_gateway, invoice, now=NOW + timedelta(minutes=5))

    invoice.refresh_from_db()
    appointment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.received_at == NOW + timedelta(minutes=5)
    assert payment.provider_payment_reference.startswith("pi_test_")
    assert payment.provider_charge_reference == "ch_test_1"
    assert (invoice.status, invoice.amount_paid, invoice.balance_due) == ("paid", Decimal("35000"), Decimal("0"))
    assert invoice.paid_at == NOW + timedelta(minutes=5)
    assert appointment.status == AppointmentStatus.CONFIRMED
    assert actions(invoice)[-2:] == ["payment_recorded", "issued"]  # a hold's invoice is numbered once paid
    assert selectors.payment_for_checkout(payment.provider_reference, provider="stripe") == payment
    assert selectors.payment_for_provider_payment(payment.provider_payment_reference, provider="stripe") == payment
    assert services.payment_for_provider_payment("", provider="stripe") is None
    assert services.payment_for_checkout("cs_unknown", provider="stripe") is None


def test_confirm_payment_twice_records_the_money_once(fake_gateway):
    invoice = invoice_of(held())
    payment = pay_online(fake_gateway, invoice)
    events = actions(invoice)

    again = services.confirm_payment(
        payment=payment, payment_reference=payment.provider_payment_reference, now=NOW + timedelta(minutes=9)
    )

    invoice.refresh_from_db()
    assert again.received_at == payment.received_at
    assert invoice.amount_paid == Decimal("35000")
    assert actions(invoice) == events


def test_a_later_event_adds_the_charge_id_without_recording_the_money_again(fake_gateway):
    invoice = invoice_of(held())
    payment = checkout(invoice)
    services.confirm_payment(payment=payment, payment_reference="pi_1", now=NOW)
    events = actions(invoice)

    again = services.confirm_payment(
        payment=payment,
        payment_reference="pi_1",
        data={"charge": "ch_1"},
        amount="35000",
        now=NOW + timedelta(seconds=3),
    )

    invoice.refresh_from_db()
    assert (again.provider_payment_reference, again.provider_charge_reference) == ("pi_1", "ch_1")
    assert again.received_at == NOW
    assert invoice.amount_paid == Decimal("35000")
    assert actions(invoice) == events


def test_a_smaller_amount_received_is_recorded_and_the_session_stays_held(fake_gateway):
    appointment = held()
    invoice = invoice_of(appointment)

    payment = pay_online(fake_gateway, invoice, amount=Decimal("30000"))

    invoice.refresh_from_db()
    appointment.refresh_from_db()
    assert payment.amount == Decimal("30000")
    assert (invoice.status, invoice.amount_paid, invoice.balance_due) == ("open", Decimal("30000"), Decimal("5000"))
    assert appointment.status == AppointmentStatus.PENDING_PAYMENT


def test_money_for_a_time_taken_meanwhile_is_refunded_and_nothing_is_double_booked(fake_gateway, monkeypatch):
    appointment = held()
    invoice = invoice_of(appointment)

    monkeypatch.setattr(scheduling, "confirm_appointment", time_already_taken)

    payment = pay_online(fake_gateway, invoice, now=NOW + timedelta(minutes=20))

    invoice.refresh_from_db()
    appointment.refresh_from_db()
    refund = payment.refunds.get()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert (refund.status, refund.amount, refund.actor) == ("succeeded", Decimal("35000"), None)
    assert refund.reason == services.REASON_TIME_TAKEN
    assert refund.provider_reference.startswith("re_test_")
    (call,) = fake_gateway.calls_of("create_refund")
    assert call["payment_intent_id"] == payment.provider_payment_reference
    assert call["idempotency_key"] == f"refund-{refund.pk}"
    assert (invoice.status, invoice.amount_paid, invoice.amount_refunded) == (
        "refunded",
        Decimal("35000"),
        Decimal("35000"),
    )
    assert appointment.status == AppointmentStatus.CANCELLED
    assert appointment.cancellation_reason == services.REASON_TIME_TAKEN


def test_money_for_a_hold_released_and_rebooked_by_someone_else_is_refunded(fake_gateway):
    appointment = held(hold_expires_at=NOW + timedelta(minutes=15))
    invoice = invoice_of(appointment)
    payment = checkout(invoice)
    later = NOW + timedelta(minutes=16)
    scheduling.release_expired_holds(now=later)
    rival = AppointmentFactory(professional=appointment.professional, start=appointment.start)
    session = fake_gateway.pay(payment.provider_reference)

    payment = services.confirm_payment(payment=payment, payment_reference=session.payment_intent_id, now=later)

    invoice.refresh_from_db()
    appointment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert invoice.status == InvoiceStatus.REFUNDED
    assert appointment.status == AppointmentStatus.CANCELLED
    assert rival.status == AppointmentStatus.CONFIRMED


def test_money_for_a_void_invoice_is_refunded(fake_gateway):
    invoice = invoice_of(held())
    payment = checkout(invoice)
    services.void_invoice(invoice=invoice, actor=None, reason="booked twice", now=NOW + timedelta(minutes=1))
    session = fake_gateway.sessions[payment.provider_reference]
    assert session.status == "expired"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED

    # the patient had already submitted the card: Stripe took the money anyway
    payment = services.confirm_payment(payment=payment, payment_reference="pi_late", now=NOW + timedelta(minutes=2))

    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.refunds.get().reason == services.REASON_VOID_INVOICE
    assert (invoice.status, invoice.amount_paid, invoice.amount_refunded) == (
        "void",
        Decimal("35000"),
        Decimal("35000"),
    )


def test_paying_online_after_paying_at_the_desk_refunds_the_second_payment(fake_gateway, cashier):
    appointment = held()
    invoice = invoice_of(appointment)
    payment = checkout(invoice)
    services.record_offline_payment(
        invoice=invoice, method="cash", amount=Decimal("35000"), actor=cashier, now=NOW + timedelta(minutes=1)
    )

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED  # paying at the desk closed the open checkout
    assert fake_gateway.sessions[payment.provider_reference].status == "expired"

    # the patient had already submitted the card: Stripe took the money anyway
    payment = services.confirm_payment(payment=payment, payment_reference="pi_twice", now=NOW + timedelta(minutes=2))

    invoice.refresh_from_db()
    refund = payment.refunds.get()
    assert (refund.amount, refund.reason) == (Decimal("35000"), services.REASON_ALREADY_SETTLED)
    assert (invoice.amount_paid, invoice.amount_refunded, invoice.status) == (
        Decimal("70000"),
        Decimal("35000"),
        "partially_refunded",
    )


def test_an_old_checkout_paid_after_a_discount_gives_the_difference_back(fake_gateway):
    CouponFactory(code="HALF", value=Decimal("50"))
    appointment = held()
    invoice = invoice_of(appointment)
    old = checkout(invoice)
    services.apply_coupon(invoice=invoice, code="HALF", actor=invoice.patient.user, now=NOW + timedelta(minutes=1))
    session = fake_gateway.pay(old.provider_reference)  # the old tab was still open

    payment = services.confirm_payment(
        payment=old, payment_reference=session.payment_intent_id, amount=session.amount_total, now=NOW
    )

    invoice.refresh_from_db()
    appointment.refresh_from_db()
    refund = payment.refunds.get()
    assert (refund.amount, refund.reason) == (Decimal("17500"), services.REASON_OVERPAID)
    assert (invoice.total, invoice.amount_paid, invoice.amount_refunded) == (
        Decimal("17500"),
        Decimal("35000"),
        Decimal("17500"),
    )
    assert appointment.status == AppointmentStatus.CONFIRMED


def test_paying_an_older_checkout_closes_the_newer_one(fake_gateway):
    CouponFactory(code="HALF", value=Decimal("50"))
    invoice = invoice_of(held())
    older = checkout(invoice)
    services.apply_coupon(invoice=invoice, code="HALF", actor=invoice.patient.user, now=NOW)
    newer = checkout(invoice, now=NOW + timedelta(minutes=1))
    session = fake_gateway.pay(older.provider_reference, amount=Decimal("17500"))

    services.confirm_payment(payment=older, payment_reference=session.payment_intent_id, amount="17500", now=NOW)

    newer.refresh_from_db()
    assert newer.status == PaymentStatus.CANCELLED
    assert fake_gateway.sessions[newer.provider_reference].status == "expired"
    assert Refund.objects.count() == 0


def test_a_refund_that_fails_while_confirming_keeps_the_payment_and_leaves_a_failed_refund(fake_gateway, monkeypatch):
    invoice = invoice_of(held())
    monkeypatch.setattr(scheduling, "confirm_appointment", time_already_taken)
    fake_gateway.fail_on("create_refund")

    payment = pay_online(fake_gateway, invoice)

    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.refunds.get().status == RefundStatus.FAILED
    assert (invoice.status, invoice.amount_refunded) == ("paid", Decimal("0"))
    assert payment.refundable_amount == Decimal("35000")  # staff can retry from the admin


def test_a_payment_intent_already_recorded_elsewhere_is_refused(fake_gateway):
    first = pay_online(fake_gateway, invoice_of(held()))
    other_invoice = invoice_of(held())
    other = checkout(other_invoice)
    before = stored_state(other_invoice)

    with pytest.raises(PaymentError) as error:
        services.confirm_payment(payment=other, payment_reference=first.provider_payment_reference, now=NOW)

    assert error.value.code == "invalid_request"
    assert stored_state(other_invoice) == before


@pytest.mark.parametrize(
    "amount", ["0", "-1", "abc", "100.5"], ids=["zero", "negative", "not-a-number", "cents-in-clp"]
)
def test_confirm_payment_refuses_an_impossible_amount(fake_gateway, amount):
    invoice = invoice_of(held())
    payment = checkout(invoice)
    before = stored_state(invoice)

    with pytest.raises(PaymentError) as error:
        services.confirm_payment(payment=payment, amount=amount, now=NOW)

    assert error.value.code == "invalid_amount"
    assert stored_state(invoice) == before


# --- fail_payment and expire_checkout ---------------------------------------------------------------------------


def test_a_declined_payment_fails_and_the_patient_may_retry_while_held(fake_gateway):
    appointment = held()
    invoice = invoice_of(appointment)
    payment = checkout(invoice)

    failed = services.fail_payment(payment=payment, message="Your card was declined.", now=NOW + timedelta(minutes=1))

    appointment.refresh_from_db()
    assert (failed.status, failed.failure_message) == ("failed", "Your card was declined.")
    assert actions(invoice)[-1] == "payment_failed"
    assert appointment.status == AppointmentStatus.PENDING_PAYMENT
    assert checkout(invoice, now=NOW + timedelta(minutes=2)).pk != payment.pk


def test_fail_payment_does_not_undo_a_success(fake_gateway):
    payment = pay_online(fake_gateway, invoice_of(held()))

    assert services.fail_payment(payment=payment, message="late", now=NOW).status == PaymentStatus.SUCCEEDED


def test_an_expired_checkout_cancels_the_payment_and_releases_the_hold(fake_gateway):
    appointment = held()
    invoice = invoice_of(appointment)
    payment = checkout(invoice)

    expired = services.expire_checkout(payment=payment, now=NOW + timedelta(minutes=31))
    again = services.expire_checkout(payment=payment, now=NOW + timedelta(minutes=32))

    appointment.refresh_from_db()
    invoice.refresh_from_db()
    assert expired.status == again.status == PaymentStatus.CANCELLED
    assert appointment.status == AppointmentStatus.CANCELLED
    assert appointment.cancellation_reason == services.REASON_CHECKOUT_NOT_COMPLETED
    assert actions(invoice) == ["created", "checkout_started", "checkout_expired", "voided"]  # never numbered
    assert invoice.status == InvoiceStatus.VOID  # nothing is owed for a session that does not exist
    assert invoice.events.last().reason == services.REASON_HOLD_LAPSED


def test_expiring_a_succeeded_payment_changes_nothing(fake_gateway):
    appointment = held()
    payment = pay_online(fake_gateway, invoice_of(appointment))

    services.expire_checkout(payment=payment, now=NOW + timedelta(hours=1))

    payment.refresh_from_db()
    appointment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert appointment.status == AppointmentStatus.CONFIRMED


def test_expiring_a_failed_attempt_releases_the_hold_unless_a_newer_checkout_is_open(fake_gateway):
    appointment = held(hold_expires_at=NOW + timedelta(hours=1))
    invoice = invoice_of(appointment)
    first = checkout(invoice)
    services.fail_payment(payment=first, message="declined", now=NOW)
    checkout(invoice, now=NOW + timedelta(minutes=1))  # the patient tries again

    services.expire_checkout(payment=first, now=NOW + timedelta(minutes=2))

    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.PENDING_PAYMENT


# --- expire_stale_checkouts -------------------------------------------------------------------------------------


def test_stale_checkouts_are_expired_at_stripe_and_here(fake_gateway):
    appointment = held(hold_expires_at=NOW + timedelta(minutes=15))
    invoice = invoice_of(appointment)
    payment = checkout(invoice)
    fresh = checkout(invoice_of(held(hold_expires_at=NOW + timedelta(hours=2))))

    assert services.expire_stale_checkouts(now=NOW + timedelta(minutes=10)) == 0
    count = services.expire_stale_checkouts(now=NOW + timedelta(minutes=16))  # the hold ran out first

    payment.refresh_from_db()
    fresh.refresh_from_db()
    appointment.refresh_from_db()
    assert count == 1
    assert payment.status == PaymentStatus.CANCELLED
    assert fake_gateway.sessions[payment.provider_reference].status == "expired"
    assert appointment.status == AppointmentStatus.CANCELLED
    assert fresh.status == PaymentStatus.PENDING


def test_a_checkout_past_its_own_deadline_is_expired(fake_gateway):
    appointment = AppointmentFactory()  # a confirmed session paid later: no hold
    payment = checkout(invoice_of(appointment))

    assert services.expire_stale_checkouts(now=payment.expires_at) == 1

    payment.refresh_from_db()
    appointment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert appointment.status == AppointmentStatus.CONFIRMED


def test_a_stale_checkout_stays_pending_while_stripe_is_unreachable(fake_gateway):
    payment = checkout(invoice_of(held()))
    fake_gateway.fail_on("expire_checkout_session")
    fake_gateway.fail_on("retrieve_checkout_session")

    assert services.expire_stale_checkouts(now=NOW + timedelta(hours=1)) == 0
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING

    fake_gateway.recover("expire_checkout_session")
    assert services.expire_stale_checkouts(now=NOW + timedelta(hours=1, minutes=1)) == 1


def test_a_stale_checkout_that_stripe_reports_paid_is_confirmed_instead(fake_gateway):
    appointment = held(hold_expires_at=NOW + timedelta(minutes=40))
    invoice = invoice_of(appointment)
    payment = checkout(invoice)
    fake_gateway.pay(payment.provider_reference)  # the webhook has not arrived

    assert services.expire_stale_checkouts(now=NOW + timedelta(minutes=41)) == 0  # expired hold, time still free

    payment.refresh_from_db()
    invoice.refresh_from_db()
    appointment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert invoice.status == InvoiceStatus.PAID
    assert appointment.status == AppointmentStatus.CONFIRMED


def test_the_periodic_task_expires_stale_checkouts_and_voids_abandoned_holds(fake_gateway):
    with_checkout = invoice_of(held())
    payment = checkout(with_checkout)
    abandoned = invoice_of(held())  # chose a time, never clicked "pay"

    with time_machine.travel(NOW + timedelta(minutes=16), tick=False):
        scheduling.release_expired_holds()
        assert expire_stale_checkouts_task.call_local() == 1

    payment.refresh_from_db()
    with_checkout.refresh_from_db()
    abandoned.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert with_checkout.status == abandoned.status == InvoiceStatus.VOID


def test_only_invoices_of_holds_given_back_unpaid_are_voided(fake_gateway, cashier):
    later = NOW + timedelta(minutes=16)
    abandoned = invoice_of(held())
    still_held = invoice_of(held(hold_expires_at=NOW + timedelta(hours=1)))
    confirmed = invoice_of(AppointmentFactory())
    late_cancelled_session = AppointmentFactory()
    late_cancelled = invoice_of(late_cancelled_session)
    patient = late_cancelled_session.patient.user
    scheduling.cancel_appointment(
        appointment=late_cancelled_session, actor=patient, now=SESSION_START - timedelta(hours=1)
    )
    paying = invoice_of(held(hold_expires_at=NOW + timedelta(hours=1)))
    checkout(paying)
    part_paid = invoice_of(AppointmentFactory(status="pending_payment", hold_expires_at=NOW + timedelta(minutes=15)))
    services.record_offline_payment(invoice=part_paid, method="cash", amount="100", actor=cashier, now=NOW)
    scheduling.release_expired_holds(now=later)
    scheduling.release_hold(appointment=paying.lines.get().appointment, now=later)  # while its checkout is open

    assert services.void_lapsed_hold_invoices(now=later) == 1

    statuses = {
        name: Invoice.objects.get(pk=invoice.pk).status
        for name, invoice in {
            "abandoned": abandoned,
            "still_held": still_held,
            "confirmed": confirmed,
            "late_cancelled": late_cancelled,
            "paying": paying,
            "part_paid": part_paid,
        }.items()
    }
    assert statuses == {
        "abandoned": "void",
        "still_held": "open",
        "confirmed": "open",
        "late_cancelled": "open",
        "paying": "open",
        "part_paid": "open",
    }
    assert services.void_lapsed_hold_invoices(now=later) == 0


# --- record_offline_payment --------------------------------------------------------------------------------------


def test_cash_at_the_desk_pays_the_invoice_and_confirms_the_hold(cashier):
    appointment = held()
    invoice = invoice_of(appointment)

    payment = services.record_offline_payment(
        invoice=invoice,
        method="transfer",
        amount="35000",
        actor=cashier,
        external_reference="TRX-991",
        received_at=NOW - timedelta(hours=1),
        now=NOW,
    )

    invoice.refresh_from_db()
    appointment.refresh_from_db()
    assert (payment.status, payment.method, payment.amount, payment.external_reference) == (
        "succeeded",
        "transfer",
        Decimal("35000"),
        "TRX-991",
    )
    assert (payment.received_at, payment.recorded_by) == (NOW - timedelta(hours=1), cashier)
    assert (invoice.status, invoice.amount_paid) == ("paid", Decimal("35000"))
    assert appointment.status == AppointmentStatus.CONFIRMED
    assert actions(invoice)[-2:] == ["payment_recorded", "issued"]  # a hold's invoice is numbered once paid
    event = invoice.events.get(action="payment_recorded")
    assert (event.action, event.actor, event.from_status, event.to_status) == (
        "payment_recorded",
        cashier,
        "open",
        "paid",
    )
    assert event.data["amount"] == "35000"


def test_a_partial_offline_payment_leaves_the_rest_owed(cashier):
    invoice = invoice_of(AppointmentFactory(price=Decimal("80.00"), currency="USD"))

    services.record_offline_payment(invoice=invoice, method="cash", amount=Decimal("30.50"), actor=cashier, now=NOW)

    invoice.refresh_from_db()
    assert (invoice.status, invoice.balance_due) == ("open", Decimal("49.50"))


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"amount": "0"}, "invalid_amount"),
        ({"amount": "-100"}, "invalid_amount"),
        ({"amount": "treinta"}, "invalid_amount"),
        ({"amount": "100.5"}, "invalid_amount"),
        ({"amount": "35001"}, "amount_above_balance"),
        ({"method": "stripe"}, "invalid_request"),
        ({"method": "bitcoin"}, "invalid_request"),
        ({"received_at": NOW + timedelta(days=1)}, "invalid_request"),
        ({"received_at": datetime(2026, 11, 20, 9)}, "invalid_request"),
        ({"external_reference": "x" * 101}, "invalid_request"),
        ({"actor": "patient"}, "not_allowed"),
        ({"actor": "staff_without_permission"}, "not_allowed"),
        ({"actor": None}, "not_allowed"),
    ],
    ids=[
        "zero",
        "negative",
        "not-a-number",
        "cents-in-clp",
        "more-than-owed",
        "stripe-is-not-offline",
        "unknown-method",
        "received-in-the-future",
        "naive-received-at",
        "reference-too-long",
        "patient",
        "staff-without-add-payment",
        "system",
    ],
)
def test_offline_payment_rules(cashier, changes, code):
    invoice = invoice_of(held())
    actors = {"patient": invoice.patient.user, "staff_without_permission": StaffUserFactory(), None: None}
    arguments = {"invoice": invoice, "method": "cash", "amount": "35000", "actor": cashier, "now": NOW}
    arguments.update(changes)
    if "actor" in changes:
        arguments["actor"] = actors[changes["actor"]]
    before = stored_state(invoice)

    with pytest.raises(PaymentError) as error:
        services.record_offline_payment(**arguments)

    assert error.value.code == code
    assert stored_state(invoice) == before


def test_offline_payment_of_a_paid_or_void_invoice_is_refused(cashier):
    paid = invoice_of(AppointmentFactory())
    services.record_offline_payment(invoice=paid, method="cash", amount="35000", actor=cashier, now=NOW)
    void = invoice_of(AppointmentFactory())
    services.void_invoice(invoice=void, actor=cashier, reason="duplicate", now=NOW)

    for invoice in (paid, void):
        with pytest.raises(PaymentError) as error:
            services.record_offline_payment(invoice=invoice, method="cash", amount="1", actor=cashier, now=NOW)
        assert error.value.code == "invalid_state"


def test_offline_payment_for_a_time_taken_meanwhile_is_not_recorded(cashier, monkeypatch):
    appointment = held()
    invoice = invoice_of(appointment)
    before = stored_state(invoice)
    monkeypatch.setattr(scheduling, "confirm_appointment", time_already_taken)

    with pytest.raises(PaymentError) as error:
        services.record_offline_payment(invoice=invoice, method="cash", amount="35000", actor=cashier, now=NOW)

    assert error.value.code == "slot_unavailable"
    assert stored_state(invoice) == before
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.PENDING_PAYMENT


# --- refunds -----------------------------------------------------------------------------------------------------


def test_an_offline_refund_is_done_at_once(cashier):
    invoice = invoice_of(AppointmentFactory())
    payment = services.record_offline_payment(invoice=invoice, method="cash", amount="35000", actor=cashier, now=NOW)

    partial = services.refund_payment(payment=payment, amount="5000", reason="late start", actor=cashier, now=NOW)
    invoice.refresh_from_db()
    assert (partial.status, partial.completed_at, partial.actor) == ("succeeded", NOW, cashier)
    assert (invoice.status, invoice.amount_refunded) == ("partially_refunded", Decimal("5000"))

    rest = services.refund_payment(payment=payment, reason="session not held", actor=cashier, now=NOW)
    invoice.refresh_from_db()
    assert rest.amount == Decimal("30000")
    assert (invoice.status, invoice.amount_refunded) == ("refunded", Decimal("35000"))
    event = invoice.events.last()
    assert (event.action, event.reason, event.data["amount"]) == ("refunded", "session not held", "30000")


def test_a_stripe_refund_is_sent_with_an_idempotency_key(fake_gateway, cashier):
    invoice = invoice_of(held())
    payment = pay_online(fake_gateway, invoice)

    refund = services.refund_payment(
        payment=payment, amount=Decimal("10000"), reason="goodwill", actor=cashier, now=NOW
    )

    invoice.refresh_from_db()
    (call,) = fake_gateway.calls_of("create_refund")
    assert call == {
        "payment_intent_id": payment.provider_payment_reference,
        "amount": Decimal("10000"),
        "currency": "CLP",
        "idempotency_key": f"refund-{refund.pk}",
        "metadata": {"invoice": invoice.reference, "payment": str(payment.pk), "refund": str(refund.pk)},
    }
    assert refund.status == RefundStatus.SUCCEEDED
    assert fake_gateway.refunds[refund.provider_reference].amount == Decimal("10000")
    assert (invoice.status, invoice.amount_refunded) == ("partially_refunded", Decimal("10000"))


def test_a_pending_stripe_refund_counts_once_stripe_reports_it(fake_gateway, cashier):
    invoice = invoice_of(held())
    payment = pay_online(fake_gateway, invoice)
    fake_gateway.refund_status = "pending"

    refund = services.refund_payment(payment=payment, reason="cancelled by phone", actor=cashier, now=NOW)

    invoice.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == RefundStatus.PENDING
    assert invoice.amount_refunded == Decimal("0")
    assert payment.refundable_amount == Decimal("0")  # promised: no second refund meanwhile

    with pytest.raises(PaymentError) as error:
        services.refund_payment(payment=payment, amount="1", reason="again", actor=cashier, now=NOW)
    assert error.value.code == "nothing_to_refund"

    completed = services.record_provider_refund(
        payment=payment, reference=refund.provider_reference, amount=Decimal("35000"), status="succeeded", now=NOW
    )
    invoice.refresh_from_db()
    assert completed == refund
    assert (invoice.status, invoice.amount_refunded) == ("refunded", Decimal("35000"))


def test_a_stripe_error_fails_the_refund_and_leaves_the_money_refundable(fake_gateway, cashier):
    invoice = invoice_of(held())
    payment = pay_online(fake_gateway, invoice)
    fake_gateway.fail_on("create_refund")

    with pytest.raises(PaymentError) as error:
        services.refund_payment(payment=payment, reason="goodwill", actor=cashier, now=NOW)

    invoice.refresh_from_db()
    payment.refresh_from_db()
    assert error.value.code == "provider_error"
    refund = payment.refunds.get()
    assert (refund.status, refund.failure_message) == ("failed", "Stripe is unreachable")
    assert (invoice.status, invoice.amount_refunded) == ("paid", Decimal("0"))
    assert payment.refundable_amount == Decimal("35000")


def test_a_refund_stripe_declines_is_reported(fake_gateway, cashier):
    payment = pay_online(fake_gateway, invoice_of(held()))
    fake_gateway.refund_status = "failed"

    with pytest.raises(PaymentError) as error:
        services.refund_payment(payment=payment, reason="goodwill", actor=cashier, now=NOW)

    assert error.value.code == "refund_failed"
    assert payment.refunds.get().status == RefundStatus.FAILED


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"amount": "35001"}, "amount_too_large"),
        ({"amount": "0"}, "invalid_amount"),
        ({"amount": "-5"}, "invalid_amount"),
        ({"amount": "0.5"}, "invalid_amount"),
        ({"reason": "  "}, "reason_required"),
        ({"actor": "patient"}, "not_allowed"),
        ({"actor": "staff_without_permission"}, "not_allowed"),
    ],
    ids=["more-than-paid", "zero", "negative", "cents-in-clp", "no-reason", "patient", "staff-without-add-refund"],
)
def test_refund_rules(cashier, changes, code):
    invoice = invoice_of(AppointmentFactory())
    payment = services.record_offline_payment(invoice=invoice, method="cash", amount="35000", actor=cashier, now=NOW)
    actors = {"patient": invoice.patient.user, "staff_without_permission": StaffUserFactory()}
    arguments = {"payment": payment, "amount": None, "reason": "goodwill", "actor": cashier, "now": NOW}
    arguments.update(changes)
    if "actor" in changes:
        arguments["actor"] = actors[changes["actor"]]
    before = stored_state(invoice)

    with pytest.raises(PaymentError) as error:
        services.refund_payment(**arguments)

    assert error.value.code == code
    assert stored_state(invoice) == before


def test_a_stripe_refund_needs_stripe_switched_on(fake_gateway, cashier, settings):
    invoice = invoice_of(held())
    payment = pay_online(fake_gateway, invoice)
    settings.STRIPE_ENABLED = False
    before = stored_state(invoice)

    with pytest.raises(PaymentError) as error:
        services.refund_payment(payment=payment, reason="goodwill", actor=cashier, now=NOW)

    assert error.value.code == "payments_unavailable"
    assert stored_state(invoice) == before
    assert fake_gateway.calls_of("create_refund") == []


def test_a_payment_that_did_not_succeed_cannot_be_refunded(fake_gateway, cashier):
    payment = checkout(invoice_of(held()))

    with pytest.raises(PaymentError) as error:
        services.refund_payment(payment=payment, reason="goodwill", actor=cashier, now=NOW)

    assert error.value.code == "invalid_state"
    assert Refund.objects.count() == 0


# --- record_provider_refund ----------------------------------------------------------------------------------------


def test_a_refund_made_in_the_stripe_dashboard_is_recorded_once(fake_gateway):
    invoice = invoice_of(held())
    payment = pay_online(fake_gateway, invoice)

    refund = services.record_provider_refund(
        payment=payment, reference="re_dashboard", amount=Decimal("15000"), status="succeeded", now=NOW
    )
    replay = services.record_provider_refund(
        payment=payment, reference="re_dashboard", amount=Decimal("15000"), status="succeeded", now=NOW
    )

    invoice.refresh_from_db()
    assert replay is None
    assert (refund.status, refund.actor, refund.reason) == ("succeeded", None, StripeProvider.external_refund_reason)
    assert (invoice.status, invoice.amount_refunded) == ("partially_refunded", Decimal("15000"))
    assert Refund.objects.count() == 1


def test_our_own_refund_reported_before_we_stored_its_id_is_not_counted_twice(fake_gateway):
    invoice = invoice_of(held())
    payment = pay_online(fake_gateway, invoice)
    ours = Refund.objects.create(payment=payment, amount=Decimal("35000"), reason="goodwill", created_at=NOW)

    adopted = services.record_provider_refund(
        payment=payment, reference="re_race", amount=Decimal("35000"), status="succeeded", now=NOW
    )

    invoice.refresh_from_db()
    assert adopted == ours
    assert Refund.objects.get().provider_reference == "re_race"
    assert invoice.amount_refunded == Decimal("35000")


def test_stripe_reports_the_outcome_of_a_pending_refund(fake_gateway, cashier):
    invoice = invoice_of(held())
    payment = pay_online(fake_gateway, invoice)
    fake_gateway.refund_status = "pending"
    first = services.refund_payment(payment=payment, amount="5000", reason="goodwill", actor=cashier, now=NOW)
    second = services.refund_payment(payment=payment, amount="7000", reason="goodwill", actor=cashier, now=NOW)

    failed = services.record_provider_refund(
        payment=payment, reference=first.provider_reference, amount="5000", status="failed", now=NOW
    )
    still_pending = services.record_provider_refund(
        payment=payment, reference=second.provider_reference, amount="7000", status="pending", now=NOW
    )

    invoice.refresh_from_db()
    payment.refresh_from_db()
    assert (failed.status, failed.failure_message) == ("failed", "failed")
    assert still_pending is None
    assert invoice.amount_refunded == Decimal("0")
    assert payment.refundable_amount == Decimal("28000")  # the failed 5000 is refundable again


def test_a_pending_dashboard_refund_is_recorded_and_completed_later(fake_gateway):
    invoice = invoice_of(held())
    payment = pay_online(fake_gateway, invoice)

    pending = services.record_provider_refund(
        payment=payment, reference="re_slow", amount="35000", status="pending", now=NOW
    )
    invoice.refresh_from_db()
    assert (pending.status, invoice.amount_refunded) == ("pending", Decimal("0"))

    done = services.record_provider_refund(
        payment=payment, reference="re_slow", amount="35000", status="succeeded", now=NOW + timedelta(days=3)
    )
    invoice.refresh_from_db()
    assert (done.status, done.completed_at) == ("succeeded", NOW + timedelta(days=3))
    assert (invoice.status, invoice.amount_refunded) == ("refunded", Decimal("35000"))


def test_a_stripe_refund_of_another_payment_is_refused(fake_gateway):
    first = pay_online(fake_gateway, invoice_of(held()))
    second = pay_online(fake_gateway, invoice_of(held()))
    services.record_provider_refund(payment=first, reference="re_1", amount="100", status="succeeded", now=NOW)

    with pytest.raises(PaymentError) as error:
        services.record_provider_refund(payment=second, reference="re_1", amount="100", status="succeeded", now=NOW)

    assert error.value.code == "invalid_request"
    assert second.refunds.count() == 0


def test_a_failed_dashboard_refund_is_ignored_and_a_too_large_one_refused(fake_gateway):
    invoice = invoice_of(held())
    payment = pay_online(fake_gateway, invoice)

    assert (
        services.record_provider_refund(payment=payment, reference="re_x", amount="100", status="failed", now=NOW)
        is None
    )
    before = stored_state(invoice)
    with pytest.raises(PaymentError) as error:
        services.record_provider_refund(payment=payment, reference="re_y", amount="35001", status="succeeded", now=NOW)
    assert error.value.code == "amount_too_large"
    assert stored_state(invoice) == before


# --- apply_cancellation_outcome ---------------------------------------------------------------------------------


def outcome(appointment, decision, *, late=False):
    return CancellationOutcome(appointment=appointment, refund=decision, late=late)


def test_cancelling_a_hold_voids_its_invoice_and_closes_its_checkout(fake_gateway):
    appointment = held()
    invoice = invoice_of(appointment)
    payment = checkout(invoice)

    refunds = services.apply_cancellation_outcome(
        outcome=outcome(appointment, RefundDecision.NOTHING_PAID), actor=invoice.patient.user, now=NOW
    )

    invoice.refresh_from_db()
    payment.refresh_from_db()
    assert refunds == []
    assert invoice.status == InvoiceStatus.VOID
    assert invoice.events.last().reason == services.REASON_CANCELLED
    assert payment.status == PaymentStatus.CANCELLED
    assert fake_gateway.sessions[payment.provider_reference].status == "expired"


def test_a_cancellation_in_time_refunds_every_payment(fake_gateway, cashier):
    appointment = AppointmentFactory(price=Decimal("40000"))
    invoice = invoice_of(appointment)
    cash = services.record_offline_payment(invoice=invoice, method="cash", amount="10000", actor=cashier, now=NOW)
    online = pay_online(fake_gateway, invoice)

    refunds = services.apply_cancellation_outcome(
        outcome=outcome(appointment, RefundDecision.FULL_REFUND), actor=invoice.patient.user, now=NOW
    )

    invoice.refresh_from_db()
    assert sorted((refund.payment_id, refund.amount, refund.status) for refund in refunds) == [
        (cash.pk, Decimal("10000"), "succeeded"),
        (online.pk, Decimal("30000"), "succeeded"),
    ]
    assert all(refund.actor is None for refund in refunds)
    assert (invoice.status, invoice.amount_refunded) == ("refunded", Decimal("40000"))


def test_a_cancellation_refund_that_stripe_refuses_is_returned_failed_and_the_invoice_kept(fake_gateway):
    appointment = held()
    invoice = invoice_of(appointment)
    pay_online(fake_gateway, invoice)
    fake_gateway.fail_on("create_refund")

    (refund,) = services.apply_cancellation_outcome(
        outcome=outcome(appointment, RefundDecision.FULL_REFUND), actor=None, now=NOW
    )

    invoice.refresh_from_db()
    assert refund.status == RefundStatus.FAILED
    assert (invoice.status, invoice.amount_refunded) == ("paid", Decimal("0"))  # staff retry from the admin


def test_a_cancellation_in_time_of_an_unpaid_invoice_voids_it():
    appointment = AppointmentFactory()
    invoice = invoice_of(appointment)

    assert (
        services.apply_cancellation_outcome(
            outcome=outcome(appointment, RefundDecision.FULL_REFUND), actor=None, now=NOW
        )
        == []
    )

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.VOID


def test_a_late_cancellation_keeps_the_invoice_owed_and_notes_it(cashier):
    appointment = AppointmentFactory()
    invoice = invoice_of(appointment)

    refunds = services.apply_cancellation_outcome(
        outcome=outcome(appointment, RefundDecision.NO_REFUND, late=True), actor=invoice.patient.user, now=NOW
    )

    invoice.refresh_from_db()
    assert refunds == []
    assert (invoice.status, invoice.balance_due) == ("open", Decimal("35000"))
    event = invoice.events.last()
    assert (event.action, event.reason, event.actor) == (
        services.LATE_CANCELLATION,
        services.REASON_LATE_CANCELLATION,
        invoice.patient.user,
    )
    # the late-cancelled session is still charged: paying it keeps the money
    payment = services.record_offline_payment(invoice=invoice, method="cash", amount="35000", actor=cashier, now=NOW)
    assert payment.refunds.count() == 0


def test_a_cancelled_session_without_invoice_changes_nothing():
    appointment = AppointmentFactory()

    assert (
        services.apply_cancellation_outcome(
            outcome=outcome(appointment, RefundDecision.FULL_REFUND), actor=None, now=NOW
        )
        == []
    )
    assert InvoiceEvent.objects.count() == 0


def test_cancel_appointment_then_apply_its_outcome(fake_gateway):
    appointment = held(hold_expires_at=NOW + timedelta(hours=1))
    invoice = invoice_of(appointment)
    pay_online(fake_gateway, invoice)
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED

    cancellation = scheduling.cancel_appointment(
        appointment=appointment, actor=invoice.patient.user, reason="travelling", now=NOW + timedelta(days=2)
    )
    refunds = services.apply_cancellation_outcome(
        outcome=cancellation, actor=invoice.patient.user, now=NOW + timedelta(days=2)
    )

    invoice.refresh_from_db()
    assert cancellation.refund == RefundDecision.FULL_REFUND
    assert [refund.amount for refund in refunds] == [Decimal("35000")]
    assert invoice.status == InvoiceStatus.REFUNDED


# --- void_invoice and record_tax_document -----------------------------------------------------------------------


def test_void_invoice_records_who_and_why(cashier):
    invoice = invoice_of(AppointmentFactory())

    services.void_invoice(invoice=invoice, actor=cashier, reason="booked by mistake", now=NOW)

    invoice.refresh_from_db()
    event = invoice.events.last()
    assert invoice.status == InvoiceStatus.VOID
    assert invoice.balance_due == Decimal("0")
    assert (event.action, event.actor, event.reason, event.from_status, event.to_status) == (
        "voided",
        cashier,
        "booked by mistake",
        "open",
        "void",
    )


@pytest.mark.parametrize(
    ("setup", "arguments", "code"),
    [
        ("open", {"reason": ""}, "reason_required"),
        ("open", {"actor": "patient"}, "not_allowed"),
        ("open", {"actor": "staff_without_permission"}, "not_allowed"),
        ("paid", {}, "invalid_state"),
        ("partly_paid", {}, "invalid_state"),
        ("void", {}, "invalid_state"),
    ],
    ids=["no-reason", "patient", "staff-without-change-invoice", "paid", "partly-paid", "already-void"],
)
def test_void_invoice_rules(cashier, setup, arguments, code):
    invoice = invoice_of(AppointmentFactory())
    if setup == "paid":
        services.record_offline_payment(invoice=invoice, method="cash", amount="35000", actor=cashier, now=NOW)
    elif setup == "partly_paid":
        services.record_offline_payment(invoice=invoice, method="cash", amount="100", actor=cashier, now=NOW)
    elif setup == "void":
        services.void_invoice(invoice=invoice, actor=cashier, reason="first", now=NOW)
    actors = {"patient": invoice.patient.user, "staff_without_permission": StaffUserFactory()}
    call = {"invoice": invoice, "actor": cashier, "reason": "because", "now": NOW} | arguments
    if "actor" in arguments:
        call["actor"] = actors[arguments["actor"]]
    before = stored_state(invoice)

    with pytest.raises(PaymentError) as error:
        services.void_invoice(**call)

    assert error.value.code == code
    assert stored_state(invoice) == before


def test_a_fully_refunded_part_payment_lets_the_invoice_be_voided(cashier):
    invoice = invoice_of(AppointmentFactory())
    payment = services.record_offline_payment(invoice=invoice, method="cash", amount="100", actor=cashier, now=NOW)
    services.refund_payment(payment=payment, reason="wrong invoice", actor=cashier, now=NOW)

    services.void_invoice(invoice=invoice, actor=cashier, reason="wrong invoice", now=NOW)

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.VOID


def test_record_tax_document(cashier):
    invoice = invoice_of(AppointmentFactory())

    services.record_tax_document(invoice=invoice, document_type="39", folio=" 12345 ", actor=cashier, now=NOW)

    invoice.refresh_from_db()
    event = invoice.events.last()
    assert (invoice.tax_document_type, invoice.tax_document_folio) == ("39", "12345")
    assert (event.action, event.data) == (
        "tax_document",
        {"type": "39", "folio": "12345", "previous_type": "41", "previous_folio": ""},
    )


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"document_type": "99"}, "invalid_request"),
        ({"folio": ""}, "invalid_request"),
        ({"document_type": "", "folio": "123"}, "invalid_request"),
        ({"folio": "9" * 33}, "invalid_request"),
        ({"actor": "patient"}, "not_allowed"),
        ({"actor": None}, "not_allowed"),
        ({"invoice": "void"}, "invalid_state"),
    ],
    ids=["unknown-type", "missing-folio", "folio-without-type", "folio-too-long", "patient", "system", "void-invoice"],
)
def test_record_tax_document_rules(cashier, arguments, code):
    invoice = invoice_of(AppointmentFactory())
    call = {"invoice": invoice, "document_type": "41", "folio": "777", "actor": cashier, "now": NOW} | arguments
    if arguments.get("actor") == "patient":
        call["actor"] = invoice.patient.user
    if arguments.get("invoice") == "void":
        services.void_invoice(invoice=invoice, actor=cashier, reason="duplicate", now=NOW)
        call["invoice"] = invoice
    before = stored_state(invoice)

    with pytest.raises(PaymentError) as error:
        services.record_tax_document(**call)

    assert error.value.code == code
    assert stored_state(invoice) == before


def test_invoices_for_user_lists_only_the_patients_issued_invoices(django_assert_max_num_queries):
    patient = PatientFactory()
    mine = [invoice_of(AppointmentFactory(patient=patient)) for _ in range(3)]
    invoice_of(AppointmentFactory())

    with django_assert_max_num_queries(1):
        listed = list(selectors.invoices_for_user(patient.user))
        numbers = [invoice.display_number for invoice in listed]

    assert {invoice.pk for invoice in listed} == {invoice.pk for invoice in mine}
    assert len(numbers) == 3
    assert list(selectors.invoices_for_user(AnonymousUser())) == []
