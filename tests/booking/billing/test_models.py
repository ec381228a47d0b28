"""The billing models' answers (numbers, balances, refundable amounts) and the invariants the database keeps."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import translation

from booking.billing.models import (
    Coupon,
    CouponRedemption,
    Invoice,
    InvoiceEvent,
    InvoiceLine,
    InvoiceSeries,
    ProcessedEvent,
    Refund,
)
from tests.factories.billing import CouponFactory, InvoiceFactory, PaymentFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def test_display_number_is_the_reference_until_issued():
    draft = InvoiceFactory(status="draft", number=None, appointment=False)
    issued = InvoiceFactory(number=123, appointment=False)

    assert draft.display_number == draft.reference
    assert len(draft.reference) == 10
    assert issued.display_number == "B-000123"
    assert str(issued) == "B-000123"


@pytest.mark.parametrize(
    ("status", "total", "paid", "refunded", "balance", "refundable", "payable"),
    [
        ("open", "35000", "0", "0", "35000", "0", True),
        ("open", "35000", "10000", "0", "25000", "10000", True),
        ("paid", "35000", "35000", "0", "0", "35000", False),
        ("paid", "35000", "70000", "0", "0", "70000", False),
        ("partially_refunded", "35000", "35000", "5000", "0", "30000", False),
        ("refunded", "35000", "35000", "35000", "0", "0", False),
        ("void", "35000", "0", "0", "0", "0", False),
        ("draft", "35000", "0", "0", "0", "0", False),
        ("open", "0", "0", "0", "0", "0", False),
    ],
    ids=["unpaid", "part-paid", "paid", "overpaid", "partly-refunded", "refunded", "void", "draft", "free"],
)
def test_balance_refundable_and_payable(status, total, paid, refunded, balance, refundable, payable):
    invoice = InvoiceFactory.build(
        status=status,
        total=Decimal(total),
        amount_paid=Decimal(paid),
        amount_refunded=Decimal(refunded),
    )

    assert invoice.balance_due == Decimal(balance)
    assert invoice.refundable_amount == Decimal(refundable)
    assert invoice.is_payable is payable


def test_amounts_are_formatted_in_the_invoice_currency():
    clp = InvoiceFactory.build(currency="CLP")
    usd = InvoiceFactory.build(currency="USD")

    with translation.override("es-cl"):
        assert clp.formatted(Decimal("35000")) == "$35.000"
    with translation.override("en"):
        assert usd.formatted(Decimal("12.5")) == "US$12.50"


def test_line_gross_is_quantity_times_unit_price():
    assert InvoiceLine(quantity=3, unit_price=Decimal("12.50")).gross == Decimal("37.50")


def test_payment_refundable_amount_counts_pending_refunds_but_not_failed_ones():
    payment = PaymentFactory()
    Refund.objects.create(payment=payment, amount=Decimal("5000"), status="succeeded", created_at=NOW)
    Refund.objects.create(payment=payment, amount=Decimal("7000"), status="pending", created_at=NOW)
    Refund.objects.create(payment=payment, amount=Decimal("20000"), status="failed", created_at=NOW)

    assert payment.refunded_amount == Decimal("12000")
    assert payment.refundable_amount == Decimal("23000")


@pytest.mark.parametrize("status", ["pending", "failed", "cancelled"], ids=["pending", "failed", "cancelled"])
def test_only_a_succeeded_payment_is_refundable(status):
    assert PaymentFactory(status=status).refundable_amount == Decimal("0")


def test_coupon_codes_are_stored_upper_case_and_unique_without_regard_to_case():
    coupon = CouponFactory(code="  verano ")

    assert coupon.code == "VERANO"
    with pytest.raises(IntegrityError), transaction.atomic():
        Coupon.objects.bulk_create([Coupon(code="Verano", value=Decimal("5"))])  # bypasses save()'s upper-casing


def _violates(create):
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def test_money_invariants_are_kept_by_the_database():
    invoice = InvoiceFactory(appointment=False)
    payment = PaymentFactory(invoice=invoice)

    _violates(lambda: Invoice.objects.filter(pk=invoice.pk).update(total=Decimal("-1")))
    _violates(lambda: Invoice.objects.filter(pk=invoice.pk).update(amount_paid=10, amount_refunded=11))
    _violates(lambda: PaymentFactory(invoice=invoice, amount=Decimal("0")))
    _violates(lambda: Refund.objects.create(payment=payment, amount=Decimal("0"), created_at=NOW))
    _violates(lambda: CouponFactory(kind="percent", value=Decimal("101")))
    _violates(lambda: CouponFactory(kind="amount", value=Decimal("0")))


def test_numbers_and_provider_ids_are_unique_when_present():
    series = InvoiceSeries.objects.get(code="default")
    first = InvoiceFactory(number=7, series=series, appointment=False)
    InvoiceFactory(number=None, status="draft", appointment=False)
    InvoiceFactory(number=None, status="draft", appointment=False)  # drafts share "no number"
    PaymentFactory(invoice=first, provider="stripe", provider_reference="", provider_payment_reference="")
    PaymentFactory(invoice=first, provider="stripe", provider_reference="cs_1", provider_payment_reference="pi_1")

    _violates(lambda: InvoiceFactory(number=7, series=series, appointment=False))
    _violates(lambda: PaymentFactory(invoice=first, provider="stripe", provider_reference="cs_1"))
    _violates(lambda: PaymentFactory(invoice=first, provider="stripe", provider_payment_reference="pi_1"))
    Refund.objects.create(
        payment=first.payments.first(), amount=1, provider="stripe", provider_reference="re_1", created_at=NOW
    )
    _violates(
        lambda: Refund.objects.create(
            payment=first.payments.first(), amount=1, provider="stripe", provider_reference="re_1", created_at=NOW
        )
    )
    coupon = CouponFactory()
    CouponRedemption.objects.create(coupon=coupon, invoice=first, amount=1, created_at=NOW)
    _violates(lambda: CouponRedemption.objects.create(coupon=coupon, invoice=first, amount=1, created_at=NOW))
    ProcessedEvent.objects.create(
        provider="stripe", event_id="evt_1", type="checkout.session.completed", received_at=NOW
    )
    _violates(
        lambda: ProcessedEvent.objects.create(
            provider="stripe", event_id="evt_1", type="checkout.session.completed", received_at=NOW
        )
    )


def test_money_rows_are_protected_from_deletion():
    payment = PaymentFactory()

    _violates(lambda: payment.invoice.delete())


def test_string_forms_name_what_staff_see():
    payment = PaymentFactory(amount=Decimal("35000"))
    refund = Refund.objects.create(payment=payment, amount=Decimal("5000"), created_at=NOW)
    event = InvoiceEvent.objects.create(invoice=payment.invoice, action="voided", at=NOW)

    with translation.override("en"):
        assert str(payment) == "Cash · $35,000"
        assert str(refund) == "$5,000 · Pending"
        assert str(event) == f"{payment.invoice.display_number} · Voided"
