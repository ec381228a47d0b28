"""The plain confirmation email of a booking made in the box (the notifications app will own real templates)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext

from booking.scheduling.models import Appointment

from .selectors import clinic_zone


def send_booking_confirmation(appointment_id: int) -> None:
    """Email the patient, in their language, that the session is booked. Called on commit only."""
    appointment = Appointment.objects.select_related("service", "professional", "location", "patient__user").get(
        pk=appointment_id
    )
    user = appointment.patient.user
    if not user.email:
        return
    language = user.preferred_language or settings.LANGUAGE_CODE
    with translation.override(language):
        local_start = appointment.start.astimezone(clinic_zone(appointment.location))
        context = {"appointment": appointment, "user": user, "local_start": local_start}
        subject = gettext("Your session is booked (%(reference)s)") % {"reference": appointment.reference}
        body = render_to_string("widget/email/booking_confirmed.txt", context)
    send_mail(subject, body, None, [user.email])
