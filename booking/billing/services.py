"""Billing use cases: invoice a session, discount codes, Stripe Checkout, offline payments, refunds, voiding.

Every function follows the skeleton of CONVENTIONS.md: check the rule and raise ``PaymentError``;
``transaction.atomic()``, re-read the invoice and payment rows with ``select_for_update()``, change, save,
write an ``InvoiceEvent``. Nothing else assigns an invoice's status or totals: ``_recalculate`` sums the lines
and ``_settle`` derives the status from the amounts.

Locks are always taken in the same order, invoice → payment → refund (and coupon after invoice), so two
services working on one invoice queue instead of deadlocking. No database lock is ever held across an HTTP
call to Stripe: a call that must happen is prepared in one transaction (a pending Payment or Refund row, whose
primary key is the idempotency key), made outside it, and its answer stored in a second transaction.

Money that arrives for nothing is given back: a payment for a void invoice, for a session whose held time was
taken (or released) before the payment came, or beyond what the invoice asked for is refunded by the system.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from booking.scheduling import services as scheduling
from booking.scheduling.errors import BookingError
from booking.scheduling.models import Appointment, AppointmentStatus, PaymentMode
from booking.scheduling.services import CancellationOutcome, RefundDecision
from website.money import quantize

from . import stripe_gateway
from .errors import PaymentError
from .models import (
    OFFLINE_METHODS,
    ZERO,
    BillingSettings,
    Coupon,
    CouponRedemption,
    Invoice,
    InvoiceEvent,
    InvoiceLine,
    InvoiceSeries,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    TaxDocumentType,
)
from .selectors import invoice_for_appointment, payment_for_checkout_session, payment_for_payment_intent

logger = logging.getLogger(__name__)

Action = InvoiceEvent.Action

DEFAULT_SERIES_CODE = "default"
CHECKOUT_MIN_LIFETIME = timedelta(minutes=30)  # the shortest Checkout Session Stripe accepts
STALE_CHECKOUTS_PER_RUN = 200
# A late cancellation changes no money; the event only records it. The lead adds this choice to the model's
# InvoiceEvent.Action; until then the plain value is stored.
LATE_CANCELLATION = Action.LATE_CANCELLATION

# Reasons stored on events and refunds: data for staff, kept in the source language like scheduling's.
REASON_TIME_TAKEN = "the time was taken before the payment arrived"
REASON_VOID_INVOICE = "payment received for a void invoice"
REASON_OVERPAID = "paid more than the invoice asked for"
REASON_ALREADY_SETTLED = "payment received for an invoice that was already settled"
REASON_HOLD_LAPSED = "the held time ran out before payment"
REASON_CANCELLED = "appointment cancelled"
REASON_CANCELLED_REFUND = "appointment cancelled within the cancellation window"
REASON_LATE_CANCELLATION = "late cancellation: the session is still charged"
REASON_CHECKOUT_NOT_COMPLETED = "online payment not completed"
REASON_STRIPE_DASHBOARD = "refunded in the Stripe dashboard"

PLACEABLE_STATUSES = (
    AppointmentStatus.PENDING_PAYMENT,
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.COMPLETED,
    AppointmentStatus.NO_SHOW_PATIENT,
)


# --- small helpers ---------------------------------------------------------------------------------------------


def _now(now: datetime | None) -> datetime:
    return now if now is not None else timezone.now()


def _user_or_none(actor):
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def _has_perm(actor, perm: str) -> bool:
    return _user_or_none(actor) is not None and actor.has_perm(perm)


def _owns(actor, invoice: Invoice) -> bool:
    user = _user_or_none(actor)
    return user is not None and invoice.patient_id is not None and invoice.patient.user_id == user.pk


def _require_staff(actor, perm: str, *, system_allowed: bool) -> None:
    """``actor=None`` is the system acting on policy (webhooks, tasks, cancellations), where allowed."""
    if actor is None and system_allowed:
        return
    if not _has_perm(actor, perm):
        raise PaymentError("not_allowed")


def _require_owner_or_staff(actor, invoice: Invoice, perm: str) -> None:
    if actor is None or _owns(actor, invoice) or _has_perm(actor, perm):
        return
    raise PaymentError("not_allowed")


def _money(value, currency: str) -> Decimal:
    """A positive amount with no more precision than the currency has (no cents in CLP)."""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise PaymentError("invalid_amount") from exc
    if not amount.is_finite() or amount <= 0 or quantize(amount, currency) != amount:
        raise PaymentError("invalid_amount")
    return amount


def _required_reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise PaymentError("reason_required")
    return reason


def _lock_invoice(invoice_id: int) -> Invoice:
    return Invoice.objects.select_for_update().get(pk=invoice_id)


def _lock_payment(payment_id: int) -> Payment:
    return Payment.objects.select_for_update().get(pk=payment_id)


def _event(
    invoice: Invoice, action: str, *, actor, at: datetime, from_status: str = "", reason: str = "", **data
) -> InvoiceEvent:
    """An unsaved event recording ``invoice`` as it is now (``_log`` saves one; a use case may bulk-create several)."""
    return InvoiceEvent(
        invoice=invoice,
        action=action,
        from_status=from_status or "",
        to_status=invoice.status,
        actor=_user_or_none(actor),
        at=at,
        reason=reason or "",
        data={
            key: str(quantize(value, invoice.currency)) if isinstance(value, Decimal) else value
            for key, value in data.items()
        },
    )


def _log(
    invoice: Invoice,
    action: str,
    *,
    actor,
    at: datetime,
    from_status: str = "",
    reason: str = "",
    preceded_by: tuple[InvoiceEvent, ...] = (),
    **data,
):
    """Record one event; ``preceded_by`` (unsaved events of the same change, see ``_event``) go in the same INSERT."""
    event = _event(invoice, action, actor=actor, at=at, from_status=from_status, reason=reason, **data)
    if preceded_by:
        InvoiceEvent.objects.bulk_create([*preceded_by, event])
    else:
        event.save()


def _billing_settings() -> BillingSettings:
    """The default site's billing settings, or the model's defaults when there is no site or no row yet (one query)."""
    return BillingSettings.objects.filter(site__is_default_site=True).first() or BillingSettings()


def _default_series() -> InvoiceSeries:
    series, _created = InvoiceSeries.objects.get_or_create(
        code=DEFAULT_SERIES_CODE, defaults={"prefix": "B-", "name": "Boletas"}
    )
    return series


def _recalculate(invoice: Invoice, lines: list[InvoiceLine] | None = None) -> list[InvoiceLine]:
    """Line totals and invoice totals from quantity, unit price, discount and tax rate (lines saved)."""
    lines = list(invoice.lines.all()) if lines is None else lines
    _compute_totals(invoice, lines)
    if lines:
        InvoiceLine.objects.bulk_update(lines, ["discount", "tax", "total"])
    return lines


def _compute_totals(invoice: Invoice, lines: list[InvoiceLine]) -> None:
    """``_recalculate`` in memory only: for lines not saved yet, which are then inserted with their totals."""
    subtotal = discount_total = tax_total = ZERO
    for line in lines:
        gross = line.gross
        line.tax = quantize((gross - line.discount) * line.tax_rate / 100, invoice.currency)
        line.total = gross - line.discount + line.tax
        subtotal += gross
        discount_total += line.discount
        tax_total += line.tax
    invoice.subtotal, invoice.discount_total, invoice.tax_total = subtotal, discount_total, tax_total
    invoice.total = subtotal - discount_total + tax_total


def _settle(invoice: Invoice, now: datetime) -> None:
    """Derive the status from the amounts: open → paid once paid in full; then (partially) refunded."""
    if invoice.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
        return
    if invoice.status == InvoiceStatus.OPEN:
        if invoice.amount_paid < invoice.total:
            return
        invoice.status = InvoiceStatus.PAID
        invoice.paid_at = invoice.paid_at or now
    if invoice.amount_refunded <= 0:
        invoice.status = InvoiceStatus.PAID
    elif invoice.amount_refunded >= invoice.amount_paid:
        invoice.status = InvoiceStatus.REFUNDED
    else:
        invoice.status = InvoiceStatus.PARTIALLY_REFUNDED


def _take_default_series_number() -> tuple[InvoiceSeries, int]:
    """The default series (created first if missing) and the number taken from it, in one UPDATE ... RETURNING.

    The UPDATE locks the series row until the transaction ends, as ``_issue``'s SELECT ... FOR UPDATE does, so
    numbers are handed out in order and a rollback gives the number back (no gaps); it saves that SELECT.
    """
    table = connection.ops.quote_name(InvoiceSeries._meta.db_table)
    column = {name: connection.ops.quote_name(InvoiceSeries._meta.get_field(name).column) for name in _SERIES_FIELDS}
    sql = (
        f"UPDATE {table} SET {column['next_number']} = {column['next_number']} + 1 WHERE {column['code']} = %s "
        f"RETURNING {', '.join(column[name] for name in _SERIES_FIELDS)}"
    )
    for _attempt in range(2):
        with connection.cursor() as cursor:
            cursor.execute(sql, [DEFAULT_SERIES_CODE])
            row = cursor.fetchone()
        if row is not None:
            series = InvoiceSeries(**dict(zip(_SERIES_FIELDS, row, strict=True)))
            return series, series.next_number - 1
        _default_series()  # first invoice ever: create the series, then take its first number
    raise InvoiceSeries.DoesNotExist(DEFAULT_SERIES_CODE)


_SERIES_FIELDS = ("id", "code", "prefix", "name", "next_number")


def _issue(invoice: Invoice, now: datetime, taken: tuple[InvoiceSeries, int] | None = None) -> None:
    """Give the invoice the series' next number under a row lock: a rollback gives the number back, so no gaps.

    ``taken`` is a series and the number the caller already took from it (``_take_default_series_number``).
    """
    if taken is None:
        series = InvoiceSeries.objects.select_for_update().get(pk=invoice.series_id)
        invoice.number = series.next_number
        series.next_number += 1
        series.save(update_fields=["next_number"])
    else:
        series, invoice.number = taken
    invoice.series = series
    invoice.status = InvoiceStatus.OPEN
    invoice.issued_at = now


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


def _expire_sessions_quietly(session_ids: list[str]) -> None:
    """Close superseded Checkout Sessions at Stripe; a failure only means a later payment is refunded."""
    for session_id in session_ids:
        try:
            stripe_gateway.expire_checkout_session(session_id)
        except stripe_gateway.GatewayError:
            logger.warning("Could not expire Stripe Checkout Session %s", session_id, exc_info=True)


def _cancel_pending_checkouts(invoice: Invoice, *, now: datetime, exclude_pk: int | None = None) -> list[str]:
    """Cancel the invoice's open Stripe payments (inside the caller's transaction); returns their session ids."""
    pending = list(
        Payment.objects.select_for_update()
        .filter(invoice=invoice, method=PaymentMethod.STRIPE, status=PaymentStatus.PENDING)
        .exclude(pk=exclude_pk)
    )
    for payment in pending:
        payment.status = PaymentStatus.CANCELLED
        payment.save(update_fields=["status", "updated_at"])
        _log(invoice, Action.CHECKOUT_EXPIRED, actor=None, at=now, from_status=invoice.status, payment=payment.pk)
    return [payment.stripe_checkout_session_id for payment in pending if payment.stripe_checkout_session_id]


# --- invoices --------------------------------------------------------------------------------------------------


def create_invoice_for_appointment(
    *, appointment: Appointment, actor, now: datetime | None = None, booked_in_this_transaction: bool = False
) -> Invoice:
    """Invoice one session and issue it at once; the appointment's existing (non-void) invoice if it has one.

    A session that costs nothing gets an invoice paid at once (its hold, if any, is confirmed).

    ``booked_in_this_transaction`` is for ``book_with_invoice``, which created ``appointment`` (with its patient,
    user, location, service and professional loaded) in its still-open transaction: nobody else sees the session
    yet and it has no invoice, so the lock, the look-up and the SAVEPOINT are skipped (a refusal rolls back the
    caller's block as a whole).
    """
    now = _now(now)
    if booked_in_this_transaction:
        with transaction.atomic(savepoint=False):
            _check_may_invoice(appointment, actor)
            return _issue_appointment_invoice(appointment, actor=actor, now=now)
    with transaction.atomic():
        # One invoice per session: the lock serialises two requests for the same session. The rows the invoice
        # copies come in the same query.
        appointment = (
            Appointment.objects.select_for_update(of=("self",))
            .select_related("patient__user", "location", "service", "professional")
            .get(pk=appointment.pk)
        )
        _check_may_invoice(appointment, actor)
        existing = invoice_for_appointment(appointment)
        if existing is not None:
            return existing
        return _issue_appointment_invoice(appointment, actor=actor, now=now)


def _check_may_invoice(appointment: Appointment, actor) -> None:
    """The patient invoices their own session; anyone else needs ``billing.add_invoice`` (None: the system)."""
    if actor is not None and _user_or_none(actor) is None:
        raise PaymentError("not_allowed")
    if actor is not None and appointment.patient.user_id != actor.pk and not _has_perm(actor, "billing.add_invoice"):
        raise PaymentError("not_allowed")


def _issue_appointment_invoice(appointment: Appointment, *, actor, now: datetime) -> Invoice:
    """Write the issued invoice of ``appointment`` (loaded with its patient, user, location, service, professional).

    Runs inside the caller's transaction. The invoice and its line are inserted already numbered and totalled
    (the number taken first), and both events ("created" as a draft, then "issued") in one statement: five
    queries, with the same rows and history as creating a draft and issuing it.
    """
    if appointment.status not in PLACEABLE_STATUSES:
        raise PaymentError("invalid_state")
    patient = appointment.patient
    user = patient.user
    billing = _billing_settings()
    location = appointment.location
    zone = location.tzinfo if location is not None else ZoneInfo(settings.TIME_ZONE)
    local_start = appointment.start.astimezone(zone)
    taken = _take_default_series_number()
    invoice = Invoice(
        series=taken[0],
        patient=patient,
        billing_name=(user.get_full_name() or user.email)[:200],
        billing_email=user.email,
        billing_phone=(patient.phone or user.phone)[:40],
        billing_tax_id=patient.rut or "",
        language="en" if (user.preferred_language or "").startswith("en") else "es",
        currency=appointment.currency,
        status=InvoiceStatus.DRAFT,
        due_date=local_start.date() + timedelta(days=billing.payment_due_days),
        tax_document_type=billing.default_tax_document_type,
        created_by=_user_or_none(actor),
    )
    description = f"{appointment.service} · {appointment.professional} · {local_start:%Y-%m-%d %H:%M}"
    line = InvoiceLine(
        kind=InvoiceLine.Kind.APPOINTMENT,
        description=description[:300],
        quantity=1,
        unit_price=appointment.price,
        appointment=appointment,
        service=appointment.service,
    )
    _compute_totals(invoice, [line])
    created = _event(invoice, Action.CREATED, actor=actor, at=now, appointment=appointment.reference)
    _issue(invoice, now, taken)
    _settle(invoice, now)
    invoice.save(force_insert=True)
    line.invoice = invoice
    line.save(force_insert=True)
    created.invoice = invoice
    _log(
        invoice,
        Action.ISSUED,
        actor=actor,
        at=now,
        from_status=InvoiceStatus.DRAFT,
        preceded_by=(created,),
        number=invoice.display_number,
        total=invoice.total,
    )
    if invoice.status == InvoiceStatus.PAID:
        _place_held_appointments(invoice, now)
    return invoice


def book_with_invoice(
    *,
    patient,
    professional,
    service,
    start: datetime,
    location,
    modality: str,
    source: str,
    actor,
    note: str = "",
    coupon_code: str = "",
    hold: bool | None = None,
    staff_override_reason: str | None = None,
    now: datetime | None = None,
) -> tuple[Appointment, Invoice]:
    """Book a session and issue its invoice (with a discount code, if given) in ONE transaction.

    Services paid online at booking are held (``pending_payment``) until paid; the others are confirmed at once.
    ``hold=False`` confirms whatever the payment mode (staff bookings). ``staff_override_reason`` is passed to
    scheduling, which accepts it only from staff allowed to override its rules. A refused code or a taken time
    raises and writes nothing: no session without its invoice, no invoice without its session.
    """
    now = _now(now)
    if hold is None:
        hold = service.payment_mode == PaymentMode.ONLINE_AT_BOOKING
    book = scheduling.hold_slot if hold else scheduling.book_appointment
    with transaction.atomic():
        appointment = book(
            patient=patient,
            professional=professional,
            service=service,
            start=start,
            location=location,
            modality=modality,
            now=now,
            source=source,
            actor=actor,
            note=note,
            staff_override_reason=staff_override_reason,
            savepoint=False,  # a refusal leaves this block too, which rolls back as a whole
        )
        invoice = create_invoice_for_appointment(
            appointment=appointment, actor=actor, now=now, booked_in_this_transaction=True
        )
        if coupon_code:
            invoice = apply_coupon(invoice=invoice, code=coupon_code, actor=actor, now=now)
    return appointment, invoice


def _voidable(invoice: Invoice) -> bool:
    """Draft or open (or paid with nothing, e.g. a free session), and no money kept on it."""
    if invoice.amount_paid - invoice.amount_refunded != 0:
        return False
    return invoice.status in (InvoiceStatus.DRAFT, InvoiceStatus.OPEN) or (
        invoice.status == InvoiceStatus.PAID and invoice.amount_paid == 0
    )


def _void(invoice: Invoice, *, actor, reason: str, now: datetime) -> list[str]:
    """Void a locked invoice; returns the Checkout Sessions to close at Stripe after the commit.

    The coupon redemption stays as history; redemptions on void invoices no longer count against the limits.
    """
    stale_sessions = _cancel_pending_checkouts(invoice, now=now)
    from_status = invoice.status
    invoice.status = InvoiceStatus.VOID
    invoice.save(update_fields=["status", "updated_at"])
    _log(invoice, Action.VOIDED, actor=actor, at=now, from_status=from_status, reason=reason)
    return stale_sessions


def void_invoice(*, invoice: Invoice, actor, reason: str, now: datetime | None = None) -> Invoice:
    """Cancel an invoice that is no longer owed (staff with ``billing.change_invoice``, or the system)."""
    now = _now(now)
    _require_staff(actor, "billing.change_invoice", system_allowed=True)
    reason = _required_reason(reason)
    with transaction.atomic():
        invoice = _lock_invoice(invoice.pk)
        if not _voidable(invoice):
            raise PaymentError("invalid_state")
        stale_sessions = _void(invoice, actor=actor, reason=reason, now=now)
    _expire_sessions_quietly(stale_sessions)
    return invoice


def record_tax_document(
    *, invoice: Invoice, document_type: str, folio: str, actor, now: datetime | None = None
) -> Invoice:
    """Note the SII document (boleta or factura) issued for an invoice: its type and folio."""
    now = _now(now)
    _require_staff(actor, "billing.change_invoice", system_allowed=False)
    document_type = (document_type or "").strip()
    folio = (folio or "").strip()
    if document_type not in TaxDocumentType.values:
        raise PaymentError("invalid_request")
    if bool(document_type) != bool(folio) or len(folio) > Invoice._meta.get_field("tax_document_folio").max_length:
        raise PaymentError("invalid_request")
    with transaction.atomic():
        invoice = _lock_invoice(invoice.pk)
        if invoice.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
            raise PaymentError("invalid_state")
        previous = {"previous_type": invoice.tax_document_type, "previous_folio": invoice.tax_document_folio}
        invoice.tax_document_type, invoice.tax_document_folio = document_type, folio
        invoice.save(update_fields=["tax_document_type", "tax_document_folio", "updated_at"])
        _log(
            invoice,
            Action.TAX_DOCUMENT,
            actor=actor,
            at=now,
            from_status=invoice.status,
            type=document_type,
            folio=folio,
            **previous,
        )
    return invoice


# --- coupons ---------------------------------------------------------------------------------------------------


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


# --- online payment (Stripe Checkout) --------------------------------------------------------------------------


def _check_payable(invoice: Invoice) -> None:
    if invoice.status == InvoiceStatus.OPEN and invoice.balance_due <= 0:
        raise PaymentError("nothing_to_pay")
    if not invoice.is_payable:
        raise PaymentError("invalid_state")


def _checkout_description(invoice: Invoice) -> str:
    first_line = invoice.lines.first()
    description = f"{invoice.display_number} · {first_line.description}" if first_line else invoice.display_number
    return description[:250]


def start_checkout(
    *, invoice: Invoice, success_url: str, cancel_url: str, actor, now: datetime | None = None
) -> Payment:
    """A pending Stripe payment of what is still owed, with the Checkout address to send the patient to.

    An open checkout of the same invoice and amount is reused (a second click does not open a second one);
    older open ones are cancelled. The Checkout lives at least 30 minutes and as long as the session holds.
    """
    now = _now(now)
    _require_owner_or_staff(actor, invoice, "billing.add_payment")
    if not stripe_gateway.is_enabled():
        raise PaymentError("payments_unavailable")
    with transaction.atomic():
        invoice = _lock_invoice(invoice.pk)
        _check_payable(invoice)
        lapsed = Appointment.objects.filter(invoice_lines__invoice=invoice).filter(
            Q(status=AppointmentStatus.PENDING_PAYMENT, hold_expires_at__lte=now)
            | Q(status=AppointmentStatus.CANCELLED, hold_expires_at__isnull=False)
        )
        if lapsed.exists():
            raise PaymentError("hold_expired")  # the checkout would be closed within the minute
        amount = invoice.balance_due
        reusable = (
            Payment.objects.filter(
                invoice=invoice,
                method=PaymentMethod.STRIPE,
                status=PaymentStatus.PENDING,
                amount=amount,
                expires_at__gt=now,
            )
            .exclude(stripe_checkout_url="")
            .order_by("-pk")
            .first()
        )
        if reusable is not None:
            return reusable
        stale_sessions = _cancel_pending_checkouts(invoice, now=now)
        hold_deadlines = Appointment.objects.filter(
            invoice_lines__invoice=invoice, status=AppointmentStatus.PENDING_PAYMENT, hold_expires_at__isnull=False
        ).values_list("hold_expires_at", flat=True)
        expires_at = max([now + CHECKOUT_MIN_LIFETIME, *hold_deadlines])
        payment = Payment.objects.create(
            invoice=invoice,
            method=PaymentMethod.STRIPE,
            amount=amount,
            currency=invoice.currency,
            status=PaymentStatus.PENDING,
            expires_at=expires_at,
            recorded_by=_user_or_none(actor),
        )
        description = _checkout_description(invoice)
    _expire_sessions_quietly(stale_sessions)
    try:
        session = stripe_gateway.create_checkout_session(
            client_reference_id=invoice.reference,
            line_description=description,
            amount=amount,
            currency=invoice.currency,
            customer_email=invoice.billing_email,
            success_url=success_url,
            cancel_url=cancel_url,
            expires_at=expires_at,
            metadata={"invoice": invoice.reference, "payment": str(payment.pk)},
            idempotency_key=f"checkout-{payment.pk}",
            locale=invoice.language,
        )
    except stripe_gateway.GatewayError as exc:
        with transaction.atomic():
            payment = _lock_payment(payment.pk)
            if payment.status == PaymentStatus.PENDING:
                payment.status = PaymentStatus.CANCELLED
                payment.failure_message = str(exc)[:300]
                payment.save(update_fields=["status", "failure_message", "updated_at"])
        raise PaymentError("provider_error") from exc
    with transaction.atomic():
        invoice = _lock_invoice(invoice.pk)
        payment = _lock_payment(payment.pk)
        payment.stripe_checkout_session_id = session.id
        payment.stripe_checkout_url = session.url or ""
        payment.expires_at = session.expires_at or expires_at
        payment.save(update_fields=["stripe_checkout_session_id", "stripe_checkout_url", "expires_at", "updated_at"])
        _log(
            invoice,
            Action.CHECKOUT_STARTED,
            actor=actor,
            at=now,
            from_status=invoice.status,
            payment=payment.pk,
            amount=amount,
            session=session.id,
        )
    return payment


def _refund_due_after_payment(
    invoice: Invoice, payment: Payment, *, from_status: str, now: datetime
) -> tuple[Decimal, str]:
    """What of a payment just recorded must go back, and why (inside the payment's transaction).

    Only an invoice that was open may keep money; a void one or one already paid or refunded gives it all back.
    """
    if from_status == InvoiceStatus.VOID:
        return payment.amount, REASON_VOID_INVOICE
    if from_status != InvoiceStatus.OPEN:
        return payment.amount, REASON_ALREADY_SETTLED
    if invoice.status != InvoiceStatus.PAID:
        return ZERO, ""  # paid in part: the sessions stay held until the rest arrives
    unplaced = _place_held_appointments(invoice, now)
    overpaid = max(invoice.amount_paid - invoice.total, ZERO)
    due = min(sum((line.total for line in unplaced), ZERO) + overpaid, payment.amount)
    return due, (REASON_TIME_TAKEN if unplaced else REASON_OVERPAID)


def _fill_missing_stripe_ids(payment: Payment, *, payment_intent_id: str, charge_id: str) -> None:
    """A later event (``payment_intent.succeeded``) may bring the charge id the first one lacked: keep it."""
    changed = []
    if payment_intent_id and not payment.stripe_payment_intent_id:
        payment.stripe_payment_intent_id = payment_intent_id
        changed.append("stripe_payment_intent_id")
    if charge_id and not payment.stripe_charge_id:
        payment.stripe_charge_id = charge_id
        changed.append("stripe_charge_id")
    if changed:
        payment.save(update_fields=[*changed, "updated_at"])


def confirm_payment(
    *,
    payment: Payment,
    payment_intent_id: str = "",
    charge_id: str = "",
    amount=None,
    now: datetime | None = None,
) -> Payment:
    """Record that Stripe took the money: the payment succeeds, the invoice is paid, held sessions confirmed.

    Idempotent: a payment already succeeded is returned unchanged. A payment cancelled or failed on our side
    is still recorded (the money was taken); whatever was paid for nothing is then refunded by the system.
    """
    now = _now(now)
    try:
        with transaction.atomic():
            invoice = _lock_invoice(payment.invoice_id)
            payment = _lock_payment(payment.pk)
            if payment.status == PaymentStatus.SUCCEEDED:
                _fill_missing_stripe_ids(payment, payment_intent_id=payment_intent_id, charge_id=charge_id)
                return payment
            if amount is not None:
                payment.amount = _money(amount, payment.currency)  # what actually arrived
            payment.status = PaymentStatus.SUCCEEDED
            payment.received_at = now
            payment.failure_message = ""
            payment.stripe_payment_intent_id = payment_intent_id or payment.stripe_payment_intent_id
            payment.stripe_charge_id = charge_id or payment.stripe_charge_id
            payment.save()
            from_status = invoice.status
            invoice.amount_paid += payment.amount
            _settle(invoice, now)
            invoice.save()
            _log(
                invoice,
                Action.PAYMENT_RECORDED,
                actor=None,
                at=now,
                from_status=from_status,
                payment=payment.pk,
                method=payment.method,
                amount=payment.amount,
            )
            refund_due, reason = _refund_due_after_payment(invoice, payment, from_status=from_status, now=now)
            superseded = (
                _cancel_pending_checkouts(invoice, now=now, exclude_pk=payment.pk)
                if invoice.status == InvoiceStatus.PAID
                else []
            )
    except IntegrityError as exc:  # the PaymentIntent is already recorded on another payment
        raise PaymentError("invalid_request") from exc
    _expire_sessions_quietly(superseded)
    if refund_due > 0:
        _refund(payment=payment, amount=refund_due, reason=reason, actor=None, now=now, raise_on_failure=False)
    payment.refresh_from_db()
    return payment


def fail_payment(*, payment: Payment, message: str = "", now: datetime | None = None) -> Payment:
    """A checkout's payment was declined. The hold stays: the patient may try again until it runs out."""
    now = _now(now)
    with transaction.atomic():
        invoice = _lock_invoice(payment.invoice_id)
        payment = _lock_payment(payment.pk)
        if payment.status != PaymentStatus.PENDING:
            return payment
        payment.status = PaymentStatus.FAILED
        payment.failure_message = (message or "")[:300]
        payment.save(update_fields=["status", "failure_message", "updated_at"])
        _log(
            invoice,
            Action.PAYMENT_FAILED,
            actor=None,
            at=now,
            from_status=invoice.status,
            reason=payment.failure_message,
            payment=payment.pk,
        )
    return payment


def expire_checkout(*, payment: Payment, now: datetime | None = None) -> Payment:
    """A checkout was abandoned or expired: cancel the payment and give the held sessions' time back.

    Does nothing to a succeeded or already cancelled payment (a late "expired" message changes nothing), and
    keeps the holds while a newer checkout of the same invoice is still open.
    """
    now = _now(now)
    with transaction.atomic():
        invoice = _lock_invoice(payment.invoice_id)
        payment = _lock_payment(payment.pk)
        if payment.status in (PaymentStatus.SUCCEEDED, PaymentStatus.CANCELLED):
            return payment
        if payment.status == PaymentStatus.PENDING:
            payment.status = PaymentStatus.CANCELLED
            payment.save(update_fields=["status", "updated_at"])
            _log(invoice, Action.CHECKOUT_EXPIRED, actor=None, at=now, from_status=invoice.status, payment=payment.pk)
        another_open = (
            Payment.objects.filter(
                invoice=invoice, method=PaymentMethod.STRIPE, status=PaymentStatus.PENDING, expires_at__gt=now
            )
            .exclude(pk=payment.pk)
            .exists()
        )
        if invoice.status == InvoiceStatus.OPEN and not another_open:
            _release_held_appointments(invoice, now)
            if _lapsed_hold_invoice(invoice):
                _void(invoice, actor=None, reason=REASON_HOLD_LAPSED, now=now)
    return payment


def expire_stale_checkouts(*, now: datetime | None = None) -> int:
    """Close the checkouts that can no longer be paid in time; returns how many were expired.

    Stale: past its own deadline, or a session it pays for lost its hold. Each is expired at Stripe first (a
    Stripe error leaves it for the next run); one Stripe reports paid meanwhile is confirmed instead.
    """
    now = _now(now)
    stale = list(
        Payment.objects.filter(method=PaymentMethod.STRIPE, status=PaymentStatus.PENDING)
        .filter(Q(expires_at__lte=now) | Q(invoice__lines__appointment__hold_expires_at__lte=now))
        .distinct()
        .order_by("pk")[:STALE_CHECKOUTS_PER_RUN]
    )
    expired = 0
    for payment in stale:
        session_id = payment.stripe_checkout_session_id
        if session_id:
            try:
                session = stripe_gateway.expire_checkout_session(session_id)
            except stripe_gateway.GatewayError:
                try:  # Stripe refuses to expire a session that is complete: look at what happened
                    session = stripe_gateway.retrieve_checkout_session(session_id)
                except stripe_gateway.GatewayError:
                    logger.warning("Stripe Checkout Session %s not expired; retrying later", session_id, exc_info=True)
                    continue
            if session.payment_status == "paid":
                try:
                    confirm_payment(
                        payment=payment,
                        payment_intent_id=session.payment_intent_id or "",
                        amount=session.amount_total,
                        now=now,
                    )
                except PaymentError:
                    logger.exception(
                        "Stripe reports Checkout Session %s paid but it could not be recorded", session_id
                    )
                continue
            if session.status == "open":
                continue  # still payable at Stripe: expiring ours would strand the money
        expire_checkout(payment=payment, now=now)
        expired += 1
    return expired


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


# --- offline payments ------------------------------------------------------------------------------------------


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
        superseded = []
        if invoice.status == InvoiceStatus.PAID:
            if _place_held_appointments(invoice, now):
                raise PaymentError("slot_unavailable")  # rolls the payment back with everything else
            superseded = _cancel_pending_checkouts(invoice, now=now)
    _expire_sessions_quietly(superseded)
    return payment


# --- refunds ---------------------------------------------------------------------------------------------------


def _refund_status(stripe_status: str) -> str:
    if stripe_status == "succeeded":
        return Refund.Status.SUCCEEDED
    if stripe_status in ("failed", "canceled", "cancelled"):
        return Refund.Status.FAILED
    return Refund.Status.PENDING


def _complete_refund(invoice: Invoice, refund: Refund, now: datetime) -> None:
    """Mark a locked pending refund succeeded and count it on the locked invoice."""
    refund.status = Refund.Status.SUCCEEDED
    refund.completed_at = now
    refund.save(update_fields=["status", "completed_at", "stripe_refund_id"])
    from_status = invoice.status
    invoice.amount_refunded += refund.amount
    _settle(invoice, now)
    invoice.save()
    _log(
        invoice,
        Action.REFUNDED,
        actor=refund.actor,
        at=now,
        from_status=from_status,
        reason=refund.reason,
        payment=refund.payment_id,
        refund=refund.pk,
        amount=refund.amount,
    )


def _fail_refund(refund: Refund, message: str) -> None:
    refund.status = Refund.Status.FAILED
    refund.failure_message = (message or "")[:300]
    refund.save(update_fields=["status", "failure_message", "stripe_refund_id"])


def _refund(*, payment: Payment, amount, reason: str, actor, now: datetime, raise_on_failure: bool) -> Refund:
    with transaction.atomic():
        invoice = _lock_invoice(payment.invoice_id)
        payment = _lock_payment(payment.pk)
        if payment.status != PaymentStatus.SUCCEEDED:
            raise PaymentError("invalid_state")
        refundable = payment.refundable_amount
        value = refundable if amount is None else _money(amount, payment.currency)
        if refundable <= 0:
            raise PaymentError("nothing_to_refund")
        if value > refundable:
            raise PaymentError("amount_too_large")
        online = payment.method == PaymentMethod.STRIPE
        if online and not payment.stripe_payment_intent_id:
            raise PaymentError("invalid_state")
        if online and not stripe_gateway.is_enabled():
            raise PaymentError("payments_unavailable")
        refund = Refund.objects.create(
            payment=payment, amount=value, reason=reason, actor=_user_or_none(actor), created_at=now
        )
        if not online:  # the money is handed back at the desk: done at once
            _complete_refund(invoice, refund, now)
            return refund
    try:
        result = stripe_gateway.create_refund(
            payment_intent_id=payment.stripe_payment_intent_id,
            amount=value,
            currency=payment.currency,
            idempotency_key=f"refund-{refund.pk}",
            metadata={"invoice": invoice.reference, "payment": str(payment.pk), "refund": str(refund.pk)},
        )
    except stripe_gateway.GatewayError as exc:
        with transaction.atomic():
            refund = Refund.objects.select_for_update().get(pk=refund.pk)
            if refund.status == Refund.Status.PENDING:
                _fail_refund(refund, str(exc))
        logger.warning("Stripe refund %s failed", refund.pk, exc_info=True)
        if raise_on_failure:
            raise PaymentError("provider_error") from exc
        return refund
    with transaction.atomic():
        invoice = _lock_invoice(payment.invoice_id)
        _lock_payment(payment.pk)
        refund = Refund.objects.select_for_update().get(pk=refund.pk)
        refund.stripe_refund_id = refund.stripe_refund_id or result.id or ""
        status = _refund_status(result.status)
        if refund.status != Refund.Status.PENDING:  # a webhook got here first
            pass
        elif status == Refund.Status.SUCCEEDED:
            _complete_refund(invoice, refund, now)
        elif status == Refund.Status.FAILED:
            _fail_refund(refund, result.status)
        else:
            refund.save(update_fields=["stripe_refund_id"])
    if refund.status == Refund.Status.FAILED and raise_on_failure:
        raise PaymentError("refund_failed")
    return refund


def refund_payment(*, payment: Payment, amount=None, reason: str, actor, now: datetime | None = None) -> Refund:
    """Give money back (all that is left when ``amount`` is None); staff with ``billing.add_refund`` or the system.

    Cash, transfers and card-terminal payments are refunded at once. A Stripe refund is created pending and
    sent to Stripe outside the lock; it succeeds when Stripe says so (now or later, through the webhook).
    """
    now = _now(now)
    _require_staff(actor, "billing.add_refund", system_allowed=True)
    reason = _required_reason(reason)
    return _refund(payment=payment, amount=amount, reason=reason, actor=actor, now=now, raise_on_failure=True)


def record_stripe_refund(
    *, payment: Payment, stripe_refund_id: str, amount, status: str, now: datetime | None = None
) -> Refund | None:
    """Reconcile a refund Stripe reports (``charge.refunded``): ours completing, or one made in the dashboard.

    Returns the refund created or changed; None when it changes nothing (already recorded, or a dashboard
    refund that failed). Our own refund whose Stripe id we had not stored yet is recognised by its amount.
    """
    now = _now(now)
    if not stripe_refund_id:
        raise PaymentError("invalid_request")
    new_status = _refund_status(status)
    with transaction.atomic():
        invoice = _lock_invoice(payment.invoice_id)
        payment = _lock_payment(payment.pk)
        value = _money(amount, payment.currency)
        refund = Refund.objects.select_for_update().filter(stripe_refund_id=stripe_refund_id).first()
        if refund is None:
            refund = (
                Refund.objects.select_for_update()
                .filter(payment=payment, status=Refund.Status.PENDING, stripe_refund_id="", amount=value)
                .order_by("pk")
                .first()
            )
            if refund is not None:
                refund.stripe_refund_id = stripe_refund_id
                refund.save(update_fields=["stripe_refund_id"])
        if refund is not None:
            if refund.payment_id != payment.pk:
                raise PaymentError("invalid_request")
            if refund.status != Refund.Status.PENDING or new_status == Refund.Status.PENDING:
                return None
            if new_status == Refund.Status.SUCCEEDED:
                _complete_refund(invoice, refund, now)
            else:
                _fail_refund(refund, status)
            return refund
        if new_status == Refund.Status.FAILED:
            return None
        if payment.status != PaymentStatus.SUCCEEDED or value > payment.refundable_amount:
            raise PaymentError("amount_too_large")
        refund = Refund.objects.create(
            payment=payment,
            amount=value,
            reason=REASON_STRIPE_DASHBOARD,
            stripe_refund_id=stripe_refund_id,
            created_at=now,
        )
        if new_status == Refund.Status.SUCCEEDED:
            _complete_refund(invoice, refund, now)
    return refund


def apply_cancellation_outcome(*, outcome: CancellationOutcome, actor, now: datetime | None = None) -> list[Refund]:
    """Carry out what the cancellation policy decided about the cancelled session's invoice.

    Nothing paid: the invoice is voided. Full refund: every payment is refunded by the system, and an invoice
    still unpaid is voided. No refund (a late cancellation): nothing changes, the invoice stays owed, and the
    event says why. Returns the refunds made (a Stripe one may have failed: see its status).
    """
    now = _now(now)
    invoice = invoice_for_appointment(outcome.appointment)
    if invoice is None:
        return []
    if outcome.refund == RefundDecision.NO_REFUND:
        with transaction.atomic():
            invoice = _lock_invoice(invoice.pk)
            _log(
                invoice,
                LATE_CANCELLATION,
                actor=actor,
                at=now,
                from_status=invoice.status,
                reason=REASON_LATE_CANCELLATION,
                appointment=outcome.appointment.reference,
            )
        return []
    refunds = []
    payments = Payment.objects.filter(invoice=invoice, status=PaymentStatus.SUCCEEDED).prefetch_related("refunds")
    for payment in payments:
        if payment.refundable_amount > 0:
            refunds.append(
                _refund(
                    payment=payment,
                    amount=None,
                    reason=REASON_CANCELLED_REFUND,
                    actor=None,
                    now=now,
                    raise_on_failure=False,
                )
            )
    stale_sessions = []
    with transaction.atomic():
        invoice = _lock_invoice(invoice.pk)
        if _voidable(invoice):
            stale_sessions = _void(invoice, actor=actor, reason=REASON_CANCELLED, now=now)
    _expire_sessions_quietly(stale_sessions)
    return refunds


__all__ = [
    "apply_cancellation_outcome",
    "apply_coupon",
    "book_with_invoice",
    "confirm_payment",
    "create_invoice_for_appointment",
    "expire_checkout",
    "expire_stale_checkouts",
    "void_lapsed_hold_invoices",
    "fail_payment",
    "payment_for_checkout_session",
    "payment_for_payment_intent",
    "record_offline_payment",
    "record_stripe_refund",
    "record_tax_document",
    "refund_payment",
    "remove_coupon",
    "start_checkout",
    "void_invoice",
]
