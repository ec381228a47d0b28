"""The notifications core: the planner's rows (who, what, when, which language), the dispatcher (once, retries,
skips, the crash rule), templates (defaults, editors' overrides, a broken one), discretion and the ``.ics``.

The clock is explicit (``now=``) or pinned. Sessions sit around America/Santiago's 2027 clock changes: summer time
ends at midnight on Sunday 4 April 2027 (UTC-3 → UTC-4) and starts at midnight on Sunday 5 September 2027.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend

from booking.notifications import dispatch, services
from booking.notifications.dispatch import dispatch_due, recover_stuck
from booking.notifications.events import SPECS, Audience, Event
from booking.notifications.models import Notification, NotificationTemplate
from booking.notifications.web_models import NotificationPreference
from booking.scheduling.ics import appointment_uid
from booking.scheduling.models import AppointmentStatus
from tests.factories.scheduling import AppointmentFactory, LocationFactory, ServiceFactory

pytestmark = pytest.mark.django_db

SANTIAGO = ZoneInfo("America/Santiago")
State = Notification.State


class DownBackend(BaseEmailBackend):
    """A provider that is down: every send raises."""

    def send_messages(self, email_messages):
        raise ConnectionError("provider unreachable")


def session(*, start, modality="in_person", language="en", service=None, **kwargs):
    location = (
        LocationFactory(name="Sede Providencia", address="Av. Providencia 1234") if modality == "in_person" else None
    )
    return AppointmentFactory(
        start=start,
        modality=modality,
        location=location,
        service=service or ServiceFactory(name="Psicoterapia individual"),
        patient__user__preferred_language=language,
        patient__user__first_name="Ana",
        **kwargs,
    )


def planned(appointment, **filters):
    rows = Notification.objects.filter(object_id=appointment.pk, content_type__model="appointment", **filters)
    return {(row.event, row.scheduled_at, row.state) for row in rows}


def times(appointment, state=State.SCHEDULED):
    rows = Notification.objects.filter(object_id=appointment.pk, content_type__model="appointment", state=state)
    return {row.event: row.scheduled_at for row in rows}


# --- Planner -------------------------------------------------------------------------------------------------


def test_an_in_person_session_plans_the_timing_table_in_absolute_hours_across_the_april_clock_change():
    # Monday 5 April 2027 10:00 (UTC-4): the clocks went back at midnight on Sunday.
    start = datetime(2027, 4, 5, 10, 0, tzinfo=SANTIAGO)
    appointment = session(start=start, service=ServiceFactory(name="Nutrición", control_reminder_days=7))
    now = datetime(2027, 3, 20, 12, 0, tzinfo=SANTIAGO)

    services.plan_appointment_confirmed(appointment_id=appointment.pk, now=now)

    got = times(appointment)
    assert got[Event.APPOINTMENT_CONFIRMED] == now
    assert got[Event.REMINDER_24H] == datetime(2027, 4, 4, 14, 0, tzinfo=UTC)  # 10:00 UTC-4, 24 real hours
    assert got[Event.ATTENDANCE_REQUEST] == datetime(2027, 4, 3, 14, 0, tzinfo=UTC)  # 11:00 UTC-3: before the change
    assert got[Event.REMINDER_1H] == datetime(2027, 4, 5, 13, 0, tzinfo=UTC)
    assert got[Event.AFTER_SESSION] == appointment.end + timedelta(hours=1)
    # Seven local days later, same wall-clock time.
    assert got[Event.CONTROL_REMINDER].astimezone(SANTIAGO).replace(tzinfo=None) == datetime(2027, 4, 12, 10, 50)
    assert Event.REMINDER_30MIN not in got
    assert got[Event.PRO_APPOINTMENT_CONFIRMED] == now


def test_an_online_session_gets_the_30_minute_reminder_and_the_control_keeps_wall_clock_across_september():
    start = datetime(2027, 9, 1, 18, 0, tzinfo=SANTIAGO)  # Wednesday, UTC-4; clocks go forward Sunday 5th
    appointment = session(
        start=start,
        modality="online",
        video_link="https://meet.example/x",
        service=ServiceFactory(control_reminder_days=7),
    )
    services.plan_appointment_confirmed(appointment_id=appointment.pk, now=datetime(2027, 8, 20, tzinfo=UTC))

    got = times(appointment)
    assert got[Event.REMINDER_30MIN] == start - timedelta(minutes=30)
    assert Event.REMINDER_1H not in got and Event.ATTENDANCE_REQUEST not in got
    assert Event.AFTER_ONLINE_SESSION in got
    control = got[Event.CONTROL_REMINDER].astimezone(SANTIAGO)
    assert (control.date().isoformat(), control.strftime("%H:%M"), control.utcoffset()) == (
        "2027-09-08",
        "18:50",
        timedelta(hours=-3),
    )


def test_reminders_already_past_when_booked_are_not_planned():
    start = datetime(2027, 5, 10, 10, 0, tzinfo=SANTIAGO)
    appointment = session(start=start)
    services.plan_appointment_confirmed(appointment_id=appointment.pk, now=start - timedelta(hours=3))
    got = times(appointment)
    assert Event.REMINDER_24H not in got and Event.ATTENDANCE_REQUEST not in got
    assert Event.REMINDER_1H in got


def test_rows_go_to_the_right_people_in_their_language():
    appointment = session(start=datetime(2027, 5, 10, 10, 0, tzinfo=SANTIAGO), language="en")
    services.plan_appointment_confirmed(appointment_id=appointment.pk, now=datetime(2027, 5, 1, tzinfo=UTC))
    patient = Notification.objects.get(event=Event.APPOINTMENT_CONFIRMED)
    professional = Notification.objects.get(event=Event.PRO_APPOINTMENT_CONFIRMED)
    assert (patient.recipient, patient.to_email, patient.language) == (
        appointment.patient.user,
        appointment.patient.user.email,
        "en",
    )
    assert professional.recipient == appointment.professional.user
    assert professional.to_email == appointment.professional.user.email


def test_a_signal_received_twice_plans_nothing_twice():
    appointment = session(start=datetime(2027, 5, 10, 10, 0, tzinfo=SANTIAGO))
    now = datetime(2027, 5, 1, tzinfo=UTC)
    services.plan_appointment_confirmed(appointment_id=appointment.pk, now=now)
    first = Notification.objects.count()
    services.plan_appointment_confirmed(appointment_id=appointment.pk, now=now)
    assert Notification.objects.count() == first


def test_the_database_refuses_a_duplicate_row():
    from django.db import IntegrityError, transaction

    appointment = session(start=datetime(2027, 5, 10, 10, 0, tzinfo=SANTIAGO))
    at = datetime(2027, 5, 1, tzinfo=UTC)
    user = appointment.patient.user
    Notification.objects.create(event=Event.REMINDER_24H, object=appointment, to_email=user.email, scheduled_at=at)
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(event=Event.REMINDER_24H, object=appointment, to_email=user.email, scheduled_at=at)
    # Rows about nothing are unique too (non-null keys, not NULLs that SQL would let repeat).
    Notification.objects.create(event=Event.PAYMENT_FAILED, to_email="staff@example.com", scheduled_at=at)
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(event=Event.PAYMENT_FAILED, to_email="staff@example.com", scheduled_at=at)


def test_a_reschedule_moves_the_pending_reminders_and_announces_the_new_time():
    start = datetime(2027, 5, 10, 10, 0, tzinfo=SANTIAGO)
    appointment = session(start=start)
    services.plan_appointment_confirmed(appointment_id=appointment.pk, now=datetime(2027, 5, 1, tzinfo=UTC))
    appointment.start = start + timedelta(days=2)
    appointment.end = appointment.start + timedelta(minutes=50)
    appointment.reschedule_count = 1
    appointment.save()

    services.plan_appointment_rescheduled(appointment_id=appointment.pk, now=datetime(2027, 5, 2, tzinfo=UTC))

    got = times(appointment)
    assert got[Event.REMINDER_24H] == appointment.start - timedelta(hours=24)
    assert got[Event.REMINDER_1H] == appointment.start - timedelta(hours=1)
    assert Event.APPOINTMENT_RESCHEDULED in got and Event.PRO_APPOINTMENT_RESCHEDULED in got
    cancelled = times(appointment, State.CANCELLED)
    assert cancelled[Event.REMINDER_24H] == start - timedelta(hours=24)


def test_a_cancellation_cancels_what_was_pending_and_tells_patient_and_professional():
    appointment = session(start=datetime(2027, 5, 10, 10, 0, tzinfo=SANTIAGO))
    services.plan_appointment_confirmed(appointment_id=appointment.pk, now=datetime(2027, 5, 1, tzinfo=UTC))
    Notification.objects.filter(event=Event.APPOINTMENT_CONFIRMED).update(state=State.SENT)
    appointment.status = AppointmentStatus.CANCELLED
    appointment.save()

    services.plan_appointment_cancelled(appointment_id=appointment.pk, now=datetime(2027, 5, 2, tzinfo=UTC))

    assert not Notification.objects.filter(event__in=[Event.REMINDER_24H, Event.REMINDER_1H], state=State.SCHEDULED)
    assert set(times(appointment)) == {Event.APPOINTMENT_CANCELLED, Event.PRO_APPOINTMENT_CANCELLED}


def test_a_no_show_cancels_the_after_session_email():
    appointment = session(start=datetime(2027, 5, 10, 10, 0, tzinfo=SANTIAGO))
    services.plan_appointment_confirmed(appointment_id=appointment.pk, now=datetime(2027, 5, 1, tzinfo=UTC))
    appointment.status = AppointmentStatus.NO_SHOW_PATIENT
    appointment.save()
    services.plan_appointment_no_show(appointment_id=appointment.pk, now=datetime(2027, 5, 10, 16, tzinfo=UTC))
    assert Notification.objects.get(event=Event.AFTER_SESSION).state == State.CANCELLED


def test_booking_the_next_session_cancels_the_control_reminder():
    service = ServiceFactory(control_reminder_days=30)
    first = session(start=datetime(2027, 5, 10, 10, 0, tzinfo=SANTIAGO), service=service)
    services.plan_appointment_confirmed(appointment_id=first.pk, now=datetime(2027, 5, 1, tzinfo=UTC))
    second = AppointmentFactory(
        patient=first.patient, service=service, start=datetime(2027, 6, 1, 10, 0, tzinfo=SANTIAGO)
    )
    services.plan_appointment_confirmed(appointment_id=second.pk, now=datetime(2027, 5, 11, tzinfo=UTC))
    assert Notification.objects.get(event=Event.CONTROL_REMINDER, object_id=first.pk).state == State.CANCELLED


def test_every_event_has_a_spec_and_both_default_languages():
    from django.template.loader import get_template

    for event in Event.values:
        assert event in SPECS
        for language in ("es", "en"):
            assert get_template(f"notifications/defaults/{language}/{event}.txt")


# --- Dispatcher ----------------------------------------------------------------------------------------------


@pytest.fixture
def planned_session():
    appointment = session(start=datetime(2027, 5, 10, 10, 0, tzinfo=SANTIAGO), language="en")
    services.plan_appointment_confirmed(appointment_id=appointment.pk, now=datetime(2027, 5, 1, tzinfo=UTC))
    mail.outbox.clear()
    return appointment


def patient_mail(appointment):
    return [m for m in mail.outbox if m.to == [appointment.patient.user.email]]


def test_the_dispatcher_sends_a_due_message_once(planned_session):
    now = datetime(2027, 5, 1, 0, 1, tzinfo=UTC)
    dispatch_due(now=now)
    dispatch_due(now=now)
    sent = patient_mail(planned_session)
    assert len(sent) == 1
    row = Notification.objects.get(event=Event.APPOINTMENT_CONFIRMED)
    assert row.state == State.SENT and row.sent_at is not None and row.attempts == 1


def test_subjects_and_first_lines_are_discreet(planned_session):
    for moment in (datetime(2027, 5, 8, 15, tzinfo=UTC), datetime(2027, 5, 9, 15, tzinfo=UTC)):
        dispatch_due(now=moment)  # the confirmation and the attendance request, then the 24-hour reminder
    dispatch_due(now=datetime(2027, 5, 10, 13, 1, tzinfo=UTC))  # the 1-hour reminder
    messages = patient_mail(planned_session)
    assert len(messages) == 4
    for message in messages:
        first_line = message.body.splitlines()[0]
        for text in (message.subject, first_line):
            assert "Psicoterapia" not in text
            assert text.startswith(planned_session.service.name) is False
        assert "10:00" in message.subject or "tomorrow" in message.subject or "today" in message.subject


def test_confirmation_carries_an_ics_with_a_stable_uid_and_increasing_sequence(planned_session):
    dispatch_due(now=datetime(2027, 5, 1, 0, 1, tzinfo=UTC))
    first = patient_mail(planned_session)[0].attachments[0]
    assert first[0] == "session.ics"
    assert f"UID:{appointment_uid(planned_session)}" in first[1]
    assert "SEQUENCE:0" in first[1]

    planned_session.start += timedelta(days=1)
    planned_session.end += timedelta(days=1)
    planned_session.reschedule_count = 1
    planned_session.save()
    services.plan_appointment_rescheduled(appointment_id=planned_session.pk, now=datetime(2027, 5, 2, tzinfo=UTC))
    dispatch_due(now=datetime(2027, 5, 2, 0, 1, tzinfo=UTC))
    moved = [m for m in patient_mail(planned_session) if "moved" in m.subject][0].attachments[0][1]
    assert f"UID:{appointment_uid(planned_session)}" in moved
    assert "SEQUENCE:1" in moved


def test_a_reminder_whose_time_passed_while_down_is_skipped_when_useless(planned_session):
    after_start = datetime(2027, 5, 10, 14, 5, tzinfo=UTC)  # 10:05 in Santiago: the session started
    Notification.objects.exclude(event=Event.REMINDER_1H).update(state=State.SENT)
    dispatch_due(now=after_start)
    row = Notification.objects.get(event=Event.REMINDER_1H)
    assert (row.state, row.error) == (State.SKIPPED, "too late to be useful")
    assert patient_mail(planned_session) == []


def test_a_patient_who_opted_out_is_skipped_for_non_essential_emails(planned_session):
    NotificationPreference.objects.create(user=planned_session.patient.user, non_essential_email=False)
    Notification.objects.exclude(event=Event.AFTER_SESSION).update(state=State.SENT)
    dispatch_due(now=datetime(2027, 5, 10, 16, tzinfo=UTC))
    assert Notification.objects.get(event=Event.AFTER_SESSION).state == State.SKIPPED


def test_failures_retry_with_backoff_then_end_failed(planned_session, settings):
    settings.EMAIL_BACKEND = "tests.booking.notifications.test_core.DownBackend"
    Notification.objects.exclude(event=Event.APPOINTMENT_CONFIRMED).update(state=State.SENT)
    now = datetime(2027, 5, 1, 0, 1, tzinfo=UTC)
    for _attempt in range(dispatch.MAX_ATTEMPTS):
        dispatch_due(now=now)
        row = Notification.objects.get(event=Event.APPOINTMENT_CONFIRMED)
        if row.state == State.SCHEDULED:
            assert row.next_attempt_at > now
            now = row.next_attempt_at
    assert row.state == State.FAILED
    assert row.attempts == dispatch.MAX_ATTEMPTS
    assert "provider unreachable" in row.error


def test_a_row_stuck_in_sending_follows_the_crash_rule(planned_session, settings):
    now = datetime(2027, 5, 1, 1, 0, tzinfo=UTC)
    long_ago = now - timedelta(seconds=settings.OUTBOX_CLAIM_LEASE_SECONDS + 1)
    rows = list(Notification.objects.order_by("pk")[:3])
    never_started, answered, unknown = rows
    Notification.objects.filter(pk=never_started.pk).update(state=State.SENDING, claimed_at=long_ago)
    Notification.objects.filter(pk=answered.pk).update(
        state=State.SENDING, claimed_at=long_ago, send_started_at=long_ago, provider_message_id="<m1@mg>"
    )
    Notification.objects.filter(pk=unknown.pk).update(
        state=State.SENDING, claimed_at=long_ago, send_started_at=long_ago
    )

    assert recover_stuck(now=now) == 3

    states = dict(Notification.objects.filter(pk__in=[r.pk for r in rows]).values_list("pk", "state"))
    assert states == {never_started.pk: State.SCHEDULED, answered.pk: State.SENT, unknown.pk: State.FAILED}


def test_the_anymail_test_backend_records_the_message_id_metadata_and_unsubscribe_headers(planned_session, settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.ANYMAIL = {}
    Notification.objects.exclude(event=Event.AFTER_SESSION).update(state=State.SENT)
    dispatch_due(now=datetime(2027, 5, 10, 16, tzinfo=UTC))
    row = Notification.objects.get(event=Event.AFTER_SESSION)
    assert row.state == State.SENT and row.provider_message_id
    message = mail.outbox[-1]
    assert message.metadata == {"notification": str(row.pk), "event": Event.AFTER_SESSION}
    assert message.tags == [Event.AFTER_SESSION]
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_the_dispatcher_query_count_does_not_grow_with_the_rows(django_assert_max_num_queries):
    now = datetime(2027, 5, 1, 0, 1, tzinfo=UTC)

    def plan(count):
        for index in range(count):
            appointment = session(start=datetime(2027, 5, 10, 9, 0, tzinfo=SANTIAGO) + timedelta(hours=index))
            services.plan_appointment_confirmed(appointment_id=appointment.pk, now=now)
        Notification.objects.exclude(event=Event.APPOINTMENT_CONFIRMED).update(state=State.SENT)
        return list(Notification.objects.filter(state=State.SCHEDULED).values_list("pk", flat=True))

    few = plan(3)
    Notification.objects.filter(pk__in=few).update(state=State.SENDING)
    with django_assert_max_num_queries(20 + 3 * 3):  # the per-row writes: start, sent (no reads per row)
        dispatch.send_claimed(few, now=now)
    many = plan(30)
    Notification.objects.filter(pk__in=many).update(state=State.SENDING)
    with django_assert_max_num_queries(20 + 3 * 30):
        dispatch.send_claimed(many, now=now)


# --- Templates -----------------------------------------------------------------------------------------------


def test_an_editors_template_replaces_the_default(planned_session):
    NotificationTemplate.objects.create(
        event=Event.APPOINTMENT_CONFIRMED,
        audience=Audience.PATIENT,
        language="en",
        subject="{{ clinic_name }}: booked for {{ time }}",
        html_body="<p>Hi {{ first_name }}, see you {{ when }}</p>",
        text_body="Hi {{ first_name }}, see you {{ when }}",
    )
    dispatch_due(now=datetime(2027, 5, 1, 0, 1, tzinfo=UTC))
    message = patient_mail(planned_session)[0]
    assert message.subject.endswith(": booked for 10:00")
    assert message.body.startswith("Hi Ana, see you Monday 10 May 2027, 10:00 (America/Santiago)")


def test_a_broken_editor_template_falls_back_to_the_default_and_alerts_staff(planned_session):
    broken = NotificationTemplate.objects.create(
        event=Event.APPOINTMENT_CONFIRMED,
        audience=Audience.PATIENT,
        language="en",
        subject="{% if %}",
        html_body="x",
        text_body="x",
    )
    now = datetime(2027, 5, 1, 0, 1, tzinfo=UTC)
    dispatch_due(now=now)
    message = patient_mail(planned_session)[0]
    assert "your session is booked for" in message.subject
    alert = Notification.objects.get(event=Event.TEMPLATE_BROKEN)
    assert alert.object_id == broken.pk
