"""The patient's packs in the portal: every purchase with what is left per service, its expiry and its history.

Booking from a pack, scheduling the rest at once, paying for one and cancelling one are the booking box's pack
pages (``widget:pack_purchase`` and its steps); this list is the way to them from the portal. Four queries whatever
the number of packs: the purchases, their balances (``balances_for_purchases``), and their ledgers.
"""

from allauth.account.decorators import verified_email_required
from django.db.models import Prefetch
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from booking.packs.models import PackagePurchase, PackCreditEntry, PurchaseStatus
from booking.packs.selectors import balances_for_purchases


def purchases_for_user(user):
    """The patient's own pack purchases, newest first (none for anybody else)."""
    if not getattr(user, "is_authenticated", False):
        return PackagePurchase.objects.none()
    return PackagePurchase.objects.filter(patient__user=user).order_by("-purchased_at", "-pk")


@verified_email_required
@require_GET
def packs(request):
    now = timezone.now()
    ledger = PackCreditEntry.objects.select_related("service", "appointment").order_by("at", "pk")
    purchases = list(
        purchases_for_user(request.user).prefetch_related(
            Prefetch("credit_entries", queryset=ledger, to_attr="ledger")
        )
    )
    balances = balances_for_purchases(purchases)
    zone = timezone.get_default_timezone()
    rows = [
        {
            "purchase": purchase,
            "balances": balances[purchase.pk],
            "usable": purchase.status == PurchaseStatus.ACTIVE and not purchase.has_expired(now),
            "expires_at": timezone.localtime(purchase.expires_at, zone) if purchase.expires_at else None,
            "ledger": [(entry, timezone.localtime(entry.at, zone)) for entry in purchase.ledger],
        }
        for purchase in purchases
    ]
    return render(request, "portal/packs.html", {"rows": rows})
