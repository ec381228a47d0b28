"""Cancelling a session with its money: the one path the API, the admin and the booking box take.

Two use cases, as pretix's ``cancel_order`` runs ``_cancel_order`` and then the automatic refund:

- ``cancel_booking``: a booked (or held) session is cancelled under scheduling's rules, then what the policy
  decided about its invoice is carried out (refund, void, or the late fee kept).
- ``cancel_unpaid_hold``: the booking box's "cancel" on the pay step gives a held time back before paying: its
  open checkouts are closed at the provider, then the hold is released and the invoice voided together.

Scheduling decides *whether* a session may be cancelled and what the policy says about money; billing, here,
carries it out. Views call these and nothing else to cancel; billing never imports scheduling's views or API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from booking.scheduling import services as scheduling
from booking.scheduling.models import Appointment, AppointmentStatus
from booking.scheduling.services import CancellationOutcome, PackCredit

from .. import providers
from ..errors import PaymentError
from ..models import Invoice, InvoiceStatus, Refund, RefundStatus
from ._common import _expire_sessions_after_commit, _lock_invoice, _now, _require_owner_or_staff, _void, _voidable
from .checkout import close_open_checkouts
from .refunds import apply_cancellation_outcome

# Why a hold was given back and its invoice voided, kept on the appointment and in the invoice's history for
# staff (source language, like the other reasons; not shown to patients).
REASON_HOLD_GIVEN_BACK = "cancelled by the patient before paying"
REASON_HOLD_CANCELLED = "hold cancelled by the patient"

# An invoice in one of these states keeps money paid for the hold: the payment confirmed the session meanwhile.
_MONEY_ARRIVED = (InvoiceStatus.PAID, InvoiceStatus.PARTIALLY_REFUNDED)


@dataclass(frozen=True)
class CancelledBooking:
    """What ``cancel_booking`` did: scheduling's decision and the refunds made for it."""

    outcome: CancellationOutcome
    refunds: tuple[Refund, ...] = ()

    @property
    def appointment(self) -> Appointment:
        return self.outcome.appointment

    @property
    def pack_credit(self) -> PackCredit | None:
        """For a session booked from a pack: whether its session went back to the pack or was lost (else None)."""
        return self.outcome.pack_credit

    @property
    def refund_failed(self) -> bool:
        """A refund the provider refused: staff retry it from the invoice (the cancellation stands)."""
        return any(refund.status == RefundStatus.FAILED for refund in self.refunds)


@dataclass(frozen=True)
class CancelledHold:
    """What ``cancel_unpaid_hold`` did. ``paid``: the money arrived meanwhile, so nothing was cancelled."""

    appointment: Appointment
    invoice: Invoice
    paid: bool = False


def cancel_booking(
    *,
    appointment: Appointment,
    actor,
    reason: str = "",
    now: datetime | None = None,
    staff_override_reason: str | None = None,
) -> CancelledBooking:
    """Cancel a session under scheduling's rules and carry out the policy's refund or fee on its invoice.

    Who may cancel is scheduling's rule (``cancel_appointment``): the patient their own session until it starts,
    staff with ``scheduling.change_appointment`` anybody's, and only they go past the window with
    ``staff_override_reason``. A refusal raises ``BookingError`` before any money moves. Then
    ``apply_cancellation_outcome``: inside the window everything paid is refunded (an unpaid invoice voided); a
    late cancellation keeps the invoice owed; a hold's invoice is voided.

    A session booked from a pack has no invoice of its own (the pack's carries the money): nothing is refunded
    here; its pack credit is settled inside ``cancel_appointment`` (``pack_credit`` says returned or lost) — a
    staff override returns the session as it would refund the money.

    ONE transaction: the session is cancelled and its invoice (or pack credit) settled together, or neither. The
    refunds are written in it as pending rows and sent to the provider by a huey task once it commits (no provider
    call under a row lock); the refunds returned are re-read after that commit, so one the provider refused already
    shows failed (``refund_failed``) for staff to retry when the task ran at once, and pending when it is queued.
    """
    now = _now(now)
    with transaction.atomic():
        outcome = scheduling.cancel_appointment(
            appointment=appointment,
            actor=actor,
            reason=reason,
            now=now,
            staff_override_reason=staff_override_reason,
        )
        refunds = apply_cancellation_outcome(outcome=outcome, actor=actor, now=now)
    for refund in refunds:
        refund.refresh_from_db()
    return CancelledBooking(outcome=outcome, refunds=tuple(refunds))


def cancel_unpaid_hold(
    *, appointment: Appointment, invoice: Invoice, actor, now: datetime | None = None
) -> CancelledHold:
    """Give a held time back before it is paid: free it and void its invoice, never one without the other.

    The invoice's open checkouts are closed at the provider first, outside any transaction (no network call
    under a row lock); one paid meanwhile in another tab is confirmed instead. Then, in ONE transaction, the
    invoice is locked before the appointment (the payment webhook's order, so the two cannot deadlock), the
    hold is released and the invoice voided. Money that arrived meanwhile (a checkout found paid, or a payment
    recorded before the lock) changes nothing and comes back as ``paid=True``; the payment confirmed the session.

    Only the patient whose invoice it is (staff with ``billing.change_invoice``, or the system with
    ``actor=None``) may do this, and only with the invoice of that held session: anything else is a
    ``PaymentError``, as is the provider being unreachable (then nothing is changed and the patient may try again).
    """
    now = _now(now)
    _check_hold_and_invoice(appointment, invoice, actor)
    try:
        paid = close_open_checkouts(invoice, now=now)
    except providers.ProviderError as exc:
        raise PaymentError("provider_error") from exc
    if not paid:
        with transaction.atomic():
            invoice = _lock_invoice(invoice.pk)
            appointment = Appointment.objects.select_for_update().get(pk=appointment.pk)
            paid = invoice.status in _MONEY_ARRIVED
            if not paid:
                _expire_sessions_after_commit(_release_and_void(appointment, invoice, actor=actor, now=now))
    appointment.refresh_from_db()
    invoice.refresh_from_db()
    return CancelledHold(appointment=appointment, invoice=invoice, paid=paid)


def _check_hold_and_invoice(appointment: Appointment, invoice: Invoice, actor) -> None:
    """The actor is the invoice's patient (or billing staff, or the system), and the invoice this held session's."""
    if not isinstance(appointment, Appointment) or not isinstance(invoice, Invoice):
        raise PaymentError("invalid_request")
    _require_owner_or_staff(actor, invoice, "billing.change_invoice")
    if not invoice.lines.filter(appointment_id=appointment.pk).exists():
        raise PaymentError("invalid_request")
    if appointment.status != AppointmentStatus.PENDING_PAYMENT and appointment.hold_expires_at is None:
        raise PaymentError("invalid_state")  # not a hold (any more): a booked session is cancelled with cancel_booking


def _release_and_void(appointment: Appointment, invoice: Invoice, *, actor, now: datetime) -> list[str]:
    """Under the caller's locks: free the held time, void the invoice; returns the sessions to close after commit.

    Raises (and so rolls back both) when the session was booked meanwhile to be paid at the clinic, or when the
    invoice keeps part of a payment: then it is not this use case's to cancel.
    """
    if appointment.status == AppointmentStatus.CONFIRMED:
        raise PaymentError("invalid_state")
    if appointment.status == AppointmentStatus.PENDING_PAYMENT:
        scheduling.release_hold(appointment=appointment, reason=REASON_HOLD_GIVEN_BACK, now=now)
    if invoice.status != InvoiceStatus.OPEN:  # closing a checkout may already have voided it
        return []
    if not _voidable(invoice):
        raise PaymentError("invalid_state")
    return _void(invoice=invoice, actor=actor, reason=REASON_HOLD_CANCELLED, now=now)
