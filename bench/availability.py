"""How long the availability search takes on a busy clinic, and how many queries it runs.

    .venv/bin/python bench/availability.py                  # the database DATABASE_URL / SQLITE_PATH points at
    .venv/bin/python bench/availability.py --migrate        # a fresh database: migrate first
    .venv/bin/python bench/availability.py --repeat 50 --json bench/results/availability.json

Needs the data of ``manage.py seed_bench`` (20 professionals, 5000 appointments over 60 days); when the bench
professionals are missing it runs ``seed_bench`` with its defaults first. Three figures:

* the whole search: one service, every professional who offers it, 28 days, through
  ``booking.scheduling.selectors.find_slots`` (loading from the database plus the engine);
* the engine alone on the same data, already loaded (``availability.available_slots``), to tell the database's
  share from the algorithm's;
* one professional on one working day through ``find_slots`` (what the booking service checks per booking), and
  ``load_availability`` alone for it (the per-call cost of loading, mostly fixed);
* the availability API over 62 days for every professional (``GET /api/v1/availability/`` through Django's test
  client): the first answer's size, slots and time, and, since answers are paged by professional, how many pages
  (``next`` links) cover everyone and their total size and time.

``--professionals 500`` (with ``--reseed``, or on a database seeded so) measures a large clinic: ``seed_bench`` is run
with that many professionals and 50 appointments each.

For each it prints the median and 95th-percentile time over ``--repeat`` runs, the number of SQL queries of
one run, and the number of slots found. It prints figures; it never passes or fails on time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
SEARCH_DAYS = 28


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per figure (default 30)")
    parser.add_argument("--migrate", action="store_true", help="run migrate first (a fresh database)")
    parser.add_argument("--reseed", action="store_true", help="run seed_bench even if bench data exists")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--professionals", type=int, default=20, help="professionals for seed_bench when it runs (default 20)"
    )
    return parser.parse_args(argv)


def prepare_django() -> None:
    """The project's settings with DEBUG off (as in production); DATABASE_URL / SQLITE_PATH choose the database."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "website.settings.dev")
    os.environ.setdefault("DEBUG", "false")
    import django

    django.setup()


def ensure_bench_data(*, migrate: bool, reseed: bool, professionals: int = 20) -> None:
    from django.core.management import call_command

    from booking.scheduling.management.commands.seed_bench import SERVICE_SLUGS
    from booking.scheduling.models import Service

    if migrate:
        call_command("migrate", verbosity=0, interactive=False)
    if reseed or not Service.objects.filter(slug=SERVICE_SLUGS[0], offered_by__isnull=False).exists():
        started = time.perf_counter()
        call_command("seed_bench", professionals=professionals, appointments=250 * professionals)
        print(f"# seed_bench --professionals {professionals} in {time.perf_counter() - started:.1f}s")


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with at least ``fraction`` of the runs at or below it."""
    return sorted_values[max(0, math.ceil(fraction * len(sorted_values)) - 1)]


def measure(name: str, run: Callable[[], list], repeat: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    run()  # warm-up: connection, caches (time zone windows, holidays), imports
    with CaptureQueriesContext(connection) as queries:
        slots = run()
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {
        "name": name,
        "queries": len(queries.captured_queries),
        "slots": len(slots),
        "median_ms": round(statistics.median(timings), 2),
        "p95_ms": round(percentile(timings, 0.95), 2),
        "min_ms": round(timings[0], 2),
    }


def measure_api(service_slug: str, today, repeat: int) -> dict:
    """GET /api/v1/availability/ for 62 days and every professional: the first answer, then every page."""
    from django.test import Client

    client = Client(HTTP_HOST="localhost")
    query = {"service": service_slug, "start": today.isoformat(), "end": (today + timedelta(days=61)).isoformat()}
    client.get("/api/v1/availability/", query)  # warm-up
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        first = client.get("/api/v1/availability/", query)
        timings.append((time.perf_counter() - started) * 1000)
    if first.status_code != 200:
        raise SystemExit(f"the availability API answered {first.status_code}: {first.content[:300]!r}")
    pages, size, slots = 0, 0, 0
    started = time.perf_counter()
    response = client.get("/api/v1/availability/", query)
    while True:
        pages += 1
        size += len(response.content)
        body = response.json()
        slots += len(body["slots"])
        if not body.get("next"):
            break
        response = client.get(body["next"])
    all_ms = (time.perf_counter() - started) * 1000
    return {
        "first_median_ms": round(statistics.median(timings), 1),
        "first_kib": round(len(first.content) / 1024, 1),
        "first_slots": len(first.json()["slots"]),
        "pages": pages,
        "all_ms": round(all_ms, 1),
        "all_kib": round(size / 1024, 1),
        "all_slots": slots,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    prepare_django()
    ensure_bench_data(migrate=args.migrate, reseed=args.reseed, professionals=args.professionals)

    from django.db import connection
    from django.utils import timezone

    from booking.scheduling.availability import available_slots
    from booking.scheduling.management.commands.seed_bench import PREFIX, SERVICE_SLUGS, TIME_ZONE, working_days
    from booking.scheduling.models import Appointment, Professional, Service
    from booking.scheduling.selectors import find_slots, load_availability

    now = timezone.now()
    today = timezone.localdate(now, ZoneInfo(TIME_ZONE))
    service = Service.objects.get(slug=SERVICE_SLUGS[0])
    professional = Professional.objects.filter(slug__startswith=PREFIX).order_by("slug").first()
    professionals = Professional.objects.filter(offered_services__service=service).count()
    appointments = Appointment.objects.filter(professional__slug__startswith=PREFIX).count()
    start_day, end_day = today, today + timedelta(days=SEARCH_DAYS - 1)
    # A working day two days ahead: past the 12-hour minimum notice, so the day's free slots all count.
    busy_day = next(day for day in working_days(today, 14) if day >= today + timedelta(days=2))

    spec, loaded, rooms = load_availability(service=service, start_day=start_day, end_day=end_day, now=now)
    figures = [
        measure(
            f"whole search: 1 service, {professionals} professionals, {SEARCH_DAYS} days",
            lambda: find_slots(service=service, start_day=start_day, end_day=end_day, now=now),
            args.repeat,
        ),
        measure(
            "  engine only (data already loaded)",
            lambda: available_slots(
                professionals=loaded, service=spec, start_day=start_day, end_day=end_day, now=now, rooms=rooms
            ),
            args.repeat,
        ),
        measure(
            f"one professional-day ({professional.slug}, {busy_day:%a %Y-%m-%d})",
            lambda: find_slots(
                service=service, professionals=[professional], start_day=busy_day, end_day=busy_day, now=now
            ),
            args.repeat,
        ),
        measure(
            "  load_availability only, same professional-day",
            lambda: (
                load_availability(
                    service=service, professionals=[professional], start_day=busy_day, end_day=busy_day, now=now
                ).professionals
            ),
            args.repeat,
        ),
    ]
    api = measure_api(service.slug, today, max(3, args.repeat // 10))

    print(
        f"# database: {connection.vendor}; {professionals} professionals, {appointments} bench appointments; "
        f"{args.repeat} timed runs per row; now={now:%Y-%m-%d %H:%M} UTC"
    )
    print(f"{'median ms':>9} {'p95 ms':>8} {'min ms':>8} {'queries':>7} {'slots':>6}  search")
    for row in figures:
        print(
            f"{row['median_ms']:>9.2f} {row['p95_ms']:>8.2f} {row['min_ms']:>8.2f} {row['queries']:>7} "
            f"{row['slots']:>6}  {row['name']}"
        )
    print(f"{'median ms':>9} {'KiB':>8} {'slots':>7} {'pages':>5}  availability API, 62 days, every professional")
    print(f"{api['first_median_ms']:>9.1f} {api['first_kib']:>8.1f} {api['first_slots']:>7} {1:>5}  first answer")
    print(
        f"{api['all_ms']:>9.1f} {api['all_kib']:>8.1f} {api['all_slots']:>7} {api['pages']:>5}"
        "  following next to the end"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"database": connection.vendor, "searches": figures, "api": api}
        args.json.write_text(json.dumps(payload, indent=2))
        print(f"# written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
