"""Sessions held until paid: confirming them once paid, giving their time back, and the invoices they leave."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction

from booking.scheduling import services as scheduling
from booking.scheduling.errors import BookingError
from booking.scheduling.models import Appointment, AppointmentStatus

from ..models import (
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    PaymentStatus,
)
from ._common import (
    PLACEABLE_STATUSES,
    REASON_CHECKOUT_NOT_COMPLETED,
    REASON_HOLD_LAPSED,
    REASON_TIME_TAKEN,
    STALE_CHECKOUTS_PER_RUN,
    _lock_invoice,
    _now,
    _void,
)

logger = logging.getLogger(__name__)


def _place_held_appointments(invoice: Invoice, now: datetime) -> list[InvoiceLine]:
    """Confirm the held sessions of a paid invoice; return the lines whose session could not be given.

    A hold whose time someone else took after it expired is released (left cancelled), never confirmed twice.
    A session that was a hold and was cancelled before the money came (it still has ``hold_expires_at``;
    confirming clears it) cannot be given either. Both are paid for nothing, so the caller refunds them.
    """
    lines = list(invoice.lines.filter(appointment__isnull=False).select_related("appointment"))
    unplaced = []
    for line in lines:
        appointment = line.appointment
        if appointment.status == AppointmentStatus.PENDING_PAYMENT:
            try:
                scheduling.confirm_appointment(appointment=appointment, actor=None, now=now)
            except BookingError:
                scheduling.release_hold(appointment=appointment, reason=REASON_TIME_TAKEN, now=now)
                unplaced.append(line)
        elif appointment.status == AppointmentStatus.CANCELLED and appointment.hold_expires_at is not None:
            unplaced.append(line)
    return unplaced


def _release_held_appointments(invoice: Invoice, now: datetime) -> None:
    appointments = Appointment.objects.filter(
        invoice_lines__invoice=invoice, status=AppointmentStatus.PENDING_PAYMENT
    ).distinct()
    for appointment in appointments:
        scheduling.release_hold(appointment=appointment, reason=REASON_CHECKOUT_NOT_COMPLETED, now=now)


def _lapsed_hold_invoice(invoice: Invoice) -> bool:
    """An open invoice with nothing paid whose every session was a hold given back unpaid: nothing is owed."""
    if invoice.status != InvoiceStatus.OPEN or invoice.amount_paid != 0:
        return False
    if invoice.payments.filter(status=PaymentStatus.PENDING).exists():
        return False
    sessions = list(
        Appointment.objects.filter(invoice_lines__invoice=invoice).values_list("status", "hold_expires_at")
    )
    return bool(sessions) and all(
        status == AppointmentStatus.CANCELLED and hold_expires_at is not None for status, hold_expires_at in sessions
    )


def void_lapsed_hold_invoices(*, now: datetime | None = None) -> int:
    """Void the open invoices of holds given back unpaid (abandoned before any checkout); returns how many.

    Without this a patient who chose a time and walked away would find an unpaid invoice for a session that
    does not exist.
    """
    now = _now(now)
    candidates = list(
        Invoice.objects.filter(
            status=InvoiceStatus.OPEN,
            amount_paid=0,
            lines__appointment__status=AppointmentStatus.CANCELLED,
            lines__appointment__hold_expires_at__isnull=False,
        )
        .exclude(lines__appointment__hold_expires_at__isnull=True)
        .exclude(lines__appointment__status__in=PLACEABLE_STATUSES)
        .exclude(payments__status=PaymentStatus.PENDING)
        .distinct()
        .order_by("pk")
        .values_list("pk", flat=True)[:STALE_CHECKOUTS_PER_RUN]
    )
    voided = 0
    for invoice_id in candidates:
        with transaction.atomic():
            invoice = _lock_invoice(invoice_id)
            if _lapsed_hold_invoice(invoice):
                _void(invoice, actor=None, reason=REASON_HOLD_LAPSED, now=now)
                voided += 1
    return voided
