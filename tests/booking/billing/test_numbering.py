"""Invoice numbers are given when an invoice is owed or paid, never to a hold that may still be abandoned.

A hold's invoice is payable but unnumbered; it takes the series' next number when the hold is paid (online,
offline, or by a 100 % discount code) or confirmed by staff; a hold given back unpaid voids it without a number.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from booking.billing import services
from booking.billing.models import Invoice, InvoiceEvent, InvoiceSeries, InvoiceStatus
from booking.billing.receipts import receipt_html
from booking.billing.services import _common
from booking.scheduling import services as scheduling
from booking.scheduling.errors import BookingError
from booking.scheduling.models import Appointment, AppointmentStatus
from tests.factories.billing import CouponFactory
from tests.factories.scheduling import (
    AppointmentFactory,
    ProfessionalServiceFactory,
    StaffUserFactory,
    SuperuserFactory,
    WeeklyAvailabilityFactory,
)

from .fakes import install_fake_gateway

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
SUCCESS_URL = "https://clinic.test/billing/checkout/success/?session_id={CHECKOUT_SESSION_ID}"
CANCEL_URL = "https://clinic.test/billing/checkout/cancel/"


@pytest.fixture
def series():
    series, _created = InvoiceSeries.objects.get_or_create(
        code="default", defaults={"prefix": "B-", "name": "Boletas"}
    )
    series.next_number = 41
    series.save()
    return series


@pytest.fixture
def cashier(db):
    user = StaffUserFactory()
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="billing", codename__in=["add_payment", "change_invoice"])
    )
    return get_user_model().objects.get(pk=user.pk)


def next_number() -> int:
    return InvoiceSeries.objects.get(code="default").next_number


def hold_invoice(**kwargs) -> Invoice:
    hold = AppointmentFactory(
        status=AppointmentStatus.PENDING_PAYMENT, hold_expires_at=NOW + timedelta(minutes=15), **kwargs
    )
    return services.create_invoice_for_appointment(appointment=hold, actor=None, now=NOW)


def actions(invoice) -> list[str]:
    return list(invoice.events.order_by("pk").values_list("action", flat=True))


def test_a_hold_invoice_is_payable_but_takes_no_number(series):
    invoice = hold_invoice()

    assert (invoice.status, invoice.number, invoice.issued_at) == (InvoiceStatus.OPEN, None, None)
    assert invoice.is_payable and invoice.balance_due == Decimal("35000")
    assert invoice.display_number == invoice.reference
    assert actions(invoice) == ["created"]
    assert next_number() == 41


def test_a_confirmed_booking_is_numbered_at_once(series):
    invoice = services.create_invoice_for_appointment(appointment=AppointmentFactory(), actor=None, now=NOW)

    assert (invoice.number, invoice.display_number, invoice.issued_at) == (41, "B-000041", NOW)
    assert actions(invoice) == ["created", "issued"]
    assert next_number() == 42


def test_an_abandoned_hold_leaves_no_number_used(series, monkeypatch, settings):
    install_fake_gateway(monkeypatch, settings)
    invoice = hold_invoice()
    payment = services.start_checkout(
        invoice=invoice, success_url=SUCCESS_URL, cancel_url=CANCEL_URL, actor=invoice.patient.user, now=NOW
    )

    services.expire_checkout(payment=payment, now=NOW + timedelta(minutes=40))

    invoice.refresh_from_db()
    assert (invoice.status, invoice.number) == (InvoiceStatus.VOID, None)
    assert "issued" not in actions(invoice)
    assert next_number() == 41
    following = services.create_invoice_for_appointment(
        appointment=AppointmentFactory(start=datetime(2026, 12, 2, 13, tzinfo=UTC)), actor=None, now=NOW
    )
    assert following.number == 41  # the series goes on where it was: no hole left by the abandoned hold


def test_a_hold_that_lapses_before_any_checkout_is_voided_without_a_number(series):
    invoice = hold_invoice()
    scheduling.release_expired_holds(now=NOW + timedelta(minutes=20))

    assert services.void_lapsed_hold_invoices(now=NOW + timedelta(minutes=21)) == 1

    invoice.refresh_from_db()
    assert (invoice.status, invoice.number) == (InvoiceStatus.VOID, None)
    assert next_number() == 41


def test_a_hold_paid_online_takes_the_next_number_when_paid(series, monkeypatch, settings):
    fake = install_fake_gateway(monkeypatch, settings)
    invoice = hold_invoice()
    payment = services.start_checkout(
        invoice=invoice, success_url=SUCCESS_URL, cancel_url=CANCEL_URL, actor=invoice.patient.user, now=NOW
    )
    session = fake.pay(payment.provider_reference)
    paid_at = NOW + timedelta(minutes=5)

    services.confirm_payment(
        payment=payment, payment_reference=session.payment_intent_id, amount=session.amount_total, now=paid_at
    )

    invoice.refresh_from_db()
    assert (invoice.status, invoice.display_number, invoice.issued_at) == (InvoiceStatus.PAID, "B-000041", paid_at)
    assert Appointment.objects.get().status == AppointmentStatus.CONFIRMED
    assert actions(invoice) == ["created", "checkout_started", "payment_recorded", "issued"]
    issued = invoice.events.get(action=InvoiceEvent.Action.ISSUED)
    assert (issued.to_status, issued.data["number"]) == (InvoiceStatus.PAID, "B-000041")
    assert next_number() == 42


def test_a_hold_paid_at_the_desk_takes_the_next_number(series, cashier):
    invoice = hold_invoice()

    services.record_offline_payment(
        invoice=invoice, method="cash", amount=Decimal("35000"), actor=cashier, now=NOW + timedelta(minutes=5)
    )

    invoice.refresh_from_db()
    assert (invoice.status, invoice.number) == (InvoiceStatus.PAID, 41)
    assert next_number() == 42


def test_a_hold_paid_in_part_stays_unnumbered_until_paid_in_full(series, cashier):
    invoice = hold_invoice()

    services.record_offline_payment(invoice=invoice, method="cash", amount=Decimal("10000"), actor=cashier, now=NOW)

    invoice.refresh_from_db()
    assert (invoice.status, invoice.number) == (InvoiceStatus.OPEN, None)
    assert next_number() == 41


def test_a_hold_made_free_by_a_discount_code_takes_the_next_number(series):
    CouponFactory(code="GRATIS", kind="percent", value=Decimal("100"))
    invoice = hold_invoice()

    invoice = services.apply_coupon(invoice=invoice, code="GRATIS", actor=invoice.patient.user, now=NOW)

    assert (invoice.status, invoice.number) == (InvoiceStatus.PAID, 41)
    assert Appointment.objects.get().status == AppointmentStatus.CONFIRMED
    assert next_number() == 42


def test_a_confirmed_booking_with_a_discount_code_is_numbered_once(series):
    CouponFactory(code="MITAD", kind="percent", value=Decimal("50"))
    appointment = AppointmentFactory()
    ProfessionalServiceFactory(professional=appointment.professional, service=appointment.service)
    WeeklyAvailabilityFactory(professional=appointment.professional, weekday=1)  # Tuesdays 09:00-13:00

    _appointment, invoice = services.book_with_invoice(
        patient=appointment.patient,
        professional=appointment.professional,
        service=appointment.service,
        start=datetime(2026, 12, 1, 14, tzinfo=UTC),  # 11:00 in Santiago, after the factory's session
        location=appointment.location,
        modality=appointment.modality,
        source="admin",
        actor=SuperuserFactory(),
        coupon_code="MITAD",
        hold=False,
        now=NOW,
    )

    invoice.refresh_from_db()
    assert (invoice.status, invoice.number, invoice.total) == (InvoiceStatus.OPEN, 41, Decimal("17500"))
    assert actions(invoice) == ["created", "coupon_applied", "issued"]
    assert next_number() == 42


def test_staff_confirming_a_hold_numbers_its_invoice(series):
    invoice = hold_invoice()
    staff = StaffUserFactory()

    appointment = services.confirm_held_appointment(
        appointment=invoice.lines.get().appointment, actor=staff, now=NOW + timedelta(minutes=5)
    )

    invoice.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED
    assert (invoice.status, invoice.number) == (InvoiceStatus.OPEN, 41)
    assert invoice.events.get(action=InvoiceEvent.Action.ISSUED).actor == staff
    assert next_number() == 42


def test_a_hold_that_cannot_be_confirmed_keeps_its_invoice_unnumbered(series):
    invoice = hold_invoice()
    appointment = invoice.lines.get().appointment
    scheduling.release_hold(appointment=appointment, now=NOW)

    with pytest.raises(BookingError):
        services.confirm_held_appointment(appointment=appointment, actor=None, now=NOW)

    invoice.refresh_from_db()
    assert invoice.number is None
    assert next_number() == 41


def test_a_failure_after_the_number_is_taken_gives_it_back(series, cashier, monkeypatch):
    invoice = hold_invoice()
    real_log = _common._log

    def log_then_fail(invoice, action, **kwargs):
        real_log(invoice, action, **kwargs)
        if action == InvoiceEvent.Action.ISSUED:
            raise RuntimeError("crash after the number was taken")

    monkeypatch.setattr(_common, "_log", log_then_fail)
    with pytest.raises(RuntimeError):
        services.record_offline_payment(
            invoice=invoice, method="cash", amount=Decimal("35000"), actor=cashier, now=NOW
        )

    invoice.refresh_from_db()
    assert (invoice.status, invoice.number, invoice.amount_paid) == (InvoiceStatus.OPEN, None, 0)
    assert next_number() == 41


def test_an_unnumbered_invoice_shows_its_reference_where_a_number_would_be(series):
    invoice = hold_invoice()

    html = receipt_html(invoice, language="en")

    assert f"Reference: {invoice.reference}" in html
    assert "Number:" not in html
