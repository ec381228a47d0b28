"""The demo clinic offers the three packs of the clinic's plan, once, however often the seed runs."""

import datetime

import pytest
import time_machine
from django.core.management import call_command

from booking.packs.models import CreditMode, Package, PackageItem, PackagePurchase

NOW = datetime.datetime(2026, 11, 20, 10, 0, tzinfo=datetime.UTC)


@time_machine.travel(NOW, tick=False)
@pytest.mark.django_db
def test_the_seed_adds_three_packs_once_and_no_purchase():
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
    assert not PackagePurchase.objects.exists()
