"""Every email the clinic sends: who gets it, whether the patient may opt out, and when it goes out.

The list is data, not code paths: the planner (``services``) reads ``RULES`` to know an event's audience and timing,
the dispatcher reads it to know until when a late message is still worth sending, and the next slice (preferences,
unsubscribe) reads ``essential``. Keep the event values stable: they are stored in ``Notification.event``, in
``NotificationTemplate.event`` and in the default template directories.

Timing is relative to the session (``start`` / ``end``) or to the moment the fact happened (``now``: the audit
event's time, so a signal fired twice plans the same instant and the database's unique constraint drops the copy).
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
    # to patients
    APPOINTMENT_CONFIRMED = "appointment_confirmed", _("Appointment confirmed")
    APPOINTMENT_CANCELLED = "appointment_cancelled", _("Appointment cancelled")
    APPOINTMENT_RESCHEDULED = "appointment_rescheduled", _("Appointment rescheduled")
    REMINDER_24H = "reminder_24h", _("Reminder the day before")
    REMINDER_1H_IN_PERSON = "reminder_1h_in_person", _("Reminder 1 hour before (in person)")
    REMINDER_30M_ONLINE = "reminder_30m_online", _("Reminder 30 minutes before (online)")
    ATTENDANCE_REQUEST = "attendance_request", _("Request to confirm attendance (in person)")
    AFTER_SESSION_IN_PERSON = "after_session_in_person", _("After an in-person session")
    AFTER_SESSION_ONLINE = "after_session_online", _("After an online session")
    NUTRITION_CONTROL = "nutrition_control", _("Nutrition control reminder")
    NUTRITION_EVALUATION = "nutrition_evaluation", _("Nutrition evaluation")
    PACK_PURCHASED = "pack_purchased", _("Pack purchased")
    PACK_CANCELLED = "pack_cancelled", _("Pack cancelled")
    PACK_EXPIRING = "pack_expiring", _("Pack expiring soon")
    PAYMENT_RECEIVED = "payment_received", _("Payment received")
    REFUND_ISSUED = "refund_issued", _("Refund issued")
    SESSION_NUMBER = "session_number", _("After a given session number")
    REFERRAL = "referral", _("Referral to another professional or service")
    # to professionals
    PRO_APPOINTMENT_CONFIRMED = "pro_appointment_confirmed", _("Appointment confirmed (professional)")
    PRO_APPOINTMENT_CANCELLED = "pro_appointment_cancelled", _("Appointment cancelled (professional)")
    PRO_APPOINTMENT_RESCHEDULED = "pro_appointment_rescheduled", _("Appointment rescheduled (professional)")
    PRO_PACK_PURCHASED = "pro_pack_purchased", _("Pack purchased (professional)")
    PRO_PACK_CANCELLED = "pro_pack_cancelled", _("Pack cancelled (professional)")
    PRO_DAILY_AGENDA = "pro_daily_agenda", _("Daily agenda (professional)")
    # to clinic staff
    STAFF_PAYMENT_FAILED = "staff_payment_failed", _("Payment failed (staff)")
    STAFF_UNDELIVERABLE = "staff_undeliverable", _("Message not delivered (staff)")
    STAFF_TEMPLATE_BROKEN = "staff_template_broken", _("Template failed to render (staff)")


class Anchor(models.TextChoices):
    """What an event's offset counts from."""

    NOW = "now", _("when it happens")
    START = "start", _("session start")
    END = "end", _("session end")


@dataclass(frozen=True)
class Rule:
    """When and to whom one event goes.

    ``offset`` is added to the anchor (negative: before). ``useful_for`` bounds how late the dispatcher may still
    send it (after its planned time); past that it is recorded ``skipped``. ``before_start`` also forbids sending
    once the session has started: a "1 hour before" after the start is noise. ``essential`` messages always go;
    the others obey the patient's preference (next slice) and carry an unsubscribe link.
    """

    audience: str
    essential: bool
    anchor: str = Anchor.NOW
    offset: timedelta = timedelta(0)
    useful_for: timedelta = timedelta(days=2)
    before_start: bool = False
    attach_ics: bool = False
    timing: str = ""


# After-session messages go out this long after the end: late enough that the patient has left the room.
AFTER_SESSION_DELAY = timedelta(hours=2)
# The "confirm you will come" request: two days before, early enough to give the slot to someone else.
ATTENDANCE_REQUEST_BEFORE = timedelta(hours=48)

P, PRO, STAFF = Audience.PATIENT, Audience.PROFESSIONAL, Audience.STAFF

RULES: dict[str, Rule] = {
    Event.APPOINTMENT_CONFIRMED: Rule(P, True, attach_ics=True, useful_for=timedelta(days=1), timing="at once"),
    Event.APPOINTMENT_CANCELLED: Rule(P, True, attach_ics=True, useful_for=timedelta(days=1), timing="at once"),
    Event.APPOINTMENT_RESCHEDULED: Rule(P, True, attach_ics=True, useful_for=timedelta(days=1), timing="at once"),
    # late, still worth it until the 1 hour reminder takes over
    Event.REMINDER_24H: Rule(
        P, True, Anchor.START, -timedelta(days=1), timedelta(hours=23), True, timing="the day before, same local time"
    ),
    Event.REMINDER_1H_IN_PERSON: Rule(
        P, True, Anchor.START, -timedelta(hours=1), timedelta(minutes=45), True, timing="1 h before (in person)"
    ),
    Event.REMINDER_30M_ONLINE: Rule(
        P, True, Anchor.START, -timedelta(minutes=30), timedelta(minutes=25), True, timing="30 min before (online)"
    ),
    Event.ATTENDANCE_REQUEST: Rule(
        P,
        True,
        Anchor.START,
        -ATTENDANCE_REQUEST_BEFORE,
        timedelta(hours=36),
        True,
        timing="2 days before (in person)",
    ),
    Event.AFTER_SESSION_IN_PERSON: Rule(
        P, False, Anchor.END, AFTER_SESSION_DELAY, timedelta(days=2), timing="2 h after the end (in person)"
    ),
    Event.AFTER_SESSION_ONLINE: Rule(
        P, False, Anchor.END, AFTER_SESSION_DELAY, timedelta(days=2), timing="2 h after the end (online)"
    ),
    # offset per service (Service.control_reminder_days), applied by the planner
    Event.NUTRITION_CONTROL: Rule(P, False, Anchor.END, useful_for=timedelta(days=7), timing="N days after the end"),
    Event.NUTRITION_EVALUATION: Rule(P, False, timing="at once, when staff shares it"),
    Event.PACK_PURCHASED: Rule(P, True, timing="at once"),
    Event.PACK_CANCELLED: Rule(P, True, timing="at once"),
    Event.PACK_EXPIRING: Rule(P, True, useful_for=timedelta(days=3), timing="at once, when packs warns"),
    Event.PAYMENT_RECEIVED: Rule(P, True, timing="at once"),
    Event.REFUND_ISSUED: Rule(P, True, timing="at once"),
    Event.SESSION_NUMBER: Rule(P, False, Anchor.END, AFTER_SESSION_DELAY, timing="after the Nth session"),
    # part of the patient's care, not news: it always goes
    Event.REFERRAL: Rule(P, True, useful_for=timedelta(days=7), timing="at once, when a professional refers"),
    Event.PRO_APPOINTMENT_CONFIRMED: Rule(PRO, True, useful_for=timedelta(days=1), timing="at once"),
    Event.PRO_APPOINTMENT_CANCELLED: Rule(PRO, True, useful_for=timedelta(days=1), timing="at once"),
    Event.PRO_APPOINTMENT_RESCHEDULED: Rule(PRO, True, useful_for=timedelta(days=1), timing="at once"),
    Event.PRO_PACK_PURCHASED: Rule(PRO, True, timing="at once"),
    Event.PRO_PACK_CANCELLED: Rule(PRO, True, timing="at once"),
    # opt-in already (Professional.daily_agenda_email, switched in the portal): the patients' preference does not apply
    Event.PRO_DAILY_AGENDA: Rule(PRO, True, useful_for=timedelta(hours=5), timing="07:00 local, if opted in"),
    Event.STAFF_PAYMENT_FAILED: Rule(STAFF, True, timing="at once"),
    Event.STAFF_UNDELIVERABLE: Rule(STAFF, True, timing="at once"),
    Event.STAFF_TEMPLATE_BROKEN: Rule(STAFF, True, timing="at once"),
}

# The reminders planned ahead of a session: moved by a reschedule, cancelled by a cancellation.
BEFORE_SESSION_EVENTS = (
    Event.REMINDER_24H,
    Event.REMINDER_1H_IN_PERSON,
    Event.REMINDER_30M_ONLINE,
    Event.ATTENDANCE_REQUEST,
)
# Planned for after the session: cancelled by a cancellation and by a no-show.
AFTER_SESSION_EVENTS = (
    Event.AFTER_SESSION_IN_PERSON,
    Event.AFTER_SESSION_ONLINE,
    Event.NUTRITION_CONTROL,
    Event.SESSION_NUMBER,
)


def rule(event: str) -> Rule:
    return RULES[event]
