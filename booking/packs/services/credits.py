"""Pack credit use cases: grant, reserve, settle, adjust, expire.

Every function follows the project's skeleton (CONVENTIONS.md): check what can be checked from the arguments and
raise ``PackError``; then ``transaction.atomic()``, lock the purchase row with ``select_for_update()``, derive the
balance from the ledger *inside* the transaction (``selectors.balances``), and write ledger rows. Nothing stores a
counter: two bookings racing for the last session serialise on the purchase's lock, and the second one reads the
first one's ``reserved`` row (READ COMMITTED re-reads what committed before each statement) and is refused. On
SQLite every transaction is ``BEGIN IMMEDIATE``, so writers serialise anyway.

Lock order: the appointment before the purchase. The scheduling services lock the professional, the appointment
and the patient, in that order; a caller that books or cancels a session and then reserves or settles its credit
in the same transaction therefore always takes the purchase last, and no two transactions wait on each other.

Who may act: the purchase's patient, or a user who acts for the clinic (``scheduling.change_appointment``, the
same permission that lets staff book for others); staff adjustments need ``packs.add_packcreditentry``.

A purchase's status follows its balance: ``exhausted`` once nothing can be booked and nothing booked is still
open, back to ``active`` if a session is returned or staff add one. ``expired`` (the daily task) and ``cancelled``
(a later use case) are final: a session of an expired pack that is returned afterwards expires at once.
"""

from __future__ import annotations

import enum
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import formats, timezone
from django.utils.translation import gettext, ngettext

from booking.scheduling.models import Appointment, AppointmentStatus, Professional, Service
from booking.scheduling.models.appointments import OPEN_STATUSES
from booking.scheduling.services import ACT_FOR_CLINIC_PERMISSION, PackCredit

from ..errors import PackError
from ..models import LIVE_STATUSES, CreditKind, CreditMode, PackagePurchase, PackCreditEntry, PurchaseStatus
from ..selectors import PackBalances, balances, balances_for_purchases
from ..signals import pack_exhausted, send_on_commit

ADJUST_PERMISSION = "packs.add_packcreditentry"
# A larger correction is a typo (or a tampered form), not a pack.
MAX_SESSIONS = 1000


class SessionOutcome(enum.Enum):
    """How a session booked from a pack ended, as the scheduling service that closed it decided."""

    COMPLETED = "completed"
    CANCELLED_IN_TIME = "cancelled_in_time"
    CANCELLED_LATE = "cancelled_late"
    NO_SHOW_PATIENT = "no_show_patient"
    NO_SHOW_PROFESSIONAL = "no_show_professional"


# The appointment status each outcome belongs to: settling must follow the status change, in its transaction.
OUTCOME_STATUS = {
    SessionOutcome.COMPLETED: AppointmentStatus.COMPLETED,
    SessionOutcome.CANCELLED_IN_TIME: AppointmentStatus.CANCELLED,
    SessionOutcome.CANCELLED_LATE: AppointmentStatus.CANCELLED,
    SessionOutcome.NO_SHOW_PATIENT: AppointmentStatus.NO_SHOW_PATIENT,
    SessionOutcome.NO_SHOW_PROFESSIONAL: AppointmentStatus.NO_SHOW_PROFESSIONAL,
}


def _now(now: datetime | None) -> datetime:
    return now if now is not None else timezone.now()


def _acts_for_clinic(user) -> bool:
    return bool(
        user is not None and getattr(user, "is_authenticated", False) and user.has_perm(ACT_FOR_CLINIC_PERMISSION)
    )


def _lock_purchase(purchase: PackagePurchase) -> PackagePurchase:
    return PackagePurchase.objects.select_for_update(of=("self",)).select_related("patient").get(pk=purchase.pk)


def _is_count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _local_date(moment: datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "DATE_FORMAT")


def _refresh_status(purchase: PackagePurchase, after: PackBalances) -> None:
    """``active`` ↔ ``exhausted`` from the balance after this change (``after`` already includes it)."""
    if purchase.status not in LIVE_STATUSES:
        return
    exhausted = after.remaining <= 0 and after.booked <= 0
    status = PurchaseStatus.EXHAUSTED if exhausted else PurchaseStatus.ACTIVE
    if purchase.status != status:
        purchase.status = status
        purchase.save(update_fields=["status"])
        if exhausted:
            send_on_commit(pack_exhausted, purchase)


def _validated_grants(purchase: PackagePurchase) -> list[tuple[int | None, int]]:
    """``(service id or None for the pool, sessions)`` from the snapshot, or ``PackError`` if it is not sound."""
    snapshot = purchase.snapshot if isinstance(purchase.snapshot, dict) else {}
    items = snapshot.get("items")
    mode = snapshot.get("credit_mode")
    if not isinstance(items, list) or not items or mode not in CreditMode.values:
        raise PackError("invalid_request")
    service_ids = [item.get("service_id") if isinstance(item, dict) else None for item in items]
    if not all(_is_count(service_id) for service_id in service_ids) or len(set(service_ids)) != len(service_ids):
        raise PackError("invalid_request")
    if mode == CreditMode.SHARED_POOL:
        sessions = snapshot.get("pool_sessions")
        if not _is_count(sessions) or not 1 <= sessions <= MAX_SESSIONS:
            raise PackError("invalid_quantity")
        return [(None, sessions)]
    grants = []
    for service_id, item in zip(service_ids, items, strict=True):
        sessions = item.get("sessions")
        if not _is_count(sessions) or not 1 <= sessions <= MAX_SESSIONS:
            raise PackError("invalid_quantity")
        grants.append((service_id, sessions))
    return grants


def grant_purchase(*, purchase: PackagePurchase, actor=None, now: datetime | None = None) -> PackagePurchase:
    """Activate a paid (or staff-assigned) purchase: one ``granted`` row per service, or one for the pool.

    Idempotent for a purchase already granted (a payment confirmation delivered twice grants once); refuses a
    cancelled or expired one, and a snapshot whose quantities are not positive whole numbers.
    """
    now = _now(now)
    with transaction.atomic():
        purchase = _lock_purchase(purchase)
        already_granted = purchase.credit_entries.filter(kind=CreditKind.GRANTED).exists()
        if purchase.status in LIVE_STATUSES and already_granted:
            return purchase
        if purchase.status != PurchaseStatus.PENDING_PAYMENT or already_granted:
            raise PackError("invalid_state")
        grants = _validated_grants(purchase)
        PackCreditEntry.objects.bulk_create(
            PackCreditEntry(
                purchase=purchase,
                service_id=service_id,
                kind=CreditKind.GRANTED,
                quantity=sessions,
                actor=actor,
                at=now,
            )
            for service_id, sessions in grants
        )
        purchase.status = PurchaseStatus.ACTIVE
        purchase.save(update_fields=["status"])
    return purchase


def _check_usable(purchase: PackagePurchase, *, service: Service, appointment: Appointment, now: datetime) -> None:
    """The purchase's rules for booking ``appointment`` of ``service`` with it (the purchase is locked)."""
    if purchase.status == PurchaseStatus.EXPIRED or (purchase.status in LIVE_STATUSES and purchase.has_expired(now)):
        raise PackError(
            "expired", gettext("This pack expired on %(date)s.") % {"date": _local_date(purchase.expires_at)}
        )
    if purchase.status not in LIVE_STATUSES:
        raise PackError("not_active")
    if appointment.start >= purchase.expires_at:
        raise PackError(
            "expired",
            gettext("This pack can be used for sessions until %(date)s; choose an earlier time.")
            % {"date": _local_date(purchase.expires_at)},
        )
    if service.pk not in purchase.service_ids:
        raise PackError(
            "service_not_in_pack",
            gettext("The pack “%(pack)s” does not include “%(service)s”.")
            % {"pack": purchase.snapshot_name, "service": service.name},
        )
    allowed = purchase.allowed_professional_ids
    if allowed and appointment.professional_id not in allowed:
        raise PackError("professional_not_in_pack")


def reserve_session(
    *, purchase: PackagePurchase, service: Service, appointment: Appointment, actor, now: datetime | None = None
) -> PackCreditEntry:
    """Book one session of ``purchase`` for ``appointment``: a ``reserved`` row, and the appointment linked to it.

    Refused (``PackError``, nothing written) when the pack is not active or has expired (or expires before the
    session), does not cover the service or the professional, has no session of that service (or of the pool)
    left, belongs to another patient, or the appointment is not open or already uses a pack.
    """
    now = _now(now)
    if appointment.service_id != service.pk:
        raise PackError("invalid_request")
    try:
        with transaction.atomic():
            locked_appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
            purchase = _lock_purchase(purchase)
            if not (_acts_for_clinic(actor) or (actor is not None and purchase.patient.user_id == actor.pk)):
                raise PackError("not_allowed")
            if locked_appointment.patient_id != purchase.patient_id:
                raise PackError("other_patient")
            if locked_appointment.pack_purchase_id is not None:
                raise PackError("already_reserved")
            if locked_appointment.status not in OPEN_STATUSES or locked_appointment.hold_expired(now):
                raise PackError("session_not_open")
            _check_usable(purchase, service=service, appointment=locked_appointment, now=now)
            current = balances(purchase)
            bucket = current.for_service(service.pk)
            if bucket is None or bucket.remaining < 1:
                raise PackError("no_sessions_left")
            entry = PackCreditEntry.objects.create(
                purchase=purchase,
                service=service,
                kind=CreditKind.RESERVED,
                quantity=1,
                appointment=locked_appointment,
                actor=actor,
                at=now,
            )
            locked_appointment.pack_purchase = purchase
            locked_appointment.save(update_fields=["pack_purchase", "updated_at"])
            bucket.reserved += 1
            _refresh_status(purchase, current)
    except IntegrityError as exc:  # the same appointment reserved by a concurrent call
        raise PackError("already_reserved") from exc
    appointment.pack_purchase = purchase
    return entry


def _settlement_kind(outcome: SessionOutcome, service: Service) -> str:
    if outcome == SessionOutcome.COMPLETED:
        return CreditKind.CONSUMED
    if outcome in (SessionOutcome.CANCELLED_IN_TIME, SessionOutcome.NO_SHOW_PROFESSIONAL):
        return CreditKind.RELEASED
    if service.pack_late_cancel_returns_session:
        return CreditKind.RELEASED
    return CreditKind.FORFEITED


# What each settlement means to the people who see it (scheduling's ``PackCredit``, shown after a cancellation).
PACK_CREDIT_OF_KIND = {
    CreditKind.CONSUMED: PackCredit.USED,
    CreditKind.RELEASED: PackCredit.RETURNED,
    CreditKind.FORFEITED: PackCredit.FORFEITED,
}


def cancellation_pack_credit(
    *, appointment: Appointment, now: datetime | None = None, staff_override: bool = False
) -> PackCredit | None:
    """What cancelling ``appointment`` at ``now`` would do to its pack session, without doing it (no write).

    The same rule the cancellation itself applies (``settle_session`` through ``booking.packs.receivers``): within
    the free window, or with a staff override, the session is returned; later, the service's
    ``pack_late_cancel_returns_session`` decides. None for a session not booked from a pack. For the "cancel?"
    confirmations of the portal, the booking box and the admin, which show the outcome before the click.
    """
    if appointment.pack_purchase_id is None:
        return None
    late = not appointment.cancellation_is_free(_now(now)) and not staff_override
    outcome = SessionOutcome.CANCELLED_LATE if late else SessionOutcome.CANCELLED_IN_TIME
    return PACK_CREDIT_OF_KIND[_settlement_kind(outcome, appointment.service)]


def check_session_move(*, appointment: Appointment, start: datetime, professional: Professional) -> None:
    """Refuse (``PackError``) moving a pack session to ``start`` with ``professional`` when its pack does not allow it.

    A rescheduled session keeps its reserved credit, so only what the pack says about *when* and *with whom*
    matters: not at or after the pack's expiry, and only with a professional the pack allows. Reads the purchase
    (one query); its expiry and snapshot never change after the sale, so there is nothing to lock.
    """
    if appointment.pack_purchase_id is None:
        return
    purchase = PackagePurchase.objects.get(pk=appointment.pack_purchase_id)
    if start >= purchase.expires_at:
        raise PackError(
            "expired",
            gettext("This pack can be used for sessions until %(date)s; choose an earlier time.")
            % {"date": _local_date(purchase.expires_at)},
        )
    allowed = purchase.allowed_professional_ids
    if allowed and professional.pk not in allowed:
        raise PackError(
            "professional_not_in_pack",
            gettext("The pack “%(pack)s” cannot be used with %(professional)s.")
            % {"pack": purchase.snapshot_name, "professional": professional.display_name},
        )


def settle_session(
    *, appointment: Appointment, outcome: SessionOutcome, actor=None, now: datetime | None = None
) -> PackCreditEntry | None:
    """Close the pack credit of a session that ended: consumed, returned (released) or lost (forfeited).

    Completed → consumed; cancelled in time or the professional's no-show → released; cancelled late or the
    patient's no-show → forfeited, or released where the service's ``pack_late_cancel_returns_session`` says
    so. Call it in the transaction that changed the appointment's status, after the change (the status must
    match the outcome). A session not booked from a pack has nothing to settle: None. Settling twice is refused.

    Nobody needs to call it by hand: scheduling's ``appointment_closing`` signal, sent inside the transaction of
    every cancellation, completion and no-show, reaches ``booking.packs.receivers.settle_closed_session``, which
    calls it; a refusal here rolls the status change back with it.
    """
    now = _now(now)
    if not isinstance(outcome, SessionOutcome):
        raise PackError("invalid_request")
    with transaction.atomic():
        locked = Appointment.objects.select_for_update(of=("self",)).select_related("service").get(pk=appointment.pk)
        if locked.pack_purchase_id is None:
            return None
        if locked.status != OUTCOME_STATUS[outcome]:
            raise PackError("invalid_state")
        purchase = _lock_purchase(PackagePurchase(pk=locked.pack_purchase_id))
        entries = {entry.kind: entry for entry in PackCreditEntry.objects.filter(appointment=locked)}
        reservation = entries.get(CreditKind.RESERVED)
        if reservation is None:
            raise PackError("not_reserved")
        if any(kind in entries for kind in (CreditKind.CONSUMED, CreditKind.RELEASED, CreditKind.FORFEITED)):
            raise PackError("already_settled")
        kind = _settlement_kind(outcome, locked.service)
        entry = PackCreditEntry.objects.create(
            purchase=purchase,
            service_id=reservation.service_id,
            kind=kind,
            quantity=1,
            appointment=locked,
            actor=actor,
            at=now,
        )
        if kind == CreditKind.RELEASED and purchase.status in (PurchaseStatus.EXPIRED, PurchaseStatus.CANCELLED):
            # The pack's time is over (or it was cancelled): the session it gets back is written off with it.
            PackCreditEntry.objects.create(
                purchase=purchase,
                service_id=None if purchase.is_pool else reservation.service_id,
                kind=CreditKind.EXPIRED if purchase.status == PurchaseStatus.EXPIRED else CreditKind.CANCELLED,
                quantity=1,
                actor=actor,
                at=now,
            )
            return entry
        _refresh_status(purchase, balances(purchase))
    return entry


def adjust_credits(
    *,
    purchase: PackagePurchase,
    service: Service | None,
    quantity: int,
    reason: str,
    actor,
    now: datetime | None = None,
) -> PackCreditEntry:
    """Staff add (positive ``quantity``) or take away (negative) sessions of a live purchase, with a reason.

    ``service`` is required for a per-service pack; for a shared pool it may be None or any service of the pool
    (the row concerns the pool). Never leaves a balance below zero.
    """
    now = _now(now)
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.has_perm(ADJUST_PERMISSION):
        raise PackError("not_allowed")
    reason = (reason or "").strip()
    if not reason:
        raise PackError("reason_required")
    if not _is_count(quantity) or quantity == 0 or abs(quantity) > MAX_SESSIONS:
        raise PackError("invalid_quantity")
    with transaction.atomic():
        purchase = _lock_purchase(purchase)
        if purchase.status not in LIVE_STATUSES:
            raise PackError("invalid_state")
        if purchase.has_expired(now):
            raise PackError("expired")
        current = balances(purchase)
        if service is None:
            bucket = current.bucket(None) if purchase.is_pool else None
        else:
            bucket = current.for_service(service.pk)
        if bucket is None:
            raise PackError("service_not_in_pack")
        if bucket.remaining + quantity < 0:
            raise PackError(
                "below_zero",
                ngettext(
                    "Only %(count)d session can be taken away: that is what is left to book.",
                    "Only %(count)d sessions can be taken away: that is what is left to book.",
                    bucket.remaining,
                )
                % {"count": bucket.remaining},
            )
        entry = PackCreditEntry.objects.create(
            purchase=purchase,
            service_id=bucket.service_id,
            kind=CreditKind.ADJUSTED,
            quantity=quantity,
            actor=actor,
            reason=reason,
            at=now,
        )
        bucket.adjusted += quantity
        _refresh_status(purchase, current)
    return entry


def expire_purchases(*, now: datetime | None = None) -> int:
    """Expire every active purchase past its date: ``expired`` rows for what was left, status ``expired``.

    One transaction and a fixed number of queries whatever the number of purchases: the purchases are locked in
    id order (each other use case locks one purchase, so no deadlock), their balances read in one query, the rows
    written in one INSERT and the statuses in one UPDATE. Sessions booked and not yet settled keep their credit;
    they settle later as usual. Returns how many purchases expired.
    """
    now = _now(now)
    with transaction.atomic():
        due = list(PackagePurchase.objects.select_for_update().due_to_expire(now).order_by("pk"))
        if not due:
            return 0
        current = balances_for_purchases(due)
        rows = [
            PackCreditEntry(
                purchase=purchase,
                service_id=bucket.service_id,
                kind=CreditKind.EXPIRED,
                quantity=bucket.remaining,
                at=now,
            )
            for purchase in due
            for bucket in current[purchase.pk].buckets
            if bucket.remaining > 0
        ]
        PackCreditEntry.objects.bulk_create(rows)
        PackagePurchase.objects.filter(pk__in=[purchase.pk for purchase in due]).update(status=PurchaseStatus.EXPIRED)
    return len(due)


__all__ = [
    "ADJUST_PERMISSION",
    "PACK_CREDIT_OF_KIND",
    "SessionOutcome",
    "adjust_credits",
    "cancellation_pack_credit",
    "check_session_move",
    "expire_purchases",
    "grant_purchase",
    "reserve_session",
    "settle_session",
]
