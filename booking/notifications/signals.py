"""Every appointment change plans its messages: scheduling sends ``appointment_changed`` after the commit, for
bookings made by staff, the box, the API or the portal, and for holds the payment webhook confirms (billing calls
``confirm_appointment``, which sends it too). One receiver, so every source gets the same confirmation."""

from __future__ import annotations

from django.dispatch import receiver

from booking.scheduling.models import Appointment
from booking.scheduling.services import appointment_changed

from .services import plan_for_appointment_change
from .tasks import dispatch_soon


@receiver(appointment_changed, sender=Appointment, dispatch_uid="notifications.plan_appointment_messages")
def plan_appointment_messages(sender, appointment: Appointment, action: str, **kwargs) -> None:
    if plan_for_appointment_change(appointment.pk, action):
        dispatch_soon()
