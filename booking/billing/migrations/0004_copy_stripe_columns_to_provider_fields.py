"""Copy every payment's and refund's Stripe columns into the provider-neutral ones (data, step 2 of 3).

Stripe payments become ``online`` payments of provider ``stripe``: the Checkout Session id becomes
``provider_reference``, the PaymentIntent ``provider_payment_reference`` (both stay unique: 0005 adds the
constraints), the Checkout address and the charge id go to ``provider_data``. Reversible, so the schema can be
taken back to 0002 without losing a reference.
"""

from django.db import migrations
from django.db.models import F, Q

BATCH = 500
STRIPE = "stripe"


def forwards(apps, schema_editor):
    Payment = apps.get_model("billing", "Payment")
    Refund = apps.get_model("billing", "Refund")
    Payment.objects.filter(method=STRIPE).update(method="online", provider=STRIPE)
    Payment.objects.update(
        provider_reference=F("stripe_checkout_session_id"),
        provider_payment_reference=F("stripe_payment_intent_id"),
    )
    with_details = Payment.objects.filter(~Q(stripe_checkout_url="") | ~Q(stripe_charge_id="")).order_by("pk")
    batch = []
    for payment in with_details.only("pk", "stripe_checkout_url", "stripe_charge_id").iterator(chunk_size=BATCH):
        payment.provider_data = {
            key: value
            for key, value in (("checkout_url", payment.stripe_checkout_url), ("charge", payment.stripe_charge_id))
            if value
        }
        batch.append(payment)
        if len(batch) == BATCH:
            Payment.objects.bulk_update(batch, ["provider_data"])
            batch = []
    if batch:
        Payment.objects.bulk_update(batch, ["provider_data"])
    Refund.objects.filter(payment__provider=STRIPE).update(provider=STRIPE)
    Refund.objects.update(provider_reference=F("stripe_refund_id"))


def backwards(apps, schema_editor):
    Payment = apps.get_model("billing", "Payment")
    Refund = apps.get_model("billing", "Refund")
    Refund.objects.filter(provider=STRIPE).update(stripe_refund_id=F("provider_reference"))
    Payment.objects.filter(provider=STRIPE).update(
        method=STRIPE,
        stripe_checkout_session_id=F("provider_reference"),
        stripe_payment_intent_id=F("provider_payment_reference"),
    )
    batch = []
    stripe_payments = Payment.objects.filter(provider=STRIPE).exclude(provider_data={}).order_by("pk")
    for payment in stripe_payments.only("pk", "provider_data").iterator(chunk_size=BATCH):
        data = payment.provider_data or {}
        payment.stripe_checkout_url = str(data.get("checkout_url") or "")
        payment.stripe_charge_id = str(data.get("charge") or "")
        batch.append(payment)
        if len(batch) == BATCH:
            Payment.objects.bulk_update(batch, ["stripe_checkout_url", "stripe_charge_id"])
            batch = []
    if batch:
        Payment.objects.bulk_update(batch, ["stripe_checkout_url", "stripe_charge_id"])


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_payment_provider_fields")]

    operations = [migrations.RunPython(forwards, backwards)]
