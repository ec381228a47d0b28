"""What every billing use case shares: permission checks, row locks in the one order, the invoice history,
totals and the status derived from the amounts, gapless numbering, and voiding (which closes open checkouts)."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db import connection, transaction
from django.utils import timezone

from booking.scheduling.models import AppointmentStatus
from booking.scheduling.money import quantize

from .. import providers
from ..errors import PaymentError
from ..models import (
    ZERO,
    BillingSettings,
    Invoice,
    InvoiceEvent,
    InvoiceLine,
    InvoiceSeries,
    InvoiceStatus,
    Payment,
    PaymentStatus,
)
from ..signals import invoice_voided

logger = logging.getLogger(__name__)


logger = logging.getLogger(__name__)


Action = InvoiceEvent.Action


DEFAULT_SERIES_CODE = "default"


STALE_CHECKOUTS_PER_RUN = 200


LATE_CANCELLATION = Action.LATE_CANCELLATION


REASON_TIME_TAKEN = "the time was taken before the payment arrived"


REASON_VOID_INVOICE = "payment received for a void invoice"


REASON_OVERPAID = "paid more than the invoice asked for"


REASON_ALREADY_SETTLED = "payment received for an invoice that was already settled"


REASON_HOLD_LAPSED = "the held time ran out before payment"


REASON_CANCELLED = "appointment cancelled"


REASON_CANCELLED_REFUND = "appointment cancelled within the cancellation window"


REASON_LATE_CANCELLATION = "late cancellation: the session is still charged"


REASON_CHECKOUT_NOT_COMPLETED = "online payment not completed"


PLACEABLE_STATUSES = (
    AppointmentStatus.PENDING_PAYMENT,
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.COMPLETED,
    AppointmentStatus.NO_SHOW_PATIENT,
)


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

    The UPDATE locks the series row until the transaction ends, as a SELECT ... FOR UPDATE would, so numbers are
    handed out in order and a rollback gives the number back (no gaps); it saves that SELECT.
    """
    for _attempt in range(2):
        taken = _take_number("code", DEFAULT_SERIES_CODE)
        if taken is not None:
            return taken
        _default_series()  # first invoice ever: create the series, then take its first number
    raise InvoiceSeries.DoesNotExist(DEFAULT_SERIES_CODE)


def _take_number(field: str, value) -> tuple[InvoiceSeries, int] | None:
    """The series whose ``field`` is ``value`` and the number taken from it (locked, as above); None if none."""
    table = connection.ops.quote_name(InvoiceSeries._meta.db_table)
    column = {name: connection.ops.quote_name(InvoiceSeries._meta.get_field(name).column) for name in _SERIES_FIELDS}
    sql = (
        f"UPDATE {table} SET {column['next_number']} = {column['next_number']} + 1 WHERE {column[field]} = %s "
        f"RETURNING {', '.join(column[name] for name in _SERIES_FIELDS)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [value])
        row = cursor.fetchone()
    if row is None:
        return None
    series = InvoiceSeries(**dict(zip(_SERIES_FIELDS, row, strict=True)))
    return series, series.next_number - 1


_SERIES_FIELDS = ("id", "code", "prefix", "name", "next_number")


def _issue(invoice: Invoice, now: datetime, taken: tuple[InvoiceSeries, int]) -> None:
    """Open the invoice with the number the caller took from its series (``_take_default_series_number``).

    Taken in the caller's transaction under the series' row lock: a rollback gives the number back, so no gaps.
    """
    invoice.series, invoice.number = taken
    invoice.status = InvoiceStatus.OPEN
    invoice.issued_at = now


def _give_number(invoice: Invoice, *, actor, now: datetime) -> None:
    """Number an invoice left unnumbered while it was a hold's, now that it is paid or its booking confirmed.

    A hold's invoice is payable but takes no number, so abandoned checkouts leave no void numbers in the gapless
    series (pretix's "invoice when paid"). Call it last in the caller's transaction: the series row stays locked
    until the commit (a rollback gives the number back), and every writer takes that lock after the others
    (professional, patient, coupon, invoice, appointment), so no two wait for each other in opposite orders.
    Does nothing to an invoice already numbered, a draft or a void one.
    """
    if invoice.number is not None or invoice.status in (InvoiceStatus.DRAFT, InvoiceStatus.VOID):
        return
    taken = _take_number("id", invoice.series_id)
    if taken is None:
        raise InvoiceSeries.DoesNotExist(invoice.series_id)
    invoice.series, invoice.number = taken
    invoice.issued_at = now
    invoice.save(update_fields=["number", "issued_at", "updated_at"])
    _log(
        invoice,
        Action.ISSUED,
        actor=actor,
        at=now,
        from_status=invoice.status,
        number=invoice.display_number,
        total=invoice.total,
    )


def _check_payable(invoice: Invoice) -> None:
    if invoice.status == InvoiceStatus.OPEN and invoice.balance_due <= 0:
        raise PaymentError("nothing_to_pay")
    if not invoice.is_payable:
        raise PaymentError("invalid_state")


def _cancel_pending_checkouts(
    invoice: Invoice, *, now: datetime, exclude_pk: int | None = None
) -> list[tuple[str, str]]:
    """Cancel the invoice's open online payments (inside the caller's transaction).

    Returns their (provider, checkout reference) pairs, to be closed at the provider after the commit.
    """
    pending = list(Payment.objects.open_checkouts().select_for_update().filter(invoice=invoice).exclude(pk=exclude_pk))
    for payment in pending:
        payment.status = PaymentStatus.CANCELLED
        payment.save(update_fields=["status", "updated_at"])
        _log(invoice, Action.CHECKOUT_EXPIRED, actor=None, at=now, from_status=invoice.status, payment=payment.pk)
    return [(payment.provider, payment.provider_reference) for payment in pending if payment.provider_reference]


def _expire_sessions_quietly(checkouts: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Close superseded checkouts at their provider (outside any transaction); returns those it did not close.

    Each checkout is ``(provider identifier, provider reference)``. A failure only means that a later payment
    through one of them is refunded.
    """
    failed = []
    for identifier, reference in checkouts:
        provider = providers.get_provider(identifier)
        if provider is None:
            logger.warning("Checkout %s names the unknown payment provider %r", reference, identifier)
            continue
        try:
            provider.expire_checkout(reference)
        except providers.ProviderError:
            logger.warning("Could not expire %s checkout %s", provider, reference, exc_info=True)
            failed.append((identifier, reference))
    return failed


def _expire_sessions_after_commit(checkouts: list[tuple[str, str]]) -> None:
    """Close these checkouts at their provider once the current transaction commits (a huey task, retried).

    Called inside the transaction that cancelled their payments: a rollback forgets them, and no provider call
    waits while its locks are held. Outside a transaction the task is enqueued at once.
    """
    if not checkouts:
        return

    def enqueue(checkouts: tuple[tuple[str, str], ...] = tuple(checkouts)) -> None:
        from ..tasks import expire_provider_checkouts  # the tasks module imports the services

        expire_provider_checkouts([list(checkout) for checkout in checkouts])

    transaction.on_commit(enqueue, robust=True)


def _voidable(invoice: Invoice, *, being_refunded: Decimal = ZERO) -> bool:
    """Draft or open (or paid with nothing, e.g. a free session), and no money kept on it.

    ``being_refunded``: pending refunds just decided in the same transaction, counted as given back already.
    """
    if invoice.amount_paid - invoice.amount_refunded - being_refunded != 0:
        return False
    return invoice.status in (InvoiceStatus.DRAFT, InvoiceStatus.OPEN) or (
        invoice.status == InvoiceStatus.PAID and invoice.amount_paid == 0
    )


def _void(invoice: Invoice, *, actor, reason: str, now: datetime) -> list[tuple[str, str]]:
    """Void a locked invoice; returns the checkouts to close at their provider after the commit
    (``_expire_sessions_after_commit``).

    The coupon redemption stays as history; redemptions on void invoices no longer count against the limits.
    ``signals.invoice_voided`` lets what the invoice sells (a pack) follow, or refuse, in this transaction.
    """
    stale_sessions = _cancel_pending_checkouts(invoice, now=now)
    from_status = invoice.status
    invoice.status = InvoiceStatus.VOID
    invoice.save(update_fields=["status", "updated_at"])
    _log(invoice, Action.VOIDED, actor=actor, at=now, from_status=from_status, reason=reason)
    invoice_voided.send(sender=Invoice, invoice=invoice, actor=actor, reason=reason, now=now)
    return stale_sessions
