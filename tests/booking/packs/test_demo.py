"""The demo clinic offers the three packs of the clinic's plan, and one patient's pack half used, once, however
often the seed runs."""

import datetime

import pytest
import time_machine
from django.core.management import call_command

from booking.billing.models import InvoiceStatus, Payment
from booking.packs.models import CreditKind, CreditMode, Package, PackageItem, PackagePurchase, PackCreditEntry
from booking.packs.selectors import balances
from booking.scheduling.models import Appointment, AppointmentStatus

NOW = datetime.datetime(2026, 11, 20, 10, 0, tzinfo=datetime.UTC)


@time_machine.travel(NOW, tick=False)
@pytest.mark.django_db
def test_the_seed_adds_three_packs_and_one_half_used_purchase_once():
    call_command("seed_demo")
    call_command("seed_demo")

    packs = {package.slug: package for package in Package.objects.prefetch_related("items__service")}
    items = {
        slug: [(item["service_name"], item["sessions"]) for item in package.snapshot()["items"]]
        for slug, package in packs.items()
    }
    assert items == {
        "pack-psicoterapia-8": [("Psicoterapia individual adultos", 8)],
        "pack-controles-nutricionales-4": [("Control nutricional", 4)],
        "pack-bienestar-9": [
            ("Psicoterapia individual adultos", None),
            ("Consulta nutricional inicial", None),
            ("Control nutricional", None),
        ],
    }
    assert (packs["pack-bienestar-9"].credit_mode, packs["pack-bienestar-9"].pool_sessions) == (
        CreditMode.SHARED_POOL,
        9,
    )
    assert PackageItem.objects.count() == 5

    (purchase,) = PackagePurchase.objects.select_related("patient__user", "invoice_line__invoice")
    assert purchase.patient.user.email == "paciente6@demo.clinic"
    assert purchase.package.slug == "pack-psicoterapia-8"
    assert purchase.status == "active"
    assert purchase.purchased_at < NOW - datetime.timedelta(days=30)
    assert purchase.expires_at > NOW + datetime.timedelta(days=100)

    invoice = purchase.invoice_line.invoice
    assert invoice.status == InvoiceStatus.PAID
    assert Payment.objects.filter(invoice=invoice).count() == 1

    sessions = list(Appointment.objects.filter(pack_purchase=purchase).order_by("start"))
    assert [session.status for session in sessions] == [AppointmentStatus.COMPLETED] * 4 + [
        AppointmentStatus.CONFIRMED
    ]
    assert all(session.end < NOW for session in sessions[:4])
    assert sessions[4].start > NOW
    assert len({session.start.date() for session in sessions}) == 5
    assert not sessions[0].invoice_lines.exists()

    balance = balances(purchase)
    assert (balance.total, balance.used, balance.booked, balance.remaining) == (8, 4, 1, 3)
    kinds = sorted(PackCreditEntry.objects.filter(purchase=purchase).values_list("kind", flat=True))
    assert kinds == sorted([CreditKind.GRANTED] + [CreditKind.RESERVED] * 5 + [CreditKind.CONSUMED] * 4)
