"""Payments, refunds and processed webhook events name their payment provider (schema, step 1 of 3).

The provider-neutral columns are added next to the Stripe ones; 0004 copies the data across and 0005 removes
the Stripe columns. ``StripeEvent`` becomes ``ProcessedEvent``: its rows were all Stripe's, hence the default.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("billing", "0002_default_series")]

    operations = [
        migrations.AddField(
            model_name="payment",
            name="provider",
            field=models.CharField(
                blank=True,
                help_text="Who took an online payment; empty if offline.",
                max_length=32,
                verbose_name="payment provider",
            ),
        ),
        migrations.AddField(
            model_name="payment",
            name="provider_reference",
            field=models.CharField(blank=True, max_length=255, verbose_name="provider's checkout reference"),
        ),
        migrations.AddField(
            model_name="payment",
            name="provider_payment_reference",
            field=models.CharField(blank=True, max_length=255, verbose_name="provider's payment reference"),
        ),
        migrations.AddField(
            model_name="payment",
            name="provider_data",
            field=models.JSONField(blank=True, default=dict, verbose_name="provider details"),
        ),
        migrations.AlterField(
            model_name="payment",
            name="method",
            field=models.CharField(
                choices=[
                    ("online", "Card (online)"),
                    ("cash", "Cash"),
                    ("transfer", "Bank transfer"),
                    ("card_terminal", "Card at the clinic"),
                ],
                max_length=16,
                verbose_name="method",
            ),
        ),
        migrations.AddField(
            model_name="refund",
            name="provider",
            field=models.CharField(blank=True, max_length=32, verbose_name="payment provider"),
        ),
        migrations.AddField(
            model_name="refund",
            name="provider_reference",
            field=models.CharField(blank=True, max_length=255, verbose_name="provider's refund reference"),
        ),
        migrations.RenameModel(old_name="StripeEvent", new_name="ProcessedEvent"),
        migrations.AlterModelOptions(
            name="processedevent",
            options={
                "ordering": ["-received_at"],
                "verbose_name": "processed payment event",
                "verbose_name_plural": "processed payment events",
            },
        ),
        migrations.AddField(
            model_name="processedevent",
            name="provider",
            field=models.CharField(default="stripe", max_length=32, verbose_name="payment provider"),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="processedevent",
            name="event_id",
            field=models.CharField(max_length=255, verbose_name="event id"),
        ),
        migrations.AddConstraint(
            model_name="processedevent",
            constraint=models.UniqueConstraint(fields=("provider", "event_id"), name="billing_processed_event_unique"),
        ),
    ]
