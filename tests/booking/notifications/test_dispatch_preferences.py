"""The dispatcher asks the patient's email preferences: non-essential emails carry the one-click unsubscribe
(RFC 8058 headers and a link in the text) and are skipped, not sent, once the patient turned them off."""

from datetime import timedelta

import pytest
from django.core import mail

from booking.notifications import dispatch, preferences, services
from booking.notifications.events import Event
from booking.notifications.models import Notification, State
from booking.notifications.web_models import NotificationPreference

from .conftest import NOW, TUESDAY_9, confirmed

pytestmark = pytest.mark.django_db

EARLY = NOW - timedelta(days=3)
AFTER_THE_SESSION = TUESDAY_9 + timedelta(minutes=50) + timedelta(hours=2, minutes=1)


@pytest.fixture(autouse=True)
def anymail_test_backend(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"


def after_session_rows(clinic):
    appointment = confirmed(clinic)
    services.plan_appointment_confirmed(appointment, at=EARLY, now=EARLY)
    Notification.objects.exclude(event=Event.AFTER_SESSION_IN_PERSON).update(state=State.CANCELLED)
    return appointment


def test_a_non_essential_email_carries_the_one_click_unsubscribe(clinic):
    after_session_rows(clinic)

    dispatch.dispatch_due(now=AFTER_THE_SESSION)

    (message,) = mail.outbox
    link = preferences.unsubscribe_url(clinic.patient.user)
    assert message.extra_headers["List-Unsubscribe"] == f"<{link}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert link in message.body
    assert Notification.objects.get(event=Event.AFTER_SESSION_IN_PERSON).state == State.SENT


def test_an_essential_email_has_no_unsubscribe(clinic):
    appointment = confirmed(clinic)
    services.plan_appointment_confirmed(appointment, at=EARLY, now=EARLY)

    dispatch.dispatch_due(now=EARLY)

    assert mail.outbox
    for message in mail.outbox:
        assert "List-Unsubscribe" not in message.extra_headers
        assert "/unsubscribe/" not in message.body


def test_a_patient_who_turned_them_off_is_skipped_not_sent(clinic):
    after_session_rows(clinic)
    preferences.set_non_essential_email(
        user=clinic.patient.user, enabled=False, via=NotificationPreference.Via.PROFILE
    )

    dispatch.dispatch_due(now=AFTER_THE_SESSION)

    assert mail.outbox == []
    row = Notification.objects.get(event=Event.AFTER_SESSION_IN_PERSON)
    assert (row.state, row.error) == (State.SKIPPED, "the patient unsubscribed from these emails")
