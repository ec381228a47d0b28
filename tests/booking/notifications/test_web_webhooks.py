"""Mailgun's tracking webhooks through anymail's signed view: a verified event moves a sent notification forward
(never back), an unsigned or badly signed call is refused and changes nothing, and a bounce alerts staff.

Payloads are built here the way Mailgun builds them: the JSON body with ``event-data`` and a ``signature`` block
whose HMAC-SHA256 of timestamp + token is keyed with the webhook signing key.
"""

import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from booking.notifications.models import State
from booking.notifications.web_models import NotificationPreference

from .web_helpers import NON_ESSENTIAL_EVENT, make_notification, staff_alerts

pytestmark = pytest.mark.django_db

KEY = "key-test-signing-0123456789"
NOW = datetime(2026, 11, 29, 13, 0, tzinfo=UTC)
MESSAGE_ID = "<20261129130000.1.ABCDEF@mg.clinica.example>"


@pytest.fixture(autouse=True)
def mailgun_signing_key(settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "MAILGUN_WEBHOOK_SIGNING_KEY": KEY}
    settings.ADMINS = [("Clinic", "staff@clinic.example")]  # where staff alerts go without a clinic address


@pytest.fixture(autouse=True)
def pinned_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def mailgun_payload(
    event: str, *, message_id=MESSAGE_ID, recipient="ana@example.com", key=KEY, token="a" * 50, **extra
):
    timestamp = str(int(NOW.timestamp()))
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    event_data = {
        "event": event,
        "timestamp": NOW.timestamp(),
        "id": "event-" + token[:8],
        "recipient": recipient,
        "message": {"headers": {"message-id": message_id.strip("<>")}},
        **extra,
    }
    return {"signature": {"timestamp": timestamp, "token": token, "signature": signature}, "event-data": event_data}


def post(client, payload, **kwargs):
    return client.post(
        reverse("notifications:mailgun_tracking"), json.dumps(payload), content_type="application/json", **kwargs
    )


@pytest.fixture
def sent():
    return make_notification(state=State.SENT, provider_message_id=MESSAGE_ID, email="ana@example.com")


@pytest.mark.parametrize(
    "event, extra, state",
    [
        ("delivered", {}, State.DELIVERED),
        (
            "failed",
            {"severity": "permanent", "reason": "bounce", "delivery-status": {"message": "550 No such user"}},
            State.BOUNCED,
        ),
        ("complained", {}, State.COMPLAINED),
        ("rejected", {"reject": {"reason": "suppressed"}}, State.FAILED),
    ],
    ids=["delivered", "bounced", "complained", "rejected"],
)
def test_a_signed_event_moves_the_notification(client, sent, event, extra, state):
    response = post(client, mailgun_payload(event, **extra))
    assert response.status_code == 200
    sent.refresh_from_db()
    assert sent.state == state


def test_a_temporary_failure_or_an_open_changes_nothing(client, sent):
    post(client, mailgun_payload("failed", severity="temporary", reason="generic"))
    post(client, mailgun_payload("opened", token="b" * 50))
    sent.refresh_from_db()
    assert sent.state == State.SENT


def test_a_late_delivered_event_never_undoes_a_bounce_and_a_repeat_changes_nothing(client, sent):
    bounce = mailgun_payload("failed", severity="permanent", reason="bounce")
    assert post(client, bounce).status_code == 200
    assert post(client, mailgun_payload("delivered", token="c" * 50)).status_code == 200
    assert post(client, bounce).status_code == 200  # Mailgun retries
    sent.refresh_from_db()
    assert sent.state == State.BOUNCED
    assert len(staff_alerts()) == 1


def test_delivered_then_complained_moves_forward(client, sent):
    post(client, mailgun_payload("delivered"))
    post(client, mailgun_payload("complained", token="d" * 50))
    sent.refresh_from_db()
    assert sent.state == State.COMPLAINED


def test_an_unsigned_call_is_refused_and_changes_nothing(client, sent):
    payload = mailgun_payload("failed", severity="permanent")
    del payload["signature"]
    assert post(client, payload).status_code == 400
    sent.refresh_from_db()
    assert sent.state == State.SENT
    assert staff_alerts() == []


def test_a_badly_signed_call_is_refused_and_changes_nothing(client, sent):
    assert post(client, mailgun_payload("delivered", key="another-key")).status_code == 400
    payload = mailgun_payload("delivered")
    payload["signature"]["signature"] = "0" * 64
    assert post(client, payload).status_code == 400
    sent.refresh_from_db()
    assert sent.state == State.SENT


def test_a_form_encoded_call_without_signature_fields_is_refused(client, sent):
    response = client.post(reverse("notifications:mailgun_tracking"), {"event": "delivered", "Message-Id": MESSAGE_ID})
    assert response.status_code == 400
    sent.refresh_from_db()
    assert sent.state == State.SENT


def test_an_event_for_an_unknown_message_is_accepted_and_changes_nothing(client, sent):
    response = post(client, mailgun_payload("delivered", message_id="<unknown@mg.clinica.example>"))
    assert response.status_code == 200
    sent.refresh_from_db()
    assert sent.state == State.SENT


def test_a_bounce_alerts_the_clinic_staff(client, sent):
    post(client, mailgun_payload("failed", severity="permanent", reason="bounce"))
    [alert] = staff_alerts()
    assert alert.email == "staff@clinic.example"
    assert alert.object_key == f"notification:{sent.pk}"
    assert "550" in alert.data["detail"] or "ana@example.com" in alert.data["detail"]


def test_a_complaint_turns_the_patients_optional_emails_off(client):
    notification = make_notification(
        event=NON_ESSENTIAL_EVENT, state=State.DELIVERED, provider_message_id=MESSAGE_ID, email="ana@example.com"
    )
    post(client, mailgun_payload("complained"))
    preference = NotificationPreference.objects.get(user=notification.user)
    assert not preference.non_essential_email
    assert preference.changed_via == NotificationPreference.Via.PROVIDER


def test_without_a_signing_key_the_webhook_is_not_there(client, settings, sent):
    settings.ANYMAIL = {}
    assert post(client, mailgun_payload("delivered")).status_code == 404
    sent.refresh_from_db()
    assert sent.state == State.SENT


def test_only_post_is_accepted(client):
    assert client.get(reverse("notifications:mailgun_tracking")).status_code == 405
