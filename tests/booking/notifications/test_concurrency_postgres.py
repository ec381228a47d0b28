"""PostgreSQL only: dispatchers running at once send each message exactly once.

Each thread runs the dispatcher in its own connection and transactions, all released together by a barrier;
``select_for_update(skip_locked=True)`` and the claim token split the due rows between them.
"""

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import connection

from booking.notifications import dispatch
from booking.notifications.models import Notification, State

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

THREADS = 4
ROWS = 60
NOW = datetime(2026, 11, 29, 13, 0, tzinfo=UTC)


def test_concurrent_dispatchers_send_every_message_once(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.ADMINS = []
    Notification.objects.bulk_create(
        Notification(
            event="staff_undeliverable",
            audience="staff",
            object_key=f"notification:{n}",
            email=f"desk{n}@clinic.example",
            language="en",
            scheduled_for=NOW - timedelta(minutes=1),
            next_attempt_at=NOW - timedelta(minutes=1),
            data={"detail": f"message {n}"},
        )
        for n in range(ROWS)
    )
    mail.outbox = []
    barrier = threading.Barrier(THREADS)
    errors = []

    def run():
        try:
            barrier.wait()
            while dispatch.send_claimed(dispatch.claim_due(now=NOW, limit=5), now=NOW)["sent"]:
                pass
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    sent_to = Counter(message.to[0] for message in mail.outbox)
    assert len(sent_to) == ROWS and set(sent_to.values()) == {1}
    assert set(Notification.objects.values_list("state", flat=True)) == {State.SENT}
