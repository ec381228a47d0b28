"""Selling a pack and cancelling it: the purchase with its invoice, its activation when paid, the refund.

- ``purchase_pack``: the ``PackagePurchase`` (snapshot, price, expiry) and its invoice (one line of kind ``pack``,
  ``purchase.invoice_line``) in ONE transaction. Paid at the clinic: usable at once, the invoice numbered and owed.
  Online: ``pending_payment`` and the invoice open but unnumbered (like a held session's) until paid; the caller
  then opens billing's checkout (``billing.start_checkout`` on ``purchase.invoice_line.invoice``).
- Billing tells packs what happens to that invoice through its in-transaction hooks (``booking.billing.signals``,
  connected in ``PacksConfig.ready()``): paid → the purchase is granted in the payment's transaction
  (``grant_purchase`` is idempotent, so a webhook delivered twice grants once); voided, or its checkout lapsed →
  a purchase still waiting for its payment is cancelled, so no dangling pending purchase counts against the
  package's limit per patient. ``lapse_pending_purchases`` (huey, hourly) voids the invoices of online purchases
  never taken to a checkout at all.
- ``cancel_pack``: upcoming sessions cancelled (their credit returned), what is left written off (``cancelled``
  ledger rows), status ``cancelled``, and the unused part refunded through billing's refund path, in ONE
  transaction; provider refunds are sent by huey after the commit. ``pack_refund_quote`` says beforehand how much.

Refund rule: pro rata. The per-session price is what the pack's line cost (after any discount code) divided by
the sessions it was sold with, rounded to the currency's decimals (CLP none, USD two); the refund is that price
times the sessions not used (left to book, plus those just returned by cancelling the upcoming ones), capped at
the sessions sold (staff-added sessions are a gift, not money) — and a pack with no session used gives back
exactly what its line cost, whatever the rounding. Never more than what was paid and not yet refunded. A pack
not paid at all (paid at the clinic, never collected) has its invoice voided instead: nothing is owed for it any
more, used sessions included (staff who want those charged invoice them apart). A pack paid in part gets back at
most what was paid; its invoice keeps what is still owed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext, ngettext

from booking.billing import services as billing
from booking.billing.errors import PaymentError
from booking.billing.models import Invoice, InvoiceLine, InvoiceStatus, Payment, PaymentStatus, Refund
from booking.scheduling import services as scheduling
from booking.scheduling.errors import BookingError
from booking.scheduling.models import Appointment, AppointmentSource
from booking.scheduling.models.appointments import OPEN_STATUSES
from booking.scheduling.money import quantize
from booking.scheduling.services import ACT_FOR_CLINIC_PERMISSION
from portal.accounts.models import Patient

from ..errors import PackError
from ..models import LIVE_STATUSES, CreditKind, Package, PackagePurchase, PackCreditEntry, PurchaseStatus
from ..selectors import balances, balances_for_purchases
from ..signals import pack_cancelled, pack_expiring, pack_purchased, send_on_commit
from .credits import _validated_grants, grant_purchase

# Staff sell a pack with the permission that lets them book for patients and the one that lets them invoice.
SELL_PERMISSIONS = (ACT_FOR_CLINIC_PERMISSION, "billing.add_invoice")
# Cancelling a pack moves money back: the clinic's administrators (who manage packs), acting for the clinic.
CANCEL_PERMISSIONS = (ACT_FOR_CLINIC_PERMISSION, "packs.change_packagepurchase")
# An online purchase never taken to a checkout is given up after this long (its invoice voided, the purchase
# cancelled); one whose checkout lapsed is given up at once (``signals.checkout_lapsed``).
PENDING_PURCHASE_LIFETIME = timedelta(days=3)
PENDING_PER_RUN = 200
# "Your pack expires in a week": sent once, this long before the expiry.
EXPIRY_NOTICE = timedelta(days=7)
EXPIRING_PER_RUN = 500

# Kept in the invoice's history and on the ledger (source language, like billing's reasons; not shown to patients).
REASON_NOT_PAID = "online payment of the pack not completed"
REASON_PACK_CANCELLED = "pack cancelled"


def _now(now: datetime | None) -> datetime:
    return now if now is not None else timezone.now()


def _user(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def _has_all(actor, permissions) -> bool:
    user = _user(actor)
    return user is not None and all(user.has_perm(permission) for permission in permissions)


def may_sell_for_clinic(actor) -> bool:
    """Whether ``actor`` may assign a pack to any patient (paid at the clinic or by a link sent to them)."""
    return _has_all(actor, SELL_PERMISSIONS)


def may_cancel_for_clinic(actor) -> bool:
    """Whether ``actor`` may cancel any patient's pack, with its refund."""
    return _has_all(actor, CANCEL_PERMISSIONS)


def _limit_message(limit: int) -> str:
    return ngettext(
        "This pack can be bought only %(count)d time per patient.",
        "This pack can be bought only %(count)d times per patient.",
        limit,
    ) % {"count": limit}


def purchase_pack(
    *,
    package: Package,
    patient: Patient,
    actor,
    pay_at_clinic: bool,
    source: str,
    now: datetime | None = None,
) -> PackagePurchase:
    """Sell ``package`` to ``patient``: the purchase and its invoice in ONE transaction (see the module docstring).

    Who: the patient for themselves (a public pack; paying at the clinic only where the package allows it), or
    staff who may book for patients and invoice (any active pack, either way of paying). Refused with a
    ``PackError``, nothing written: an inactive pack, a pack not offered to patients, paying at the clinic where
    not allowed, the package's limit of purchases per patient reached (every purchase not cancelled counts,
    pending ones too), a pack whose items are not sound. The expiry runs from ``now`` (the purchase), also for a
    pack paid online later. ``source`` is an ``AppointmentSource`` value (``admin``, ``booking_box``, ``portal``,
    ``api``).

    Online: the caller then opens the checkout, ``billing.start_checkout(invoice=purchase.invoice_line.invoice,
    ...)``, or sends the patient to their invoice in the portal; ``pack_purchased`` is sent once it is paid.
    """
    now = _now(now)
    if not isinstance(package, Package) or package.pk is None or not isinstance(patient, Patient) or not patient.pk:
        raise PackError("invalid_request")
    if source not in AppointmentSource.values or not isinstance(pay_at_clinic, bool):
        raise PackError("invalid_request")
    staff = may_sell_for_clinic(actor)
    if not staff and (_user(actor) is None or patient.user_id != actor.pk):
        raise PackError("not_allowed")
    with transaction.atomic():
        # The patient's row serialises their purchases: two tabs cannot both take the last one the limit allows.
        patient = Patient.objects.select_for_update(of=("self",)).select_related("user").get(pk=patient.pk)
        package = (
            Package.objects.prefetch_related("items__service", "allowed_professionals").filter(pk=package.pk).first()
        )
        if package is None:
            raise PackError("invalid_request")
        if not package.active:
            raise PackError("package_inactive")
        if not staff and not package.public:
            raise PackError("package_not_offered")
        if pay_at_clinic and not staff and not package.pay_at_clinic_allowed:
            raise PackError("pay_at_clinic_not_allowed")
        limit = package.max_purchases_per_patient
        if limit:
            taken = (
                PackagePurchase.objects.filter(patient=patient, package=package)
                .exclude(status=PurchaseStatus.CANCELLED)
                .count()
            )
            if taken >= limit:
                raise PackError("limit_reached", _limit_message(limit))
        snapshot = package.snapshot()
        purchase = PackagePurchase(
            patient=patient,
            package=package,
            snapshot=snapshot,
            price=package.price,
            currency=package.currency,
            purchased_at=now,
            expires_at=PackagePurchase.expiry_for(package, now),
            status=PurchaseStatus.PENDING_PAYMENT,
            created_by=_user(actor),
            source=source,
        )
        _validated_grants(purchase)  # refused now, not when the payment arrives
        line = billing.create_pack_invoice(
            patient=patient,
            description=package.name,
            price=package.price,
            currency=package.currency,
            actor=actor,
            numbered=pay_at_clinic,
            now=now,
        )
        purchase.invoice_line = line
        purchase.save(force_insert=True)
        if pay_at_clinic or line.invoice.status == InvoiceStatus.PAID:
            purchase = grant_purchase(purchase=purchase, actor=_user(actor), now=now)
            send_on_commit(pack_purchased, purchase, actor=_user(actor))
    return purchase


def _purchase_of_invoice(invoice: Invoice, *, lock: bool = False) -> PackagePurchase | None:
    queryset = PackagePurchase.objects.filter(invoice_line__invoice_id=invoice.pk)
    if lock:
        queryset = queryset.select_for_update(of=("self",))
    return queryset.first()


def activate_paid_purchase(sender, *, invoice: Invoice, now: datetime, **kwargs) -> None:
    """``billing.signals.invoice_paid``: the pack the invoice sells, if still waiting for it, is granted now."""
    purchase = _purchase_of_invoice(invoice)
    if purchase is None or purchase.status != PurchaseStatus.PENDING_PAYMENT:
        return  # not a pack's invoice, or already granted (a second confirmation): nothing to do
    purchase = grant_purchase(purchase=purchase, actor=None, now=now)
    send_on_commit(pack_purchased, purchase, actor=None)


def cancel_unpaid_purchase(sender, *, invoice: Invoice, actor, now: datetime, **kwargs) -> None:
    """``billing.signals.invoice_voided``: a pack still waiting for this invoice's payment is cancelled with it.

    Voiding the invoice of a pack in use is refused: that would give its sessions away; ``cancel_pack`` decides
    what is refunded and voids it itself (the purchase is cancelled by then).
    """
    purchase = _purchase_of_invoice(invoice, lock=True)
    if purchase is None or purchase.status in (PurchaseStatus.CANCELLED, PurchaseStatus.EXPIRED):
        return
    if purchase.status != PurchaseStatus.PENDING_PAYMENT:
        raise PaymentError(
            "invalid_state",
            gettext("This invoice sells a pack in use: cancel the pack instead, from its page."),
        )
    purchase.status = PurchaseStatus.CANCELLED
    purchase.cancelled_at = now
    purchase.save(update_fields=["status", "cancelled_at"])
    send_on_commit(pack_cancelled, purchase, actor=_user(actor), refund_amount=Decimal(0), paid=False)


def unpaid_purchase_lapsed(sender, *, invoice: Invoice, now: datetime, **kwargs) -> bool:
    """``billing.signals.checkout_lapsed``: True (void the invoice) when it sells a pack still waiting for it."""
    return PackagePurchase.objects.filter(
        invoice_line__invoice_id=invoice.pk, status=PurchaseStatus.PENDING_PAYMENT
    ).exists()


def lapse_pending_purchases(*, now: datetime | None = None) -> int:
    """Give up the online purchases left unpaid for ``PENDING_PURCHASE_LIFETIME`` with no checkout still open.

    Their invoice is voided (billing's ``void_invoice``, by the system), which cancels them
    (``cancel_unpaid_purchase``). One with a checkout still open waits for it: its lapse does the same. Returns how
    many were given up.
    """
    now = _now(now)
    open_checkouts = Payment.objects.open_checkouts().filter(expires_at__gt=now).values("invoice_id")
    candidates = list(
        PackagePurchase.objects.filter(
            status=PurchaseStatus.PENDING_PAYMENT,
            purchased_at__lte=now - PENDING_PURCHASE_LIFETIME,
            invoice_line__invoice__status=InvoiceStatus.OPEN,
            invoice_line__invoice__amount_paid=0,
        )
        .exclude(invoice_line__invoice_id__in=open_checkouts)
        .select_related("invoice_line__invoice")
        .order_by("pk")[:PENDING_PER_RUN]
    )
    lapsed = 0
    for purchase in candidates:
        try:
            billing.void_invoice(invoice=purchase.invoice_line.invoice, actor=None, reason=REASON_NOT_PAID, now=now)
        except PaymentError:
            continue  # paid or voided meanwhile: nothing to give up
        lapsed += 1
    return lapsed


def notify_expiring_purchases(*, now: datetime | None = None) -> int:
    """Send ``pack_expiring`` once for each active pack that expires within ``EXPIRY_NOTICE`` and has sessions
    left to book; returns how many. Idempotent: the purchase is marked (``expiry_notified_at``) in the transaction
    that queues the signal, so a second run (or a retry) sends nothing new. A fixed number of queries.
    """
    now = _now(now)
    with transaction.atomic():
        due = list(
            PackagePurchase.objects.select_for_update()
            .filter(
                status=PurchaseStatus.ACTIVE,
                expires_at__gt=now,
                expires_at__lte=now + EXPIRY_NOTICE,
                expiry_notified_at__isnull=True,
            )
            .order_by("pk")[:EXPIRING_PER_RUN]
        )
        if not due:
            return 0
        current = balances_for_purchases(due)
        notified = [purchase for purchase in due if current[purchase.pk].remaining > 0]
        PackagePurchase.objects.filter(pk__in=[purchase.pk for purchase in due]).update(expiry_notified_at=now)
        for purchase in notified:
            purchase.expiry_notified_at = now
            send_on_commit(
                pack_expiring, purchase, remaining=current[purchase.pk].remaining, expires_at=purchase.expires_at
            )
    return len(notified)


# ------------------------------------------------------------------------------------------------ cancelling


@dataclass(frozen=True)
class PackRefundQuote:
    """What cancelling a pack now would give back (``pack_refund_quote``), for the confirmation page."""

    purchase: PackagePurchase
    sessions_sold: int
    sessions_unused: int  # left to book, plus the upcoming sessions that would be cancelled
    upcoming: tuple[Appointment, ...]
    per_session: Decimal
    amount: Decimal  # what would be refunded (zero when the invoice is voided instead)
    paid: Decimal  # what was paid and not yet refunded
    voids_invoice: bool  # nothing paid: the invoice is voided instead of refunded

    @property
    def currency(self) -> str:
        return self.purchase.currency


@dataclass(frozen=True)
class CancelledPack:
    """What ``cancel_pack`` did: the purchase (cancelled), the refunds decided, the sessions cancelled."""

    purchase: PackagePurchase
    refunds: tuple[Refund, ...]
    cancelled_appointments: tuple[Appointment, ...]
    refund_amount: Decimal
    invoice_voided: bool


def _upcoming_sessions(purchase: PackagePurchase, now: datetime):
    return Appointment.objects.filter(pack_purchase=purchase, status__in=OPEN_STATUSES, start__gt=now).order_by("pk")


def _refund_amount(*, line: InvoiceLine | None, sold: int, unused: int, currency: str, paid: Decimal) -> tuple:
    """``(per-session price, amount)`` under the pro-rata rule of the module docstring."""
    if line is None or sold <= 0:
        return Decimal(0), Decimal(0)
    basis = line.total
    per_session = quantize(basis / sold, currency)
    unused = max(0, min(unused, sold))
    amount = basis if unused == sold else per_session * unused
    return per_session, max(Decimal(0), min(amount, paid))


def _paid_and_not_refunded(invoice: Invoice | None) -> Decimal:
    if invoice is None:
        return Decimal(0)
    payments = invoice.payments.filter(status=PaymentStatus.SUCCEEDED).prefetch_related("refunds")
    return sum((payment.refundable_amount for payment in payments), Decimal(0))


def _check_may_cancel(purchase: PackagePurchase, actor) -> bool:
    """True for staff; the purchase's patient where the pack allows it; else ``PackError``."""
    if may_cancel_for_clinic(actor):
        return True
    user = _user(actor)
    if user is None or purchase.patient.user_id != user.pk:
        raise PackError("not_allowed")
    if not (purchase.snapshot or {}).get("patient_may_cancel"):
        raise PackError("cancel_not_allowed")
    return False


def pack_refund_quote(*, purchase: PackagePurchase, actor, now: datetime | None = None) -> PackRefundQuote:
    """What ``cancel_pack`` would do now: the sessions it would cancel and the amount it would give back.

    Read-only (a few queries). Refused like ``cancel_pack`` for a user who may not cancel it or a pack that can no
    longer be cancelled. The patient's late cancellations may lose their session, so the amount shown to a
    patient counts only the sessions their cancellation would return.
    """
    now = _now(now)
    purchase = PackagePurchase.objects.select_related("patient", "invoice_line__invoice").get(pk=purchase.pk)
    staff = _check_may_cancel(purchase, actor)
    if purchase.status in (PurchaseStatus.CANCELLED, PurchaseStatus.EXPIRED):
        raise PackError("invalid_state")
    line = purchase.invoice_line
    invoice = line.invoice if line is not None else None
    paid = _paid_and_not_refunded(invoice)
    upcoming = tuple(_upcoming_sessions(purchase, now).select_related("service", "professional"))
    sold = purchase.sold_sessions
    if purchase.status == PurchaseStatus.PENDING_PAYMENT:
        unused, amount, per_session = sold, paid, Decimal(0)
    else:
        returned = sum(
            1
            for session in upcoming
            if staff or session.cancellation_is_free(now) or session.service.pack_late_cancel_returns_session
        )
        unused = balances(purchase).remaining + returned
        per_session, amount = _refund_amount(
            line=line, sold=sold, unused=unused, currency=purchase.currency, paid=paid
        )
    return PackRefundQuote(
        purchase=purchase,
        sessions_sold=sold,
        sessions_unused=min(unused, sold),
        upcoming=upcoming,
        per_session=per_session,
        amount=amount,
        paid=paid,
        voids_invoice=paid <= 0,
    )


def cancel_pack(*, purchase: PackagePurchase, actor, reason: str, now: datetime | None = None) -> CancelledPack:
    """Cancel a pack: its upcoming sessions, what is left on its ledger, and the money for the unused part.

    Staff who may cancel packs (``CANCEL_PERMISSIONS``) any pack; the patient their own where the pack allows it
    (its snapshot's ``patient_may_cancel``). ONE transaction: the upcoming open sessions are cancelled through
    scheduling (staff with an override, so every session's credit is returned; a patient under the usual policy,
    so a late one may be lost), the sessions left are written off (``cancelled`` ledger rows), the status becomes
    ``cancelled``, and billing refunds the pro-rata amount (module docstring) or voids an unpaid invoice. Provider
    refunds are pending rows sent by huey after the commit. A purchase still waiting for its online payment is
    cancelled by voiding its invoice (whatever was paid meanwhile is given back).

    A session that has started but is not closed yet is not upcoming: it stays booked and counts as used; if it is
    later returned (the professional's no-show), its credit is written off at once (``settle_session``).

    Locks: the sessions, then the invoice, then the purchase — the order in which scheduling (session, then pack)
    and a payment (invoice, then pack) take them, so none of them waits on this in the opposite order.
    """
    now = _now(now)
    reason = (reason or "").strip()
    if not reason:
        raise PackError("reason_required")
    if not isinstance(purchase, PackagePurchase) or purchase.pk is None:
        raise PackError("invalid_request")
    purchase = PackagePurchase.objects.select_related("patient", "invoice_line").get(pk=purchase.pk)
    staff = _check_may_cancel(purchase, actor)
    user = _user(actor)
    with transaction.atomic():
        upcoming = list(_upcoming_sessions(purchase, now).select_for_update(of=("self",)))
        invoice_id = purchase.invoice_line.invoice_id if purchase.invoice_line_id else None
        if invoice_id is not None:
            Invoice.objects.select_for_update().filter(pk=invoice_id).first()
        purchase = (
            PackagePurchase.objects.select_for_update(of=("self",))
            .select_related("patient", "invoice_line__invoice")
            .get(pk=purchase.pk)
        )
        if {session.pk for session in _upcoming_sessions(purchase, now)} != {session.pk for session in upcoming}:
            raise PackError("changed_meanwhile")
        if purchase.status == PurchaseStatus.PENDING_PAYMENT:
            return _cancel_pending(purchase, actor=actor, reason=reason, now=now)
        if purchase.status not in LIVE_STATUSES:
            raise PackError("invalid_state")
        cancelled = []
        for session in upcoming:
            try:
                outcome = scheduling.cancel_appointment(
                    appointment=session,
                    actor=actor,
                    reason=reason,
                    now=now,
                    staff_override_reason=REASON_PACK_CANCELLED if staff else None,
                )
            except BookingError as error:
                raise PackError(
                    "session_not_cancellable",
                    gettext("The session of %(date)s cannot be cancelled: %(reason)s")
                    % {"date": _local(session.start), "reason": error.message},
                ) from error
            cancelled.append(outcome.appointment)
        purchase = PackagePurchase.objects.select_related("patient", "invoice_line__invoice").get(pk=purchase.pk)
        current = balances(purchase)
        PackCreditEntry.objects.bulk_create(
            PackCreditEntry(
                purchase=purchase,
                service_id=bucket.service_id,
                kind=CreditKind.CANCELLED,
                quantity=bucket.remaining,
                actor=user,
                reason=reason,
                at=now,
            )
            for bucket in current.buckets
            if bucket.remaining > 0
        )
        purchase.status = PurchaseStatus.CANCELLED
        purchase.cancelled_at = now
        purchase.save(update_fields=["status", "cancelled_at"])
        line = purchase.invoice_line
        refunds, amount, voided = [], Decimal(0), False
        if line is not None:
            invoice = line.invoice
            paid = _paid_and_not_refunded(invoice)
            _per_session, amount = _refund_amount(
                line=line, sold=purchase.sold_sessions, unused=current.remaining, currency=purchase.currency, paid=paid
            )
            refunds, voided = _give_back(invoice, amount=amount, actor=actor, now=now)
        send_on_commit(pack_cancelled, purchase, actor=user, refund_amount=amount, paid=True)
    return _after_commit(purchase, refunds, cancelled, amount, voided)


def _cancel_pending(purchase: PackagePurchase, *, actor, reason: str, now: datetime) -> CancelledPack:
    """A purchase never paid: voiding its invoice cancels it (``cancel_unpaid_purchase``); money paid meanwhile
    (in part, at the clinic) is given back first."""
    invoice = purchase.invoice_line.invoice if purchase.invoice_line_id else None
    refunds, voided, amount = [], False, Decimal(0)
    if invoice is not None and invoice.status != InvoiceStatus.VOID:
        amount = _paid_and_not_refunded(invoice)
        refunds, voided = _give_back(invoice, amount=amount, actor=actor, now=now)
    purchase.refresh_from_db(fields=["status", "cancelled_at"])
    if purchase.status != PurchaseStatus.CANCELLED:  # its invoice could not be voided (money kept on it)
        purchase.status = PurchaseStatus.CANCELLED
        purchase.cancelled_at = now
        purchase.save(update_fields=["status", "cancelled_at"])
        send_on_commit(pack_cancelled, purchase, actor=_user(actor), refund_amount=amount, paid=False)
    return CancelledPack(
        purchase=purchase,
        refunds=tuple(refunds),
        cancelled_appointments=(),
        refund_amount=amount,
        invoice_voided=voided,
    )


def _give_back(invoice: Invoice, *, amount: Decimal, actor, now: datetime) -> tuple[list[Refund], bool]:
    try:
        refunds = billing.refund_invoice(
            invoice=invoice, amount=amount, reason=REASON_PACK_CANCELLED, actor=actor, now=now
        )
    except PaymentError as error:
        raise PackError("refund_refused", error.message) from error
    invoice.refresh_from_db(fields=["status"])
    return refunds, invoice.status == InvoiceStatus.VOID


def _after_commit(purchase, refunds, cancelled, amount, voided) -> CancelledPack:
    """The result, with the refunds as they stand now (a task may have sent them once the commit ran)."""
    for refund in refunds:
        refund.refresh_from_db()
    return CancelledPack(
        purchase=purchase,
        refunds=tuple(refunds),
        cancelled_appointments=tuple(cancelled),
        refund_amount=amount,
        invoice_voided=voided,
    )


def _local(moment: datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


__all__ = [
    "CANCEL_PERMISSIONS",
    "EXPIRY_NOTICE",
    "PENDING_PURCHASE_LIFETIME",
    "SELL_PERMISSIONS",
    "CancelledPack",
    "PackRefundQuote",
    "cancel_pack",
    "lapse_pending_purchases",
    "may_cancel_for_clinic",
    "may_sell_for_clinic",
    "notify_expiring_purchases",
    "pack_refund_quote",
    "purchase_pack",
]
