"""Drop the Stripe columns now copied (step 3 of 3) and make the provider references unique per provider."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("billing", "0004_copy_stripe_columns_to_provider_fields")]

    operations = [
        migrations.RemoveConstraint(model_name="payment", name="billing_payment_unique_checkout_session"),
        migrations.RemoveConstraint(model_name="payment", name="billing_payment_unique_payment_intent"),
        migrations.RemoveConstraint(model_name="refund", name="billing_refund_unique_stripe_id"),
        migrations.RemoveField(model_name="payment", name="stripe_checkout_session_id"),
        migrations.RemoveField(model_name="payment", name="stripe_checkout_url"),
        migrations.RemoveField(model_name="payment", name="stripe_payment_intent_id"),
        migrations.RemoveField(model_name="payment", name="stripe_charge_id"),
        migrations.RemoveField(model_name="refund", name="stripe_refund_id"),
        migrations.AddConstraint(
            model_name="payment",
            constraint=models.UniqueConstraint(
                condition=models.Q(("provider_reference", ""), _negated=True),
                fields=("provider", "provider_reference"),
                name="billing_payment_unique_provider_reference",
            ),
        ),
        migrations.AddConstraint(
            model_name="payment",
            constraint=models.UniqueConstraint(
                condition=models.Q(("provider_payment_reference", ""), _negated=True),
                fields=("provider", "provider_payment_reference"),
                name="billing_payment_unique_provider_payment",
            ),
        ),
        migrations.AddConstraint(
            model_name="refund",
            constraint=models.UniqueConstraint(
                condition=models.Q(("provider_reference", ""), _negated=True),
                fields=("provider", "provider_reference"),
                name="billing_refund_unique_provider_reference",
            ),
        ),
    ]
