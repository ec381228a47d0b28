"""What the professional's side costs: their day, week and month, their patients, an availability change checked
against every booked session, and a patient's whole clinical record (decrypted and logged).

    .venv/bin/python bench/professional.py                  # a throwaway SQLite database (migrated first)
    .venv/bin/python bench/professional.py --repeat 50 --json bench/results/professional.json
    DATABASE_URL=postgres://... .venv/bin/python bench/professional.py --existing   # the configured database

Inside one transaction rolled back at the end: one professional working Monday to Friday 08:00-20:00 with
``--per-day`` (10) sessions each working day from a month back to two months ahead, ``--patients`` (300) patients
spread over them, and one patient with ``--notes`` (60) signed session notes, each with an amendment. Then, through
Django's test client logged in as the professional (pages) or a clinic administrator (the record): the day, the
week, the month, "My patients" and a search by RUT; ``add_time_off`` over the next month that is refused because
it would strand booked sessions (the check reads the hours before and after and every open session in the range),
and one on a free Saturday that is accepted (rolled back); and the admin's clinical record. Query counts are exact
(the suite asserts they do not grow with the list); times are only indicative on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from packs import measure, prepare_django
from pages import measure as measure_page

PREFIX = "bench-pro-"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--existing", action="store_true", help="use the configured database (nothing is kept)")
    parser.add_argument("--repeat", type=int, default=20, help="timed runs per figure (default 20)")
    parser.add_argument("--per-day", type=int, default=10, help="sessions per working day (default 10)")
    parser.add_argument("--patients", type=int, default=300, help="patients over those sessions (default 300)")
    parser.add_argument("--notes", type=int, default=60, help="signed notes of one patient (default 60)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


def build_practice(now: datetime, per_day: int, patient_count: int, note_count: int):
    """The practice described in the module docstring; returns (professional, administrator, record patient, n)."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

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
    from portal.accounts.roles import CLINIC_ADMINISTRATORS, ensure_role_groups
    from portal.records import notes

    location = Location.objects.create(name="Bench pro", slug=f"{PREFIX}location", address="Av. Bench 2")
    category = ServiceCategory.objects.create(name="Bench pro", slug=f"{PREFIX}category")
    service = Service.objects.create(
        category=category, name="Bench psicoterapia", slug=f"{PREFIX}service", duration_minutes=50, price=Decimal(1)
    )

    def user(name: str, **fields):
        created = User.objects.create_user(email=f"{PREFIX}{name}@bench.invalid", password=None, **fields)
        EmailAddress.objects.create(user=created, email=created.email, verified=True, primary=True)
        return created

    pro_user = user("pro")
    TOTP.activate(pro_user, generate_totp_secret())
    professional = Professional.objects.create(
        display_name="Bench Pro", slug=f"{PREFIX}pro", user=pro_user, availability_self_service="full"
    )
    professional.locations.set([location])
    professional.save()
    ProfessionalService.objects.create(professional=professional, service=service)
    WeeklyAvailability.objects.bulk_create(
        WeeklyAvailability(
            professional=professional, location=location, weekday=weekday, start_time=time(8), end_time=time(20)
        )
        for weekday in range(5)
    )
    administrator = user("boss", is_staff=True)
    administrator.groups.add(ensure_role_groups()[CLINIC_ADMINISTRATORS])
    TOTP.activate(administrator, generate_totp_secret())
    patients = [
        Patient.objects.create(user=user(f"patient-{number}", first_name="Paciente", last_name=f"N{number}"))
        for number in range(patient_count)
    ]
    zone = location.tzinfo
    today = now.astimezone(zone).date()
    sessions = []
    for offset in range(-30, 61):
        day = today + timedelta(days=offset)
        if day.weekday() >= 5:
            continue
        for slot in range(per_day):
            start = datetime(day.year, day.month, day.day, 8, tzinfo=zone) + timedelta(hours=slot)
            end = start + timedelta(minutes=50)
            sessions.append(
                Appointment(
                    # the first ``note_count`` sessions are the record patient's, the rest spread over everyone
                    patient=patients[0 if len(sessions) < note_count else len(sessions) % patient_count],
                    professional=professional,
                    service=service,
                    location=location,
                    modality="in_person",
                    start=start,
                    end=end,
                    blocked_start=start,
                    blocked_end=end,
                    status="completed" if start < now else "confirmed",
                    price=Decimal(1),
                    source="admin",
                )
            )
    Appointment.objects.bulk_create(sessions)
    record_patient = patients[0]
    record_sessions = list(
        Appointment.objects.filter(patient=record_patient, status="completed").order_by("start")[:note_count]
    )
    for appointment in record_sessions:
        note = notes.save_draft(
            appointment=appointment, author=pro_user, text="Motivo de consulta y evolución. " * 20, now=now
        )
        notes.sign(note=note, author=pro_user, now=now)
        notes.amend(note=note, author=pro_user, text="Dato omitido.", reason="completar", now=now)
    return professional, administrator, record_patient, len(sessions), len(record_sessions)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    prepare_django(args.existing)

    from django.db import connection, transaction
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from booking.scheduling import availability_services

    now = timezone.now()
    with transaction.atomic():
        professional, administrator, record_patient, session_count, note_count = build_practice(
            now, args.per_day, args.patients, args.notes
        )
        pro_client = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="es-CL")
        pro_client.force_login(professional.user)
        admin_client = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="es-CL")
        admin_client.force_login(administrator)
        today = timezone.localdate(now)

        pages = [
            measure_page(url, args.repeat, client=client)
            for client, url in [
                (pro_client, reverse("portal:pro_today")),
                (pro_client, reverse("portal:pro_agenda")),
                (pro_client, f"{reverse('portal:pro_agenda')}?month={today:%Y-%m}"),
                (pro_client, reverse("portal:pro_patients")),
                (pro_client, f"{reverse('portal:pro_patients')}?q=12345"),
                (pro_client, reverse("portal:pro_availability")),
                (admin_client, reverse("records_clinical:record", args=[record_patient.pk])),
            ]
        ]
        figures = []

        month_ahead = now + timedelta(days=30)

        def refused_time_off():
            try:
                availability_services.add_time_off(
                    professional=professional, actor=professional.user, start=now + timedelta(days=1), end=month_ahead
                )
            except availability_services.AvailabilityError as error:
                return error.sessions
            raise AssertionError("the time off over booked sessions was accepted")

        figures.append(
            measure(
                "add_time_off over a month of sessions: refused, sessions listed", refused_time_off, args.repeat, len
            )
        )
        saturday = today + timedelta(days=(5 - today.weekday()) % 7 or 7)

        def accepted_time_off():
            with transaction.atomic():
                start = datetime.combine(saturday, time(9), tzinfo=timezone.get_default_timezone())
                availability_services.add_time_off(
                    professional=professional, actor=professional.user, start=start, end=start + timedelta(hours=4)
                )
                transaction.set_rollback(True)
            return []

        figures.append(
            measure("add_time_off on a free Saturday: accepted (rolled back)", accepted_time_off, args.repeat, len)
        )
        transaction.set_rollback(True)  # leave nothing behind, also with --existing

    print(
        f"# database: {connection.vendor}; one professional, {session_count} sessions over three months, "
        f"{args.patients} patients; the record: {note_count} signed notes with an amendment each; "
        f"{args.repeat} timed runs per row; now={now:%Y-%m-%d %H:%M} UTC"
    )
    print(f"{'status':>6} {'queries':>7} {'median ms':>10} {'p90 ms':>8} {'KiB':>6}  page")
    for row in pages:
        print(
            f"{row['status']:>6} {row['queries']:>7} {row['median_ms']:>10.1f} {row['p90_ms']:>8.1f}"
            f" {row['bytes'] / 1024:>6.1f}  {row['url']}"
        )
    print(f"{'median ms':>9} {'p95 ms':>8} {'queries':>7} {'items':>5}  what")
    for row in figures:
        print(f"{row['median_ms']:>9.2f} {row['p95_ms']:>8.2f} {row['queries']:>7} {row['items']:>5}  {row['name']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"database": connection.vendor, "pages": pages, "figures": figures}, indent=2))
        print(f"# written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
