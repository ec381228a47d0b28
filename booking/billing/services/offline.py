"""Payments taken at the clinic: cash, bank transfer, card terminal."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from ..errors import PaymentError
from ..models import (
    OFFLINE_METHODS,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentStatus,
)
from ._common import (
    Action,
    _cancel_pending_checkouts,
    _check_payable,
    _expire_sessions_after_commit,
    _lock_invoice,
    _log,
    _money,
    _now,
    _require_staff,
    _settle,
)
from .holds import _place_held_appointments

logger = logging.getLogger(__name__)


def record_offline_payment(
    *,
    invoice: Invoice,
    method: str,
    amount,
    actor,
    external_reference: str = "",
    received_at: datetime | None = None,
    now: datetime | None = None,
) -> Payment:
    """Record cash, a transfer or a card at the clinic (staff with ``billing.add_payment``).

    If a held session's time was taken meanwhile nothing is recorded: the staff member hands the money back.
    """
    now = _now(now)
    _require_staff(actor, "billing.add_payment", system_allowed=False)
    if method not in OFFLINE_METHODS:
        raise PaymentError("invalid_request")
    received_at = received_at or now
    if timezone.is_naive(received_at) or received_at > now:
        raise PaymentError("invalid_request")
    external_reference = (external_reference or "").strip()
    if len(external_reference) > Payment._meta.get_field("external_reference").max_length:
        raise PaymentError("invalid_request")
    with transaction.atomic():
        invoice = _lock_invoice(invoice.pk)
        amount = _money(amount, invoice.currency)
        _check_payable(invoice)
        if amount > invoice.balance_due:
            raise PaymentError("amount_above_balance")
        payment = Payment.objects.create(
            invoice=invoice,
            method=method,
            amount=amount,
            currency=invoice.currency,
            status=PaymentStatus.SUCCEEDED,
            external_reference=external_reference,
            received_at=received_at,
            recorded_by=actor,
        )
        from_status = invoice.status
        invoice.amount_paid += amount
        _settle(invoice, now)
        invoice.save()
        _log(
            invoice,
            Action.PAYMENT_RECORDED,
            actor=actor,
            at=now,
            from_status=from_status,
            payment=payment.pk,
            method=method,
            amount=amount,
            external_reference=external_reference,
        )
        if invoice.status == InvoiceStatus.PAID:
            if _place_held_appointments(invoice, now):
                raise PaymentError("slot_unavailable")  # rolls the payment back with everything else
            _expire_sessions_after_commit(_cancel_pending_checkouts(invoice, now=now))
    return payment
