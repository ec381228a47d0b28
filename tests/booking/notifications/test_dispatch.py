"""The dispatcher: due rows go out once, through anymail, rendered in the recipient's language, with the .ics."""

from datetime import timedelta

import pytest
from django.core import mail
from icalendar import Calendar

from booking.notifications import dispatch, services
from booking.notifications.events import Event
from booking.notifications.models import Notification, NotificationTemplate, State
from booking.scheduling.models import AppointmentStatus
from tests.factories.scheduling import AppointmentFactory

from .conftest import NOW, TUESDAY_9, confirmed

pytestmark = pytest.mark.django_db

EARLY = NOW - timedelta(days=3)


@pytest.fixture(autouse=True)
def anymail_test_backend(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.ADMINS = [("Desk", "desk@clinic.example")]


def planned(clinic, **kwargs):
    appointment = confirmed(clinic, **kwargs)
    services.plan_appointment_confirmed(appointment, at=EARLY, now=EARLY)
    return appointment


def test_due_confirmations_go_out_once_in_each_recipients_language(clinic):
    appointment = planned(clinic)
    counts = dispatch.dispatch_due(now=EARLY)
    assert counts["sent"] == 2
    by_address = {message.to[0]: message for message in mail.outbox}
    english, spanish = by_address["camila@example.com"], by_address["ana@clinic.example"]
    assert "booked for Tuesday 1 December 2026, 09:00" in english.subject
    assert appointment.reference in english.subject
    assert "Hi Camila, your session is booked." in english.body
    assert "Tuesday 1 December 2026, 09:00 (America/Santiago)" in english.body
    assert "Hola Ana: tienes una nueva hora reservada." in spanish.body
    assert "Martes 1 diciembre 2026, 09:00" in spanish.subject
    # Mailgun tags and metadata, the provider's message id recorded
    assert english.tags == [Event.APPOINTMENT_CONFIRMED]
    row = Notification.objects.get(event=Event.APPOINTMENT_CONFIRMED)
    assert english.metadata == {"notification": str(row.pk), "event": "appointment_confirmed"}
    assert row.state == State.SENT and row.provider_message_id != "" and row.attempts == 1
    # a second run finds nothing to send
    assert dispatch.dispatch_due(now=EARLY)["sent"] == 0
    assert len(mail.outbox) == 2


def test_subjects_and_first_lines_are_discreet(clinic):
    planned(clinic)
    dispatch.dispatch_due(now=EARLY)
    for message in mail.outbox:
        first_line = message.body.splitlines()[0]
        for private in ("Psicoterapia", "psicoterapia", "Psicóloga"):
            assert private not in message.subject
            assert private not in first_line
        assert "09:00" in message.subject and "09:00" in first_line
    assert "Psicoterapia individual" in mail.outbox[0].body  # the details are further down


def test_confirmation_attaches_a_calendar_event_with_stable_uid_and_sequence(clinic):
    appointment = planned(clinic)
    dispatch.dispatch_due(now=EARLY)
    message = next(m for m in mail.outbox if m.to == ["camila@example.com"])
    (name, content, mimetype) = message.attachments[0]
    assert name == f"{appointment.reference}.ics" and mimetype == "text/calendar"
    (event,) = Calendar.from_ical(content).walk("VEVENT")
    assert str(event["UID"]).startswith(appointment.reference + "@")
    assert event["SEQUENCE"] == 0

    # rescheduled: same UID, SEQUENCE 1
    new_start = TUESDAY_9 + timedelta(days=1)
    appointment.start, appointment.end, appointment.reschedule_count = new_start, new_start + timedelta(minutes=50), 1
    appointment.save()
    services.plan_appointment_rescheduled(appointment, at=EARLY + timedelta(hours=1), now=EARLY + timedelta(hours=1))
    mail.outbox.clear()
    dispatch.dispatch_due(now=EARLY + timedelta(hours=1))
    message = next(m for m in mail.outbox if m.to == ["camila@example.com"])
    (event,) = Calendar.from_ical(message.attachments[0][1]).walk("VEVENT")
    assert str(event["UID"]).startswith(appointment.reference + "@")
    assert event["SEQUENCE"] == 1


def test_online_emails_and_calendar_files_give_the_video_page_never_the_room(clinic, settings):
    """The page lets in only the patient and the professional, from 10 minutes before: a forwarded email does not."""
    appointment = planned(clinic, modality="online")
    video_page = f"{settings.SITE_URL}/portal/video/{appointment.reference}/"
    dispatch.dispatch_due(now=EARLY)
    dispatch.dispatch_due(now=TUESDAY_9 - timedelta(hours=24))  # the reminder the day before
    dispatch.dispatch_due(now=TUESDAY_9 - timedelta(minutes=30))  # the 30-minute one

    by_event = {(message.tags[0], message.to[0]): message for message in mail.outbox}
    assert set(by_event) >= {
        (Event.APPOINTMENT_CONFIRMED, "camila@example.com"),
        (Event.PRO_APPOINTMENT_CONFIRMED, "ana@clinic.example"),
        (Event.REMINDER_24H, "camila@example.com"),
        (Event.REMINDER_30M_ONLINE, "camila@example.com"),
    }
    for message in by_event.values():
        bodies = [message.body, *(content for content, _type in message.alternatives)]
        bodies += [
            content.decode() if isinstance(content, bytes) else content for _n, content, _m in message.attachments
        ]
        assert video_page in message.body, message.tags
        for body in bodies:
            assert appointment.video_room not in body.replace("\r\n ", ""), message.tags
            assert settings.VIDEO_BASE_URL not in body, message.tags
    assert (
        "Join here from 10 minutes before the start: " + video_page
        in by_event[(Event.REMINDER_30M_ONLINE, "camila@example.com")].body
    )
    assert (
        "Videollamada (se abre 10 minutos antes de la hora): " + video_page
        in by_event[(Event.PRO_APPOINTMENT_CONFIRMED, "ana@clinic.example")].body
    )


def test_a_failing_provider_is_retried_with_backoff_then_failed_and_staff_alerted(clinic, settings):
    settings.EMAIL_BACKEND = "tests.booking.notifications.backends.DownBackend"
    appointment = planned(clinic)
    row = Notification.objects.get(event=Event.APPOINTMENT_CONFIRMED)
    moment = EARLY
    for attempt in range(1, dispatch.MAX_ATTEMPTS):
        dispatch.dispatch_due(now=moment)
        row.refresh_from_db()
        assert (row.state, row.attempts) == (State.SCHEDULED, attempt)
        assert "provider unreachable" in row.error
        assert row.next_attempt_at == moment + dispatch.BACKOFF[attempt - 1]
        assert dispatch.dispatch_due(now=moment)["failed"] == 0  # not before its next attempt
        moment = row.next_attempt_at
    dispatch.dispatch_due(now=moment)
    row.refresh_from_db()
    assert (row.state, row.attempts) == (State.FAILED, dispatch.MAX_ATTEMPTS)
    alert = Notification.objects.get(event=Event.STAFF_UNDELIVERABLE, object_key=f"notification:{row.pk}")
    assert alert.email == "desk@clinic.example"
    assert appointment.reference  # the session itself is untouched


def test_a_reminder_whose_time_passed_is_sent_while_useful_and_skipped_after_the_start(clinic):
    planned(clinic)
    # the system was down from before the 48 h request until 3 hours before the session
    dispatch.dispatch_due(now=TUESDAY_9 - timedelta(hours=3))
    states = dict(Notification.objects.values_list("event", "state"))
    assert states[Event.REMINDER_24H] == State.SENT  # 21 hours late, still useful
    assert states[Event.ATTENDANCE_REQUEST] == State.SKIPPED  # 45 hours late: too late to free the slot
    assert states[Event.REMINDER_1H_IN_PERSON] == State.SCHEDULED  # not due yet
    dispatch.dispatch_due(now=TUESDAY_9 - timedelta(minutes=30))
    assert Notification.objects.get(event=Event.REMINDER_1H_IN_PERSON).state == State.SENT

    Notification.objects.filter(event=Event.REMINDER_1H_IN_PERSON).update(state=State.SCHEDULED)
    dispatch.dispatch_due(now=TUESDAY_9 + timedelta(minutes=5))
    row = Notification.objects.get(event=Event.REMINDER_1H_IN_PERSON)
    assert (row.state, row.error) == (State.SKIPPED, "the session had started")


def test_messages_of_a_session_cancelled_meanwhile_are_cancelled_not_sent(clinic):
    appointment = planned(clinic)
    appointment.status = AppointmentStatus.CANCELLED
    appointment.save()  # the cancellation's signal was lost
    dispatch.dispatch_due(now=TUESDAY_9 - timedelta(hours=1))
    patient_rows = Notification.objects.filter(email="camila@example.com").exclude(event=Event.AFTER_SESSION_IN_PERSON)
    assert set(patient_rows.values_list("state", flat=True)) == {State.CANCELLED}


def test_the_control_reminder_is_skipped_when_the_next_session_is_booked(clinic):
    clinic.service.control_reminder_days = 14
    clinic.service.save()
    appointment = planned(clinic)
    AppointmentFactory(
        patient=clinic.patient,
        service=clinic.service,
        start=appointment.start + timedelta(days=10),
        status="confirmed",
    )
    due = appointment.end + timedelta(days=14)
    Notification.objects.exclude(event=Event.NUTRITION_CONTROL).delete()
    dispatch.dispatch_due(now=due)
    row = Notification.objects.get(event=Event.NUTRITION_CONTROL)
    assert (row.state, row.error) == (State.SKIPPED, "a next session is booked")


def test_a_row_left_sending_by_a_dead_dispatcher_is_sent_again_after_the_lease(clinic):
    planned(clinic)
    ids = dispatch.claim_due(now=EARLY)  # claimed, then the worker died
    assert len(ids) == 2
    assert dispatch.dispatch_due(now=EARLY + timedelta(minutes=1))["sent"] == 0  # still leased
    assert dispatch.dispatch_due(now=EARLY + dispatch.lease() + timedelta(seconds=1))["sent"] == 2
    assert len(mail.outbox) == 2
    assert set(Notification.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {2}


def test_a_broken_editor_template_falls_back_to_the_default_and_alerts_staff(clinic):
    NotificationTemplate.objects.create(
        event=Event.APPOINTMENT_CONFIRMED,
        audience="patient",
        language="en",
        subject="{{ clinic_name }} {% if %}",
        body_html="<p>x</p>",
        body_text="x",
        live=True,
    )
    planned(clinic)
    dispatch.dispatch_due(now=EARLY)
    message = next(m for m in mail.outbox if m.to == ["camila@example.com"])
    assert "Hi Camila, your session is booked." in message.body
    alert = Notification.objects.get(event=Event.STAFF_TEMPLATE_BROKEN)
    assert alert.email == "desk@clinic.example"


def test_a_live_editor_template_is_used_with_the_limited_context_and_autoescaped_html(clinic):
    NotificationTemplate.objects.create(
        event=Event.APPOINTMENT_CONFIRMED,
        audience="patient",
        language="en",
        subject="{{ clinic_name }} · {{ time }}",
        body_html="<p>{{ patient_first_name }} {{ reference }} {{ settings.SECRET_KEY }}{{ place }}</p>",
        body_text="See you, {{ patient_first_name }}. {{ appointment.patient.user.password }}",
        live=True,
    )
    clinic.location.name = "<b>Providencia</b>"
    clinic.location.save()
    planned(clinic)
    dispatch.dispatch_due(now=EARLY)
    message = next(m for m in mail.outbox if m.to == ["camila@example.com"])
    assert message.body == "See you, Camila.\n"
    html = message.alternatives[0][0]
    assert "&lt;b&gt;Providencia&lt;/b&gt;" in html
    assert "test-only-key" not in html


def test_queries_do_not_grow_with_related_objects(clinic, django_assert_max_num_queries, django_assert_num_queries):
    """Loading is batched; each row costs only its own outcome UPDATE."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def run(count, first_hour):
        Notification.objects.all().delete()
        for hour in range(first_hour, first_hour + count):  # sessions of one professional never overlap
            planned(clinic, start=TUESDAY_9 + timedelta(hours=hour))
        Notification.objects.exclude(event=Event.APPOINTMENT_CONFIRMED).delete()
        with CaptureQueriesContext(connection) as queries:
            dispatch.dispatch_due(now=EARLY)
        return len(queries)

    small, large = run(3, first_hour=0), run(30, first_hour=3)
    assert large - small == 27  # one UPDATE per extra row, no SELECT per row
