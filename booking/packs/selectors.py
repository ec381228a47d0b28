"""Reads of pack credits: balances derived from the ledger, never from a stored counter.

A balance is one aggregate query over ``PackCreditEntry`` (grouped by service), whatever the number of rows;
``balances_for_purchases`` does the same for a whole list of purchases in one query. The purchase itself (its
snapshot says the credit mode and the services) is already in memory and costs nothing.

The services call ``balances`` inside their transaction, after locking the purchase row, so the figures they
check are the ones no concurrent booking can change before they commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Q, Sum
from django.db.models.functions import Coalesce

from .models import CreditKind, PackagePurchase, PackCreditEntry

_KIND_SUMS = {
    kind: Coalesce(Sum("quantity", filter=Q(kind=kind)), 0)
    for kind in (
        CreditKind.GRANTED,
        CreditKind.RESERVED,
        CreditKind.CONSUMED,
        CreditKind.RELEASED,
        CreditKind.FORFEITED,
        CreditKind.ADJUSTED,
        CreditKind.EXPIRED,
        CreditKind.CANCELLED,
    )
}


@dataclass
class Balance:
    """The sessions of one bucket: a service of a per-service pack, or the whole pool (``service_id`` None)."""

    service_id: int | None
    label: str
    granted: int = 0
    adjusted: int = 0
    reserved: int = 0
    consumed: int = 0
    released: int = 0
    forfeited: int = 0
    expired: int = 0
    cancelled: int = 0

    @property
    def remaining(self) -> int:
        """Sessions that can still be booked."""
        return self.granted + self.adjusted - self.reserved + self.released - self.expired - self.cancelled

    @property
    def booked(self) -> int:
        """Sessions booked and not yet settled (upcoming, or not closed yet)."""
        return self.reserved - self.consumed - self.released - self.forfeited

    @property
    def used(self) -> int:
        """Sessions spent: attended, or lost to a late cancellation or a no-show."""
        return self.consumed + self.forfeited

    @property
    def total(self) -> int:
        """What the pack gave, with the staff's adjustments."""
        return self.granted + self.adjusted

    def add(self, row: dict) -> None:
        for kind in _KIND_SUMS:
            setattr(self, kind, getattr(self, kind) + int(row[kind]))


@dataclass
class PackBalances:
    """A purchase's balances: one per service of a per-service pack, or one for the pool of a shared pack."""

    purchase: PackagePurchase
    buckets: list[Balance] = field(default_factory=list)

    def for_service(self, service_id: int) -> Balance | None:
        """The bucket a session of ``service_id`` is counted in, or None if the pack does not cover it."""
        if service_id not in self.purchase.service_ids:
            return None
        if self.purchase.is_pool:
            return self.buckets[0]
        return next((bucket for bucket in self.buckets if bucket.service_id == service_id), None)

    def bucket(self, service_id: int | None) -> Balance | None:
        """The bucket with that key: a service id, or None for the pool."""
        return next((bucket for bucket in self.buckets if bucket.service_id == service_id), None)

    @property
    def remaining(self) -> int:
        return sum(bucket.remaining for bucket in self.buckets)

    @property
    def booked(self) -> int:
        return sum(bucket.booked for bucket in self.buckets)

    @property
    def used(self) -> int:
        return sum(bucket.used for bucket in self.buckets)

    @property
    def total(self) -> int:
        return sum(bucket.total for bucket in self.buckets)


def _empty_balances(purchase: PackagePurchase) -> PackBalances:
    """The buckets the purchase's snapshot defines, all at zero, in the snapshot's order."""
    items = (purchase.snapshot or {}).get("items", [])
    if purchase.is_pool:
        label = ", ".join(item["service_name"] for item in items)
        return PackBalances(purchase, [Balance(service_id=None, label=label)])
    return PackBalances(
        purchase, [Balance(service_id=item["service_id"], label=item["service_name"]) for item in items]
    )


def _fold(balances: PackBalances, service_id: int | None, row: dict) -> None:
    """Add one grouped row to its bucket: every row of a pool goes to the pool, whatever service it names."""
    if balances.purchase.is_pool:
        balances.buckets[0].add(row)
        return
    bucket = balances.bucket(service_id)
    if bucket is None:  # a row for a service the snapshot does not list: shown, never lost
        bucket = Balance(service_id=service_id, label=str(service_id))
        balances.buckets.append(bucket)
    bucket.add(row)


def balances(purchase: PackagePurchase) -> PackBalances:
    """Remaining, booked and used sessions of ``purchase``, per service or for the pool, in one query."""
    result = _empty_balances(purchase)
    rows = PackCreditEntry.objects.filter(purchase=purchase).order_by().values("service_id").annotate(**_KIND_SUMS)
    for row in rows:
        _fold(result, row["service_id"], row)
    return result


def balances_for_purchases(purchases: Iterable[PackagePurchase]) -> dict[int, PackBalances]:
    """``balances`` for many purchases (e.g. a page of a list), in one query; keyed by purchase id."""
    purchases = list(purchases)
    result = {purchase.pk: _empty_balances(purchase) for purchase in purchases}
    if not purchases:
        return result
    rows = (
        PackCreditEntry.objects.filter(purchase_id__in=list(result))
        .order_by()
        .values("purchase_id", "service_id")
        .annotate(**_KIND_SUMS)
    )
    for row in rows:
        _fold(result[row["purchase_id"]], row["service_id"], row)
    return result


@dataclass(frozen=True)
class PackSession:
    """Where one session stands in its pack, for "part of pack X, session 3 of 8" on the appointment's page.

    ``number`` is the session's place among the purchase's sessions that hold a credit (booked and not returned),
    by start; None when its own credit was returned (a timely cancellation): it no longer counts. ``total`` is what
    the pack gives, with staff adjustments.
    """

    purchase: PackagePurchase
    number: int | None
    total: int
    returned: bool


def pack_session(appointment) -> PackSession | None:
    """``PackSession`` of ``appointment`` (None when not booked from a pack), in two queries whatever the pack's size.

    Reads ``appointment.pack_purchase``: fetch the appointment with ``select_related("pack_purchase")``.
    """
    if appointment.pack_purchase_id is None:
        return None
    purchase = appointment.pack_purchase
    rows = PackCreditEntry.objects.filter(
        purchase_id=purchase.pk, kind__in=(CreditKind.RESERVED, CreditKind.RELEASED)
    ).values_list("kind", "appointment_id", "appointment__start")
    starts, released = {}, set()
    for kind, appointment_id, start in rows:
        if kind == CreditKind.RELEASED:
            released.add(appointment_id)
        else:
            starts[appointment_id] = start
    counted = sorted((start, pk) for pk, start in starts.items() if pk not in released)
    returned = appointment.pk in released
    own = (starts.get(appointment.pk), appointment.pk)
    number = 1 + counted.index(own) if own in counted else None
    return PackSession(purchase=purchase, number=number, total=balances(purchase).total, returned=returned)
