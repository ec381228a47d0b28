"""Many patients booking the same slot at the same instant over HTTP: exactly one may win, and nobody gets a 500.

    .venv/bin/python bench/booking_race.py                  # the database DATABASE_URL / SQLITE_PATH points at
    .venv/bin/python bench/booking_race.py --clients 32 --workers 4 --time-limit 120

Starts gunicorn (``website.wsgi``, ``--workers`` processes, bound to 127.0.0.1 on a free port) against the
configured database, gives ``--clients`` verified patients an API token each (``Authorization: Token``, the way
a program calls the API: no login, password hashing or CSRF in the way), asks ``GET /api/v1/availability/`` for a free
slot of a bench professional, then fires one ``POST /api/v1/appointments/`` per patient for that same slot, all
released together by a barrier. It prints how many were booked (201), refused as taken (409), failed (5xx) or
got anything else, the p50 / p95 latency, and how many appointments hold the slot in the database afterwards;
then it stops gunicorn. Times are figures only; the exit status is 1 when the outcome is wrong (not exactly one
booking, or any 5xx), 2 when the race could not be run.

Bounded: every request has a timeout, the whole run has ``--time-limit``, and gunicorn is stopped in a
``finally`` block (SIGTERM, then SIGKILL after 10 seconds). Needs the data of ``manage.py seed_bench`` and runs it
with its defaults when missing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
RACE_EMAIL = "bench-race-{:03d}@bench.invalid"  # the bench- prefix: seed_bench deletes these users too


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32, help="concurrent bookings of the one slot (default 32)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes (default 4)")
    parser.add_argument("--time-limit", type=int, default=120, help="seconds before the whole run gives up")
    parser.add_argument("--request-timeout", type=float, default=30.0, help="seconds per HTTP request")
    parser.add_argument("--migrate", action="store_true", help="run migrate first (a fresh database)")
    return parser.parse_args(argv)


def prepare_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "website.settings.dev")
    os.environ.setdefault("DEBUG", "false")
    import django

    django.setup()


def ensure_bench_data(migrate: bool) -> None:
    from django.core.management import call_command

    from booking.scheduling.management.commands.seed_bench import SERVICE_SLUGS
    from booking.scheduling.models import Service

    if migrate:
        call_command("migrate", verbosity=0, interactive=False)
    if not Service.objects.filter(slug=SERVICE_SLUGS[0], offered_by__isnull=False).exists():
        call_command("seed_bench")


def patient_tokens(count: int) -> list[str]:
    """API token keys of ``count`` verified patients (kept between runs; seed_bench deletes them with the users)."""
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from rest_framework.authtoken.models import Token

    from portal.accounts.models import Patient

    keys = []
    for number in range(1, count + 1):
        email = RACE_EMAIL.format(number)
        user, _created = get_user_model().objects.get_or_create(
            email=email, defaults={"first_name": "Race", "last_name": str(number), "password": make_password(None)}
        )
        EmailAddress.objects.update_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
        Patient.objects.get_or_create(user=user)
        keys.append(Token.objects.get_or_create(user=user)[0].key)
    return keys


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def start_gunicorn(port: int, workers: int, log_path: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "website.wsgi:application",
        f"--workers={workers}",
        f"--bind={HOST}:{port}",
        "--timeout=60",
        "--graceful-timeout=5",
        "--preload",  # the application is imported once, before the race, not by each worker's first request
    ]
    with log_path.open("wb") as log:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def stop_gunicorn(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    server.terminate()  # the master stops its workers gracefully
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=10)


def request(port: int, method: str, path: str, *, headers=None, body=None, timeout: float = 10.0):
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_until_serving(server: subprocess.Popen, port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with status {server.returncode}")
        try:
            status, _body = request(port, "GET", "/healthz", timeout=2)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError("gunicorn did not answer /healthz in time")


@dataclass
class Target:
    service: str
    professional: str
    start: str
    location: str | None
    source: str


def pick_slot(port: int, headers: dict, timeout: float) -> Target:
    """The first free slot of the last bench professional from GET /api/v1/availability/, two to nine days ahead."""
    from django.utils import timezone

    from booking.scheduling.management.commands.seed_bench import PREFIX, SERVICE_SLUGS, TIME_ZONE
    from booking.scheduling.models import Professional

    professional = Professional.objects.filter(slug__startswith=PREFIX).order_by("-slug").first()
    today = timezone.localdate(timezone.now(), ZoneInfo(TIME_ZONE))
    query = urlencode(
        {
            "service": SERVICE_SLUGS[0],
            "professional": professional.slug,
            "start": (today + timedelta(days=2)).isoformat(),
            "end": (today + timedelta(days=9)).isoformat(),
            "tz": TIME_ZONE,
        }
    )
    status, body = request(port, "GET", f"/api/v1/availability/?{query}", headers=headers, timeout=timeout)
    if status != 200:
        raise LookupError(f"GET /api/v1/availability/ answered {status}: {body[:200]!r}")
    slots = json.loads(body)["slots"]
    if not slots:
        raise LookupError(f"GET /api/v1/availability/ found no slot for {professional.slug}")
    slot = slots[0]
    return Target(SERVICE_SLUGS[0], slot["professional"], slot["start"], slot.get("location"), "GET availability")


def holders_of(target: Target) -> int:
    """Appointments that hold the raced slot in the database (should be exactly one after the race)."""
    from datetime import datetime

    from django.utils import timezone

    from booking.scheduling.models import Appointment

    start = datetime.fromisoformat(target.start)
    return (
        Appointment.objects.active(timezone.now())
        .filter(professional__slug=target.professional, service__slug=target.service, start=start)
        .count()
    )


def race(port: int, target: Target, tokens: list[str], timeout: float) -> list[tuple]:
    """One POST per patient, all sent the moment every thread is connected and ready; (status, ms, body) each."""
    payload = {"service": target.service, "professional": target.professional, "start": target.start}
    if target.location:
        payload["location"] = target.location
    body = json.dumps(payload).encode()
    barrier = threading.Barrier(len(tokens), timeout=timeout)
    results: list[tuple] = [None] * len(tokens)

    def book(index: int, token: str) -> None:
        headers = {"Content-Type": "application/json", "Accept": "application/json", "Authorization": f"Token {token}"}
        connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
        try:
            connection.connect()
            barrier.wait()
            started = time.perf_counter()
            connection.request("POST", "/api/v1/appointments/", body=body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            results[index] = (response.status, (time.perf_counter() - started) * 1000, answer[:300])
        except (OSError, threading.BrokenBarrierError, http.client.HTTPException) as exc:
            results[index] = (None, math.nan, repr(exc).encode())
        finally:
            connection.close()

    threads = [threading.Thread(target=book, args=(i, token), daemon=True) for i, token in enumerate(tokens)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout * 2)
    return [row or (None, math.nan, b"thread did not finish") for row in results]


def report(results: list[tuple], target: Target, holders: int, database: str, workers: int) -> int:
    booked = sum(1 for status, _, _ in results if status == 201)
    conflicts = sum(1 for status, _, _ in results if status == 409)
    errors = sum(1 for status, _, _ in results if status is not None and status >= 500)
    other = len(results) - booked - conflicts - errors
    latencies = sorted(ms for status, ms, _ in results if status is not None)
    p50 = statistics.median(latencies) if latencies else math.nan
    p95 = latencies[max(0, math.ceil(0.95 * len(latencies)) - 1)] if latencies else math.nan
    print(f"# database: {database}; gunicorn workers: {workers}; clients: {len(results)}")
    print(
        f"# slot: {target.professional} {target.start} {target.service} location={target.location} ({target.source})"
    )
    print(
        f"booked {booked} / conflicts {conflicts} / 5xx {errors} / other {other}; p50 {p50:.0f} ms, p95 {p95:.0f} ms"
    )
    print(f"appointments holding the slot in the database: {holders}")
    samples: dict = {}
    for status, _, answer in results:
        samples.setdefault(status, answer)
    for status, answer in samples.items():
        print(f"  e.g. {status}: {answer.decode(errors='replace')[:200]}")
    correct = booked == 1 and errors == 0 and holders == 1
    print("outcome: " + ("as expected (exactly 1 booked, 0 5xx)" if correct else "WRONG: expected 1 booked and 0 5xx"))
    return 0 if correct else 1


def on_time_limit(signum, frame):
    raise TimeoutError("time limit reached")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGALRM, on_time_limit)
    signal.alarm(args.time_limit)
    prepare_django()
    ensure_bench_data(args.migrate)

    from django.db import connection

    tokens = patient_tokens(args.clients)
    database = connection.vendor
    connection.close()  # the parent stays out of the way of gunicorn's writers
    port = free_port()
    log_path = Path(tempfile.mkdtemp(prefix="booking-race-")) / "gunicorn.log"
    server = start_gunicorn(port, args.workers, log_path)
    try:
        wait_until_serving(server, port, time.monotonic() + 30)
        headers = {"Authorization": f"Token {tokens[0]}", "Accept": "application/json"}
        try:
            target = pick_slot(port, headers, args.request_timeout)
            for _warm_up in range(2 * args.workers):  # workers' first requests fill their caches; not timed
                pick_slot(port, headers, args.request_timeout)
        except (LookupError, ValueError, KeyError) as exc:
            print(f"# cannot pick a slot through the API: {exc}")
            return 2
        results = race(port, target, tokens, args.request_timeout)
        return report(results, target, holders_of(target), database, args.workers)
    except (RuntimeError, TimeoutError, OSError) as exc:
        print(f"# race not run: {exc}; gunicorn log: {log_path}")
        return 2
    finally:
        signal.alarm(0)
        stop_gunicorn(server)


if __name__ == "__main__":
    sys.exit(main())
