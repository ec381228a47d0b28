"""What packs cost: auto-scheduling a pack's sessions, confirming them, and reading a purchase's balance.

    .venv/bin/python bench/packs.py                     # a throwaway SQLite database (migrated first)
    .venv/bin/python bench/packs.py --repeat 50 --json bench/results/packs.json
    DATABASE_URL=postgres://... .venv/bin/python bench/packs.py --existing   # the configured database

It builds a small busy clinic inside one transaction that is rolled back at the end (so ``--existing`` leaves
nothing behind): one location in America/Santiago, two professionals offering two services (50 and 45 minutes)
Monday to Friday 09:00-18:00, four hours of other patients' bookings each working day for 100 days, and three
patients with a pack each of 4, 12 and 24 sessions (half of each service) valid 92 days. Then:

* ``propose_schedule`` for each pack (both professionals, Monday to Friday, 09:00-18:00, weekly, one a day) over the
  pack's three months: median and 95th-percentile time over ``--repeat`` runs and the SQL queries of one run. The
  query count must be the same for 4, 12 and 24 sessions: the scheduling data is loaded once per service with the
  bounded selector and the sessions are placed in memory (the test suite asserts it for 3 and 12);
* the 24-session pack with the "as soon as possible" cadence;
* ``confirm_schedule`` of the 12-session plan (every session booked through ``book_from_pack`` in one transaction,
  rolled back after each run): this one grows with the sessions, since each booking checks and writes its own rows;
* ``balances`` of a purchase: one query.

Figures only: it never passes or fails on time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "bench-packs-"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--existing", action="store_true", help="use the configured database (nothing is kept)")
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per figure (default 20)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


def prepare_django(existing: bool) -> None:
    """The project's settings with DEBUG off; without ``--existing`` a scratch SQLite database, migrated."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "website.settings.dev")
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("HUEY_IMMEDIATE", "true")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if not existing:
        scratch = Path(tempfile.mkdtemp(prefix="clinic-bench-"))
        os.environ.pop("DATABASE_URL", None)
        os.environ["SQLITE_PATH"] = str(scratch / "bench.sqlite3")
        os.environ["HUEY_SQLITE_PATH"] = str(scratch / "huey.sqlite3")
    import django

    django.setup()
    if not existing:
        from django.core.management import call_command

        started = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        print(f"# fresh SQLite database in {time.perf_counter() - started:.1f}s")


def percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[max(0, math.ceil(fraction * len(sorted_values)) - 1)]


def measure(name: str, run: Callable[[], object], repeat: int, count: Callable[[object], int]) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    run()  # warm-up: permissions cached on the user, holiday calendar, SQL text caches
    with CaptureQueriesContext(connection) as queries:
        result = run()
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {
        "name": name,
        "queries": len(queries.captured_queries),
        "items": count(result),
        "median_ms": round(statistics.median(timings), 2),
        "p95_ms": round(percentile(timings, 0.95), 2),
    }


def build_clinic(now: datetime):
    """The clinic described in the module docstring; returns (staff user, professionals, {sessions: purchase})."""
    from django.contrib.auth.models import Permission

    from booking.packs.models import CreditMode, Package, PackageItem, PackagePurchase
    from booking.packs.services import grant_purchase
    from booking.scheduling.models import (
        Appointment,
        Location,
        Professional,
        ProfessionalService,
        Service,
        ServiceCategory,
        WeeklyAvailability,
    )
    from portal.accounts.models import Patient, User

    location = Location.objects.create(
        name="Bench packs", slug=f"{PREFIX}location", address="Av. Bench 1", observes_public_holidays=True
    )
    category = ServiceCategory.objects.create(name="Bench packs", slug=f"{PREFIX}category")
    services = [
        Service.objects.create(
            category=category,
            name=f"Bench pack service {minutes}",
            slug=f"{PREFIX}service-{minutes}",
            duration_minutes=minutes,
            buffer_after_minutes=10,
            booking_horizon_days=120,
            price=Decimal("30000"),
        )
        for minutes in (50, 45)
    ]
    professionals = []
    for number in range(2):
        professional = Professional.objects.create(
            display_name=f"Bench pack pro {number}", slug=f"{PREFIX}pro-{number}"
        )
        professional.locations.set([location])
        professional.save()
        for service in services:
            ProfessionalService.objects.create(professional=professional, service=service)
        WeeklyAvailability.objects.bulk_create(
            WeeklyAvailability(
                professional=professional, location=location, weekday=weekday, start_time="09:00", end_time="18:00"
            )
            for weekday in range(5)
        )
        professionals.append(professional)

    def user(name: str):
        return User.objects.create_user(email=f"{PREFIX}{name}@bench.invalid", password=None)

    staff = user("desk")
    staff.user_permissions.add(
        Permission.objects.get(content_type__app_label="scheduling", codename="change_appointment")
    )
    others = Patient.objects.create(user=user("others"))
    zone = location.tzinfo
    today = now.astimezone(zone).date()
    busy = []
    for offset in range(1, 101):
        day = today + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for professional in professionals:
            for hour in (10, 11, 14, 16):
                start = datetime(day.year, day.month, day.day, hour, tzinfo=zone)
                end = start + timedelta(minutes=50)
                busy.append(
                    Appointment(
                        patient=others,
                        professional=professional,
                        service=services[0],
                        location=location,
                        modality="in_person",
                        start=start,
                        end=end,
                        blocked_start=start,
                        blocked_end=end + timedelta(minutes=10),
                        status="confirmed",
                        price=Decimal("30000"),
                        source="admin",
                    )
                )
    Appointment.objects.bulk_create(busy)

    purchases = {}
    for sessions in (4, 12, 24):
        package = Package.objects.create(
            name=f"Bench pack {sessions}",
            slug=f"{PREFIX}pack-{sessions}",
            price=Decimal("100000"),
            validity_days=92,
            credit_mode=CreditMode.PER_SERVICE,
        )
        for order, service in enumerate(services):
            PackageItem.objects.create(package=package, service=service, sessions=sessions // 2, sort_order=order)
        patient = Patient.objects.create(user=user(f"patient-{sessions}"))
        purchase = PackagePurchase.objects.create(
            patient=patient,
            package=package,
            snapshot=package.snapshot(),
            price=package.price,
            currency=package.currency,
            purchased_at=now,
            expires_at=PackagePurchase.expiry_for(package, now),
        )
        purchases[sessions] = grant_purchase(purchase=purchase, now=now)
    return staff, professionals, purchases, len(busy)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    prepare_django(args.existing)

    from django.db import connection, transaction
    from django.utils import timezone

    from booking.packs.selectors import balances
    from booking.packs.services import confirm_schedule, propose_schedule

    now = timezone.now()
    with transaction.atomic():
        staff, professionals, purchases, busy = build_clinic(now)
        start_date = timezone.localdate(now) + timedelta(days=1)

        def propose(purchase, cadence="weekly"):
            return propose_schedule(
                purchase=purchase,
                professionals=professionals,
                start_date=start_date,
                weekdays=range(5),
                time_from=datetime.min.time().replace(hour=9),
                time_to=datetime.min.time().replace(hour=18),
                cadence=cadence,
                actor=staff,
                now=now,
            )

        def placed(plan) -> int:
            return len(plan.proposals)

        figures = [
            measure(
                f"propose_schedule, {sessions} sessions, 2 professionals, 2 services, weekly",
                lambda purchase=purchase: propose(purchase),
                args.repeat,
                placed,
            )
            for sessions, purchase in purchases.items()
        ]
        figures.append(
            measure(
                "propose_schedule, 24 sessions, as soon as possible",
                lambda: propose(purchases[24], "asap"),
                args.repeat,
                placed,
            )
        )
        plan = propose(purchases[12])

        def confirm_and_roll_back():
            with transaction.atomic():
                booked = confirm_schedule(
                    purchase=purchases[12], proposals=plan.proposals, actor=staff, source="admin", now=now
                )
                transaction.set_rollback(True)
            return booked

        figures.append(
            measure(
                "confirm_schedule, 12 sessions (rolled back)", confirm_and_roll_back, max(3, args.repeat // 4), len
            )
        )
        figures.append(
            measure(
                "balances of a purchase",
                lambda: balances(purchases[12]),
                args.repeat,
                lambda result: len(result.buckets),
            )
        )
        transaction.set_rollback(True)  # leave nothing behind, also with --existing

    print(
        f"# database: {connection.vendor}; 2 professionals, {busy} other bookings over 100 days; "
        f"{args.repeat} timed runs per row; now={now:%Y-%m-%d %H:%M} UTC"
    )
    print(f"{'median ms':>9} {'p95 ms':>8} {'queries':>7} {'items':>5}  what")
    for row in figures:
        print(f"{row['median_ms']:>9.2f} {row['p95_ms']:>8.2f} {row['queries']:>7} {row['items']:>5}  {row['name']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"database": connection.vendor, "figures": figures}, indent=2))
        print(f"# written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
