"""The demo clinic's three packs. DEMO ONLY.

Looked up by slug and created only when missing (items with them), so running the seed again creates nothing and
an editor's changes stay. No purchase yet: selling a pack needs billing's pack invoice, which a later change adds.
"""

from decimal import Decimal

from booking.packs.models import CreditMode, Package, PackageItem

PACKS = [
    {
        "slug": "pack-psicoterapia-8",
        "name": "Pack 8 sesiones de psicoterapia",
        "description": "Ocho sesiones de psicoterapia individual para adultos, para usar en seis meses.",
        "price": Decimal("288000"),
        "validity_days": 180,
        "credit_mode": CreditMode.PER_SERVICE,
        "pool_sessions": None,
        "items": [("psicoterapia-adultos", 8)],
    },
    {
        "slug": "pack-controles-nutricionales-4",
        "name": "Pack 4 controles nutricionales",
        "description": "Cuatro controles para seguir tu plan de alimentación, para usar en cuatro meses.",
        "price": Decimal("79000"),
        "validity_days": 120,
        "credit_mode": CreditMode.PER_SERVICE,
        "pool_sessions": None,
        "items": [("control-nutricional", 4)],
    },
    {
        "slug": "pack-bienestar-9",
        "name": "Pack bienestar: psicología y nutrición",
        "description": (
            "Nueve sesiones para repartir como quieras entre psicoterapia y nutrición (pensado para 6 de "
            "psicoterapia y 3 de nutrición), para usar en seis meses."
        ),
        "price": Decimal("275000"),
        "validity_days": 180,
        "credit_mode": CreditMode.SHARED_POOL,
        "pool_sessions": 9,
        "items": [("psicoterapia-adultos", None), ("consulta-nutricional", None), ("control-nutricional", None)],
    },
]


def create_demo_packs(services: dict) -> list[Package]:
    """The three packs, with their items; ``services`` maps the demo's service slugs to services."""
    packs = []
    for order, data in enumerate(PACKS):
        defaults = {key: value for key, value in data.items() if key not in ("slug", "items")}
        package, created = Package.objects.get_or_create(slug=data["slug"], defaults={**defaults, "sort_order": order})
        if created:
            PackageItem.objects.bulk_create(
                PackageItem(package=package, service=services[slug], sessions=sessions, sort_order=position)
                for position, (slug, sessions) in enumerate(data["items"])
            )
        packs.append(package)
    return packs
