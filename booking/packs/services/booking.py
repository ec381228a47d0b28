"""Booking a session with a pack's credit.

A session booked from a pack is confirmed at once and has **no invoice of its own**: the pack's invoice carries
the money (one line of kind ``pack``). Its ``price`` stays the service's list price, for reports; nothing bills
it. Cancelling it therefore moves no money (``billing.apply_cancellation_outcome`` finds no invoice); what it costs
is a pack session, settled on the ledger.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from booking.scheduling import services as scheduling
from booking.scheduling.models import Appointment, Location, Professional, Service

from ..errors import PackError
from ..models import PackagePurchase
from .credits import reserve_session


def book_from_pack(
    *,
    purchase: PackagePurchase,
    professional: Professional,
    service: Service,
    start: datetime,
    location: Location | None = None,
    modality: str,
    source: str,
    actor,
    note: str = "",
    staff_override_reason: str | None = None,
    now: datetime | None = None,
) -> Appointment:
    """Book ``start`` with ``professional`` for the purchase's patient and reserve one of its sessions: ONE
    transaction, so there is never a session without its credit nor a credit without its session.

    Scheduling's rules (free time, notice, horizon, the patient's other sessions, modality) raise ``BookingError``;
    the pack's (not active, expired or expiring before ``start``, service or professional not covered, nothing
    left, not the actor's pack) raise ``PackError``. Either way nothing is written.
    """
    now = now if now is not None else timezone.now()
    if not isinstance(purchase, PackagePurchase) or purchase.pk is None:
        raise PackError("invalid_request")
    with transaction.atomic():
        appointment = scheduling.book_appointment(
            patient=purchase.patient,
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
        reserve_session(purchase=purchase, service=service, appointment=appointment, actor=actor, now=now)
    return appointment
