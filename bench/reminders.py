"""Due reminders dispatched by ONE huey worker on Redis to a fake Mailgun: rate, duplicates, and a killed worker.

    REDIS_URL=redis://127.0.0.1:6379/9 DATABASE_URL=postgres://... .venv/bin/python bench/reminders.py
    .venv/bin/python bench/reminders.py --count 500 --kill-at 0.5 --json bench/results/reminders.json

What it does, twice (a clean run, then a run whose worker is killed with SIGKILL in the middle):

1. deletes what an earlier run left (every ``bench-reminder-…@bench.invalid`` user and what hangs from them) and
   writes ``--count`` confirmed sessions, one per patient, each with a reminder notification already due;
2. starts a local fake Mailgun (``bench/fake_mailgun.py``: 127.0.0.1, a free port) that answers like Mailgun's
   ``POST /v3/<domain>/messages`` and its events API, and records every recipient it was asked to send to;
3. starts ``manage.py run_huey`` (one worker) with anymail's Mailgun backend pointed at it (``MAILGUN_API_URL``),
   enqueues the dispatcher on Redis and waits until no reminder is left to send;
4. in the second run, kills the worker (SIGKILL: no graceful shutdown) once ``--kill-at`` of the messages have
   arrived, starts a new worker, and waits again.

It prints, per run: messages received by the fake Mailgun, distinct recipients, duplicates (a recipient received
more than once: must be 0), lost (a reminder never received: must be 0), rows per final state, seconds from the
first to the last message and messages per second. Figures only; no time is asserted. Exit status 1 when a
message was lost or duplicated, 2 when the run could not be made (no Redis, time limit).

Needs ``REDIS_URL`` (huey on Redis, as in production) and a database every process can reach: PostgreSQL through
``DATABASE_URL``, or SQLite with ``SQLITE_PATH``. ``--migrate`` migrates it first. Never run it on production.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fake_mailgun import FakeMailgun  # noqa: E402

EMAIL = "bench-reminder-{:06d}@bench.invalid"
SENDER_DOMAIN = "bench.invalid"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="due reminders per run (default 10000)")
    parser.add_argument("--kill-at", type=float, default=0.5, help="fraction received before the kill (0.5)")
    parser.add_argument("--time-limit", type=int, default=1800, help="seconds a run may take before giving up")
    parser.add_argument("--repeat", type=int, default=1, help="clean runs before the killed one (default 1)")
    parser.add_argument("--lease", type=int, default=15, help="seconds before a dead worker's rows come back (15)")
    parser.add_argument("--skip-kill", action="store_true", help="only the clean run(s)")
    parser.add_argument("--migrate", action="store_true", help="run migrate first (a fresh database)")
    parser.add_argument("--json", type=Path, help="write the figures to this file as well")
    return parser.parse_args(argv)


# --- Data ----------------------------------------------------------------------------------------------------


def prepare_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "website.settings.dev")
    os.environ.setdefault("DEBUG", "false")
    import django

    django.setup()


def delete_previous_run() -> None:
    from django.contrib.auth import get_user_model

    from booking.notifications.models import Notification
    from booking.scheduling.models import Appointment

    users = get_user_model().objects.filter(email__startswith="bench-reminder-", email__endswith="@bench.invalid")
    Notification.objects.filter(user__in=users).delete()
    Appointment.objects.filter(patient__user__in=users).delete()
    users.delete()


def create_due_reminders(count: int) -> list[str]:
    """``count`` confirmed online sessions a day ahead, one per new patient, each with its reminder due now.

    Written with ``bulk_create`` (the planner's own path is measured by the test suite, not here); the sessions of
    the bench professional follow one another every hour, so no two overlap.
    """
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from booking.notifications.models import Notification
    from booking.scheduling.models import Appointment, Professional, Service, ServiceCategory
    from portal.accounts.models import Patient

    User = get_user_model()
    now = timezone.now()
    password = make_password(None)
    category, _ = ServiceCategory.objects.get_or_create(slug="bench-reminders", defaults={"name": "Bench"})
    service, _ = Service.objects.get_or_create(
        slug="bench-reminders",
        defaults={"name": "Bench reminders", "category": category, "duration_minutes": 50, "price": 1000},
    )
    pro_user, _ = User.objects.get_or_create(email="bench-reminders-professional@bench.invalid")
    professional, _ = Professional.objects.get_or_create(
        user=pro_user, defaults={"display_name": "Bench Pro", "slug": "bench-reminders-professional"}
    )
    users = User.objects.bulk_create(
        User(email=EMAIL.format(number), first_name="Bench", last_name=str(number), password=password)
        for number in range(count)
    )
    patients = Patient.objects.bulk_create(Patient(user=user) for user in users)
    first = (now + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    appointments = Appointment.objects.bulk_create(
        Appointment(
            patient=patient,
            professional=professional,
            service=service,
            modality="online",
            start=first + timedelta(hours=number),
            end=first + timedelta(hours=number, minutes=50),
            blocked_start=first + timedelta(hours=number),
            blocked_end=first + timedelta(hours=number, minutes=50),
            status="confirmed",
            price=1000,
            source="admin",
        )
        for number, patient in enumerate(patients)
    )
    Notification.objects.bulk_create(
        bench_notification(appointment, user, now) for appointment, user in zip(appointments, users, strict=True)
    )
    return [user.email for user in users]


def bench_notification(appointment, user, now):
    """The day-before reminder as the planner writes it, due a minute ago."""
    from booking.notifications.events import Audience, Event
    from booking.notifications.models import Notification, State, object_key

    due = now - timedelta(minutes=1)
    return Notification(
        event=Event.REMINDER_24H,
        audience=Audience.PATIENT,
        object_key=object_key(appointment),
        appointment=appointment,
        user=user,
        email=user.email,
        language="es-cl",
        scheduled_for=due,
        next_attempt_at=due,
        state=State.SCHEDULED,
    )


def states() -> dict[str, int]:
    from django.db.models import Count

    from booking.notifications.models import Notification

    rows = (
        Notification.objects.filter(email__startswith="bench-reminder-")
        .values("state")
        .annotate(n=Count("pk"))
        .order_by("state")
    )
    return {row["state"]: row["n"] for row in rows}


def still_to_send() -> int:
    from booking.notifications.models import Notification, State

    return Notification.objects.filter(
        email__startswith="bench-reminder-", state__in=(State.SCHEDULED, State.SENDING)
    ).count()


# --- The worker ----------------------------------------------------------------------------------------------


# ``manage.py run_huey`` with one worker, the dispatcher's lease shortened (``--lease``): a row the killed worker had
# claimed comes back after that, not after the production 10 minutes, so the killed run ends in bench time.
CONSUMER = """
import django
django.setup()
from django.conf import settings
settings.OUTBOX_CLAIM_LEASE_SECONDS = {lease}
from django.core.management import execute_from_command_line
execute_from_command_line(["manage.py", "run_huey", "--workers", "1"])
"""


class Worker:
    """One ``manage.py run_huey`` process with one worker, its output in a log file."""

    def __init__(self, log: Path, mailgun: FakeMailgun, *, lease_seconds: int):
        env = {
            **os.environ,
            "HUEY_IMMEDIATE": "false",
            "MAILGUN_API_KEY": "key-bench",
            "MAILGUN_API_URL": mailgun.api_url,
            "MAILGUN_SENDER_DOMAIN": SENDER_DOMAIN,
            "PYTHONUNBUFFERED": "1",
        }
        self.log = log
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", CONSUMER.format(lease=lease_seconds)],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.kill()


def kick_dispatcher() -> None:
    """Put the dispatcher on the Redis queue when nothing is queued (the periodic run would, within a minute)."""
    from huey.contrib.djhuey import HUEY

    from booking.notifications.tasks import dispatch_soon

    if HUEY.pending_count() == 0:
        dispatch_soon()


def wait(condition, *, deadline: float, every: float = 0.25) -> bool:
    while not condition():
        if time.monotonic() > deadline:
            return False
        kick_dispatcher()
        time.sleep(every)
    return True


def run_once(name: str, mailgun: FakeMailgun, args, logs: Path, *, kill: bool) -> dict:
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = False
    HUEY.flush()
    delete_previous_run()
    expected = create_due_reminders(args.count)
    mailgun.reset()
    started = time.monotonic()
    deadline = started + args.time_limit
    worker = Worker(logs / f"{name}-1.log", mailgun, lease_seconds=args.lease)
    workers = [worker]
    try:
        kick_dispatcher()
        if kill:
            threshold = max(1, int(args.count * args.kill_at))
            if not wait(lambda: mailgun.received() >= threshold, deadline=deadline):
                raise TimeoutError(name)
            worker.kill()
            killed_at = mailgun.received()
            workers.append(Worker(logs / f"{name}-2.log", mailgun, lease_seconds=args.lease))
        if not wait(lambda: still_to_send() == 0, deadline=deadline):
            raise TimeoutError(name)
        time.sleep(1.0)  # a request still in flight when the last row was written
    finally:
        for each in workers:
            each.stop()
    received = Counter(mailgun.recipients)
    seconds = (mailgun.last_at - mailgun.first_at) if mailgun.first_at and mailgun.last_at else 0.0
    figures = {
        "run": name,
        "count": args.count,
        "received": sum(received.values()),
        "distinct": len(received),
        "duplicates": sum(n - 1 for n in received.values() if n > 1),
        "lost": sum(1 for address in expected if address not in received),
        "requests": mailgun.requests,
        "seconds": round(seconds, 2),
        "per_second": round(sum(received.values()) / seconds, 1) if seconds else None,
        "states": states(),
    }
    if kill:
        figures["killed_after"] = killed_at
    return figures


def print_table(results: list[dict]) -> None:
    header = (
        f"{'run':<10} {'count':>7} {'received':>9} {'duplicates':>10} {'lost':>5} {'seconds':>8} {'msg/s':>7}  states"
    )
    print(header)
    print("-" * len(header))
    for row in results:
        states_text = ", ".join(f"{state} {n}" for state, n in row["states"].items())
        extra = f" (killed after {row['killed_after']})" if "killed_after" in row else ""
        print(
            f"{row['run']:<10} {row['count']:>7} {row['received']:>9} {row['duplicates']:>10} {row['lost']:>5} "
            f"{row['seconds']:>8} {row['per_second'] or '-':>7}  {states_text}{extra}"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not os.environ.get("REDIS_URL"):
        print("bench/reminders.py needs REDIS_URL: the worker takes its tasks from Redis, as in production.")
        return 2
    prepare_django()
    if args.migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
    results = []
    with FakeMailgun() as mailgun, tempfile.TemporaryDirectory(prefix="bench-reminders-") as logs:
        try:
            for number in range(args.repeat):
                results.append(run_once(f"clean-{number + 1}", mailgun, args, Path(logs), kill=False))
            if not args.skip_kill:
                results.append(run_once("killed", mailgun, args, Path(logs), kill=True))
        except TimeoutError as exc:
            print(f"gave up: run {exc} took longer than --time-limit {args.time_limit}s")
            for log in sorted(Path(logs).glob("*.log")):
                print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
            return 2
        finally:
            delete_previous_run()
    print_table(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 1 if any(row["duplicates"] or row["lost"] for row in results) else 0


if __name__ == "__main__":
    sys.exit(main())
