"""The migration from the Stripe columns to the provider fields (billing 0003–0005) keeps every row and its
uniqueness: run from 0002 with rows written by the historical models, forward to the latest state, and back.

It runs on SQLite by default and on PostgreSQL with ``DATABASE_URL`` (the whole directory, or this file).
"""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from booking.billing.models import Payment, PaymentMethod, ProcessedEvent, Refund

BEFORE = [("billing", "0002_default_series")]
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def stripe_rows(apps) -> dict:
    """Today's rows, as the models before 0003 write them: a paid Checkout, an abandoned one, a cash payment."""
    series, _created = apps.get_model("billing", "InvoiceSeries").objects.get_or_create(
        code="default", defaults={"prefix": "B-", "name": "Boletas"}
    )
    invoice = apps.get_model("billing", "Invoice").objects.create(series=series, billing_name="Pía Rojas")
    payment_model = apps.get_model("billing", "Payment")
    paid = payment_model.objects.create(
        invoice=invoice,
        method="stripe",
        amount=Decimal("35000"),
        status="succeeded",
        stripe_checkout_session_id="cs_paid",
        stripe_checkout_url="https://checkout.stripe.com/c/pay/cs_paid",
        stripe_payment_intent_id="pi_paid",
        stripe_charge_id="ch_paid",
    )
    abandoned = payment_model.objects.create(
        invoice=invoice,
        method="stripe",
        amount=Decimal("35000"),
        status="cancelled",
        stripe_checkout_session_id="cs_gone",
    )
    cash = payment_model.objects.create(invoice=invoice, method="cash", amount=Decimal("1000"), status="succeeded")
    refund_model = apps.get_model("billing", "Refund")
    stripe_refund = refund_model.objects.create(
        payment=paid, amount=Decimal("5000"), status="succeeded", stripe_refund_id="re_1", created_at=NOW
    )
    desk_refund = refund_model.objects.create(payment=cash, amount=Decimal("1000"), status="succeeded", created_at=NOW)
    apps.get_model("billing", "StripeEvent").objects.create(
        event_id="evt_1", type="checkout.session.completed", object_id="cs_paid", received_at=NOW
    )
    return {"paid": paid.pk, "abandoned": abandoned.pk, "cash": cash.pk, "refund": stripe_refund.pk,
            "desk_refund": desk_refund.pk}  # fmt: skip


def refused(create) -> bool:
    try:
        with transaction.atomic():
            create()
    except IntegrityError:
        return True
    return False


# Transactional, as the schema changes; the serialized rollback puts back the rows migrations made, as for the other
# transactional tests here, so the order the tests run in does not matter.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_stripe_rows_become_provider_rows_and_stay_unique():
    try:
        old_apps = migrate(BEFORE)
        pks = stripe_rows(old_apps)

        migrate(latest())

        paid = Payment.objects.get(pk=pks["paid"])
        assert (paid.method, paid.provider, paid.provider_reference, paid.provider_payment_reference) == (
            PaymentMethod.ONLINE,
            "stripe",
            "cs_paid",
            "pi_paid",
        )
        assert paid.provider_data == {"checkout_url": "https://checkout.stripe.com/c/pay/cs_paid", "charge": "ch_paid"}
        assert (paid.checkout_url, paid.provider_charge_reference) == (paid.provider_data["checkout_url"], "ch_paid")
        abandoned = Payment.objects.get(pk=pks["abandoned"])
        assert (abandoned.provider, abandoned.provider_reference, abandoned.provider_data) == ("stripe", "cs_gone", {})
        cash = Payment.objects.get(pk=pks["cash"])
        assert (cash.method, cash.provider, cash.provider_reference, cash.provider_data) == ("cash", "", "", {})
        refund = Refund.objects.get(pk=pks["refund"])
        assert (refund.provider, refund.provider_reference) == ("stripe", "re_1")
        assert Refund.objects.get(pk=pks["desk_refund"]).provider == ""
        assert list(ProcessedEvent.objects.values_list("provider", "event_id", "type")) == [
            ("stripe", "evt_1", "checkout.session.completed")
        ]

        def payment(**fields):
            fields = {"method": "online", "provider": "stripe", "amount": Decimal("1"), **fields}
            return lambda: Payment.objects.create(invoice_id=paid.invoice_id, **fields)

        assert refused(payment(provider_payment_reference="pi_paid"))  # one Stripe payment recorded twice
        assert refused(payment(provider_reference="cs_paid"))
        assert refused(lambda: Refund.objects.create(
            payment=paid, amount=1, provider="stripe", provider_reference="re_1", created_at=NOW))  # fmt: skip
        assert refused(lambda: ProcessedEvent.objects.create(provider="stripe", event_id="evt_1", received_at=NOW))
        assert not refused(payment(provider="fakepay", provider_payment_reference="pi_paid"))  # unique per provider

        Payment.objects.filter(provider="fakepay").delete()
        old_apps = migrate(BEFORE)  # and back: the Stripe columns get their values again

        back = old_apps.get_model("billing", "Payment").objects.get(pk=pks["paid"])
        assert (back.method, back.stripe_checkout_session_id, back.stripe_payment_intent_id) == (
            "stripe",
            "cs_paid",
            "pi_paid",
        )
        assert (back.stripe_checkout_url, back.stripe_charge_id) == (paid.checkout_url, "ch_paid")
        assert old_apps.get_model("billing", "Refund").objects.get(pk=pks["refund"]).stripe_refund_id == "re_1"
        assert old_apps.get_model("billing", "StripeEvent").objects.get().event_id == "evt_1"
    finally:
        migrate(latest())
