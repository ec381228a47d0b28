"""The dispatcher: claim due rows, decide whether each is still worth sending, render, send, record. Exactly once.

``dispatch_due`` runs every minute (``tasks``) and right after a change planned something due now. Each round:

1. **claim** (one short transaction): up to ``BATCH`` due ``scheduled`` rows are locked with
   ``select_for_update(skip_locked=True)`` (plain ``select_for_update`` on SQLite, which has one writer anyway),
   moved to ``sending`` with ``claimed_at`` and one more attempt, and committed. Two dispatchers never claim the
   same row: the second skips the rows the first has locked and, once committed, they are no longer ``scheduled``.
2. **load** what the messages are about, one query per kind of object (appointments with their service,
   professional, location and patient; pack purchases; invoices), the recipients with their preference, and the
   editors' templates: a fixed number of queries per batch, none per row.
3. **decide**: a row whose session is no longer open, whose time of use passed (a "1 hour before" after the start,
   see ``events.SPECS``), whose control reminder has a next session booked, or whose person opted out of
   non-essential emails ends ``skipped`` with the reason in ``error``.
4. **send**, one row at a time: ``send_started_at`` is written (autocommit) just before the provider is called, then
   the provider's message id and ``sent`` right after it answered.

The crash rule (a worker killed with rows in ``sending``), applied by ``recover_stuck`` at the start of every round
to rows claimed more than ``LEASE`` ago:

- no ``send_started_at``: the provider was never called → back to ``scheduled`` (sent later, once);
- ``send_started_at`` and a provider id: sent, the worker died before writing the state → ``sent``;
- ``send_started_at`` and no provider id: the worker died while the provider was answering; it may or may not have
  gone out. It is NOT sent again automatically (a duplicate reminder is worse than asking staff): it ends
  ``failed`` with that reason and shows on the dashboard's failures panel, where staff can resend it. At most one
  row per killed worker is in that window.

Failures (the provider or the network refused) go back to ``scheduled`` with ``next_attempt_at`` after a backoff
(1, 5, 15, 60 minutes); the ``MAX_ATTEMPTS``-th failure ends ``failed`` with the reason. A recipient the provider
refuses outright (``AnymailRecipientsRefused``) fails at once.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from anymail.exceptions import AnymailRecipientsRefused
from django.contrib.contenttypes.models import ContentType
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from booking.scheduling import ics
from booking.scheduling.models import Appointment, AppointmentStatus
from portal.accounts.adapters import clinic_from_email

from . import preferences, rendering, services
from .events import AFTER_SESSION_EVENTS, Event, spec
from .models import Notification, NotificationTemplate

logger = logging.getLogger(__name__)
State = Notification.State

BATCH = 100
MAX_ATTEMPTS = 5
BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))
LEASE = timedelta(minutes=10)
# Events about a session that only make sense while it is still confirmed.
WHILE_OPEN = {
    Event.APPOINTMENT_CONFIRMED,
    Event.APPOINTMENT_RESCHEDULED,
    Event.REMINDER_24H,
    Event.REMINDER_1H,
    Event.REMINDER_30MIN,
    Event.ATTENDANCE_REQUEST,
    Event.PRO_APPOINTMENT_CONFIRMED,
    Event.PRO_APPOINTMENT_RESCHEDULED,
}
AFTER_ENDED = {AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW_PATIENT, AppointmentStatus.NO_SHOW_PROFESSIONAL}


def _now(now: datetime | None) -> datetime:
    return now if now is not None else timezone.now()


def recover_stuck(*, now: datetime | None = None) -> int:
    """Apply the crash rule (module docstring) to rows left in ``sending`` longer than ``LEASE``."""
    now = _now(now)
    stuck = Notification.objects.filter(state=State.SENDING, claimed_at__lt=now - LEASE)
    changed = stuck.filter(send_started_at__isnull=True).update(state=State.SCHEDULED, claimed_at=None, updated_at=now)
    changed += (
        stuck.filter(send_started_at__isnull=False)
        .exclude(provider_message_id="")
        .update(state=State.SENT, sent_at=F("send_started_at"), updated_at=now)
    )
    changed += stuck.filter(send_started_at__isnull=False, provider_message_id="").update(
        state=State.FAILED,
        error="The worker stopped while the provider was answering; not resent automatically to avoid a duplicate.",
        updated_at=now,
    )
    return changed


def claim_due(*, now: datetime | None = None, batch: int = BATCH) -> list[int]:
    """Lock, mark ``sending`` and commit up to ``batch`` due rows; their ids (oldest planned first)."""
    now = _now(now)
    with transaction.atomic():
        due = Notification.objects.filter(state=State.SCHEDULED, scheduled_at__lte=now).filter(
            Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        else:
            due = due.select_for_update()
        ids = list(due.order_by("scheduled_at", "pk").values_list("pk", flat=True)[:batch])
        if ids:
            Notification.objects.filter(pk__in=ids).update(
                state=State.SENDING,
                claimed_at=now,
                send_started_at=None,
                attempts=F("attempts") + 1,
                updated_at=now,
            )
    return ids


def _objects(rows: list[Notification]) -> dict[tuple[int, int], object]:
    """The objects the rows are about, one query per kind, with the relations the context needs."""
    from booking.billing.models import Invoice
    from booking.packs.models import PackagePurchase

    related = {
        Appointment: ("service", "professional__user", "location", "patient__user"),
        PackagePurchase: ("package", "patient__user"),
        Invoice: ("patient__user",),
        NotificationTemplate: (),
        Notification: (),
    }
    by_type: dict[int, set[int]] = defaultdict(set)
    for row in rows:
        if row.content_type_id and row.object_id:
            by_type[row.content_type_id].add(row.object_id)
    found = {}
    for content_type_id, ids in by_type.items():
        model = ContentType.objects.get_for_id(content_type_id).model_class()
        if model is None:
            continue
        queryset = model._base_manager.filter(pk__in=ids)
        if related.get(model):
            queryset = queryset.select_related(*related[model])
        for obj in queryset:
            found[(content_type_id, obj.pk)] = obj
    return found


def _templates(rows: list[Notification]) -> dict[tuple[str, str, str], NotificationTemplate]:
    events = {row.event for row in rows}
    templates = NotificationTemplate.objects.filter(event__in=events, active=True)
    return {(t.event, t.audience, t.language): t for t in templates}


def _later_sessions(rows: list[Notification], objects) -> set[int]:
    """Appointments (of control-reminder rows) whose patient booked a later session of the same service."""
    wanted = Q()
    asked = []
    for row in rows:
        appointment = objects.get((row.content_type_id, row.object_id))
        if row.event == Event.CONTROL_REMINDER and isinstance(appointment, Appointment):
            asked.append(appointment)
            wanted |= Q(
                patient_id=appointment.patient_id, service_id=appointment.service_id, start__gt=appointment.start
            )
    if not asked:
        return set()
    later = set(
        Appointment.objects.filter(wanted)
        .filter(status__in=(AppointmentStatus.CONFIRMED, AppointmentStatus.COMPLETED))
        .values_list("patient_id", "service_id", "start")
    )
    return {
        a.pk
        for a in asked
        if any(p == a.patient_id and s == a.service_id and start > a.start for p, s, start in later)
    }


def skip_reason(row: Notification, obj, *, now: datetime, later: set[int]) -> str:
    """Why ``row`` should not be sent now ("" to send it)."""
    if not row.to_email:
        return "no email address"
    if not preferences.wants(row):
        return "the person turned these emails off"
    if isinstance(obj, Appointment):
        rule = spec(row.event)
        if row.event in WHILE_OPEN and obj.status != AppointmentStatus.CONFIRMED:
            return "the session is no longer confirmed"
        if row.event in AFTER_SESSION_EVENTS and obj.status in AFTER_ENDED:
            return "the session did not take place"
        if rule.useful_until_start is not None and now > obj.start + rule.useful_until_start:
            return "too late to be useful"
        if obj.pk in later:
            return "a next session is booked"
    elif row.content_type_id and obj is None:
        return "what it was about no longer exists"
    return ""


def _message(row: Notification, obj, rendered: rendering.Rendered, *, clinic_name: str) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        rendered.subject,
        rendered.text,
        clinic_from_email(clinic_name),
        [row.to_email],
        headers=preferences.unsubscribe_headers(row),
    )
    message.attach_alternative(rendered.html, "text/html")
    message.metadata = {"notification": str(row.pk), "event": row.event}
    message.tags = [row.event]
    if spec(row.event).attach_ics and isinstance(obj, Appointment):
        calendar = ics.calendar_for([obj], name=clinic_name, for_professional=False)
        message.attach("session.ics", calendar, "text/calendar; method=PUBLISH; charset=utf-8")
    return message


def _fail(row: Notification, error: Exception, *, now: datetime, final: bool) -> None:
    final = final or row.attempts >= MAX_ATTEMPTS
    delay = BACKOFF[min(row.attempts - 1, len(BACKOFF) - 1)]
    Notification.objects.filter(pk=row.pk, state=State.SENDING).update(
        state=State.FAILED if final else State.SCHEDULED,
        error=f"{type(error).__name__}: {error}"[:1000],
        next_attempt_at=None if final else now + delay,
        send_started_at=None,
        updated_at=now,
    )


def send_claimed(ids: list[int], *, now: datetime | None = None) -> dict[str, int]:
    """Decide, render and send the rows ``claim_due`` gave this worker; counts per outcome."""
    from website.models import clinic_name as site_clinic_name

    now = _now(now)
    counts = {"sent": 0, "skipped": 0, "retry": 0, "failed": 0}
    rows = list(
        Notification.objects.filter(pk__in=ids, state=State.SENDING)
        .select_related("recipient__notification_preference")
        .order_by("scheduled_at", "pk")
    )
    if not rows:
        return counts
    objects = _objects(rows)
    templates = _templates(rows)
    later = _later_sessions(rows, objects)
    clinic_name = site_clinic_name()
    for row in rows:
        obj = objects.get((row.content_type_id, row.object_id))
        reason = skip_reason(row, obj, now=now, later=later)
        if reason:
            Notification.objects.filter(pk=row.pk, state=State.SENDING).update(
                state=State.SKIPPED, error=reason, updated_at=now
            )
            counts["skipped"] += 1
            continue
        template = templates.get((row.event, spec(row.event).audience, row.language))
        rendered, broken = rendering.render(row, obj, clinic_name=clinic_name, template=template)
        if broken is not None:
            logger.warning("Email template %s failed (%s); the default was sent", broken.template.pk, broken.error)
            services.plan_template_alert(template=broken.template, error=str(broken.error), now=now)
        message = _message(row, obj, rendered, clinic_name=clinic_name)
        Notification.objects.filter(pk=row.pk).update(send_started_at=timezone.now())
        try:
            message.send()
        except AnymailRecipientsRefused as error:
            _fail(row, error, now=now, final=True)
            counts["failed"] += 1
            continue
        except Exception as error:
            logger.warning("Notification %s not sent (attempt %s): %s", row.pk, row.attempts, error)
            _fail(row, error, now=now, final=False)
            counts["failed" if row.attempts >= MAX_ATTEMPTS else "retry"] += 1
            continue
        status = getattr(message, "anymail_status", None)
        message_id = (status.message_id if status is not None else "") or ""
        Notification.objects.filter(pk=row.pk, state=State.SENDING).update(
            state=State.SENT, provider_message_id=message_id, sent_at=timezone.now(), error="", updated_at=now
        )
        counts["sent"] += 1
    return counts


def dispatch_due(*, now: datetime | None = None, batch: int = BATCH, max_rounds: int | None = None) -> int:
    """Send everything due at ``now``: rounds of claim + send until nothing is due. Returns how many were sent."""
    sent = 0
    recover_stuck(now=now)
    rounds = 0
    while max_rounds is None or rounds < max_rounds:
        rounds += 1
        ids = claim_due(now=now, batch=batch)
        if not ids:
            break
        sent += send_claimed(ids, now=now)["sent"]
    return sent
