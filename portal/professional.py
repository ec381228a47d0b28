"""What the professional's pages read: their own sessions of a day or a week, their patients, one session's history.

Everything is scoped to the logged-in professional (``professional_for``): another professional's session or a
patient they have never seen is a 404. Lists run a fixed number of queries: invoices are prefetched and the pack
session numbers ("3 of 8") are computed for the whole list from one ledger query (``pack_numbers``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from django.db.models import Count, Max, Min, Prefetch, Q, QuerySet
from django.http import Http404

from booking.billing.models import InvoiceLine, InvoiceStatus
from booking.packs.models import CreditKind, PackCreditEntry
from booking.packs.selectors import balances_for_purchases
from booking.scheduling.models import Appointment, Professional
from portal.accounts.models import Patient
from portal.accounts.search import search_patients


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
    """The patients who have (or had) a session with the professional, with their count, first and last."""
    patients = (
        Patient.objects.filter(appointments__professional=professional)
        .select_related("user")
        .annotate(
            session_count=Count("appointments", filter=Q(appointments__professional=professional)),
            first_session=Min("appointments__start", filter=Q(appointments__professional=professional)),
            last_session=Max("appointments__start", filter=Q(appointments__professional=professional)),
        )
        .order_by("user__last_name", "user__first_name", "pk")
    )
    patients = search_patients(patients, query)
    return patients.distinct()


def my_patient(professional: Professional, patient_id: int) -> Patient:
    """One of the professional's patients; 404 for a patient they have never seen."""
    patient = my_patients(professional).filter(pk=patient_id).first()
    if patient is None:
        raise Http404
    return patient
