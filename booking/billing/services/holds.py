"""Sessions held until paid: confirming them (once paid, or by staff), giving their time back, and their invoices."""

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
from ..selectors import invoice_for_appointment
from ..signals import invoice_paid
from ._common import (
    REASON_CHECKOUT_NOT_COMPLETED,
    REASON_HOLD_LAPSED,
    REASON_TIME_TAKEN,
    STALE_CHECKOUTS_PER_RUN,
    _give_number,
    _lock_invoice,
    _now,
    _void,
)

logger = logging.getLogger(__name__)


def _place_held_appointments(invoice: Invoice, now: datetime) -> list[InvoiceLine]:
    """Confirm the held sessions of a paid invoice; return the lines whose session could not be given.

    A hold whose time someone else took after it expired is released (left cancelled), never confirmed twice.
    A session that was a hold and was cancelled before the money came (a lapsed hold) cannot be given either.
    Both are paid for nothing, so the caller refunds them. ``signals.invoice_paid`` lets what else the invoice
    sells (a pack) be activated in this transaction. The invoice, paid now, is numbered if it was a hold's (last, as
    ``_give_number`` asks).
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
        elif appointment.is_lapsed_hold:
            unplaced.append(line)
    invoice_paid.send(sender=Invoice, invoice=invoice, now=now)
    _give_number(invoice, actor=None, now=now)
    return unplaced


def _release_held_appointments(invoice: Invoice, now: datetime) -> None:
    appointments = Appointment.objects.held().filter(invoice_lines__invoice=invoice).distinct()
    for appointment in appointments:
        scheduling.release_hold(appointment=appointment, reason=REASON_CHECKOUT_NOT_COMPLETED, now=now)


def _lapsed_hold_invoice(invoice: Invoice) -> bool:
    """An open invoice with nothing paid whose every session was a hold given back unpaid: nothing is owed."""
    if invoice.status != InvoiceStatus.OPEN or invoice.amount_paid != 0:
        return False
    if invoice.payments.filter(status=PaymentStatus.PENDING).exists():
        return False
    sessions = list(Appointment.objects.filter(invoice_lines__invoice=invoice).only("status", "hold_expires_at"))
    return bool(sessions) and all(session.is_lapsed_hold for session in sessions)


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
            lines__appointment__in=Appointment.objects.lapsed_holds(),
        )
        .exclude(lines__appointment__in=Appointment.objects.other_than_lapsed_holds())
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


def confirm_held_appointment(*, appointment: Appointment, actor, now: datetime | None = None) -> Appointment:
    """Confirm a held session before it is paid (staff, or the patient who chose to pay at the clinic).

    The session becomes a booking that is owed, so its invoice takes its number in the same transaction. The
    invoice is locked first, as a payment locks it, so a payment arriving meanwhile waits and then finds the
    session confirmed and the invoice numbered. Raises ``BookingError`` when the session cannot be confirmed.
    """
    now = _now(now)
    with transaction.atomic():
        invoice = invoice_for_appointment(appointment)
        if invoice is not None:
            invoice = _lock_invoice(invoice.pk)
        appointment = scheduling.confirm_appointment(appointment=appointment, actor=actor, now=now)
        if invoice is not None:
            _give_number(invoice, actor=actor, now=now)
    return appointment
