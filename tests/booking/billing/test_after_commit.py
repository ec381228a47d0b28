"""No Stripe call inside a database transaction: what a transaction decides is sent to Stripe after its commit.

The guard (``network_guard``) refuses any gateway call made with a transaction open. A refund or the closing of a
checkout decided inside a transaction (the webhook's, a cancellation's) is a row plus an on-commit huey task: it
reaches Stripe only once the transaction commits, never when it rolls back, and exactly once however often the
task runs. Webhooks are posted through the test client with the fake gateway of ``fakes.py``; the conftest makes
the application's commits run their on-commit hooks, as a real COMMIT does.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction

from booking.billing import network_guard, services, stripe_gateway, tasks
from booking.billing.models import InvoiceStatus, PaymentStatus, ProcessedEvent, Refund, RefundStatus
from booking.billing.network_guard import ProviderCallInTransaction
from booking.billing.providers import ProviderError
from booking.scheduling import services as scheduling
from booking.scheduling.errors import BookingError
from booking.scheduling.services import CancellationOutcome, RefundDecision

from .fakes import FakeGateway
from .test_webhooks import appointment_of, send, session_object

# The pending Refund rows this creates are read back by the sweep relative to this moment.
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def time_already_taken(**kwargs):
    """Stands in for ``confirm_appointment`` when the hold ran out and someone else booked the time."""
    raise BookingError("slot_unavailable")


class Boom(Exception):
    pass


# --------------------------------------------------------------------------------------------- the guard

GATEWAY_CALLS = {
    "create_checkout_session": lambda gateway: gateway.create_checkout_session(
        client_reference_id="INV1",
        line_description="Session",
        amount=Decimal("15000"),
        currency="CLP",
        customer_email="",
        success_url="https://clinic.example/ok/",
        cancel_url="https://clinic.example/cancel/",
        expires_at=NOW + timedelta(hours=1),
        metadata={},
        idempotency_key="checkout-1",
        locale="es",
    ),
    "retrieve_checkout_session": lambda gateway: gateway.retrieve_checkout_session("cs_test_1"),
    "expire_checkout_session": lambda gateway: gateway.expire_checkout_session("cs_test_1"),
    "create_refund": lambda gateway: gateway.create_refund(
        payment_intent_id="pi_1", amount=Decimal("100"), currency="CLP", idempotency_key="refund-1", metadata={}
    ),
    "list_refunds": lambda gateway: gateway.list_refunds(charge_id="ch_1", currency="CLP"),
}


@pytest.mark.django_db
@pytest.mark.parametrize("call", GATEWAY_CALLS.values(), ids=GATEWAY_CALLS.keys())
def test_the_gateway_refuses_to_call_stripe_inside_a_transaction(call, settings):
    settings.STRIPE_ENABLED, settings.STRIPE_SECRET_KEY = True, "sk_test_unreachable"
    settings.STRIPE_API_BASE, settings.STRIPE_MAX_NETWORK_RETRIES = "http://127.0.0.1:9", 0

    with transaction.atomic(), pytest.raises(ProviderCallInTransaction):
        call(stripe_gateway)

    # outside the application's transactions (the test case's own do not count) the call is made, and fails
    with pytest.raises(stripe_gateway.GatewayError):
        call(stripe_gateway)


@pytest.mark.django_db
@pytest.mark.parametrize("name", [name for name in GATEWAY_CALLS if name != "list_refunds"], ids=lambda name: name)
def test_the_fake_gateway_refuses_too(name):
    fake = FakeGateway()

    with transaction.atomic(), pytest.raises(ProviderCallInTransaction):
        GATEWAY_CALLS[name](fake)

    assert fake.calls == []


@pytest.mark.django_db
def test_the_test_cases_own_blocks_are_not_a_transaction():
    assert not network_guard.in_transaction()
    with transaction.atomic():
        assert network_guard.in_transaction()


# --------------------------------------------------------------------------------------------- webhooks


@pytest.fixture
def fake(db, monkeypatch, settings):
    from .fakes import install_fake_gateway

    fake = install_fake_gateway(monkeypatch, settings)
    original = fake.create_refund
    fake.seen_at_refund = []

    def create_refund(**arguments):
        # what the database held, as another connection would see it, when Stripe was asked for the money
        fake.seen_at_refund.append(
            {
                "in_transaction": network_guard.in_transaction(),
                "events": ProcessedEvent.objects.count(),
                "pending_refunds": Refund.objects.filter(status=RefundStatus.PENDING).count(),
            }
        )
        return original(**arguments)

    monkeypatch.setattr(stripe_gateway, "create_refund", create_refund)
    return fake


@pytest.fixture
def checkout(fake, make_held_invoice):
    invoice = make_held_invoice()
    return services.start_checkout(
        invoice=invoice,
        success_url="https://clinic.example/billing/checkout/success/?session_id={CHECKOUT_SESSION_ID}",
        cancel_url="https://clinic.example/cancel/",
        actor=invoice.patient.user,
    )


@pytest.fixture
def time_taken(monkeypatch):
    monkeypatch.setattr(scheduling, "confirm_appointment", time_already_taken)


def make_void(checkout):
    """The invoice voided while its Checkout was still open at Stripe (the patient paid in another tab)."""
    services.void_invoice(invoice=checkout.invoice, actor=None, reason="booked by mistake")
    checkout.invoice.refresh_from_db()
    assert checkout.invoice.status == InvoiceStatus.VOID


def refund_calls(fake) -> list[str]:
    return [call["idempotency_key"] for call in fake.calls_of("create_refund")]


@pytest.mark.parametrize(
    ("situation", "reason"),
    [("time_taken", services.REASON_TIME_TAKEN), ("void_invoice", services.REASON_VOID_INVOICE)],
    ids=["time-taken", "void-invoice"],
)
def test_a_webhook_that_must_refund_commits_first_then_refunds_once(
    client, fake, checkout, request, situation, reason
):
    if situation == "time_taken":
        request.getfixturevalue("time_taken")
    else:
        make_void(checkout)

    response = send(client, "checkout.session.completed", session_object(checkout))

    assert response.status_code == 200
    refund = Refund.objects.get()
    assert (refund.amount, refund.reason, refund.status) == (Decimal("15000"), reason, RefundStatus.SUCCEEDED)
    assert refund_calls(fake) == [f"refund-{refund.pk}"]
    # Stripe was asked after the webhook's transaction committed: the event and the pending refund were stored
    assert fake.seen_at_refund == [{"in_transaction": False, "events": 1, "pending_refunds": 1}]
    checkout.refresh_from_db()
    assert checkout.status == PaymentStatus.SUCCEEDED
    checkout.invoice.refresh_from_db()
    assert checkout.invoice.amount_refunded == Decimal("15000")

    # the task run again (a huey retry) and the same event delivered again change nothing
    assert tasks.send_refund.call_local(refund.pk) == RefundStatus.SUCCEEDED
    assert send(client, "checkout.session.completed", session_object(checkout)).json()["duplicate"] is True
    assert refund_calls(fake) == [f"refund-{refund.pk}"]
    assert len(fake.refunds) == 1
    checkout.invoice.refresh_from_db()
    assert checkout.invoice.amount_refunded == Decimal("15000")


def test_a_refund_stripe_fails_once_is_retried_with_the_same_key_and_made_once(client, fake, checkout, time_taken):
    fake.fail_on("create_refund", times=1)

    send(client, "checkout.session.completed", session_object(checkout))

    refund = Refund.objects.get()
    assert refund.status == RefundStatus.SUCCEEDED
    assert refund_calls(fake) == [f"refund-{refund.pk}", f"refund-{refund.pk}"]  # the retry
    assert len(fake.refunds) == 1
    checkout.invoice.refresh_from_db()
    assert checkout.invoice.amount_refunded == Decimal("15000")


def test_while_stripe_keeps_failing_the_refund_stays_pending_and_the_last_attempt_fails_it(fake, checkout):
    services.confirm_payment(payment=checkout, payment_reference="pi_1")
    refund = Refund.objects.create(
        payment=checkout, provider="stripe", amount=Decimal("100"), reason="goodwill", created_at=NOW
    )
    fake.fail_on("create_refund")

    with pytest.raises(ProviderError):
        services.send_refund(refund_id=refund.pk, final_attempt=False)
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PENDING  # a retry is still to come

    with pytest.raises(ProviderError):
        services.send_refund(refund_id=refund.pk, final_attempt=True)
    refund.refresh_from_db()
    assert (refund.status, refund.failure_message) == (RefundStatus.FAILED, "Stripe is unreachable")

    fake.recover("create_refund")
    services.send_refund(refund_id=refund.pk)  # a failed refund is never sent again: staff make a new one
    assert refund_calls(fake) == [f"refund-{refund.pk}"] * 2


def test_the_task_retries_until_stripe_answers_and_fails_the_refund_after_the_last_retry(fake, checkout, time_taken):
    fake.fail_on("create_refund")

    services.confirm_payment(payment=checkout, payment_reference="pi_1")

    refund = Refund.objects.get()
    assert refund.status == RefundStatus.FAILED
    assert refund_calls(fake) == [f"refund-{refund.pk}"] * (tasks.RETRIES + 1)
    assert fake.refunds == {}


def test_a_webhook_rolled_back_after_deciding_a_refund_refunds_nothing(
    client, fake, checkout, time_taken, monkeypatch
):
    send_after_commit = services.checkout._send_refund_after_commit

    def decide_then_crash(refund):
        send_after_commit(refund)
        raise Boom("the worker died before the commit")

    monkeypatch.setattr(services.checkout, "_send_refund_after_commit", decide_then_crash)
    client.raise_request_exception = False

    response = send(client, "checkout.session.completed", session_object(checkout))

    assert response.status_code == 500  # Stripe delivers it again
    assert refund_calls(fake) == []
    assert not Refund.objects.exists()
    assert not ProcessedEvent.objects.exists()
    checkout.refresh_from_db()
    assert checkout.status == PaymentStatus.PENDING


# --------------------------------------------------------------------------------------------- callers' transactions


def test_a_refund_decided_in_a_callers_transaction_waits_for_its_commit(fake, checkout, time_taken):
    with transaction.atomic():
        payment = services.confirm_payment(payment=checkout, payment_reference="pi_1")
        assert refund_calls(fake) == []
        assert payment.refunds.get().status == RefundStatus.PENDING

    refund = Refund.objects.get()
    assert refund.status == RefundStatus.SUCCEEDED
    assert refund_calls(fake) == [f"refund-{refund.pk}"]


def test_nothing_reaches_stripe_when_the_callers_transaction_rolls_back(fake, checkout, time_taken):
    with pytest.raises(Boom), transaction.atomic():
        services.confirm_payment(payment=checkout, payment_reference="pi_1")
        raise Boom

    assert refund_calls(fake) == []
    assert not Refund.objects.exists()
    checkout.refresh_from_db()
    assert checkout.status == PaymentStatus.PENDING


def test_a_cancellation_inside_a_transaction_refunds_and_closes_checkouts_after_the_commit(fake, make_held_invoice):
    paid_invoice = make_held_invoice()
    paid = services.start_checkout(
        invoice=paid_invoice, success_url="https://x.example/", cancel_url="https://x.example/", actor=None
    )
    services.confirm_payment(payment=paid, payment_reference="pi_paid")
    open_invoice = make_held_invoice()
    unpaid = services.start_checkout(
        invoice=open_invoice, success_url="https://x.example/", cancel_url="https://x.example/", actor=None
    )

    with transaction.atomic():
        (refund,) = services.apply_cancellation_outcome(
            outcome=CancellationOutcome(
                appointment=appointment_of(paid), refund=RefundDecision.FULL_REFUND, late=False
            ),
            actor=None,
        )
        services.apply_cancellation_outcome(
            outcome=CancellationOutcome(
                appointment=appointment_of(unpaid), refund=RefundDecision.NOTHING_PAID, late=False
            ),
            actor=None,
        )
        assert refund.status == RefundStatus.PENDING
        assert refund_calls(fake) == [] and fake.calls_of("expire_checkout_session") == []

    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    assert refund_calls(fake) == [f"refund-{refund.pk}"]
    assert fake.sessions[unpaid.provider_reference].status == "expired"


# --------------------------------------------------------------------------------------------- the sweep


def test_the_sweep_sends_a_refund_whose_task_was_lost_and_gives_up_after_a_day(fake, checkout):
    services.confirm_payment(payment=checkout, payment_reference="pi_1")
    payment = checkout
    lost = Refund.objects.create(
        payment=payment, provider="stripe", amount=Decimal("100"), reason="lost", created_at=NOW
    )
    stale = Refund.objects.create(
        payment=payment, amount=Decimal("200"), reason="stale", created_at=NOW - timedelta(days=1)
    )
    also_lost = Refund.objects.create(
        payment=payment, provider="stripe", amount=Decimal("300"), reason="lost too", created_at=NOW
    )

    assert services.send_due_refunds(now=NOW + timedelta(minutes=5)) == 0  # the task may still be on it
    assert services.send_due_refunds(now=NOW + timedelta(minutes=30)) == 2

    for refund in (lost, stale, also_lost):
        refund.refresh_from_db()
    assert (lost.status, also_lost.status) == (RefundStatus.SUCCEEDED, RefundStatus.SUCCEEDED)
    assert stale.status == RefundStatus.FAILED  # beyond Stripe's idempotency window: staff check and retry
    assert refund_calls(fake) == [f"refund-{lost.pk}", f"refund-{also_lost.pk}"]
    assert services.send_due_refunds(now=NOW + timedelta(minutes=31)) == 0
    assert len(refund_calls(fake)) == 2
