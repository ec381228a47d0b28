"""Every email the clinic sends: who gets it, whether the patient may turn it off, and when it goes.

``Event`` is the list (stored in ``Notification.event`` and ``NotificationTemplate.event``); ``SPECS`` says for
each one its audience, whether it is essential (sent whatever the patient's preferences say, see
``preferences.wants``) and its timing rule. The timing is data, not code scattered in the planner, so the tests can
check the whole table and an editor's question "when does the 1-hour reminder go?" has one answer:

- ``anchor`` is the moment the delay counts from: ``"now"`` (when the change happens), ``"start"`` or ``"end"`` of
  the session;
- ``offset`` is added to it (negative: before the session);
- ``useful_until`` says when a row that could not go on time (the system was down) stops being worth sending: a
  "1 hour before" after the session started is recorded ``skipped`` instead (``stale_after``).

Durations are absolute (``timedelta`` on aware UTC instants), so "24 hours before" stays 24 real hours across
America/Santiago's clock changes; "N days after" a session keeps the local wall-clock time (``local_days``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import models
from django.utils.translation import gettext_lazy as _


class Audience(models.TextChoices):
    PATIENT = "patient", _("Patient")
    PROFESSIONAL = "professional", _("Professional")
    STAFF = "staff", _("Clinic staff")


class Event(models.TextChoices):
    # Patients
    APPOINTMENT_CONFIRMED = "appointment_confirmed", _("Session confirmed")
    APPOINTMENT_CANCELLED = "appointment_cancelled", _("Session cancelled")
    APPOINTMENT_RESCHEDULED = "appointment_rescheduled", _("Session rescheduled")
    REMINDER_24H = "reminder_24h", _("Reminder 24 hours before")
    REMINDER_1H = "reminder_1h", _("Reminder 1 hour before (in person)")
    REMINDER_30MIN = "reminder_30min", _("Reminder 30 minutes before (online)")
    ATTENDANCE_REQUEST = "attendance_request", _("Please confirm you will come (in person)")
    AFTER_SESSION = "after_session", _("After an in-person session")
    AFTER_ONLINE_SESSION = "after_online_session", _("After an online session")
    CONTROL_REMINDER = "control_reminder", _("Control reminder (no next session booked)")
    SESSION_NUMBER = "session_number", _("After the Nth session")
    PACK_PURCHASED = "pack_purchased", _("Pack purchased")
    PACK_CANCELLED = "pack_cancelled", _("Pack cancelled")
    PACK_EXPIRING = "pack_expiring", _("Pack expiring soon")
    PAYMENT_RECEIVED = "payment_received", _("Payment received")
    REFUND_ISSUED = "refund_issued", _("Refund issued")
    # Professionals
    PRO_APPOINTMENT_CONFIRMED = "pro_appointment_confirmed", _("New session (professional)")
    PRO_APPOINTMENT_CANCELLED = "pro_appointment_cancelled", _("Session cancelled (professional)")
    PRO_APPOINTMENT_RESCHEDULED = "pro_appointment_rescheduled", _("Session rescheduled (professional)")
    PRO_PACK_PURCHASED = "pro_pack_purchased", _("Pack purchased by a patient (professional)")
    PRO_PACK_CANCELLED = "pro_pack_cancelled", _("Pack cancelled by a patient (professional)")
    # Clinic staff
    PAYMENT_FAILED = "payment_failed", _("A payment failed (staff)")
    MESSAGE_UNDELIVERABLE = "message_undeliverable", _("A message could not be delivered (staff)")
    TEMPLATE_BROKEN = "template_broken", _("An email template failed to render (staff)")


@dataclass(frozen=True)
class EventSpec:
    audience: str
    essential: bool
    anchor: str = "now"  # "now", "start" or "end"
    offset: timedelta = timedelta(0)
    # The row is skipped when dispatched after this (relative to the session's start, or None: always useful).
    useful_until_start: timedelta | None = None
    attach_ics: bool = False
    local_days: bool = False  # the offset is a number of local calendar days (wall clock kept across DST)


A = Audience
SPECS: dict[str, EventSpec] = {
    Event.APPOINTMENT_CONFIRMED: EventSpec(A.PATIENT, True, useful_until_start=timedelta(0), attach_ics=True),
    Event.APPOINTMENT_CANCELLED: EventSpec(A.PATIENT, True),
    Event.APPOINTMENT_RESCHEDULED: EventSpec(A.PATIENT, True, useful_until_start=timedelta(0), attach_ics=True),
    Event.REMINDER_24H: EventSpec(A.PATIENT, True, "start", -timedelta(hours=24), useful_until_start=timedelta(0)),
    Event.REMINDER_1H: EventSpec(A.PATIENT, True, "start", -timedelta(hours=1), useful_until_start=timedelta(0)),
    Event.REMINDER_30MIN: EventSpec(
        A.PATIENT, True, "start", -timedelta(minutes=30), useful_until_start=timedelta(minutes=10)
    ),
    Event.ATTENDANCE_REQUEST: EventSpec(
        A.PATIENT, True, "start", -timedelta(hours=48), useful_until_start=-timedelta(hours=2)
    ),
    Event.AFTER_SESSION: EventSpec(A.PATIENT, False, "end", timedelta(hours=1)),
    Event.AFTER_ONLINE_SESSION: EventSpec(A.PATIENT, False, "end", timedelta(hours=1)),
    Event.CONTROL_REMINDER: EventSpec(A.PATIENT, False, "end", local_days=True),
    Event.SESSION_NUMBER: EventSpec(A.PATIENT, False, "end", timedelta(hours=2)),
    Event.PACK_PURCHASED: EventSpec(A.PATIENT, True),
    Event.PACK_CANCELLED: EventSpec(A.PATIENT, True),
    Event.PACK_EXPIRING: EventSpec(A.PATIENT, True),
    Event.PAYMENT_RECEIVED: EventSpec(A.PATIENT, True),
    Event.REFUND_ISSUED: EventSpec(A.PATIENT, True),
    Event.PRO_APPOINTMENT_CONFIRMED: EventSpec(A.PROFESSIONAL, True, useful_until_start=timedelta(0)),
    Event.PRO_APPOINTMENT_CANCELLED: EventSpec(A.PROFESSIONAL, True),
    Event.PRO_APPOINTMENT_RESCHEDULED: EventSpec(A.PROFESSIONAL, True, useful_until_start=timedelta(0)),
    Event.PRO_PACK_PURCHASED: EventSpec(A.PROFESSIONAL, True),
    Event.PRO_PACK_CANCELLED: EventSpec(A.PROFESSIONAL, True),
    Event.PAYMENT_FAILED: EventSpec(A.STAFF, True),
    Event.MESSAGE_UNDELIVERABLE: EventSpec(A.STAFF, True),
    Event.TEMPLATE_BROKEN: EventSpec(A.STAFF, True),
}

# The reminders a session carries while it is open; moved on reschedule, cancelled on cancel.
PENDING_REMINDERS = (Event.REMINDER_24H, Event.REMINDER_1H, Event.REMINDER_30MIN, Event.ATTENDANCE_REQUEST)
AFTER_SESSION_EVENTS = (Event.AFTER_SESSION, Event.AFTER_ONLINE_SESSION, Event.CONTROL_REMINDER)


def spec(event: str) -> EventSpec:
    return SPECS[event]


def is_essential(event: str) -> bool:
    """Whether ``event``'s email goes whatever the patient chose; an unknown event counts as essential (staff)."""
    found = SPECS.get(event)
    return True if found is None else found.essential
