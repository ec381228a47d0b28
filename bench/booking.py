"""What one booking with its invoice costs: SQL queries and time, through the API and through the service.

    .venv/bin/python bench/booking.py                  # the database DATABASE_URL / SQLITE_PATH points at
    .venv/bin/python bench/booking.py --migrate        # a fresh database: migrate first
    .venv/bin/python bench/booking.py --repeat 40 --json bench/results/booking.json

Needs the data of ``manage.py seed_bench`` (it runs it with its defaults when the bench professionals are missing).
Each run books a different free slot (found with ``find_slots``) of the bench professionals, for a different verified
patient, and commits it, as production does:

* ``POST /api/v1/appointments/`` through Django's test client with the patient's API token (authentication,
  validation, the booking's locks and checks, the session, its invoice, their events), and
* ``billing.book_with_invoice`` called directly (the same minus the request).

It prints the queries of each kind of run (minimum and maximum over the runs: they are exact, and the test suite
asserts the API's budget) and the median and 95th-percentile time (only indicative on a shared machine). The
bookings stay in the database; the next ``seed_bench`` deletes them with the bench patients.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
PATIENT_EMAIL = "bench-booking-{:03d}@bench.invalid"  # the bench- prefix: seed_bench deletes these users too


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="bookings of each kind (default 20)")
    parser.add_argument("--migrate", action="store_true", help="run migrate first (a fresh database)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


def prepare_django() -> None:
    """The project's settings with DEBUG off (as in production); DATABASE_URL / SQLITE_PATH choose the database."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "website.settings.dev")
    os.environ.setdefault("DEBUG", "false")
    import django

    django.setup()


def ensure_bench_data(*, migrate: bool) -> None:
    from django.core.management import call_command

    from booking.scheduling.management.commands.seed_bench import SERVICE_SLUGS
    from booking.scheduling.models import Service

    if migrate:
        call_command("migrate", verbosity=0, interactive=False)
    if not Service.objects.filter(slug=SERVICE_SLUGS[0], offered_by__isnull=False).exists():
        call_command("seed_bench")


def verified_patients(count: int) -> list:
    """``count`` patients with a verified email and an API token (kept between runs)."""
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from rest_framework.authtoken.models import Token

    from portal.accounts.models import Patient

    patients = []
    for number in range(1, count + 1):
        email = PATIENT_EMAIL.format(number)
        user, _created = get_user_model().objects.get_or_create(
            email=email, defaults={"first_name": "Bench", "last_name": str(number), "password": make_password(None)}
        )
        EmailAddress.objects.update_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
        patient, _created = Patient.objects.get_or_create(user=user)
        patient.token = Token.objects.get_or_create(user=user)[0].key
        patients.append(patient)
    return patients


def free_slots(count: int, now) -> tuple:
    """The bench service and ``count`` of its free slots, at most one per professional and day, two days ahead on."""
    from booking.scheduling.management.commands.seed_bench import SERVICE_SLUGS, TIME_ZONE
    from booking.scheduling.models import Service
    from booking.scheduling.selectors import find_slots

    service = Service.objects.get(slug=SERVICE_SLUGS[0])
    today = now.astimezone(ZoneInfo(TIME_ZONE)).date()
    slots = find_slots(
        service=service, start_day=today + timedelta(days=2), end_day=today + timedelta(days=30), now=now
    )
    chosen, seen = [], set()
    for slot in slots:
        key = (slot.professional_id, slot.start.date())
        if key not in seen:
            seen.add(key)
            chosen.append(slot)
    if len(chosen) < count:
        raise SystemExit(f"only {len(chosen)} free slots found; run manage.py seed_bench again")
    return service, chosen[:count]


def percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[max(0, math.ceil(fraction * len(sorted_values)) - 1)]


def summary(name: str, runs: list[tuple[int, float]]) -> dict:
    queries = [count for count, _ms in runs]
    timings = sorted(ms for _count, ms in runs)
    return {
        "name": name,
        "runs": len(runs),
        "queries_min": min(queries),
        "queries_max": max(queries),
        "median_ms": round(statistics.median(timings), 2),
        "p95_ms": round(percentile(timings, 0.95), 2),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    prepare_django()
    ensure_bench_data(migrate=args.migrate)

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from booking.billing.services import book_with_invoice
    from booking.scheduling.models import Location, Professional

    now = timezone.now()
    patients = verified_patients(2 * args.repeat + 1)
    service, slots = free_slots(2 * args.repeat + 1, now)
    professionals = {p.pk: p for p in Professional.objects.filter(pk__in={slot.professional_id for slot in slots})}
    locations = {location.pk: location for location in Location.objects.all()}

    def api_booking(patient, slot) -> tuple[int, float]:
        client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Token {patient.token}")
        body = {
            "service": service.slug,
            "professional": professionals[slot.professional_id].slug,
            "start": slot.start.isoformat(),
            "location": locations[slot.location_id].slug if slot.location_id else None,
        }
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.post("/api/v1/appointments/", json.dumps(body), content_type="application/json")
            elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 201:
            raise SystemExit(f"the API answered {response.status_code}: {response.content[:300]!r}")
        return len(queries.captured_queries), elapsed

    def service_booking(patient, slot) -> tuple[int, float]:
        location = locations.get(slot.location_id)
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            book_with_invoice(
                patient=patient,
                professional=professionals[slot.professional_id],
                service=service,
                start=slot.start,
                location=location,
                modality="in_person" if location else "online",
                source="api",
                actor=patient.user,
            )
            elapsed = (time.perf_counter() - started) * 1000
        return len(queries.captured_queries), elapsed

    api_booking(patients[-1], slots[-1])  # warm-up: connection, caches, imports
    api_runs = [api_booking(patients[index], slots[index]) for index in range(args.repeat)]
    service_runs = [
        service_booking(patients[args.repeat + index], slots[args.repeat + index]) for index in range(args.repeat)
    ]
    figures = [
        summary("POST /api/v1/appointments/ (token), with its invoice", api_runs),
        summary("billing.book_with_invoice", service_runs),
    ]

    print(
        f"# database: {connection.vendor}; {args.repeat} bookings of each kind, committed; "
        f"now={now:%Y-%m-%d %H:%M} UTC"
    )
    print(f"{'queries':>9} {'median ms':>10} {'p95 ms':>8}  booking")
    for row in figures:
        queries = (
            f"{row['queries_min']}"
            if row["queries_min"] == row["queries_max"]
            else f"{row['queries_min']}-{row['queries_max']}"
        )
        print(f"{queries:>9} {row['median_ms']:>10.2f} {row['p95_ms']:>8.2f}  {row['name']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"database": connection.vendor, "bookings": figures}, indent=2))
        print(f"# written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
