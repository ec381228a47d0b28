"""Background jobs of the booking box: the confirmation email, sent by huey so a slow mail provider never holds
up (or fails) the request or the Stripe webhook that confirmed the session.

A queued task lives only in Redis and in the worker that took it: a consumer killed mid-task loses it. So the task
is only the fast path; the sweep below re-derives from the database every confirmation still owed and sends it.
The notifications outbox will replace both with one periodic claimer.
"""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from .emails import deliver_booking_confirmation, send_due_booking_confirmations


@db_task()
def send_booking_confirmation_task(appointment_id: int) -> None:
    """Right after the confirming commit. No huey retries: a failed send keeps its claim and the sweep retries it."""
    deliver_booking_confirmation(appointment_id)


@db_periodic_task(crontab(minute="*"))
def send_due_booking_confirmations_task() -> int:
    """Every minute: send the confirmations whose task was lost (killed consumer) or failed."""
    return send_due_booking_confirmations()
