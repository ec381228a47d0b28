"""Every online session gets its own video room (booking.scheduling.video); the open ones booked before get theirs
here, so that the portal's video page works for them too. Closed sessions keep none: nobody joins them again."""

import base64
import secrets

from django.db import migrations, models

OPEN_STATUSES = ("pending_payment", "confirmed")


def give_open_online_sessions_a_room(apps, schema_editor):
    Appointment = apps.get_model("scheduling", "Appointment")
    sessions = list(
        Appointment.objects.filter(modality="online", status__in=OPEN_STATUSES, video_room="").only("pk", "video_room")
    )
    for appointment in sessions:
        # As booking.scheduling.video.new_room_name (copied: a migration must not change when the code does).
        appointment.video_room = base64.b32encode(secrets.token_bytes(20)).decode("ascii").rstrip("=").lower()
    Appointment.objects.bulk_update(sessions, ["video_room"], batch_size=500)


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0011_professional_availability_self_service"),
    ]

    operations = [
        migrations.AddField(
            model_name="appointment",
            name="video_room",
            field=models.CharField(blank=True, editable=False, max_length=64, verbose_name="video room"),
        ),
        migrations.RunPython(give_open_online_sessions_a_room, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="appointment",
            constraint=models.UniqueConstraint(
                condition=models.Q(("video_room", ""), _negated=True),
                fields=("video_room",),
                name="scheduling_appointment_unique_video_room",
            ),
        ),
    ]
