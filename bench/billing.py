"""What billing costs: issuing invoices, the staff and patient invoice lists, the dashboard, PDF receipts.

    .venv/bin/python bench/billing.py                  # a throwaway SQLite database with the demo clinic
    .venv/bin/python bench/billing.py --invoices 500 --repeat 20 --json bench/results/billing.json
    DATABASE_URL=postgres://... .venv/bin/python bench/billing.py --existing   # a database you prepared

It adds ``--invoices`` sessions for one demo patient (rows written directly, a week apart), invoices each
through ``create_invoice_for_appointment`` (numbering under the series lock, as in production) and records a
cash payment on every other one. Then it requests, through Django's test client, the admin's invoice list
(first page), one invoice's admin page, the admin dashboard (today's sales panel), the patient's invoice list
and one PDF receipt: SQL queries of one request, median and 90th-percentile time. Figures only: it never passes
or fails on time. The query counts must not grow with ``--invoices``; the test suite asserts that.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import time
from pathlib import Path

from pages import measure, prepare_django


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--existing", action="store_true", help="use the configured database as it is")
    parser.add_argument("--invoices", type=int, default=300, help="invoices to create (default 300)")
    parser.add_argument("--repeat", type=int, default=10, help="requests per URL (default 10)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


def create_invoices(count: int) -> tuple[list[float], object, object]:
    """``count`` sessions of the first demo patient, each invoiced through the service; every other one paid."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from booking.billing import services
    from booking.scheduling.models import Appointment, Professional

    User = get_user_model()
    patient = User.objects.get(email="paciente1@demo.clinic").patient
    staff = User.objects.get(email="admin@demo.clinic")
    offer = Professional.objects.get(slug="catalina-munoz").offered_services.select_related("service").first()
    first = timezone.now().replace(minute=0, second=0, microsecond=0) - datetime.timedelta(days=7 * count)
    sessions = []
    for index in range(count):
        start = first + datetime.timedelta(days=7 * index)
        sessions.append(
            Appointment(
                patient=patient,
                professional=offer.professional,
                service=offer.service,
                modality="online",
                start=start,
                end=start + datetime.timedelta(minutes=50),
                blocked_start=start,
                blocked_end=start + datetime.timedelta(minutes=50),
                status="completed",
                price=offer.price,
                currency=offer.service.currency,
                source="admin",
            )
        )
    Appointment.objects.bulk_create(sessions)
    timings = []
    for index, appointment in enumerate(Appointment.objects.filter(patient=patient, invoice_lines__isnull=True)):
        started = time.perf_counter()
        invoice = services.create_invoice_for_appointment(appointment=appointment, actor=staff)
        timings.append((time.perf_counter() - started) * 1000)
        if index % 2 == 0 and invoice.is_payable:
            services.record_offline_payment(invoice=invoice, method="cash", amount=invoice.balance_due, actor=staff)
    return timings, patient.user, staff


def logged_in_measure(user, url: str, repeat: int) -> dict:
    """``pages.measure`` with ``user`` logged in (staff users get an authenticator app, as the admin demands)."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.test import Client

    if user.is_staff and not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, generate_totp_secret())
    client = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="es-CL")
    client.force_login(user)
    return measure(url, repeat, client=client)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    prepare_django(args.existing)
    from django.db import connection
    from django.urls import reverse

    from booking.billing.models import Invoice

    timings, patient_user, staff = create_invoices(args.invoices)
    timings.sort()
    print(f"# database: {connection.vendor}; invoices issued now: {len(timings)}; requests per URL: {args.repeat}")
    if timings:
        print(
            f"create_invoice_for_appointment: median {statistics.median(timings):.1f} ms, "
            f"p90 {timings[int(0.9 * (len(timings) - 1))]:.1f} ms"
        )
    invoice = Invoice.objects.filter(patient__user=patient_user).order_by("-pk").first()
    rows = [
        (staff, reverse("billing_invoices:index")),
        (staff, reverse("billing_invoices:detail", args=[invoice.reference])),
        (staff, "/admin/"),
        (patient_user, reverse("portal:invoices")),
        (patient_user, reverse("portal:invoice_receipt", args=[invoice.reference])),
    ]
    print(f"{'status':>6} {'queries':>7} {'median ms':>10} {'p90 ms':>8} {'KiB':>6}  url")
    results = []
    for user, url in rows:
        row = logged_in_measure(user, url, args.repeat)
        results.append(row)
        print(
            f"{row['status']:>6} {row['queries']:>7} {row['median_ms']:>10.1f} {row['p90_ms']:>8.1f}"
            f" {row['bytes'] / 1024:>6.1f}  {row['url']}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"database": connection.vendor, "create_invoice_ms": timings, "pages": results}
        args.json.write_text(json.dumps(payload, indent=2))
        print(f"# written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
