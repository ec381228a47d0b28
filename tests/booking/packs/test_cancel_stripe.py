"""Cancelling a pack paid through Stripe Checkout (the local test Stripe): the webhook activates the pack, and the
pro-rata refund of ``cancel_pack`` reaches Stripe once, after the cancellation's commit, in the currency's units."""

import datetime
from decimal import Decimal

import pytest

from booking.billing import services as billing
from booking.billing.models import InvoiceStatus, Refund, RefundStatus
from booking.packs.models import PurchaseStatus
from booking.packs.services import cancel_pack, purchase_pack, reserve_session
from booking.scheduling import services as scheduling
from tests.factories.packs import package_with

from .conftest import SESSION_START

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(autouse=True)
def _content_types_cached_for_the_next_restore():
    """The roles the ``clinic`` fixture sets up empty Django's content type cache (``create_permissions``); the next
    test's serialized rollback needs it warm (see ``tests/e2e/conftest.py``). Refilled before this test's flush."""
    yield
    from django.apps import apps
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.get_for_models(*apps.get_models(), for_concrete_models=False)


def paid_online(stripe_live, clinic, package):
    purchase = purchase_pack(
        package=package, patient=clinic.patient, actor=clinic.patient.user, pay_at_clinic=False, source="booking_box"
    )
    payment = billing.start_checkout(
        invoice=purchase.invoice_line.invoice,
        success_url="http://testserver/billing/checkout/success/?session_id={CHECKOUT_SESSION_ID}",
        cancel_url="http://testserver/cancel/",
        actor=clinic.patient.user,
    )
    since = stripe_live.delivery_count()
    stripe_live.complete_checkout(payment.provider_reference)
    stripe_live.wait_for_deliveries("checkout.session.completed", since=since)
    purchase.refresh_from_db()
    payment.refresh_from_db()
    return purchase, payment


@pytest.mark.parametrize(
    ("currency", "price", "refund", "at_stripe"),
    [("CLP", "90000", "60000", 60000), ("USD", "100.00", "66.66", 6666)],
)
def test_the_pro_rata_refund_reaches_stripe_once(
    stripe_live, stripe_clock, clinic, make_session, currency, price, refund, at_stripe
):
    package = package_with({clinic.psychology: 3}, price=Decimal(price), currency=currency)
    purchase, payment = paid_online(stripe_live, clinic, package)
    assert purchase.status == PurchaseStatus.ACTIVE  # the webhook granted it
    session = make_session(clinic.psychology, start=SESSION_START)
    reserve_session(purchase=purchase, service=clinic.psychology, appointment=session, actor=clinic.receptionist)
    scheduling.mark_completed(appointment=session, actor=clinic.receptionist, now=session.end)
    stripe_live.pause_webhooks()

    result = cancel_pack(
        purchase=purchase,
        actor=clinic.administrator,
        reason="Se muda",
        now=SESSION_START + datetime.timedelta(days=2),
    )

    (made,) = result.refunds
    assert (made.amount, made.status) == (Decimal(refund), RefundStatus.SUCCEEDED)  # sent after the commit
    refunds = stripe_live.list_refunds(payment.provider_payment_reference)
    assert [item["amount"] for item in refunds] == [at_stripe]
    assert refunds[0]["id"] == made.provider_reference
    since = stripe_live.delivery_count()
    stripe_live.resume_webhooks()
    stripe_live.wait_for_deliveries("charge.refunded", since=since)
    assert Refund.objects.count() == 1
    invoice = purchase.invoice_line.invoice
    invoice.refresh_from_db()
    assert (invoice.status, invoice.amount_refunded) == (InvoiceStatus.PARTIALLY_REFUNDED, Decimal(refund))
    assert [item["amount"] for item in stripe_live.list_refunds(payment.provider_payment_reference)] == [at_stripe]
