"""Fill the database with a busy clinic for the benchmarks in ``bench/``. BENCHMARK DATA ONLY.

    manage.py seed_bench --professionals 20 --appointments 5000 --days 60 [--seed 1]

Builds one location, two shared 50-minute services that every professional offers, professionals who work
Monday to Friday 09:00-18:00 at that location, a few days of time off each, patients, and confirmed appointments
spread over the next ``--days`` days. Every row it creates is recognisable by a ``bench-`` slug or email, and each
run first deletes whatever an earlier run created, so running it twice leaves the same counts.

Why rows are written with ``bulk_create`` instead of through ``book_appointment``: booking 5000 appointments one
by one (each checks availability under a lock and writes two audit events) takes minutes; the benchmarks only
need realistic busy time. Appointments are placed on a 60-minute grid (a 50-minute session plus the service's
10-minute buffer fills one cell exactly), never on a weekend, a Chilean public holiday or a day off, so no two
appointments of one professional overlap; their blocked interval is computed with ``blocked_interval``, exactly
as the booking service stores it.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import holidays
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from booking.scheduling.availability import blocked_interval
from booking.scheduling.models import (
    Appointment,
    AppointmentModality,
    AppointmentSource,
    AppointmentStatus,
    Location,
    Professional,
    ProfessionalService,
    Service,
    ServiceCategory,
    TimeOff,
    WeeklyAvailability,
)
from booking.scheduling.selectors import service_spec
from portal.accounts.models import Patient

PREFIX = "bench-"
LOCATION_SLUG = f"{PREFIX}location"
CATEGORY_SLUG = f"{PREFIX}category"
SERVICE_SLUGS = (f"{PREFIX}individual-therapy", f"{PREFIX}follow-up")
EMAIL_DOMAIN = "bench.invalid"  # RFC 2606: never a real mailbox
TIME_ZONE = "America/Santiago"
WORKDAY_START, WORKDAY_END = time(9), time(18)
WORKDAYS = range(5)  # Monday to Friday
GRID = timedelta(minutes=60)
SERVICE_MINUTES = 50
BUFFER_AFTER_MINUTES = 10
TIME_OFF_DAYS_PER_PROFESSIONAL = 2
APPOINTMENTS_PER_PATIENT = 10


def professional_slug(number: int) -> str:
    return f"{PREFIX}pro-{number:03d}"


def patient_email(number: int) -> str:
    return f"{PREFIX}patient-{number:05d}@{EMAIL_DOMAIN}"


def is_bench_email(email: str) -> bool:
    return email.startswith(PREFIX) and email.endswith(f"@{EMAIL_DOMAIN}")


class Command(BaseCommand):
    help = "Replace the benchmark data (rows with a 'bench-' slug or email) with a fresh busy clinic."

    def add_arguments(self, parser):
        parser.add_argument("--professionals", type=int, default=20)
        parser.add_argument("--appointments", type=int, default=5000)
        parser.add_argument("--days", type=int, default=60, help="spread appointments over this many days")
        parser.add_argument("--seed", type=int, default=1, help="random seed, so two runs build the same clinic")

    def handle(self, *args, professionals, appointments, days, seed, **options):
        if professionals < 1 or appointments < 0 or days < 1:
            raise CommandError("--professionals and --days must be at least 1, --appointments at least 0.")
        rng = random.Random(seed)
        today = timezone.localdate(timezone.now(), ZoneInfo(TIME_ZONE))
        with transaction.atomic():
            deleted = delete_bench_data()
            location, services = create_catalog()
            pros = create_professionals(professionals, location, services)
            days_off = create_time_off(pros, today, days, rng)
            cells = free_cells(pros, today, days, days_off)
            if appointments > len(cells):
                raise CommandError(
                    f"{appointments} appointments do not fit: {professionals} professionals have only "
                    f"{len(cells)} free hours in the next {days} days. Ask for fewer appointments or more days."
                )
            patients = create_patients(max(1, -(-appointments // APPOINTMENTS_PER_PATIENT)) if appointments else 0)
            booked = create_appointments(rng.sample(cells, appointments), services, patients, location, rng)
        self.stdout.write(
            f"Deleted {deleted} earlier bench rows. Created {len(pros)} professionals, {len(services)} services, "
            f"{sum(len(v) for v in days_off.values())} days off, {len(patients)} patients and {booked} confirmed "
            f"appointments between {today + timedelta(days=1)} and {today + timedelta(days=days)}."
        )


def delete_bench_data() -> int:
    """Remove every row an earlier run created (appointments first: they protect their patient and service)."""
    bench_users = get_user_model().objects.filter(email__startswith=PREFIX, email__endswith=f"@{EMAIL_DOMAIN}")
    deleted = 0
    for queryset in (
        Appointment.objects.filter(
            Q(professional__slug__startswith=PREFIX)
            | Q(service__slug__startswith=PREFIX)
            | Q(patient__user__in=bench_users)
        ),
        Professional.objects.filter(slug__startswith=PREFIX),
        Service.objects.filter(slug__startswith=PREFIX),
        ServiceCategory.objects.filter(slug__startswith=PREFIX),
        Location.objects.filter(slug__startswith=PREFIX),
        bench_users,
    ):
        count, _by_model = queryset.delete()
        deleted += count
    return deleted


def create_catalog() -> tuple[Location, list[Service]]:
    location = Location.objects.create(
        name="Bench clinic", slug=LOCATION_SLUG, address="Benchmark 1", city="Santiago", time_zone=TIME_ZONE
    )
    category = ServiceCategory.objects.create(name="Bench", slug=CATEGORY_SLUG)
    services = [
        Service.objects.create(
            name=slug.removeprefix(PREFIX).replace("-", " ").capitalize(),
            slug=slug,
            category=category,
            duration_minutes=SERVICE_MINUTES,
            buffer_after_minutes=BUFFER_AFTER_MINUTES,
            price=Decimal("35000"),
            sort_order=number,
        )
        for number, slug in enumerate(SERVICE_SLUGS)
    ]
    return location, services


def create_professionals(count: int, location: Location, services: list[Service]) -> list[Professional]:
    pros = Professional.objects.bulk_create(
        Professional(display_name=f"Bench professional {n}", slug=professional_slug(n), sort_order=n)
        for n in range(1, count + 1)
    )
    Professional.locations.through.objects.bulk_create(
        Professional.locations.through(professional_id=pro.pk, location_id=location.pk) for pro in pros
    )
    ProfessionalService.objects.bulk_create(
        ProfessionalService(professional=pro, service=service, sort_order=order)
        for pro in pros
        for order, service in enumerate(services)
    )
    WeeklyAvailability.objects.bulk_create(
        WeeklyAvailability(
            professional=pro, location=location, weekday=weekday, start_time=WORKDAY_START, end_time=WORKDAY_END
        )
        for pro in pros
        for weekday in WORKDAYS
    )
    return pros


def working_days(today: date, days: int) -> list[date]:
    """Weekdays from tomorrow to ``today + days`` that are not Chilean public holidays (the engine closes those)."""
    public_holidays = holidays.CL(years=range(today.year, (today + timedelta(days=days)).year + 1))
    candidates = (today + timedelta(days=offset) for offset in range(1, days + 1))
    return [day for day in candidates if day.weekday() in WORKDAYS and day not in public_holidays]


def create_time_off(pros: list[Professional], today: date, days: int, rng: random.Random) -> dict[int, set[date]]:
    """A few whole working days off per professional, as the admin would enter them (local midnight to midnight)."""
    zone = ZoneInfo(TIME_ZONE)
    candidates = working_days(today, days)
    days_off = {
        pro.pk: set(rng.sample(candidates, min(TIME_OFF_DAYS_PER_PROFESSIONAL, len(candidates)))) for pro in pros
    }
    TimeOff.objects.bulk_create(
        TimeOff(
            professional_id=pro_id,
            start=datetime.combine(day, time(0), zone),
            end=datetime.combine(day + timedelta(days=1), time(0), zone),
            all_day=True,
            reason="Bench day off",
        )
        for pro_id, chosen in days_off.items()
        for day in sorted(chosen)
    )
    return days_off


def free_cells(pros: list[Professional], today: date, days: int, days_off: dict[int, set[date]]) -> list[tuple]:
    """Every (professional id, start) on the 60-minute grid inside working hours, in a stable order."""
    zone = ZoneInfo(TIME_ZONE)
    last_start = datetime.combine(date.min, WORKDAY_END) - GRID
    hours = []
    moment = datetime.combine(date.min, WORKDAY_START)
    while moment <= last_start:
        hours.append(moment.time())
        moment += GRID
    return [
        (pro.pk, datetime.combine(day, hour, zone))
        for pro in pros
        for day in working_days(today, days)
        if day not in days_off[pro.pk]
        for hour in hours
    ]


def create_patients(count: int) -> list[Patient]:
    """Patients with verified email addresses and no usable password (nobody logs in as them)."""
    unusable = make_password(None)
    users = get_user_model().objects.bulk_create(
        get_user_model()(email=patient_email(n), first_name="Bench", last_name=f"Patient {n}", password=unusable)
        for n in range(1, count + 1)
    )
    EmailAddress.objects.bulk_create(
        EmailAddress(user=user, email=user.email, verified=True, primary=True) for user in users
    )
    return Patient.objects.bulk_create(Patient(user=user) for user in users)


def create_appointments(cells, services, patients, location, rng: random.Random) -> int:
    specs = {service.pk: service_spec(service) for service in services}
    rows = []
    for professional_id, start in cells:
        service = rng.choice(services)
        blocked = blocked_interval(start, specs[service.pk])
        rows.append(
            Appointment(
                patient=rng.choice(patients),
                professional_id=professional_id,
                service=service,
                location=location,
                modality=AppointmentModality.IN_PERSON,
                start=start,
                end=start + service.duration,
                blocked_start=blocked.start,
                blocked_end=blocked.end,
                status=AppointmentStatus.CONFIRMED,
                price=service.price,
                currency=service.currency,
                source=AppointmentSource.ADMIN,
            )
        )
    Appointment.objects.bulk_create(rows, batch_size=1000)
    return len(rows)
