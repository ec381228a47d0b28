"""Emails by session number: "after the Nth session of a patient with a service, send this".

Editors keep ``SessionNumberRule`` rows in the admin. When a session is marked completed, ``rules_matching`` finds
the active rules whose number is the patient's count of completed sessions (with the rule's service, or with any
service for a rule without one), in one query, and ``plan_session_number_emails`` writes one notification per rule
for the patient. The count includes the session just completed, so "after the 1st session" matches the first
completion; a count is reached once per patient and service, and the outbox's uniqueness keeps a repeated signal
from writing a second row.
"""

from __future__ import annotations

from django.db.models import Count, F, IntegerField, Q, Subquery, Value
from django.db.models.functions import Coalesce

from booking.scheduling.models import Appointment, AppointmentStatus

from .web_models import SessionNumberRule


def _completed_count(appointment: Appointment, *, same_service: bool):
    completed = Appointment.objects.filter(patient_id=appointment.patient_id, status=AppointmentStatus.COMPLETED)
    if same_service:
        completed = completed.filter(service_id=appointment.service_id)
    counted = completed.order_by().values("patient_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def rules_matching(appointment: Appointment) -> list[SessionNumberRule]:
    """The active rules a completed ``appointment`` triggers, in one query; none unless it is completed.

    A rule with a service matches when this session is of that service and the patient has exactly
    ``session_number`` completed sessions of it; a rule without one counts the patient's completed sessions of
    every service.
    """
    if appointment.status != AppointmentStatus.COMPLETED:
        return []
    return list(
        SessionNumberRule.objects.filter(active=True)
        .filter(Q(service_id=appointment.service_id) | Q(service__isnull=True))
        .annotate(
            with_service=_completed_count(appointment, same_service=True),
            with_any=_completed_count(appointment, same_service=False),
        )
        .filter(
            Q(service__isnull=False, session_number=F("with_service"))
            | Q(service__isnull=True, session_number=F("with_any"))
        )
        .select_related("service")
        .order_by("pk")
    )
