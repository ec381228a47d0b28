"""Refunds against the fake Stripe: ours reach Stripe in minor units, Stripe's ``charge.refunded`` is counted once.

Each test first pays an invoice through Checkout (webhooks to the live server). A refund the clinic makes with
``services.refund_payment`` is recorded by the service; Stripe's ``charge.refunded`` about it is held back
(``pause_webhooks``) and delivered afterwards, as a webhook that arrives late, and must change nothing. A refund
made in Stripe's dashboard is known only through that webhook.
"""

from decimal import Decimal

import pytest
import requests
from django.db import transaction

from booking.billing import services, stripe_gateway
from booking.billing.errors import PaymentError
from booking.billing.models import InvoiceStatus, Payment, PaymentStatus, ProcessedEvent, Refund, RefundStatus
from booking.billing.providers.stripe import StripeProvider
from booking.scheduling import services as scheduling
from booking.scheduling.errors import BookingError
from tests.factories.scheduling import SuperuserFactory

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def pay(stripe_live, stripe_clock, make_held_invoice):
    """``pay(price=, currency=)``: an invoice paid through Checkout, its payment succeeded."""

    def paid(*, price=Decimal("15000"), currency="CLP") -> Payment:
        invoice = make_held_invoice(price=price, currency=currency)
        payment = services.start_checkout(
            invoice=invoice,
            success_url="http://testserver/billing/checkout/success/?session_id={CHECKOUT_SESSION_ID}",
            cancel_url="http://testserver/cancel/",
            actor=invoice.patient.user,
        )
        since = stripe_live.delivery_count()
        stripe_live.complete_checkout(payment.provider_reference)
        stripe_live.wait_for_deliveries("checkout.session.completed", since=since)
        payment.refresh_from_db()
        assert payment.status == PaymentStatus.SUCCEEDED
        return payment

    return paid


@pytest.fixture
def staff(db):
    return SuperuserFactory()


def at_stripe(stripe_live, payment: Payment) -> list[int]:
    return sorted(refund["amount"] for refund in stripe_live.list_refunds(payment.provider_payment_reference))


def refund_late_webhooks(stripe_live, count: int) -> list[dict]:
    """Deliver the held ``charge.refunded`` events now, after the clinic's own bookkeeping finished."""
    since = stripe_live.delivery_count()
    stripe_live.resume_webhooks()
    return stripe_live.wait_for_deliveries("charge.refunded", count=count, since=since)


def test_a_full_refund_reaches_stripe_and_refunds_the_invoice(stripe_live, pay, staff):
    payment = pay()
    stripe_live.pause_webhooks()

    refund = services.refund_payment(payment=payment, reason="Session cancelled by the clinic", actor=staff)

    assert refund.status == RefundStatus.SUCCEEDED
    assert refund.provider_reference.startswith("re_")
    assert refund.amount == Decimal("15000")
    assert at_stripe(stripe_live, payment) == [15000]
    assert stripe_live.retrieve("payment_intents", payment.provider_payment_reference)["latest_charge"]["refunded"]
    invoice = payment.invoice
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_refunded) == (InvoiceStatus.REFUNDED, Decimal("15000"))

    delivered = refund_late_webhooks(stripe_live, count=1)

    assert [d["status"] for d in delivered if d["type"] == "charge.refunded"] == [200]
    assert Refund.objects.count() == 1
    invoice.refresh_from_db()
    assert invoice.amount_refunded == Decimal("15000")


def test_partial_refunds_add_up_at_stripe_and_on_the_invoice(stripe_live, pay, staff):
    payment = pay()
    stripe_live.pause_webhooks()

    services.refund_payment(payment=payment, amount=Decimal("5000"), reason="Shorter session", actor=staff)
    invoice = payment.invoice
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_refunded) == (InvoiceStatus.PARTIALLY_REFUNDED, Decimal("5000"))
    assert at_stripe(stripe_live, payment) == [5000]

    services.refund_payment(payment=payment, reason="The rest, as agreed", actor=staff)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_refunded) == (InvoiceStatus.REFUNDED, Decimal("15000"))
    assert at_stripe(stripe_live, payment) == [5000, 10000]

    refund_late_webhooks(stripe_live, count=2)

    assert sorted(Refund.objects.values_list("amount", flat=True)) == [Decimal("5000"), Decimal("10000")]
    invoice.refresh_from_db()
    assert invoice.amount_refunded == Decimal("15000")


def test_a_dollar_refund_reaches_stripe_in_cents(stripe_live, pay, staff):
    payment = pay(price=Decimal("12.50"), currency="USD")
    stripe_live.pause_webhooks()

    services.refund_payment(payment=payment, amount=Decimal("2.50"), reason="Discount after the fact", actor=staff)

    assert at_stripe(stripe_live, payment) == [250]
    payment.invoice.refresh_from_db()
    assert payment.invoice.amount_refunded == Decimal("2.50")


def test_a_refund_beyond_what_was_paid_never_reaches_stripe(stripe_live, pay, staff):
    payment = pay()

    with pytest.raises(PaymentError) as refused:
        services.refund_payment(payment=payment, amount=Decimal("20000"), reason="Too much", actor=staff)

    assert refused.value.code == "amount_too_large"
    assert at_stripe(stripe_live, payment) == []
    assert not Refund.objects.exists()


def test_a_dashboard_refund_is_recorded_once_from_charge_refunded(stripe_live, pay):
    payment = pay()
    since = stripe_live.delivery_count()

    stripe_live.create_refund(payment.provider_payment_reference, amount=4000)
    delivered = stripe_live.wait_for_deliveries("charge.refunded", since=since)[-1]
    replays = [
        requests.post(
            delivered["url"],
            data=delivered["payload"].encode(),
            headers={"Content-Type": "application/json", "Stripe-Signature": delivered["signature"]},
            timeout=10,
        )
        for _ in range(2)
    ]

    assert delivered["status"] == 200
    assert [r.json()["duplicate"] for r in replays] == [True, True]
    refund = Refund.objects.get()
    assert (refund.amount, refund.status) == (Decimal("4000"), RefundStatus.SUCCEEDED)
    assert refund.provider_reference == stripe_live.list_refunds(payment.provider_payment_reference)[0]["id"]
    assert refund.reason == StripeProvider.external_refund_reason
    invoice = payment.invoice
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_refunded) == (InvoiceStatus.PARTIALLY_REFUNDED, Decimal("4000"))
    assert ProcessedEvent.objects.filter(event_id=delivered["event_id"]).count() == 1

    # A second refund in the dashboard: its event lists both refunds, only the new one is added.
    since = stripe_live.delivery_count()
    stripe_live.create_refund(payment.provider_payment_reference, amount=11000)
    stripe_live.wait_for_deliveries("charge.refunded", since=since)

    assert sorted(Refund.objects.values_list("amount", flat=True)) == [Decimal("4000"), Decimal("11000")]
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_refunded) == (InvoiceStatus.REFUNDED, Decimal("15000"))


def test_the_webhooks_automatic_refund_reaches_stripe_once_after_its_commit(
    stripe_live, stripe_clock, make_held_invoice, monkeypatch
):
    """The patient pays after the held time was given to someone else: the ``checkout.session.completed``
    webhook records the payment and decides the refund; the refund reaches Stripe after that commit, once,
    and Stripe's ``charge.refunded`` about it changes nothing more."""

    def time_already_taken(**kwargs):
        raise BookingError("slot_unavailable")

    asked_in_a_transaction = []
    create_refund = stripe_gateway.create_refund

    def watched_create_refund(**arguments):  # runs in the live server's thread, on its own connection
        asked_in_a_transaction.append(transaction.get_connection().in_atomic_block)
        return create_refund(**arguments)

    monkeypatch.setattr(scheduling, "confirm_appointment", time_already_taken)
    monkeypatch.setattr(stripe_gateway, "create_refund", watched_create_refund)
    invoice = make_held_invoice()
    payment = services.start_checkout(
        invoice=invoice,
        success_url="http://testserver/billing/checkout/success/?session_id={CHECKOUT_SESSION_ID}",
        cancel_url="http://testserver/cancel/",
        actor=invoice.patient.user,
    )
    since = stripe_live.delivery_count()

    stripe_live.complete_checkout(payment.provider_reference)
    stripe_live.wait_for_deliveries("charge.refunded", since=since)
    stripe_live.wait_idle()

    assert asked_in_a_transaction == [False]  # once, after the webhook's transaction committed
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    refund = Refund.objects.get()
    assert (refund.reason, refund.status, refund.amount) == (
        services.REASON_TIME_TAKEN,
        RefundStatus.SUCCEEDED,
        Decimal("15000"),
    )
    (at_stripe_refund,) = stripe_live.list_refunds(payment.provider_payment_reference)
    assert (at_stripe_refund["id"], at_stripe_refund["amount"]) == (refund.provider_reference, 15000)
    assert at_stripe_refund["metadata"]["refund"] == str(refund.pk)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_refunded) == (InvoiceStatus.REFUNDED, Decimal("15000"))
    deliveries = stripe_live.wait_for_deliveries("checkout.session.completed", since=since)
    assert {delivery["status"] for delivery in deliveries} == {200}
