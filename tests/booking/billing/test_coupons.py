"""Discount codes: every rule that refuses one, how a discount is computed and spread, taking one off.

Each refusal is checked for what it did not write; amounts are in CLP (no minor unit) and USD (cents).
"""

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection

from booking.billing import services
from booking.billing.errors import PaymentError
from booking.billing.models import Coupon, CouponRedemption, Invoice, InvoiceLine, InvoiceStatus
from booking.billing.services import coupons as coupons_module
from booking.scheduling.models import AppointmentStatus
from tests.factories.accounts import PatientFactory
from tests.factories.billing import CouponFactory
from tests.factories.scheduling import AppointmentFactory, ServiceFactory, StaffUserFactory

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def staff_with(*codenames):
    user = StaffUserFactory()
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="billing", codename__in=codenames))
    return get_user_model().objects.get(pk=user.pk)


def invoice_for(*, price="35000", currency="CLP", patient=None, service=None, held=True):
    extra = (
        {"status": AppointmentStatus.PENDING_PAYMENT, "hold_expires_at": NOW + timedelta(minutes=15)} if held else {}
    )
    appointment = AppointmentFactory(
        price=Decimal(price),
        currency=currency,
        patient=patient or PatientFactory(),
        service=service or ServiceFactory(),
        **extra,
    )
    return services.create_invoice_for_appointment(appointment=appointment, actor=None, now=NOW)


def apply(invoice, code, *, actor=None, now=NOW):
    return services.apply_coupon(invoice=invoice, code=code, actor=actor or invoice.patient.user, now=now)


def stored(invoice):
    invoice = Invoice.objects.get(pk=invoice.pk)
    return (
        invoice.status,
        invoice.subtotal,
        invoice.discount_total,
        invoice.total,
        list(invoice.lines.values_list("discount", "total")),
        CouponRedemption.objects.count(),
        invoice.events.count(),
    )


# --- refusals ----------------------------------------------------------------------------------------------------


def _used_elsewhere(invoice, coupon, *, same_patient):
    other = invoice_for(patient=invoice.patient if same_patient else None)
    apply(other, coupon.code)


def _pay(invoice, amount):
    services.record_offline_payment(
        invoice=invoice, method="cash", amount=amount, actor=staff_with("add_payment"), now=NOW
    )


REFUSALS = [
    # (coupon fields, code typed, set-up of the invoice, expected error)
    ({}, "NOPE", None, "coupon_unknown"),
    ({}, "   ", None, "coupon_unknown"),
    ({"active": False}, "SPRING", None, "coupon_inactive"),
    ({"valid_from": NOW + timedelta(minutes=1)}, "SPRING", None, "coupon_not_started"),
    ({"valid_until": NOW - timedelta(seconds=1)}, "SPRING", None, "coupon_expired"),
    ({"valid_until": NOW}, "SPRING", None, "coupon_expired"),
    ({"scoped_to_other_service": True}, "SPRING", None, "coupon_not_applicable"),
    ({"kind": "amount", "value": Decimal("10"), "currency": "USD"}, "SPRING", None, "coupon_not_applicable"),
    ({"max_redemptions": 1}, "SPRING", "used_by_someone_else", "coupon_limit_reached"),
    ({"max_per_customer": 1}, "SPRING", "used_by_same_patient", "coupon_customer_limit_reached"),
    ({}, "SPRING", "other_coupon_applied", "coupon_already_applied"),
    ({}, "SPRING", "paid", "invalid_state"),
    ({}, "SPRING", "partly_paid", "invalid_state"),
    ({}, "SPRING", "void", "invalid_state"),
    ({}, "SPRING", "another_patient", "not_allowed"),
    ({}, "SPRING", "staff_without_permission", "not_allowed"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("coupon_fields", "typed", "setup", "code"),
    REFUSALS,
    ids=[
        "unknown",
        "blank",
        "inactive",
        "not-yet-valid",
        "expired",
        "expires-exactly-now",
        "other-service-only",
        "fixed-amount-in-another-currency",
        "total-limit-reached",
        "per-patient-limit-reached",
        "one-code-per-invoice",
        "invoice-paid",
        "invoice-partly-paid",
        "invoice-void",
        "another-patients-invoice",
        "staff-without-change-invoice",
    ],
)
def test_coupon_refusals(coupon_fields, typed, setup, code):
    fields = dict(coupon_fields)
    scoped = fields.pop("scoped_to_other_service", False)
    coupon = CouponFactory(code="SPRING", **fields)
    if scoped:
        coupon.services.add(ServiceFactory())
    invoice = invoice_for()
    actor = None
    if setup == "used_by_someone_else":
        _used_elsewhere(invoice, coupon, same_patient=False)
    elif setup == "used_by_same_patient":
        _used_elsewhere(invoice, coupon, same_patient=True)
    elif setup == "other_coupon_applied":
        apply(invoice, CouponFactory(code="OTHER").code)
    elif setup == "paid":
        _pay(invoice, "35000")
    elif setup == "partly_paid":
        _pay(invoice, "1000")
    elif setup == "void":
        services.void_invoice(invoice=invoice, actor=None, reason="duplicate", now=NOW)
    elif setup == "another_patient":
        actor = PatientFactory().user
    elif setup == "staff_without_permission":
        actor = StaffUserFactory()
    before = stored(invoice)

    with pytest.raises(PaymentError) as error:
        apply(invoice, typed, actor=actor)

    assert error.value.code == code
    assert stored(invoice) == before


# --- discounts ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("currency", "price", "kind", "value", "discount", "total"),
    [
        ("CLP", "35000", "percent", "10", "3500", "31500"),
        ("CLP", "33333", "percent", "15", "5000", "28333"),  # 4999.95 rounds half up to whole pesos
        ("CLP", "35000", "amount", "5000", "5000", "30000"),
        ("USD", "80.50", "percent", "12.5", "10.06", "70.44"),  # 10.0625 → cents
        ("USD", "80.50", "amount", "10", "10.00", "70.50"),
        ("USD", "19.99", "percent", "33.33", "6.66", "13.33"),
    ],
    ids=["clp-10-percent", "clp-percent-rounded", "clp-fixed", "usd-percent-rounded", "usd-fixed", "usd-odd-percent"],
)
def test_discounts_in_clp_and_usd(currency, price, kind, value, discount, total):
    CouponFactory(code="DESC", kind=kind, value=Decimal(value), currency=currency)
    invoice = invoice_for(price=price, currency=currency)

    invoice = apply(invoice, "DESC")

    redemption = CouponRedemption.objects.get()
    (line,) = invoice.lines.all()
    assert (invoice.discount_total, invoice.total, invoice.balance_due) == (
        Decimal(discount),
        Decimal(total),
        Decimal(total),
    )
    assert (line.discount, line.total) == (Decimal(discount), Decimal(total))
    assert (redemption.amount, redemption.patient, redemption.created_at) == (Decimal(discount), invoice.patient, NOW)
    event = invoice.events.last()
    assert (event.action, event.data["code"], event.data["discount"]) == ("coupon_applied", "DESC", discount)
    assert invoice.status == InvoiceStatus.OPEN


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "value"), [("amount", "50000"), ("percent", "100")], ids=["fixed-above-price", "hundred-percent"]
)
def test_a_discount_of_everything_pays_the_invoice_and_confirms_the_hold(kind, value):
    CouponFactory(code="FREE", kind=kind, value=Decimal(value))
    invoice = invoice_for()

    invoice = apply(invoice, "FREE")

    appointment = invoice.lines.get().appointment
    appointment.refresh_from_db()
    assert (invoice.discount_total, invoice.total, invoice.status) == (Decimal("35000"), Decimal("0"), "paid")
    assert appointment.status == AppointmentStatus.CONFIRMED


@pytest.mark.django_db
def test_codes_match_without_regard_to_case_or_spaces():
    CouponFactory(code="verano10")
    invoice = invoice_for()

    invoice = apply(invoice, "  Verano10 ")

    assert Coupon.objects.get().code == "VERANO10"
    assert invoice.discount_total == Decimal("3500")


@pytest.mark.django_db
def test_staff_may_apply_a_code_for_the_patient():
    CouponFactory(code="STAFF")
    staff = staff_with("change_invoice")

    invoice = apply(invoice_for(), "STAFF", actor=staff)

    assert invoice.events.last().actor == staff


@pytest.mark.django_db
def test_a_scoped_code_discounts_only_its_services_lines_and_never_adjustments_or_excluded_packs():
    therapy, nutrition = ServiceFactory(name="Terapia"), ServiceFactory(name="Nutrición")
    coupon = CouponFactory(code="TERAPIA", value=Decimal("20"), applies_to_packs=False)
    coupon.services.add(therapy)
    invoice = invoice_for(service=therapy, price="30000")
    for kind, service, price in [
        (InvoiceLine.Kind.APPOINTMENT, nutrition, "25000"),
        (InvoiceLine.Kind.PACK, therapy, "100000"),
        (InvoiceLine.Kind.ADJUSTMENT, therapy, "5000"),
    ]:
        InvoiceLine.objects.create(
            invoice=invoice, kind=kind, description=kind, unit_price=Decimal(price), service=service, sort_order=1
        )

    invoice = apply(invoice, "TERAPIA")

    discounts = dict(invoice.lines.values_list("kind", "discount").filter(service=therapy))
    assert discounts == {"appointment": Decimal("6000"), "pack": Decimal("0"), "adjustment": Decimal("0")}
    assert invoice.lines.get(service=nutrition).discount == Decimal("0")
    assert (invoice.subtotal, invoice.discount_total, invoice.total) == (
        Decimal("160000"),
        Decimal("6000"),
        Decimal("154000"),
    )


@pytest.mark.django_db
def test_a_code_for_packs_discounts_pack_lines():
    CouponFactory(code="PACKS", value=Decimal("10"), applies_to_packs=True)
    invoice = invoice_for(price="30000")
    InvoiceLine.objects.create(
        invoice=invoice, kind=InvoiceLine.Kind.PACK, description="Pack", unit_price=Decimal("100000")
    )

    invoice = apply(invoice, "PACKS")

    assert invoice.discount_total == Decimal("13000")


@pytest.mark.django_db
def test_a_fixed_amount_is_spread_over_lines_in_proportion_and_adds_up():
    CouponFactory(code="MIL", kind="amount", value=Decimal("10000"))
    invoice = invoice_for(price="10000")
    InvoiceLine.objects.create(
        invoice=invoice, kind=InvoiceLine.Kind.APPOINTMENT, description="Second session", unit_price=Decimal("20001")
    )

    invoice = apply(invoice, "MIL")

    assert list(invoice.lines.order_by("pk").values_list("discount", flat=True)) == [Decimal("3333"), Decimal("6667")]
    assert (invoice.discount_total, invoice.total) == (Decimal("10000"), Decimal("20001"))


def _lines(*grosses):
    return [InvoiceLine(pk=index, unit_price=Decimal(gross), quantity=1) for index, gross in enumerate(grosses, 1)]


@pytest.mark.parametrize(
    ("grosses", "value", "currency"),
    [
        (("1", "1", "1"), "2", "CLP"),
        (("0.01", "0.01", "99.98"), "0.05", "USD"),
        (("3", "3", "3"), "10", "CLP"),
        (("0", "500"), "100", "CLP"),
        (("1", "1", "1", "1", "1", "1", "1"), "6", "CLP"),
    ],
    ids=["rounding-leaves-a-unit", "tiny-usd-lines", "more-than-the-lines", "a-free-line", "seven-lines"],
)
def test_fixed_amount_shares_add_up_and_never_exceed_a_line(grosses, value, currency):
    coupon = Coupon(kind=Coupon.Kind.AMOUNT, value=Decimal(value), currency=currency)
    lines = _lines(*grosses)

    shares = coupons_module._split_discount(lines, coupon, currency)

    wanted = min(Decimal(value), sum(Decimal(gross) for gross in grosses))
    assert sum(shares.values()) == wanted
    assert all(Decimal(0) <= shares[line.pk] <= line.gross for line in lines)


@pytest.mark.django_db
def test_uses_on_void_invoices_no_longer_count():
    CouponFactory(code="ONCE", max_redemptions=1, max_per_customer=1)
    patient = PatientFactory()
    first = apply(invoice_for(patient=patient), "ONCE")
    services.void_invoice(invoice=first, actor=None, reason="session moved", now=NOW)

    second = apply(invoice_for(patient=patient), "ONCE")

    assert second.discount_total == Decimal("3500")
    assert CouponRedemption.objects.count() == 2


# --- remove_coupon -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_removing_the_code_restores_the_price_and_frees_the_use():
    CouponFactory(code="ONCE", max_redemptions=1)
    invoice = apply(invoice_for(), "ONCE")

    invoice = services.remove_coupon(invoice=invoice, actor=invoice.patient.user, now=NOW)

    assert (invoice.discount_total, invoice.total) == (Decimal("0"), Decimal("35000"))
    assert invoice.lines.get().discount == Decimal("0")
    assert CouponRedemption.objects.count() == 0
    assert invoice.events.last().action == "coupon_removed"
    assert apply(invoice_for(), "ONCE").discount_total == Decimal("3500")


@pytest.mark.django_db
@pytest.mark.parametrize("setup", ["no_code", "paid", "another_patient"], ids=["no-code", "paid", "another-patient"])
def test_remove_coupon_rules(setup):
    CouponFactory(code="HALF", value=Decimal("50"))
    invoice = invoice_for()
    actor = invoice.patient.user
    expected = {"no_code": "coupon_not_applied", "paid": "invalid_state", "another_patient": "not_allowed"}[setup]
    if setup != "no_code":
        apply(invoice, "HALF")
    if setup == "paid":
        _pay(invoice, "17500")
    if setup == "another_patient":
        actor = PatientFactory().user
    before = stored(invoice)

    with pytest.raises(PaymentError) as error:
        services.remove_coupon(invoice=invoice, actor=actor, now=NOW)

    assert error.value.code == expected
    assert stored(invoice) == before


# --- concurrency -------------------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # see test_numbering_postgres.py
def test_two_patients_racing_for_the_last_use_get_it_once():
    CouponFactory(code="LAST", max_redemptions=1)
    invoices = [invoice_for(held=False) for _ in range(6)]
    barrier = threading.Barrier(len(invoices))
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(invoice):
        try:
            barrier.wait()
            apply(invoice, "LAST")
            outcome = "applied"
        except PaymentError as error:
            outcome = error.code
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=attempt, args=(invoice,)) for invoice in invoices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["applied"] + ["coupon_limit_reached"] * 5
    assert CouponRedemption.objects.count() == 1
    assert Invoice.objects.filter(discount_total__gt=0).count() == 1
