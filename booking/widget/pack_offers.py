"""Reads for packs on the public site: the packs a box or a page offers, and the packs a patient can book with.

Every function answers in a fixed number of queries whatever the number of packs: the packages in one query and
their items (with their services) in one prefetch. What a pack includes is read from those items; what a purchase
covers from its snapshot (what was sold), never from the package as it is today.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, Prefetch, Q
from django.urls import reverse
from django.utils.translation import gettext, ngettext

from booking.packs.models import Package, PackageItem, PackagePurchase, PurchaseStatus
from booking.packs.selectors import Balance, balances_for_purchases
from booking.scheduling.models import Professional, ProfessionalService, Service


def _with_items(packages):
    """Packages with their items and services prefetched: one query more, whatever the number of packages."""
    items = PackageItem.objects.select_related("service").order_by("sort_order", "pk")
    return packages.prefetch_related(Prefetch("items", queryset=items))


def offered_packs(
    *, slugs: Sequence[str] = (), service: Service | None = None, professional: Professional | None = None
) -> list[Package]:
    """The public packs, in the clinic's order, with their items: two queries.

    ``slugs`` keeps only those packs (a box that offers one chosen pack); ``service`` only the packs that include
    it (a service page); ``professional`` only the packs that include a service they offer and that allow them
    (no allowed professionals means everyone who offers the service).
    """
    packages = Package.objects.public().order_by("sort_order", "name")
    if slugs:
        packages = packages.filter(slug__in=list(slugs))
    if service is not None:
        packages = packages.filter(Exists(PackageItem.objects.filter(package=OuterRef("pk"), service=service)))
    if professional is not None:
        offers = ProfessionalService.objects.filter(professional=professional, service__active=True).values(
            "service_id"
        )
        packages = packages.filter(
            Exists(PackageItem.objects.filter(package=OuterRef("pk"), service_id__in=offers)),
        ).filter(
            Q(allowed_professionals__isnull=True)
            | Exists(
                Package.allowed_professionals.through.objects.filter(
                    package_id=OuterRef("pk"), professional=professional
                )
            )
        )
        packages = packages.distinct()
    return list(_with_items(packages))


def purchase_url(purchase: PackagePurchase) -> str:
    """The patient's page of their pack in the box's flow (waiting for payment, or what is left and "book")."""
    return reverse("widget:pack_purchase", kwargs={"reference": purchase.reference})


def pack_links(packages: Sequence[Package]) -> list[tuple]:
    """(pack, what it includes, its page in the box's flow) for each pack: no query (items prefetched)."""
    return [
        (package, pack_contents(package), reverse("widget:pack", kwargs={"slug": package.slug}))
        for package in packages
    ]


def service_pack_links(service: Service) -> list[tuple]:
    """The "also in a pack" section of a service's page: the public packs that include it. Two queries."""
    return pack_links(offered_packs(service=service))


def professional_pack_links(professional: Professional) -> list[tuple]:
    """The "also in a pack" section of a professional's page: the public packs with a service they offer that
    allow them. Two queries."""
    return pack_links(offered_packs(professional=professional))


def offered_pack(slug: str) -> Package | None:
    """One public pack by its slug, with its items (two queries), or None if it is not offered."""
    return next(iter(offered_packs(slugs=[slug])), None) if slug else None


def pack_contents(package: Package) -> str:
    """What the pack includes, in words: "8 × Psychotherapy, 4 × Nutrition" or "9 sessions to share among …"."""
    items = list(package.items.all())
    if package.is_pool:
        return ngettext(
            "%(count)d session to use on: %(services)s",
            "%(count)d sessions to share among: %(services)s",
            package.pool_sessions,
        ) % {"count": package.pool_sessions, "services": ", ".join(item.service.name for item in items)}
    return ", ".join(
        gettext("%(count)d × %(service)s") % {"count": item.sessions, "service": item.service.name} for item in items
    )


def pack_sessions(package: Package) -> int:
    """How many sessions the pack gives in all."""
    if package.is_pool:
        return package.pool_sessions or 0
    return sum(item.sessions or 0 for item in package.items.all())


@dataclass
class UsablePack:
    """A purchase of the patient that can pay for one session of a service, with what is left of it."""

    purchase: PackagePurchase
    bucket: Balance

    @property
    def remaining(self) -> int:
        return self.bucket.remaining


def purchase_refusal(purchase: PackagePurchase, *, service: Service, professional: Professional, now: datetime):
    """Why ``purchase`` cannot pay for a session of ``service`` with ``professional`` now, or "" if it can.

    The same rules ``book_from_pack`` checks (it checks them again, locked, when booking): said here first so the
    review never offers a pack the booking would refuse.
    """
    if purchase.status == PurchaseStatus.PENDING_PAYMENT:
        return gettext("This pack is waiting for its payment to be confirmed.")
    if purchase.status == PurchaseStatus.EXPIRED or purchase.has_expired(now):
        return gettext("This pack has expired.")
    if purchase.status == PurchaseStatus.EXHAUSTED:
        return gettext("There are no sessions left in this pack.")
    if purchase.status != PurchaseStatus.ACTIVE:
        return gettext("This pack is not active yet or no longer active.")
    if service.pk not in purchase.service_ids:
        return gettext("The pack “%(pack)s” does not include “%(service)s”.") % {
            "pack": purchase.snapshot_name,
            "service": service.name,
        }
    allowed = purchase.allowed_professional_ids
    if allowed and professional.pk not in allowed:
        return gettext("This pack cannot be used with that professional.")
    return ""


def usable_packs(*, user, service: Service, professional: Professional, now: datetime) -> list[UsablePack]:
    """The patient's active purchases that cover ``service`` with ``professional`` and have a session left.

    Two queries (the purchases, then all their balances at once), soonest expiry first: the pack to use first.
    """
    purchases = [
        purchase
        for purchase in PackagePurchase.objects.filter(
            patient__user_id=user.pk, status=PurchaseStatus.ACTIVE, expires_at__gt=now
        ).order_by("expires_at", "pk")
        if not purchase_refusal(purchase, service=service, professional=professional, now=now)
    ]
    found = balances_for_purchases(purchases)
    usable = []
    for purchase in purchases:
        bucket = found[purchase.pk].for_service(service.pk)
        if bucket is not None and bucket.remaining >= 1:
            usable.append(UsablePack(purchase, bucket))
    return usable
