"""Emails by session number: "after the Nth session of a patient with a service, send this".

Editors keep ``SessionNumberRule`` rows in the admin. When a session is marked completed (scheduling's
``appointment_changed`` with ``completed``, connected in ``web_signals``), ``rules_matching`` finds the active
rules whose number is the patient's count of completed sessions (with the rule's service, or with any service for a
rule without one), in one query, and ``plan_session_number_emails`` writes one notification per rule for the
patient. The count includes the session just completed, so "after the 1st session" matches the first
completion; a count is reached once per patient and service, and the outbox's uniqueness keeps a repeated signal
from writing a second row.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, F, IntegerField, Q, Subquery, Value
from django.db.models.functions import Coalesce

from booking.scheduling.models import Appointment, AppointmentEvent, AppointmentStatus

from . import preferences
from .events import Event, rule
from .models import Notification, object_key
from .services import user_recipient
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


def plan_session_number_emails(appointment: Appointment, *, at: datetime) -> list[Notification]:
    """Plan the patient's email of every rule ``appointment`` (just completed) triggers; the rows planned now.

    Each row is about its rule (``object_key`` "sessionnumberrule:<id>", the appointment on its foreign key for the
    message and the admin), so two rules matching one session are two emails, and a rule fires once per patient
    and count: a repeated signal collides with the row already there and inserts nothing. It goes out with the
    ``session_number`` timing (two hours after the end), or at ``at`` (the completion's time) when that is later:
    a session marked completed the next day still gets its email. Nothing for a patient who turned these emails
    off (``preferences.wants``), so no row waits to be skipped.
    """
    matching = rules_matching(appointment)
    user = appointment.patient.user
    recipient = user_recipient(user)
    if not matching or recipient is None or not preferences.wants(user, Event.SESSION_NUMBER):
        return []
    timing = rule(Event.SESSION_NUMBER)
    when = max(appointment.end + timing.offset, at)
    rows = [
        Notification(
            event=Event.SESSION_NUMBER,
            audience=timing.audience,
            object_key=object_key(session_rule),
            appointment=appointment,
            user=user,
            email=recipient.email,
            language=recipient.language,
            scheduled_for=when,
            next_attempt_at=when,
            data={
                "rule": session_rule.pk,
                "session_number": session_rule.session_number,
                "rule_message": session_rule.message_for(recipient.language),
            },
        )
        for session_rule in matching
    ]
    created = Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return [row for row in created if row.pk is not None] or created


def plan_after_completion(appointment_id: int) -> list[Notification]:
    """``appointment_changed`` with ``completed``: plan its emails by session number (one read of the session)."""
    appointment = Appointment.objects.select_related("patient__user", "service").filter(pk=appointment_id).first()
    if appointment is None or appointment.status != AppointmentStatus.COMPLETED:
        return []
    fact = appointment.events.filter(action=AppointmentEvent.Action.COMPLETED).order_by("-at", "-pk").first()
    return plan_session_number_emails(appointment, at=fact.at if fact else appointment.end)
