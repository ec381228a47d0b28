"""The Mailgun backend against a local fake Mailgun (``bench/fake_mailgun.py``, 127.0.0.1 only).

The request anymail sends (fields, tags, metadata, the Message-ID and the .ics), and the dispatcher's recovery
after a worker died while sending: the provider is asked about the row's Message-ID before anything is resent.
"""

from datetime import timedelta

import pytest
from icalendar import Calendar

from bench.fake_mailgun import FakeMailgun
from booking.notifications import dispatch, services
from booking.notifications.events import Event
from booking.notifications.models import Notification, State

from .conftest import NOW, confirmed

pytestmark = pytest.mark.django_db

EARLY = NOW - timedelta(days=3)
AFTER_LEASE = EARLY + timedelta(hours=1)


@pytest.fixture
def mailgun(settings):
    with FakeMailgun(keep_requests=True) as server:
        settings.EMAIL_BACKEND = "anymail.backends.mailgun.EmailBackend"
        settings.ANYMAIL = {
            "MAILGUN_API_KEY": "key-test",
            "MAILGUN_API_URL": server.api_url,
            "MAILGUN_SENDER_DOMAIN": "mg.clinic.example",
        }
        settings.ADMINS = [("Desk", "desk@clinic.example")]
        yield server


def planned(clinic):
    appointment = confirmed(clinic)
    services.plan_appointment_confirmed(appointment, at=EARLY, now=EARLY)
    return appointment


def patient_row():
    return Notification.objects.get(event=Event.APPOINTMENT_CONFIRMED)


def test_the_request_carries_the_message_its_tags_metadata_message_id_and_calendar(clinic, mailgun):
    appointment = planned(clinic)
    assert dispatch.dispatch_due(now=EARLY)["sent"] == 2
    row = patient_row()
    (request,) = [r for r in mailgun.requests_received if r.values("to") == ["camila@example.com"]]
    assert request.path == "/v3/mg.clinic.example/messages"
    assert request.auth.startswith("Basic ")
    assert appointment.reference in request.values("subject")[0]
    assert "Hi Camila" in request.values("text")[0] and "<html" in request.values("html")[0].lower()
    assert request.values("o:tag") == [Event.APPOINTMENT_CONFIRMED]
    assert request.values("v:notification") == [str(row.pk)]
    assert request.values("h:Message-Id") == [row.message_id]
    ((name, content_type, content),) = request.files
    assert (name, content_type) == (f"{appointment.reference}.ics", "text/calendar")
    (event,) = Calendar.from_ical(content).walk("VEVENT")
    assert event["UID"] and "SEQUENCE" in event
    # Mailgun's answer (the Message-ID we gave) is recorded as the provider's id
    assert row.state == State.SENT and row.provider_message_id == row.message_id


def test_a_worker_killed_after_mailgun_accepted_never_sends_twice(clinic, mailgun):
    planned(clinic)
    ids = dispatch.claim_due(now=EARLY)
    row = Notification.objects.get(pk=ids[0])
    # the worker handed the message to Mailgun, then died before recording it
    from booking.notifications import rendering

    rendered = rendering.render(row, rendering.build_context(row, clinic_name="Clínica"), rendering.live_templates())
    dispatch.build_message(row, rendered, clinic_name="Clínica").send()
    assert len(mailgun.requests_received) == 1

    counts = dispatch.dispatch_due(now=AFTER_LEASE)
    assert counts["sent"] == 1  # only the row Mailgun never saw
    assert len(mailgun.requests_received) == 2
    assert sorted(r.values("to")[0] for r in mailgun.requests_received) == sorted(
        Notification.objects.filter(pk__in=ids).values_list("email", flat=True)
    )
    row.refresh_from_db()
    assert (row.state, row.provider_message_id, row.attempts) == (State.SENT, row.message_id, 1)
    assert mailgun.event_queries == 2  # one question per stuck row


def test_mailgun_unreachable_leaves_stuck_rows_waiting_rather_than_risk_a_copy(clinic, mailgun, settings):
    planned(clinic)
    ids = dispatch.claim_due(now=EARLY)
    settings.ANYMAIL = {**settings.ANYMAIL, "MAILGUN_API_URL": "http://127.0.0.1:9/v3"}  # nothing listens there
    assert dispatch.release_stuck(now=AFTER_LEASE) == 0
    assert set(Notification.objects.filter(pk__in=ids).values_list("state", flat=True)) == {State.SENDING}
    settings.ANYMAIL = {**settings.ANYMAIL, "MAILGUN_API_URL": mailgun.api_url}
    assert dispatch.dispatch_due(now=AFTER_LEASE)["sent"] == 2
    assert len(mailgun.requests_received) == 2


def test_every_attempt_of_a_row_carries_the_same_message_id(clinic):
    planned(clinic)
    row = patient_row()
    first = row.message_id
    row.refresh_from_db()
    assert row.message_id == first and row.message_key in first and f"notification-{row.pk}." in first
    other = Notification.objects.exclude(pk=row.pk).get(event=Event.PRO_APPOINTMENT_CONFIRMED)
    assert other.message_key != row.message_key
