"""Discount codes: the rules a code must pass and its split over an invoice's lines."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from booking.scheduling.money import quantize

from ..errors import PaymentError
from ..models import (
    ZERO,
    Coupon,
    CouponRedemption,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
)
from ._common import Action, _lock_invoice, _log, _now, _recalculate, _require_owner_or_staff, _settle
from .holds import _place_held_appointments

logger = logging.getLogger(__name__)


def _line_in_scope(line: InvoiceLine, coupon: Coupon, scoped_service_ids: set[int]) -> bool:
    if line.kind == InvoiceLine.Kind.PACK:
        if not coupon.applies_to_packs:
            return False
    elif line.kind != InvoiceLine.Kind.APPOINTMENT:
        return False  # adjustments are the clinic's own corrections, never discounted
    return not scoped_service_ids or line.service_id in scoped_service_ids


def _split_discount(lines: list[InvoiceLine], coupon: Coupon, currency: str) -> dict[int, Decimal]:
    """Each applicable line's share: a percentage of its gross, or the fixed amount in proportion to the gross.

    Shares are rounded to the currency's unit and never exceed a line's gross, so no line goes negative.
    """
    if coupon.kind == Coupon.Kind.PERCENT:
        return {line.pk: min(quantize(line.gross * coupon.value / 100, currency), line.gross) for line in lines}
    base = sum((line.gross for line in lines), ZERO)
    if base <= 0:
        return {line.pk: ZERO for line in lines}
    wanted = min(quantize(coupon.value, currency), base)
    shares = {line.pk: min(quantize(wanted * line.gross / base, currency), line.gross) for line in lines}
    leftover = wanted - sum(shares.values(), ZERO)
    for line in lines:  # rounding may leave a unit or two over (or under): settle it on lines with room
        if leftover == 0:
            break
        room = line.gross - shares[line.pk] if leftover > 0 else -shares[line.pk]
        step = min(leftover, room) if leftover > 0 else max(leftover, room)
        shares[line.pk] += step
        leftover -= step
    return shares


def check_coupon(coupon: Coupon | None, *, currency: str, patient_id: int | None, in_scope: bool, now: datetime):
    """Refuse a code that cannot discount this purchase, with billing's error code (and so its message).

    The rules in the order a visitor reads them: known, active, within its dates, in the currency (amount codes),
    for what is bought (``in_scope``, worked out by the caller), under its limits (void invoices do not count).
    ``apply_coupon`` runs it with the coupon row locked; the booking box's preview runs it read-only, so both give
    the same answer for the same code.
    """
    if coupon is None:
        raise PaymentError("coupon_unknown")
    if not coupon.active:
        raise PaymentError("coupon_inactive")
    if coupon.valid_from is not None and now < coupon.valid_from:
        raise PaymentError("coupon_not_started")
    if coupon.valid_until is not None and now >= coupon.valid_until:
        raise PaymentError("coupon_expired")
    if coupon.kind == Coupon.Kind.AMOUNT and coupon.currency != currency:
        raise PaymentError("coupon_not_applicable")
    if not in_scope:
        raise PaymentError("coupon_not_applicable")
    counted = coupon.redemptions.exclude(invoice__status=InvoiceStatus.VOID)
    if coupon.max_redemptions is not None and counted.count() >= coupon.max_redemptions:
        raise PaymentError("coupon_limit_reached")
    if (
        coupon.max_per_customer is not None
        and patient_id is not None
        and counted.filter(patient_id=patient_id).count() >= coupon.max_per_customer
    ):
        raise PaymentError("coupon_customer_limit_reached")


def apply_coupon(*, invoice: Invoice, code: str, actor, now: datetime | None = None) -> Invoice:
    """Discount an unpaid invoice with a code (one code per invoice); the invoice's patient or staff."""
    now = _now(now)
    _require_owner_or_staff(actor, invoice, "billing.change_invoice")
    code = (code or "").strip()
    if not code:
        raise PaymentError("coupon_unknown")
    with transaction.atomic():
        invoice = _lock_invoice(invoice.pk)
        if invoice.status != InvoiceStatus.OPEN or invoice.amount_paid > 0:
            raise PaymentError("invalid_state")
        if invoice.coupon_redemptions.exists():
            raise PaymentError("coupon_already_applied")
        coupon = Coupon.objects.select_for_update().filter(code__iexact=code).first()  # serialises the last use
        scoped_service_ids = set(coupon.services.values_list("pk", flat=True)) if coupon is not None else set()
        lines = list(invoice.lines.all())
        applicable = [line for line in lines if _line_in_scope(line, coupon, scoped_service_ids)] if coupon else []
        check_coupon(
            coupon, currency=invoice.currency, patient_id=invoice.patient_id, in_scope=bool(applicable), now=now
        )
        shares = _split_discount(applicable, coupon, invoice.currency)
        for line in lines:
            line.discount = shares.get(line.pk, ZERO)
        _recalculate(invoice, lines)
        discount = sum(shares.values(), ZERO)
        CouponRedemption.objects.create(
            coupon=coupon, invoice=invoice, patient_id=invoice.patient_id, amount=discount, created_at=now
        )
        from_status = invoice.status
        _settle(invoice, now)  # a 100 % code leaves nothing to pay
        invoice.save()
        _log(
            invoice,
            Action.COUPON_APPLIED,
            actor=actor,
            at=now,
            from_status=from_status,
            code=coupon.code,
            discount=discount,
            total=invoice.total,
        )
        if invoice.status == InvoiceStatus.PAID:
            _place_held_appointments(invoice, now)
    return invoice


def remove_coupon(*, invoice: Invoice, actor, now: datetime | None = None) -> Invoice:
    """Take the discount code off an unpaid invoice: the lines are back to full price, the use no longer counts."""
    now = _now(now)
    _require_owner_or_staff(actor, invoice, "billing.change_invoice")
    with transaction.atomic():
        invoice = _lock_invoice(invoice.pk)
        if invoice.status != InvoiceStatus.OPEN or invoice.amount_paid > 0:
            raise PaymentError("invalid_state")
        redemption = invoice.coupon_redemptions.select_related("coupon").first()
        if redemption is None:
            raise PaymentError("coupon_not_applied")
        code = redemption.coupon.code
        redemption.delete()
        invoice.lines.update(discount=ZERO)
        _recalculate(invoice)
        invoice.save()
        _log(
            invoice,
            Action.COUPON_REMOVED,
            actor=actor,
            at=now,
            from_status=invoice.status,
            code=code,
            total=invoice.total,
        )
    return invoice
