"""Invoicing a session (booked and invoiced in one transaction), voiding an invoice, recording the SII document."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction

from booking.scheduling import services as scheduling
from booking.scheduling.models import Appointment, AppointmentStatus, PaymentMode

from ..errors import PaymentError
from ..models import (
    Invoice,
    InvoiceLine,
    InvoiceSeries,
    InvoiceStatus,
    TaxDocumentType,
)
from ..selectors import invoice_for_appointment
from ._common import (
    PLACEABLE_STATUSES,
    Action,
    _billing_settings,
    _compute_totals,
    _default_series,
    _event,
    _expire_sessions_after_commit,
    _give_number,
    _has_perm,
    _issue,
    _lock_invoice,
    _log,
    _now,
    _require_staff,
    _required_reason,
    _settle,
    _take_default_series_number,
    _user_or_none,
    _void,
    _voidable,
)
from .coupons import apply_coupon
from .holds import _place_held_appointments

logger = logging.getLogger(__name__)


def create_invoice_for_appointment(
    *,
    appointment: Appointment,
    actor,
    now: datetime | None = None,
    booked_in_this_transaction: bool = False,
    number_later: bool = False,
) -> Invoice:
    """Invoice one session; the appointment's existing (non-void) invoice if it has one.

    A confirmed session's invoice is issued (numbered) at once. A held session's is open and payable but takes
    its number only when paid or confirmed (see ``_issue_appointment_invoice``). A session that costs nothing gets
    an invoice paid at once (its hold, if any, is confirmed).

    ``booked_in_this_transaction`` is for ``book_with_invoice``, which created ``appointment`` (with its patient,
    user, location, service and professional loaded) in its still-open transaction: nobody else sees the session
    yet and it has no invoice, so the lock, the look-up and the SAVEPOINT are skipped (a refusal rolls back the
    caller's block as a whole). So is ``number_later``: a discount code is applied first, and the caller numbers
    the invoice after the coupon's lock (``_give_number`` explains why the series' lock comes last).
    """
    now = _now(now)
    if booked_in_this_transaction:
        with transaction.atomic(savepoint=False):
            _check_may_invoice(appointment, actor)
            return _issue_appointment_invoice(appointment, actor=actor, now=now, numbered=not number_later)
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


def _issue_appointment_invoice(appointment: Appointment, *, actor, now: datetime, numbered: bool = True) -> Invoice:
    """Write the open invoice of ``appointment`` (loaded with its patient, user, location, service, professional).

    Runs inside the caller's transaction. The invoice and its line are inserted already numbered and totalled
    (the number taken first), and both events ("created" as a draft, then "issued") in one statement: five
    queries, with the same rows and history as creating a draft and issuing it.

    A hold's invoice (or one the caller numbers itself later, ``numbered=False``) is inserted open but without a
    number, with only its "created" event: a hold given back unpaid must not use up a number of the gapless
    series. ``_give_number`` numbers it once paid (``_place_held_appointments``) or confirmed.
    """
    if appointment.status not in PLACEABLE_STATUSES:
        raise PaymentError("invalid_state")
    patient = appointment.patient
    due_in = timedelta(days=_billing_settings().payment_due_days)
    location = appointment.location
    zone = location.tzinfo if location is not None else ZoneInfo(settings.TIME_ZONE)
    local_start = appointment.start.astimezone(zone)
    numbered = numbered and appointment.status != AppointmentStatus.PENDING_PAYMENT
    taken = _take_default_series_number() if numbered else None
    invoice = _new_invoice(
        patient, currency=appointment.currency, due_date=local_start.date() + due_in, actor=actor, taken=taken
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
    _insert_invoice(invoice, line, taken=taken, actor=actor, now=now, appointment=appointment.reference)
    return invoice


def _new_invoice(patient, *, currency: str, due_date, actor, taken: tuple[InvoiceSeries, int] | None) -> Invoice:
    """An unsaved draft invoice for ``patient`` (loaded with its user), billed to their name, email and RUT."""
    user = patient.user
    billing = _billing_settings()
    return Invoice(
        series=taken[0] if taken else _default_series(),
        patient=patient,
        billing_name=(user.get_full_name() or user.email)[:200],
        billing_email=user.email,
        billing_phone=(patient.phone or user.phone)[:40],
        billing_tax_id=patient.rut or "",
        language="en" if (user.preferred_language or "").startswith("en") else "es",
        currency=currency,
        status=InvoiceStatus.DRAFT,
        due_date=due_date,
        tax_document_type=billing.default_tax_document_type,
        created_by=_user_or_none(actor),
    )


def _insert_invoice(
    invoice: Invoice, line: InvoiceLine, *, taken: tuple[InvoiceSeries, int] | None, actor, now: datetime, **data
) -> None:
    """Insert a new invoice with its one line, already totalled, and its history.

    With a number ``taken``, it is issued at once: "created" as a draft and "issued" in one statement. Without one
    it is open and payable but unnumbered, with only its "created" event (``_give_number`` numbers it once paid or
    confirmed), so an abandoned hold or checkout uses no number of the gapless series. An invoice that costs
    nothing is paid at once, and what it holds is placed (``_place_held_appointments``).
    """
    _compute_totals(invoice, [line])
    if taken is None:
        invoice.status = InvoiceStatus.OPEN
        _settle(invoice, now)
        created = _event(invoice, Action.CREATED, actor=actor, at=now, **data)
    else:
        created = _event(invoice, Action.CREATED, actor=actor, at=now, **data)
        _issue(invoice, now, taken)
        _settle(invoice, now)
    invoice.save(force_insert=True)
    line.invoice = invoice
    line.save(force_insert=True)
    created.invoice = invoice
    if taken is None:
        created.save(force_insert=True)
    else:
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


def create_pack_invoice(
    *, patient, description: str, price, currency: str, actor, numbered: bool, now: datetime | None = None
) -> InvoiceLine:
    """Write the open invoice selling one pack, with its one line of kind ``pack``; returns that line.

    For ``booking.packs.services.purchase_pack``, inside its transaction (the caller checks who may sell; the pack
    links its purchase to the line). ``numbered``: a pack paid at the clinic is owed at once, so its invoice is
    issued (numbered) now; one bought online is open and payable but numbered only once paid (``_give_number``
    from ``_place_held_appointments``), like a hold's, so an abandoned checkout uses no number. A pack that costs
    nothing is issued and paid at once (the caller activates it: the pack is not linked to the line yet when
    ``signals.invoice_paid`` is sent here).
    """
    now = _now(now)
    numbered = numbered or price == 0
    local_today = now.astimezone(ZoneInfo(settings.TIME_ZONE)).date()
    due_date = local_today + timedelta(days=_billing_settings().payment_due_days)
    taken = _take_default_series_number() if numbered else None
    invoice = _new_invoice(patient, currency=currency, due_date=due_date, actor=actor, taken=taken)
    line = InvoiceLine(kind=InvoiceLine.Kind.PACK, description=description[:300], quantity=1, unit_price=price)
    _insert_invoice(invoice, line, taken=taken, actor=actor, now=now)
    return line


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
    """Book a session and invoice it (with a discount code, if given) in ONE transaction.

    Services paid online at booking are held (``pending_payment``) until paid, their invoice unnumbered until
    then; the others are confirmed at once and their invoice numbered.
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
            appointment=appointment,
            actor=actor,
            now=now,
            booked_in_this_transaction=True,
            number_later=bool(coupon_code),
        )
        if coupon_code:
            invoice = apply_coupon(invoice=invoice, code=coupon_code, actor=actor, now=now)
            if not hold:
                _give_number(invoice, actor=actor, now=now)
    return appointment, invoice


def void_invoice(*, invoice: Invoice, actor, reason: str, now: datetime | None = None) -> Invoice:
    """Cancel an invoice that is no longer owed (staff with ``billing.change_invoice``, or the system)."""
    now = _now(now)
    _require_staff(actor, "billing.change_invoice", system_allowed=True)
    reason = _required_reason(reason)
    with transaction.atomic():
        invoice = _lock_invoice(invoice.pk)
        if not _voidable(invoice):
            raise PaymentError("invalid_state")
        _expire_sessions_after_commit(_void(invoice, actor=actor, reason=reason, now=now))
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
