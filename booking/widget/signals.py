"""The box's confirmation email follows the appointment's own "confirmed" event, whatever confirmed it.

A session paid at the clinic is confirmed by the booking itself; one paid online is confirmed later, by the
Stripe webhook (or the return page), in billing. Listening to scheduling's ``appointment_changed`` (sent on
commit) covers both without billing knowing about the box: one email per confirmation, never for a hold.
"""

from __future__ import annotations

from django.dispatch import receiver

from booking.scheduling.models import Appointment, AppointmentEvent, AppointmentSource
from booking.scheduling.services import appointment_changed

from .tasks import send_booking_confirmation_task


@receiver(appointment_changed, sender=Appointment, dispatch_uid="widget.booking_confirmed_email")
def email_confirmed_box_booking(sender, appointment: Appointment, action: str, **kwargs) -> None:
    if action == AppointmentEvent.Action.CONFIRMED and appointment.source == AppointmentSource.BOOKING_BOX:
        send_booking_confirmation_task(appointment.pk)
