"""What the professional's pages read: their own sessions of a day or a week, their patients, one session's history.

Everything is scoped to the logged-in professional (``professional_for``): another professional's session or a
patient they have never seen is a 404. Lists run a fixed number of queries: invoices are prefetched and the pack
session numbers ("3 of 8") are computed for the whole list from one ledger query (``pack_numbers``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Exists, Max, Min, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import Http404

from booking.billing.models import InvoiceLine, InvoiceStatus
from booking.packs.models import CreditKind, PackCreditEntry
from booking.packs.selectors import balances_for_purchases
from booking.scheduling.models import Appointment, Professional
from portal.accounts.models import Patient
from portal.accounts.search import search_patients
from portal.records import crypto, notes
from portal.records.models import Discharge, Referral

logger = logging.getLogger(__name__)


def professional_for(user) -> Professional:
    """The logged-in user's professional profile; 404 for anybody else (the pages do not exist for them)."""
    professional = Professional.objects.filter(user_id=getattr(user, "pk", None)).first()
    if professional is None:
        raise Http404
    return professional


def own_sessions(professional: Professional) -> QuerySet[Appointment]:
    """The professional's sessions with what the lists show; holds given back unpaid are left out."""
    invoice_lines = InvoiceLine.objects.exclude(invoice__status=InvoiceStatus.VOID).select_related("invoice")
    return (
        Appointment.objects.filter(professional=professional)
        .other_than_lapsed_holds()
        .select_related("service", "location", "patient__user", "pack_purchase")
        .prefetch_related(Prefetch("invoice_lines", queryset=invoice_lines, to_attr="live_invoice_lines"))
    )


def day_bounds(day: date, zone) -> tuple[datetime, datetime]:
    """The first instant of ``day`` and of the next, on the zone's clock (a day may start at 01:00 in Santiago)."""
    return datetime.combine(day, time(0), tzinfo=zone), datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


def sessions_between(professional: Professional, start: datetime, end: datetime) -> list[Appointment]:
    return list(own_sessions(professional).filter(start__gte=start, start__lt=end).order_by("start", "pk"))


def pack_numbers(appointments: list[Appointment]) -> dict[int, tuple[int, int]]:
    """``{appointment id: (number, total)}`` for the sessions booked from a pack that still hold their credit."""
    purchases = {appointment.pack_purchase_id: appointment.pack_purchase for appointment in appointments}
    purchases.pop(None, None)
    if not purchases:
        return {}
    rows = PackCreditEntry.objects.filter(
        purchase_id__in=list(purchases), kind__in=(CreditKind.RESERVED, CreditKind.RELEASED)
    ).values_list("purchase_id", "kind", "appointment_id", "appointment__start")
    starts, released = defaultdict(dict), set()
    for purchase_id, kind, appointment_id, start in rows:
        if kind == CreditKind.RELEASED:
            released.add(appointment_id)
        else:
            starts[purchase_id][appointment_id] = start
    totals = {pk: balance.total for pk, balance in balances_for_purchases(purchases.values()).items()}
    numbers = {}
    for purchase_id, by_appointment in starts.items():
        counted = sorted((start, pk) for pk, start in by_appointment.items() if pk not in released)
        for position, (_start, appointment_id) in enumerate(counted, start=1):
            numbers[appointment_id] = (position, totals.get(purchase_id, 0))
    return numbers


def my_patients(professional: Professional, query: str = "") -> QuerySet[Patient]:
    """The professional's patients: those who have (or had) a session with them, and those referred to them.

    Each with their count of sessions with the professional, first and last, who referred them last
    (``referred_by``, empty if nobody) and the date of the professional's latest discharge of them
    (``discharged_on``). One query for the page, whatever the number of patients.
    """
    sessions = Appointment.objects.filter(professional=professional).values("patient_id")
    referred = Referral.objects.filter(to_professional=professional).values("patient_id")
    latest_referral = Referral.objects.filter(patient=OuterRef("pk"), to_professional=professional).order_by(
        "-created_at", "-pk"
    )
    latest_discharge = Discharge.objects.filter(patient=OuterRef("pk"), professional=professional).order_by(
        "-created_at", "-pk"
    )
    mine = Q(appointments__professional=professional)
    patients = (
        Patient.objects.filter(Q(pk__in=sessions) | Q(pk__in=referred))
        .select_related("user")
        .annotate(
            session_count=Count("appointments", filter=mine),
            first_session=Min("appointments__start", filter=mine),
            last_session=Max("appointments__start", filter=mine),
            referred_by=Subquery(latest_referral.values("from_professional__display_name")[:1]),
            discharged_on=Subquery(latest_discharge.values("date")[:1]),
        )
        .order_by("user__last_name", "user__first_name", "pk")
    )
    return search_patients(patients, query)


def my_patient(professional: Professional, patient_id: int) -> Patient:
    """One of the professional's patients; 404 for a patient they have never seen nor been referred."""
    patient = my_patients(professional).filter(pk=patient_id).first()
    if patient is None:
        raise Http404
    return patient


def _decrypted(token: str) -> str | None:
    """The clear text, or None when no configured key opens it (the page says so; never ciphertext)."""
    try:
        return crypto.decrypt(token)
    except crypto.UndecryptableNote:
        logger.error("A discharge summary or referral note cannot be decrypted with the configured keys")
        return None


def care_record(professional: Professional, patient: Patient, *, now: datetime | None = None) -> dict:
    """What the patient's page shows the professional about discharge and referral, decrypted for them only.

    - ``discharge``: their own latest discharge of the patient (date and summary), and ``referred_back`` when a
      referral to them is newer (the patient may book them again);
    - ``received``: referrals to them, and referrals to a service only when they have had a session of that service
      with the patient since (they are the service's receiver), each with its note;
    - ``made``: the referrals they made of this patient;
    - ``shared_notes``: the signed notes other professionals shared with them by referring (reads logged).
    Bounded: a handful of queries whatever the number of referrals and notes.
    """
    discharge = (
        Discharge.objects.filter(patient=patient, professional=professional).order_by("-created_at", "-pk").first()
    )
    referrals = Referral.objects.filter(patient=patient).select_related(
        "from_professional", "to_professional", "to_service"
    )
    my_services_since = Appointment.objects.filter(
        patient=patient,
        professional=professional,
        service_id=OuterRef("to_service_id"),
        created_at__gte=OuterRef("created_at"),
    )
    received = list(
        referrals.filter(
            Q(to_professional=professional)
            | Q(to_professional__isnull=True, pk__in=referrals.filter(Exists(my_services_since)).values("pk"))
        ).order_by("-created_at", "-pk")
    )
    made = list(referrals.filter(from_professional=professional).order_by("-created_at", "-pk"))
    try:
        shared, shared_unreadable = notes.shared_notes(patient_id=patient.pk, reader=professional.user, now=now), False
    except crypto.UndecryptableNote:
        logger.error("A shared session note of patient %s cannot be decrypted with the configured keys", patient.pk)
        shared, shared_unreadable = [], True
    return {
        "discharge": discharge,
        "discharge_summary": _decrypted(discharge.summary_encrypted) if discharge else None,
        "referred_back": discharge is not None
        and any(
            item.to_professional_id == professional.pk and item.created_at > discharge.created_at for item in received
        ),
        "received": [(item, _decrypted(item.note_encrypted)) for item in received],
        "made": [(item, _decrypted(item.note_encrypted)) for item in made],
        "shared_notes": shared,
        "shared_notes_unreadable": shared_unreadable,
    }
