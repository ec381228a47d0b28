"""Background jobs of the booking box: the confirmation email, sent by huey so a slow mail provider never holds
up (or fails) the request or the Stripe webhook that confirmed the session."""

from huey.contrib.djhuey import db_task

from .emails import send_booking_confirmation


@db_task(retries=3, retry_delay=60)
def send_booking_confirmation_task(appointment_id: int) -> None:
    send_booking_confirmation(appointment_id)
