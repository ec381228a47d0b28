"""Pack factories. A purchase made here is ``pending_payment`` with its package's snapshot: activate it with
``booking.packs.services.grant_purchase`` (``active_purchase`` does both), so its credits come from the ledger."""

import datetime
from decimal import Decimal

import factory

from booking.packs.models import CreditMode, Package, PackageItem, PackagePurchase
from booking.packs.services import grant_purchase

from .accounts import PatientFactory

PURCHASED_AT = datetime.datetime(2026, 11, 2, 12, tzinfo=datetime.UTC)


class PackageFactory(factory.django.DjangoModelFactory):
    """A per-service CLP pack valid 90 days; give it items with ``PackageItemFactory`` or ``package_with``."""

    class Meta:
        model = Package
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Pack {n}")
    slug = factory.Sequence(lambda n: f"pack-{n}")
    price = Decimal("100000")
    validity_days = 90
    credit_mode = CreditMode.PER_SERVICE


class PackageItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PackageItem

    package = factory.SubFactory(PackageFactory)
    service = factory.SubFactory("tests.factories.scheduling.ServiceFactory")
    sessions = 4


def package_with(items: dict, *, pool: int | None = None, **kwargs) -> Package:
    """A package of ``{service: sessions}`` (per service), or of the services with a shared ``pool``."""
    if pool is not None:
        package = PackageFactory(credit_mode=CreditMode.SHARED_POOL, pool_sessions=pool, **kwargs)
    else:
        package = PackageFactory(**kwargs)
    for order, (service, sessions) in enumerate(items.items()):
        PackageItem.objects.create(
            package=package, service=service, sessions=None if pool is not None else sessions, sort_order=order
        )
    return package


def purchase_of(package: Package, *, patient=None, purchased_at=PURCHASED_AT, **kwargs) -> PackagePurchase:
    """A pending purchase of ``package`` with the snapshot and expiry a sale would give it."""
    return PackagePurchase.objects.create(
        patient=patient or PatientFactory(),
        package=package,
        snapshot=package.snapshot(),
        price=package.price,
        currency=package.currency,
        purchased_at=purchased_at,
        expires_at=PackagePurchase.expiry_for(package, purchased_at),
        **kwargs,
    )


def active_purchase(package: Package, **kwargs) -> PackagePurchase:
    purchase = purchase_of(package, **kwargs)
    return grant_purchase(purchase=purchase, now=purchase.purchased_at)
