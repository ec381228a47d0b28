"""A huey consumer killed in the middle of a task loses nothing the clinic owes: a new consumer re-derives it.

Real processes on real servers: ``manage.py run_huey`` on Redis against the test database on PostgreSQL (a
consumer in a subprocess cannot see a test's open transaction, hence ``transaction=True``). Each test kills the
consumer mid-task, starts another, and checks the database and the emails it wrote.

Run with ``make test-pg`` (DATABASE_URL and REDIS_URL set); skipped otherwise (see tests/conftest.py).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from booking.notifications import services as notifications
from booking.notifications.models import Notification, State
from booking.scheduling.models import Appointment, AppointmentEvent, AppointmentStatus
from tests.factories.scheduling import AppointmentFactory

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    # serialized_rollback: rows made by migrations (content types, the Wagtail site) come back for later tests.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

ROOT = Path(__file__).resolve().parent.parent
LEASE_SECONDS = 2
SLOW_EMAIL_SECONDS = 6  # shorter than the consumer's graceful shutdown timeout, far longer than a kill takes
DISPATCH_DONE = re.compile(r"dispatch_due_notifications: \S+ executed in")


def database_url() -> str:
    """The test database pytest created, for the consumer to connect to."""
    db = connection.settings_dict
    auth = quote(db["USER"], safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Consumer:
    """One ``run_huey`` process; its output goes to a log file that a failing assertion prints."""

    def __init__(self, tmp_path: Path, name: str, **env: str):
        self.log = tmp_path / f"{name}.log"
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.killed_consumer.settings",
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "HUEY_IMMEDIATE": "false",
            "HUEY_LOG_LEVEL": "INFO",
            "SLOW_EMAIL_DIR": str(tmp_path / "mail"),
            "OUTBOX_CLAIM_LEASE_SECONDS": str(LEASE_SECONDS),
            **env,
        }
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "run_huey"],
                cwd=ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self, signum: int, *, timeout: float = 40) -> None:
        self.process.send_signal(signum)
        self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def consumers(tmp_path):
    """Start consumers with ``consumers(name, **env)``; any still running at the end is killed."""
    (tmp_path / "mail").mkdir()
    started: list[Consumer] = []

    def start(name: str, **env: str) -> Consumer:
        started.append(Consumer(tmp_path, name, **env))
        return started[-1]

    yield start
    for consumer in started:
        consumer.kill()


@pytest.fixture
def redis_queue():
    """djhuey's queue on Redis rather than run in-process, emptied before and after the test."""
    HUEY.immediate = False
    HUEY.flush()
    yield HUEY
    HUEY.flush()
    HUEY.immediate = True


def wait_until(condition, *, timeout: float, what: str, consumers=()) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {c.log.name}\n{c.output()[-3000:]}" for c in consumers)
            pytest.fail(f"gave up waiting for {what} after {timeout}s\n{logs}")
        time.sleep(0.2)


def emails(tmp_path: Path) -> list[str]:
    return [path.read_text(errors="replace") for path in sorted((tmp_path / "mail").glob("*.eml"))]


def box_booking_owed_its_confirmation() -> Appointment:
    """A session confirmed a moment ago in the booking box whose email has not gone out yet (its professional has
    no account, so the patient's is the only message due)."""
    now = timezone.now()
    appointment = AppointmentFactory(
        source="booking_box",
        status=AppointmentStatus.CONFIRMED,
        start=(now + timedelta(days=3)).replace(minute=0, second=0, microsecond=0),
        professional__user=None,
    )
    AppointmentEvent.objects.create(appointment=appointment, action=AppointmentEvent.Action.CONFIRMED, at=now)
    notifications.plan_appointment_confirmed(appointment, at=now, now=now)
    return appointment


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM], ids=lambda s: s.name)
def test_a_confirmation_email_taken_by_a_stopped_consumer_is_sent_exactly_once(
    signum, tmp_path, consumers, redis_queue
):
    """SIGKILL stops the dispatcher mid-send (as SIGINT does); SIGTERM (what systemd and containers send) lets it
    finish. Either way the patient gets one email: the row left "sending" is taken again once its lease lapses."""
    appointment = box_booking_owed_its_confirmation()
    confirmation = Notification.objects.get(appointment=appointment, event="appointment_confirmed")

    # A consumer enqueues its periodic tasks as it starts: the dispatcher runs at once.
    first = consumers("first", SLOW_EMAIL_SECONDS=str(SLOW_EMAIL_SECONDS))
    sending = tmp_path / "mail"
    wait_until(lambda: any(sending.glob("sending-*")), timeout=30, what="the email to be sending", consumers=[first])
    first.stop(signum)

    confirmation.refresh_from_db()
    if signum == signal.SIGTERM:
        assert confirmation.state == State.SENT, first.output()
    else:
        assert confirmation.state == State.SENDING
        assert emails(tmp_path) == []
        lapses = confirmation.claimed_at + timedelta(seconds=LEASE_SECONDS)
        time.sleep(max(0.0, (lapses - timezone.now()).total_seconds()))  # the dead worker's claim lapses

    second = consumers("second")
    wait_until(
        lambda: DISPATCH_DONE.search(second.output()), timeout=30, what="the dispatcher to run", consumers=[second]
    )
    second.stop(signal.SIGTERM)

    sent = emails(tmp_path)
    assert len(sent) == 1, sent
    assert appointment.reference in sent[0]
    assert appointment.patient.user.email in sent[0]
    confirmation.refresh_from_db()
    assert confirmation.state == State.SENT


def test_holds_whose_release_was_cut_short_by_a_killed_consumer_are_released_by_the_next(consumers, tmp_path):
    """The periodic release runs in one transaction: killed in the middle, nothing is half-released, and the next
    consumer releases every expired hold, once. The test holds a lock on one hold, so the consumer is caught
    inside its transaction when it is killed."""
    now = timezone.now()
    start = (now + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    holds = [
        AppointmentFactory(
            source="booking_box",
            status=AppointmentStatus.PENDING_PAYMENT,
            hold_expires_at=now - timedelta(minutes=1),
            start=start + timedelta(hours=hour),
        )
        for hour in range(3)
    ]
    env = {}

    with transaction.atomic():
        Appointment.objects.select_for_update().get(pk=holds[0].pk)
        first = consumers("first", **env)

        def consumer_waits_for_the_lock():
            with connection.cursor() as cursor:
                # Cleared, or the first look is kept for the whole transaction. The query text is cut at 1 kB, before
                # its FOR UPDATE: the table name is what is left to match.
                cursor.execute("SELECT pg_stat_clear_snapshot()")
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query ILIKE '%scheduling_appointment%'"
                )
                return cursor.fetchone()[0] > 0

        wait_until(consumer_waits_for_the_lock, timeout=30, what="the release to be under way", consumers=[first])
        first.stop(signal.SIGKILL)

    # The killed consumer's transaction never commits: every hold is still held.
    still_held = Appointment.objects.filter(pk__in=[h.pk for h in holds], status=AppointmentStatus.PENDING_PAYMENT)
    assert still_held.count() == 3

    second = consumers("second", **env)
    wait_until(
        lambda: not still_held.exists(),
        timeout=30,
        what="the holds to be released",
        consumers=[second],
    )
    second.stop(signal.SIGTERM)

    assert Appointment.objects.filter(pk__in=[h.pk for h in holds], status=AppointmentStatus.CANCELLED).count() == 3
    released = AppointmentEvent.objects.filter(appointment__in=holds, action=AppointmentEvent.Action.HOLD_EXPIRED)
    assert sorted(released.values_list("appointment_id", flat=True)) == sorted(h.pk for h in holds)
