"""The planner: which rows each appointment change writes, for whom, in which language and when."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction

from booking.notifications import services
from booking.notifications.events import RULES, Audience, Event
from booking.notifications.models import Notification, State
from booking.scheduling.models import Appointment, AppointmentEvent, AppointmentStatus
from booking.scheduling.services import appointment_changed

from .conftest import NOW, SANTIAGO, TUESDAY_9, confirmed

pytestmark = pytest.mark.django_db

EARLY = NOW - timedelta(days=3)  # a week before the session: every planned time is still ahead


def planned(appointment, **filters) -> dict[str, datetime]:
    rows = Notification.objects.filter(appointment=appointment, **filters)
    return {row.event: row.scheduled_for for row in rows}


def test_every_event_has_a_rule_and_a_default_in_both_languages():
    from booking.notifications.rendering import default_sources

    assert set(RULES) == set(Event.values)
    for event, rule in RULES.items():
        for language in ("es", "en"):
            subject, text, _html = default_sources(event, rule.audience, language)
            assert "{{ clinic_name }}" in subject and subject.strip()
            assert text.strip()


def test_a_confirmed_in_person_session_plans_confirmations_reminders_and_follow_up(clinic):
    appointment = confirmed(clinic)
    services.plan_appointment_confirmed(appointment, at=EARLY, now=EARLY)

    rows = {(row.event, row.email): row for row in Notification.objects.all()}
    patient, pro = "camila@example.com", "ana@clinic.example"
    assert set(rows) == {
        (Event.APPOINTMENT_CONFIRMED, patient),
        (Event.PRO_APPOINTMENT_CONFIRMED, pro),
        (Event.REMINDER_24H, patient),
        (Event.REMINDER_1H_IN_PERSON, patient),
        (Event.ATTENDANCE_REQUEST, patient),
        (Event.AFTER_SESSION_IN_PERSON, patient),
    }
    # each in the recipient's language
    assert rows[(Event.APPOINTMENT_CONFIRMED, patient)].language == "en"
    assert rows[(Event.PRO_APPOINTMENT_CONFIRMED, pro)].language == "es-cl"
    assert rows[(Event.PRO_APPOINTMENT_CONFIRMED, pro)].audience == Audience.PROFESSIONAL
    assert rows[(Event.APPOINTMENT_CONFIRMED, patient)].scheduled_for == EARLY
    start = TUESDAY_9
    assert planned(appointment, email=patient) == {
        Event.APPOINTMENT_CONFIRMED: EARLY,
        Event.REMINDER_24H: start - timedelta(hours=24),
        Event.REMINDER_1H_IN_PERSON: start - timedelta(hours=1),
        Event.ATTENDANCE_REQUEST: start - timedelta(hours=48),
        Event.AFTER_SESSION_IN_PERSON: start + timedelta(minutes=50, hours=2),
    }
    assert all(row.state == State.SCHEDULED for row in rows.values())


def test_an_online_session_gets_the_30_minute_reminder_and_no_attendance_request(clinic):
    appointment = confirmed(clinic, modality="online")
    services.plan_appointment_confirmed(appointment, at=NOW, now=NOW)
    events = set(planned(appointment, email="camila@example.com"))
    assert Event.REMINDER_30M_ONLINE in events
    assert Event.AFTER_SESSION_ONLINE in events
    assert not events & {Event.REMINDER_1H_IN_PERSON, Event.ATTENDANCE_REQUEST, Event.AFTER_SESSION_IN_PERSON}


def test_language_falls_back_to_spanish(clinic):
    clinic.patient.user.preferred_language = "fr"
    clinic.patient.user.save()
    appointment = confirmed(clinic)
    services.plan_appointment_confirmed(appointment, at=NOW, now=NOW)
    assert Notification.objects.get(event=Event.APPOINTMENT_CONFIRMED).language == "es-cl"


def test_times_already_passed_when_booked_are_not_planned(clinic):
    """Booked 30 hours ahead: no 48 h request; the 24 h reminder is still ahead."""
    appointment = confirmed(clinic)
    services.plan_appointment_confirmed(appointment, at=NOW, now=TUESDAY_9 - timedelta(hours=30))
    events = set(planned(appointment, email="camila@example.com"))
    assert Event.ATTENDANCE_REQUEST not in events
    assert Event.REMINDER_24H in events


# America/Santiago: winter time from Sunday 2027-04-04 00:00 (clocks back to Saturday 23:00), summer time from
# Sunday 2027-09-05 00:00 (clocks forward to 01:00). Whole-day offsets (the day-before reminder, the attendance
# request two days before, the control reminder N days later) keep the local wall-clock time; hours are absolute.
@pytest.mark.parametrize(
    ("local_start", "modality", "expected_local"),
    [
        # session on the first winter day: the day-before reminder still reads 10:00 (25 hours earlier)
        (
            datetime(2027, 4, 4, 10, 0, tzinfo=SANTIAGO),
            "in_person",
            {
                Event.REMINDER_24H: datetime(2027, 4, 3, 10, 0, tzinfo=SANTIAGO),
                Event.REMINDER_1H_IN_PERSON: datetime(2027, 4, 4, 9, 0, tzinfo=SANTIAGO),
                Event.ATTENDANCE_REQUEST: datetime(2027, 4, 2, 10, 0, tzinfo=SANTIAGO),
                Event.AFTER_SESSION_IN_PERSON: datetime(2027, 4, 4, 12, 50, tzinfo=SANTIAGO),
                Event.NUTRITION_CONTROL: datetime(2027, 4, 11, 10, 50, tzinfo=SANTIAGO),
            },
        ),
        # session the Monday after: no change in between, same wall clock
        (
            datetime(2027, 4, 5, 10, 0, tzinfo=SANTIAGO),
            "online",
            {
                Event.REMINDER_24H: datetime(2027, 4, 4, 10, 0, tzinfo=SANTIAGO),
                Event.REMINDER_30M_ONLINE: datetime(2027, 4, 5, 9, 30, tzinfo=SANTIAGO),
                Event.AFTER_SESSION_ONLINE: datetime(2027, 4, 5, 12, 50, tzinfo=SANTIAGO),
                Event.NUTRITION_CONTROL: datetime(2027, 4, 12, 10, 50, tzinfo=SANTIAGO),
            },
        ),
        # session on the first summer day: the reminder reads 10:00 (23 hours earlier)
        (
            datetime(2027, 9, 5, 10, 0, tzinfo=SANTIAGO),
            "online",
            {
                Event.REMINDER_24H: datetime(2027, 9, 4, 10, 0, tzinfo=SANTIAGO),
                Event.REMINDER_30M_ONLINE: datetime(2027, 9, 5, 9, 30, tzinfo=SANTIAGO),
                Event.AFTER_SESSION_ONLINE: datetime(2027, 9, 5, 12, 50, tzinfo=SANTIAGO),
                Event.NUTRITION_CONTROL: datetime(2027, 9, 12, 10, 50, tzinfo=SANTIAGO),
            },
        ),
        # a session on Thursday before the change: the control reminder a week later keeps 10:50 (one hour less)
        (
            datetime(2027, 9, 2, 10, 0, tzinfo=SANTIAGO),
            "in_person",
            {
                Event.REMINDER_24H: datetime(2027, 9, 1, 10, 0, tzinfo=SANTIAGO),
                Event.REMINDER_1H_IN_PERSON: datetime(2027, 9, 2, 9, 0, tzinfo=SANTIAGO),
                Event.ATTENDANCE_REQUEST: datetime(2027, 8, 31, 10, 0, tzinfo=SANTIAGO),
                Event.AFTER_SESSION_IN_PERSON: datetime(2027, 9, 2, 12, 50, tzinfo=SANTIAGO),
                Event.NUTRITION_CONTROL: datetime(2027, 9, 9, 10, 50, tzinfo=SANTIAGO),
            },
        ),
    ],
    ids=["april-change-day", "april-after", "september-change-day", "september-week-across"],
)
def test_timing_table_across_santiago_clock_changes(clinic, local_start, modality, expected_local):
    clinic.service.control_reminder_days = 7
    clinic.service.save()
    now = datetime(2027, 3, 1, tzinfo=UTC) if local_start.month == 4 else datetime(2027, 8, 1, tzinfo=UTC)
    appointment = confirmed(clinic, start=local_start, modality=modality, at=now)
    services.plan_appointment_confirmed(appointment, at=now, now=now)
    timed = planned(appointment, email="camila@example.com")
    timed.pop(Event.APPOINTMENT_CONFIRMED)
    assert timed == expected_local
    assert {event: when.astimezone(SANTIAGO).strftime("%H:%M") for event, when in timed.items()} == {
        event: when.strftime("%H:%M") for event, when in expected_local.items()
    }


def test_a_repeated_signal_plans_nothing_new(clinic):
    appointment = confirmed(clinic)
    services.plan_for_appointment_change(appointment.pk, AppointmentEvent.Action.CONFIRMED, now=NOW)
    count = Notification.objects.count()
    services.plan_for_appointment_change(appointment.pk, AppointmentEvent.Action.CONFIRMED, now=NOW)
    assert Notification.objects.count() == count == 5  # the 48 h request's time had passed


def test_the_database_refuses_a_second_row_for_the_same_message(clinic):
    appointment = confirmed(clinic)
    services.plan_appointment_confirmed(appointment, at=NOW, now=NOW)
    row = Notification.objects.get(event=Event.REMINDER_24H)
    row.pk = None
    with pytest.raises(IntegrityError), transaction.atomic():
        row.save()


def test_rescheduling_moves_pending_reminders_and_tells_both_sides(clinic):
    appointment = confirmed(clinic)
    services.plan_appointment_confirmed(appointment, at=EARLY, now=EARLY)
    first_id = Notification.objects.get(event=Event.REMINDER_24H).pk
    new_start = TUESDAY_9 + timedelta(days=2)
    appointment.start, appointment.end = new_start, new_start + timedelta(minutes=50)
    appointment.save()
    later = NOW + timedelta(hours=1)
    services.plan_appointment_rescheduled(appointment, at=later, previous_start=TUESDAY_9.isoformat(), now=later)

    reminder = Notification.objects.get(event=Event.REMINDER_24H)
    assert reminder.pk == first_id  # moved, not duplicated
    assert reminder.scheduled_for == reminder.next_attempt_at == new_start - timedelta(hours=24)
    assert Notification.objects.get(event=Event.ATTENDANCE_REQUEST).scheduled_for == new_start - timedelta(hours=48)
    told = Notification.objects.filter(event__in=[Event.APPOINTMENT_RESCHEDULED, Event.PRO_APPOINTMENT_RESCHEDULED])
    assert sorted(told.values_list("email", flat=True)) == ["ana@clinic.example", "camila@example.com"]
    assert told.first().data == {"previous_start": TUESDAY_9.isoformat()}
    assert Notification.objects.filter(event=Event.REMINDER_24H).count() == 1


def test_rescheduling_to_a_close_time_skips_reminders_whose_time_passed(clinic):
    appointment = confirmed(clinic)
    services.plan_appointment_confirmed(appointment, at=NOW, now=NOW)
    now = NOW + timedelta(hours=1)
    new_start = now + timedelta(hours=5)
    appointment.start, appointment.end = new_start, new_start + timedelta(minutes=50)
    appointment.save()
    services.plan_appointment_rescheduled(appointment, at=now, now=now)
    assert Notification.objects.get(event=Event.REMINDER_24H).state == State.SKIPPED
    assert Notification.objects.get(event=Event.REMINDER_1H_IN_PERSON).state == State.SCHEDULED


def test_cancelling_cancels_pending_messages_and_tells_both_sides(clinic):
    appointment = confirmed(clinic)
    services.plan_appointment_confirmed(appointment, at=NOW, now=NOW)
    appointment.status = AppointmentStatus.CANCELLED
    appointment.save()
    services.plan_appointment_cancelled(appointment, at=NOW + timedelta(hours=2), was_confirmed=True)
    states = dict(Notification.objects.values_list("event", "state"))
    assert states[Event.REMINDER_24H] == states[Event.AFTER_SESSION_IN_PERSON] == State.CANCELLED
    assert states[Event.APPOINTMENT_CONFIRMED] == State.CANCELLED  # not yet sent: no "booked" after "cancelled"
    assert states[Event.APPOINTMENT_CANCELLED] == states[Event.PRO_APPOINTMENT_CANCELLED] == State.SCHEDULED


def test_a_lapsed_hold_is_not_announced_as_cancelled(clinic):
    appointment = confirmed(clinic, status=AppointmentStatus.CANCELLED)
    services.plan_appointment_cancelled(appointment, at=NOW, was_confirmed=False)
    assert not Notification.objects.exists()


def test_a_no_show_cancels_only_the_after_session_messages(clinic):
    clinic.service.control_reminder_days = 30
    clinic.service.save()
    appointment = confirmed(clinic)
    services.plan_appointment_confirmed(appointment, at=NOW, now=NOW)
    services.plan_appointment_no_show(appointment)
    states = dict(Notification.objects.values_list("event", "state"))
    assert states[Event.AFTER_SESSION_IN_PERSON] == states[Event.NUTRITION_CONTROL] == State.CANCELLED
    assert states[Event.REMINDER_24H] == State.SCHEDULED


@pytest.mark.parametrize("source", ["admin", "api", "portal", "booking_box"])
def test_every_source_plans_the_confirmation_through_the_scheduling_signal(clinic, source, mailoutbox):
    """Scheduling sends ``appointment_changed`` on commit whoever confirmed (billing's webhook included: see
    tests/booking/widget/test_pay.py); the receiver plans, and the quick dispatch sends what is due at once."""
    appointment = confirmed(clinic, source=source, at=NOW)
    with time_machine.travel(NOW, tick=False):
        appointment_changed.send(sender=Appointment, appointment=appointment, action="confirmed")
        appointment_changed.send(sender=Appointment, appointment=appointment, action="confirmed")  # twice
    rows = Notification.objects.filter(appointment=appointment, event=Event.APPOINTMENT_CONFIRMED)
    assert [row.state for row in rows] == [State.SENT]
    assert [message.to for message in mailoutbox] == [["camila@example.com"], ["ana@clinic.example"]]


def test_a_no_show_through_the_signal_cancels_the_follow_up(clinic):
    appointment = confirmed(clinic)
    services.plan_appointment_confirmed(appointment, at=EARLY, now=EARLY)
    appointment_changed.send(sender=Appointment, appointment=appointment, action="no_show_patient")
    assert Notification.objects.get(event=Event.AFTER_SESSION_IN_PERSON).state == State.CANCELLED


def test_planning_a_confirmation_costs_a_fixed_handful_of_queries(clinic, django_assert_max_num_queries):
    """What a booking's commit pays for its messages, however many rows: read, revive, one INSERT."""
    appointment = confirmed(clinic)
    with django_assert_max_num_queries(6):
        services.plan_for_appointment_change(appointment.pk, AppointmentEvent.Action.CONFIRMED, now=EARLY)
    assert Notification.objects.count() == 6
