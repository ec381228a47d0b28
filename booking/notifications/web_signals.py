"""Receivers of the patient-facing side, connected when the app is ready (``NotificationsConfig.ready``).

- anymail's ``tracking`` (Mailgun's signed webhook, verified by anymail's view) → ``webhooks.record_tracking_event``;
- scheduling's ``appointment_changed`` with ``completed`` (after the commit) → the emails by session number
  (``rules.plan_after_completion``). Planning is idempotent, so a signal delivered twice plans nothing new.
"""

from __future__ import annotations

from anymail.signals import tracking
from django.dispatch import receiver

from booking.scheduling.models import Appointment, AppointmentEvent
from booking.scheduling.services import appointment_changed

from .rules import plan_after_completion
from .webhooks import record_tracking_event

tracking.connect(record_tracking_event, dispatch_uid="notifications.record_tracking_event")


@receiver(appointment_changed, sender=Appointment, dispatch_uid="notifications.plan_session_number_emails")
def plan_session_number_emails_on_completion(sender, appointment: Appointment, action: str, **kwargs) -> None:
    if action == AppointmentEvent.Action.COMPLETED:
        plan_after_completion(appointment.pk)
