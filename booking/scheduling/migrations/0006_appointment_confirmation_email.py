from django.db import migrations, models
from django.db.models import F


def mark_existing_confirmations_sent(apps, schema_editor):
    """Confirmations of sessions booked before this migration went out through the old task, which kept no record:
    mark them sent, so the first sweep after the deploy does not email them again."""
    Appointment = apps.get_model("scheduling", "Appointment")
    Appointment.objects.filter(source="booking_box", status="confirmed").update(confirmation_sent_at=F("updated_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0005_location_observes_public_holidays"),
    ]

    operations = [
        migrations.AddField(
            model_name="appointment",
            name="confirmation_claimed_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="confirmation email claimed at"),
        ),
        migrations.AddField(
            model_name="appointment",
            name="confirmation_sent_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="confirmation email sent at"),
        ),
        migrations.RunPython(mark_existing_confirmations_sent, migrations.RunPython.noop),
    ]
