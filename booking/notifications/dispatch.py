"""Sending: claim the due rows, render, send through Django's email API (anymail in production), record.

Claiming is one short transaction per batch: ``select_for_update(skip_locked=True)`` picks due ``scheduled`` rows
no other dispatcher holds, and one UPDATE marks them ``sending`` under this run's token, guarded by
``state=scheduled`` (SQLite has no row locks: there the guard alone decides). The run then sends only the rows it
finds under its token, so two dispatchers never send one row twice. Each row's outcome is saved right after its
send, on its own.

Failures (the provider refused, the network) go back to ``scheduled`` with a later ``next_attempt_at``
(``BACKOFF``) and end ``failed`` with the reason after ``MAX_ATTEMPTS``; staff are alerted of a patient's or a
professional's message that failed for good.

A row stuck in ``sending`` longer than the lease (``OUTBOX_CLAIM_LEASE_SECONDS``) belongs to a dispatcher that
died. Rows are marked ``sent`` (with the provider's message id) in one UPDATE right after the provider accepts
them; a stuck row without a message id died either before the provider took it or between the provider's answer
and that UPDATE. Every email carries a Message-ID fixed per row, so the provider is asked which of them it
accepted (``provider.accepted_ids``, Mailgun's events API): those are recorded ``sent``, the others go back to
``scheduled`` (or ``failed`` when out of attempts). When Mailgun cannot be reached the rows wait for the next run;
with a backend that cannot tell (the console, tests) they are retried.

Late rows: a message is skipped when it is no longer useful (``events.Rule.useful_for`` after its planned time,
or a before-session reminder once the session started), or cancelled when its object no longer warrants it (a
session cancelled after the row was planned, if the cancellation's signal was lost).
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation

from booking.billing import receipts
from booking.scheduling import ics
from booking.scheduling.models import Appointment, AppointmentStatus
from portal.accounts.adapters import clinic_from_email

from . import preferences, provider, rendering
from .events import AFTER_SESSION_EVENTS, Audience, Event, rule
from .models import Notification, State, message_id_domain, message_id_expression

logger = logging.getLogger(__name__)

BATCH_SIZE = 100
MAX_ATTEMPTS = 5
# The wait after the 1st, 2nd, ... failed attempt.
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))
# One run stops taking new batches after this long, so the next minute's run starts from a fresh clock.
RUN_BUDGET_SECONDS = 50

RELATED = (
    "user",
    "user__notification_preference",  # preferences.wants() without a query per row
    "appointment__service",
    "appointment__location",
    "appointment__professional__user",
    "appointment__patient__user",
    "pack_purchase__patient__user",
    "invoice",
)
ICS_EVENTS = {event for event in Event.values if rule(event).attach_ics}
# Statuses in which a session's messages still make sense.
LIVE_STATUSES = (AppointmentStatus.CONFIRMED, AppointmentStatus.COMPLETED)


def lease() -> timedelta:
    """How long a claim holds (``OUTBOX_CLAIM_LEASE_SECONDS``, 10 minutes): longer than any send takes."""
    return timedelta(seconds=settings.OUTBOX_CLAIM_LEASE_SECONDS)


def release_stuck(*, now: datetime) -> int:
    """Rows a dead dispatcher left in ``sending``: sent if the provider took them, else retried or failed when
    out of attempts. Returns how many rows left ``sending``."""
    stuck = Notification.objects.filter(state=State.SENDING, claimed_at__lte=now - lease(), provider_message_id="")
    rows = {row.message_id: row.pk for row in stuck.only("pk", "message_key")}
    if not rows:
        return 0
    try:
        accepted = provider.accepted_ids(list(rows), domain=message_id_domain())
    except provider.ProviderUnavailable as error:
        logger.warning("%s stuck notifications wait: the provider could not be asked (%s)", len(rows), error)
        return 0
    delivered = Notification.objects.filter(
        pk__in=[rows[message_id] for message_id in accepted or {}], state=State.SENDING
    ).update(
        state=State.SENT,
        sent_at=now,
        provider_message_id=message_id_expression(),
        error="",
        claimed_by="",
        updated_at=now,
    )
    stuck = stuck.filter(pk__in=list(rows.values()))
    failed = stuck.filter(attempts__gte=MAX_ATTEMPTS).update(
        state=State.FAILED, error="the dispatcher stopped while sending", claimed_by="", updated_at=now
    )
    retried = stuck.update(state=State.SCHEDULED, next_attempt_at=now, claimed_by="", updated_at=now)
    return delivered + failed + retried


def claim_due(*, now: datetime, limit: int = BATCH_SIZE) -> list[int]:
    """Take up to ``limit`` due rows for this run; their ids (oldest due first)."""
    token = uuid.uuid4().hex
    with transaction.atomic():
        ids = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(state=State.SCHEDULED, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "pk")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return []
        Notification.objects.filter(pk__in=ids, state=State.SCHEDULED).update(
            state=State.SENDING,
            claimed_by=token,
            claimed_at=now,
            attempts=F("attempts") + 1,
            last_attempt_at=now,
            updated_at=now,
        )
    return list(Notification.objects.filter(claimed_by=token, state=State.SENDING).values_list("pk", flat=True))


def _stale_reason(row: Notification, now: datetime, next_booked: set[int]) -> tuple[str, str] | None:
    """(state, why) when the row must not be sent now; None to send it."""
    if not preferences.wants(row):
        return State.SKIPPED, "the patient unsubscribed from these emails"
    timing = rule(row.event)
    appointment = row.appointment
    if appointment is not None and row.audience == Audience.PATIENT:
        if row.event != Event.APPOINTMENT_CANCELLED and appointment.status not in LIVE_STATUSES:
            return State.CANCELLED, "the session is no longer booked"
        if row.event in AFTER_SESSION_EVENTS and appointment.status in (
            AppointmentStatus.NO_SHOW_PATIENT,
            AppointmentStatus.NO_SHOW_PROFESSIONAL,
        ):
            return State.CANCELLED, "the session did not take place"
        if timing.before_start and now >= appointment.start:
            return State.SKIPPED, "the session had started"
        if row.event == Event.NUTRITION_CONTROL and row.pk in next_booked:
            return State.SKIPPED, "a next session is booked"
    if now > row.scheduled_for + timing.useful_for:
        return State.SKIPPED, "too late to be useful"
    return None


def _next_booked(rows: list[Notification]) -> set[int]:
    """The nutrition control rows whose patient booked a later session of that service (one query per batch)."""
    controls = [row for row in rows if row.event == Event.NUTRITION_CONTROL and row.appointment is not None]
    if not controls:
        return set()
    later = set(
        Appointment.objects.filter(
            patient_id__in={row.appointment.patient_id for row in controls},
            service_id__in={row.appointment.service_id for row in controls},
            start__gt=min(row.appointment.start for row in controls),
            status__in=(AppointmentStatus.PENDING_PAYMENT, *LIVE_STATUSES),
        ).values_list("patient_id", "service_id", "start")
    )
    return {
        row.pk
        for row in controls
        if any(
            (patient, service) == (row.appointment.patient_id, row.appointment.service_id)
            and start > row.appointment.start
            for patient, service, start in later
        )
    }


def build_message(row: Notification, rendered: rendering.Rendered, *, clinic_name: str) -> EmailMultiAlternatives:
    """The email: text with an HTML alternative, Mailgun tags/metadata, the session's .ics when it has one, and the
    receipt's PDF with "payment received" (the very document the portal and the admin download)."""
    message = EmailMultiAlternatives(rendered.subject, rendered.text, clinic_from_email(clinic_name), [row.email])
    message.attach_alternative(rendered.html, "text/html")
    message.tags = [row.event]
    message.metadata = {"notification": str(row.pk), "event": row.event}
    message.extra_headers["Message-ID"] = row.message_id  # the same on every attempt: see release_stuck
    message.extra_headers.update(preferences.unsubscribe_headers(row))  # RFC 8058, non-essential emails only
    if row.event in ICS_EVENTS and row.appointment is not None:
        with translation.override(row.language):
            calendar = ics.calendar_for(
                [row.appointment], name=clinic_name, for_professional=row.audience == Audience.PROFESSIONAL
            )
        message.attach(f"{row.appointment.reference}.ics", calendar, "text/calendar")
    if row.event == Event.PAYMENT_RECEIVED and row.invoice is not None:
        pdf = receipts.render_receipt_pdf(row.invoice, language=row.language)
        message.attach(receipts.receipt_filename(row.invoice), pdf, receipts.PDF_CONTENT_TYPE)
    return message


def _record_failure(row: Notification, error: Exception, now: datetime) -> None:
    reason = f"{type(error).__name__}: {error}"[:2000]
    if row.attempts >= MAX_ATTEMPTS:
        Notification.objects.filter(pk=row.pk).update(state=State.FAILED, error=reason, claimed_by="", updated_at=now)
        if row.audience != Audience.STAFF:
            from .services import plan_staff_alert

            plan_staff_alert(
                Event.STAFF_UNDELIVERABLE,
                about=f"notification:{row.pk}",
                at=now,
                data={"detail": f"{row.get_event_display()} → {row.email}: {reason}"},
            )
    else:
        wait = BACKOFF[min(row.attempts, len(BACKOFF)) - 1]
        Notification.objects.filter(pk=row.pk).update(
            state=State.SCHEDULED, next_attempt_at=now + wait, error=reason, claimed_by="", updated_at=now
        )


def send_claimed(ids: list[int], *, now: datetime) -> dict[str, int]:
    """Send (or skip, or cancel) each claimed row; counts per outcome."""
    rows = list(Notification.objects.filter(pk__in=ids).select_related(*RELATED).order_by("pk"))
    templates = rendering.live_templates()
    clinic_name = rendering.clinic_name()
    next_booked = _next_booked(rows)
    counts = {"sent": 0, "failed": 0, "skipped": 0, "cancelled": 0}
    for row in rows:
        stale = _stale_reason(row, now, next_booked)
        if stale is not None:
            state, why = stale
            Notification.objects.filter(pk=row.pk).update(state=state, error=why, claimed_by="", updated_at=now)
            counts[state] += 1
            continue
        try:
            rendered = rendering.render(row, rendering.build_context(row, clinic_name=clinic_name), templates)
            message = build_message(row, rendered, clinic_name=clinic_name)
            message.send()
        except Exception as error:  # the provider, the network or a bug: recorded on the row, retried
            logger.warning("Notification %s not sent: %s", row.pk, error)
            _record_failure(row, error, now)
            counts["failed"] += 1
            continue
        message_id = getattr(getattr(message, "anymail_status", None), "message_id", None)
        Notification.objects.filter(pk=row.pk).update(
            state=State.SENT,
            sent_at=timezone.now(),
            provider_message_id="" if message_id is None else str(message_id)[:255],
            error="",
            claimed_by="",
            updated_at=timezone.now(),
        )
        counts["sent"] += 1
    return counts


def dispatch_due(*, now: datetime | None = None, budget_seconds: float = RUN_BUDGET_SECONDS) -> dict[str, int]:
    """Release stuck rows, then claim and send batches until none is due or the run's budget is spent."""
    fixed_now = now
    started = time.monotonic()
    totals = {"sent": 0, "failed": 0, "skipped": 0, "cancelled": 0}
    release_stuck(now=fixed_now or timezone.now())
    while time.monotonic() - started < budget_seconds:
        moment = fixed_now or timezone.now()
        ids = claim_due(now=moment)
        if not ids:
            break
        for key, value in send_claimed(ids, now=moment).items():
            totals[key] += value
    return totals
