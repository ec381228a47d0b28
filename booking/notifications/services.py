"""The planner: which messages a change means, for whom, in which language and when. One function per use case.

Nothing here sends anything: it writes ``Notification`` rows (the outbox) and the dispatcher (``dispatch``) sends
them when due. Rows are written with ``bulk_create(ignore_conflicts=True)`` against the unique constraint
(event, object, address, planned time), so a signal delivered twice, or a retried task, plans nothing new.

Entry points:

- ``on_appointment_changed`` — receiver of scheduling's on-commit ``appointment_changed`` (every way a session is
  booked, confirmed, moved, cancelled or closed: staff, box, API, portal, billing's payment confirmation), which
  calls ``plan_appointment_confirmed`` / ``plan_appointment_rescheduled`` / ``plan_appointment_cancelled`` /
  ``plan_appointment_completed`` / ``plan_appointment_no_show``. Each re-reads the appointment (one query with
  what the messages need) and plans from its committed state, so a late or repeated signal cannot plan the
  confirmation of a session cancelled since.
- pack signals (``booking.packs.signals``, sent on commit): ``plan_pack_purchased``, ``plan_pack_cancelled``,
  ``plan_pack_expiring``.
- billing's ``invoice_paid`` (sent INSIDE billing's transaction): ``plan_payment_received`` writes its row in that
  same transaction, so a payment rolled back leaves no email behind.
- ``plan_undeliverable_alert`` and ``plan_template_alert`` — messages to the clinic's staff.

Re-planning (a reschedule) cancels the pending reminders at the old time and plans them at the new one; a row that
exists already for the new time (moved back to where it was) is brought back to ``scheduled`` rather than duplicated.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from booking.scheduling.models import Appointment, AppointmentEvent, AppointmentModality, AppointmentStatus
from portal.accounts.adapters import supported_language

from .events import AFTER_SESSION_EVENTS, PENDING_REMINDERS, Event, spec
from .models import Notification, object_key_for

State = Notification.State
Action = AppointmentEvent.Action


def _now(now: datetime | None) -> datetime:
    return now if now is not None else timezone.now()


def language_of(user) -> str:
    """The language the person's emails are written in: their stored preference, else the site's default."""
    return supported_language(getattr(user, "preferred_language", None)) or settings.LANGUAGE_CODE.split("-")[0]


def staff_address() -> str:
    """Where alerts for the clinic's staff go: the clinic's email in the site settings, else ``SERVER_EMAIL``."""
    from portal.accounts.adapters import clinic_settings

    return clinic_settings().email or settings.SERVER_EMAIL


def _row(event: str, obj, *, user=None, email: str = "", at: datetime, context: dict | None = None) -> Notification:
    content_type_id = ContentType.objects.get_for_model(obj).pk if obj is not None else None
    object_id = obj.pk if obj is not None else None
    return Notification(
        event=event,
        content_type_id=content_type_id,
        object_id=object_id,
        object_key=object_key_for(content_type_id, object_id),
        recipient=user,
        to_email=(email or (user.email if user is not None else "")).strip(),
        language=language_of(user) if user is not None else settings.LANGUAGE_CODE.split("-")[0],
        scheduled_at=at,
        context=context or {},
    )


def _write(rows: list[Notification], *, now: datetime) -> int:
    """Insert ``rows`` (no email address: dropped), revive cancelled twins, and wake the dispatcher if one is due.

    Returns how many rows are now planned (new or revived). Duplicates are dropped by the database.
    """
    rows = [row for row in rows if row.to_email]
    if not rows:
        return 0
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    twins = Q()
    for row in rows:
        twins |= Q(event=row.event, object_key=row.object_key, to_email=row.to_email, scheduled_at=row.scheduled_at)
    Notification.objects.filter(twins, state=State.CANCELLED).update(
        state=State.SCHEDULED, attempts=0, error="", next_attempt_at=None, updated_at=now
    )
    if any(row.scheduled_at <= now for row in rows):
        _wake_dispatcher()
    return len(rows)


def _wake_dispatcher() -> None:
    """After the commit, ask huey to run the dispatcher now (the minute's periodic run would anyway)."""
    from .tasks import dispatch_due_notifications_task

    transaction.on_commit(dispatch_due_notifications_task, robust=True)


def _cancel(queryset, *, now: datetime) -> int:
    return queryset.filter(state=State.SCHEDULED).update(state=State.CANCELLED, updated_at=now)


def _for(obj):
    return Notification.objects.filter(content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk)


# --- Appointments ------------------------------------------------------------------------------------------


def _load(appointment_id: int) -> Appointment | None:
    return (
        Appointment.objects.select_related("service", "professional__user", "location", "patient__user")
        .filter(pk=appointment_id)
        .first()
    )


def _moment_of(appointment: Appointment, action: str, *, now: datetime) -> datetime:
    """When ``action`` happened to ``appointment`` (its latest audit event): the planned time of "now" messages.

    Not the clock: a signal received twice must plan the same (event, object, address, moment), which the unique
    constraint then refuses the second time. A moment in the future (a clock pinned behind) is capped at ``now``.
    """
    at = (
        AppointmentEvent.objects.filter(appointment_id=appointment.pk, action=action)
        .order_by("-at", "-pk")
        .values_list("at", flat=True)
        .first()
    )
    return min(at, now) if at is not None else now


def _local_days_after(moment: datetime, days: int, zone) -> datetime:
    """``days`` calendar days after ``moment`` at the same local wall-clock time (DST-safe)."""
    local = moment.astimezone(zone)
    wall = local.replace(tzinfo=None) + timedelta(days=days)
    return wall.replace(tzinfo=zone).astimezone(zoneinfo.ZoneInfo("UTC"))


def reminder_times(appointment: Appointment) -> dict[str, datetime]:
    """The timing table for one open session: event → planned moment (before ``now`` filtering)."""
    in_person = appointment.modality == AppointmentModality.IN_PERSON
    times = {Event.REMINDER_24H: appointment.start + spec(Event.REMINDER_24H).offset}
    if in_person:
        times[Event.REMINDER_1H] = appointment.start + spec(Event.REMINDER_1H).offset
        times[Event.ATTENDANCE_REQUEST] = appointment.start + spec(Event.ATTENDANCE_REQUEST).offset
        times[Event.AFTER_SESSION] = appointment.end + spec(Event.AFTER_SESSION).offset
    else:
        times[Event.REMINDER_30MIN] = appointment.start + spec(Event.REMINDER_30MIN).offset
        times[Event.AFTER_ONLINE_SESSION] = appointment.end + spec(Event.AFTER_ONLINE_SESSION).offset
    days = appointment.service.control_reminder_days
    if days:
        zone = appointment.location.tzinfo if appointment.location_id else zoneinfo.ZoneInfo(settings.TIME_ZONE)
        times[Event.CONTROL_REMINDER] = _local_days_after(appointment.end, days, zone)
    return times


def _timed_rows(appointment: Appointment, *, now: datetime) -> list[Notification]:
    user = appointment.patient.user
    return [
        _row(event, appointment, user=user, at=at) for event, at in reminder_times(appointment).items() if at > now
    ]


def _professional_row(event: str, appointment: Appointment, *, at: datetime) -> list[Notification]:
    user = appointment.professional.user
    if user is None or not user.email:
        return []
    return [_row(event, appointment, user=user, at=at)]


def _cancel_control_reminders_before(appointment: Appointment, *, now: datetime) -> int:
    """A next session of the same service is booked: earlier sessions' control reminders are no longer needed."""
    earlier = Appointment.objects.filter(
        patient_id=appointment.patient_id, service_id=appointment.service_id, start__lt=appointment.start
    ).values("pk")
    return _cancel(
        Notification.objects.filter(
            event=Event.CONTROL_REMINDER,
            content_type=ContentType.objects.get_for_model(Appointment),
            object_id__in=earlier,
        ),
        now=now,
    )


def plan_appointment_confirmed(*, appointment_id: int, now: datetime | None = None) -> int:
    """A session is confirmed (booked at the clinic, paid online, by staff, the API, the portal or the box).

    The patient's confirmation now (with the ``.ics``), the reminders and after-session emails at their times,
    the professional's notice; earlier sessions' control reminders of the same service are cancelled.
    """
    now = _now(now)
    with transaction.atomic():
        appointment = _load(appointment_id)
        if appointment is None or appointment.status != AppointmentStatus.CONFIRMED or appointment.end <= now:
            return 0
        at = _moment_of(appointment, Action.CONFIRMED, now=now)
        rows = [_row(Event.APPOINTMENT_CONFIRMED, appointment, user=appointment.patient.user, at=at)]
        rows += _timed_rows(appointment, now=now)
        rows += _professional_row(Event.PRO_APPOINTMENT_CONFIRMED, appointment, at=at)
        _cancel_control_reminders_before(appointment, now=now)
        return _write(rows, now=now)


def plan_appointment_rescheduled(*, appointment_id: int, now: datetime | None = None) -> int:
    """A session moved: its pending reminders move to the new time; the patient and professional are told now."""
    now = _now(now)
    with transaction.atomic():
        appointment = _load(appointment_id)
        if appointment is None or appointment.status != AppointmentStatus.CONFIRMED:
            return 0
        timed = reminder_times(appointment)
        pending = _for(appointment).filter(event__in=[*PENDING_REMINDERS, *AFTER_SESSION_EVENTS])
        # Moving: what is planned at another time than the new table says is withdrawn, then planned anew.
        keep = Q()
        for event, at in timed.items():
            keep |= Q(event=event, scheduled_at=at)
        _cancel(pending.exclude(keep), now=now)
        at = _moment_of(appointment, Action.RESCHEDULED, now=now)
        rows = [_row(Event.APPOINTMENT_RESCHEDULED, appointment, user=appointment.patient.user, at=at)]
        rows += _timed_rows(appointment, now=now)
        rows += _professional_row(Event.PRO_APPOINTMENT_RESCHEDULED, appointment, at=at)
        return _write(rows, now=now)


def plan_appointment_cancelled(*, appointment_id: int, now: datetime | None = None) -> int:
    """A session was cancelled: what was still planned about it is cancelled; patient and professional are told.

    Only a session that was announced (its confirmation planned) gets the "cancelled" emails: a payment hold that
    lapsed or was abandoned was never confirmed to anyone.
    """
    now = _now(now)
    with transaction.atomic():
        appointment = _load(appointment_id)
        if appointment is None or appointment.status != AppointmentStatus.CANCELLED:
            return 0
        planned = _for(appointment)
        _cancel(planned, now=now)
        if not planned.filter(event=Event.APPOINTMENT_CONFIRMED).exists():
            return 0
        at = _moment_of(appointment, Action.CANCELLED, now=now)
        rows = [_row(Event.APPOINTMENT_CANCELLED, appointment, user=appointment.patient.user, at=at)]
        rows += _professional_row(Event.PRO_APPOINTMENT_CANCELLED, appointment, at=at)
        return _write(rows, now=now)


def plan_appointment_completed(*, appointment_id: int, now: datetime | None = None) -> int:
    """A session took place: the reminders still pending are withdrawn; the rules by session number are planned."""
    from .rules import rules_matching

    now = _now(now)
    with transaction.atomic():
        appointment = _load(appointment_id)
        if appointment is None or appointment.status != AppointmentStatus.COMPLETED:
            return 0
        _cancel(_for(appointment).filter(event__in=PENDING_REMINDERS), now=now)
        at = max(now, appointment.end + spec(Event.SESSION_NUMBER).offset)
        rows = [
            _row(Event.SESSION_NUMBER, appointment, user=appointment.patient.user, at=at, context={"rule": rule.pk})
            for rule in rules_matching(appointment)
        ]
        # Two rules on the same session at the same moment would collide on the unique key: a second apart.
        for index, row in enumerate(rows):
            row.scheduled_at = at + timedelta(seconds=index)
        return _write(rows, now=now)


def plan_appointment_no_show(*, appointment_id: int, now: datetime | None = None) -> int:
    """Nobody came (either side): the after-session emails and any pending reminder are cancelled."""
    now = _now(now)
    with transaction.atomic():
        appointment = _load(appointment_id)
        if appointment is None:
            return 0
        return _cancel(_for(appointment).filter(event__in=[*PENDING_REMINDERS, *AFTER_SESSION_EVENTS]), now=now)


_APPOINTMENT_PLANNERS = {
    Action.CONFIRMED: plan_appointment_confirmed,
    Action.RESCHEDULED: plan_appointment_rescheduled,
    Action.CANCELLED: plan_appointment_cancelled,
    Action.HOLD_EXPIRED: plan_appointment_cancelled,
    Action.COMPLETED: plan_appointment_completed,
    Action.NO_SHOW_PATIENT: plan_appointment_no_show,
    Action.NO_SHOW_PROFESSIONAL: plan_appointment_no_show,
}


def on_appointment_changed(sender, appointment: Appointment, action: str, **kwargs) -> None:
    """Receiver of ``appointment_changed`` (after the commit). ``created``/``held`` plan nothing by themselves."""
    planner = _APPOINTMENT_PLANNERS.get(action)
    if planner is not None:
        planner(appointment_id=appointment.pk)


# --- Packs -------------------------------------------------------------------------------------------------


def _purchase_professionals(purchase) -> list:
    """The professionals of the sessions booked from ``purchase`` (one query), for their copy of pack news."""
    from booking.scheduling.models import Professional

    return list(Professional.objects.filter(appointments__pack_purchase=purchase).select_related("user").distinct())


def _plan_pack(event: str, pro_event: str | None, purchase, *, now: datetime, context: dict) -> int:
    patient_user = purchase.patient.user
    rows = [_row(event, purchase, user=patient_user, at=now, context=context)]
    if pro_event is not None:
        for professional in _purchase_professionals(purchase):
            if professional.user is not None:
                rows.append(_row(pro_event, purchase, user=professional.user, at=now, context=context))
    return _write(rows, now=now)


# The planned moment of a pack email is the purchase's own timestamp of the change (stable across repeats).


def plan_pack_purchased(*, purchase, now: datetime | None = None) -> int:
    """The pack became usable: the patient is told (and the professionals of sessions already booked from it)."""
    at = min(purchase.purchased_at or _now(now), _now(now))
    return _plan_pack(Event.PACK_PURCHASED, Event.PRO_PACK_PURCHASED, purchase, now=at, context={})


def plan_pack_cancelled(*, purchase, refund_amount=None, paid: bool = True, now: datetime | None = None) -> int:
    """The pack was cancelled (or an unpaid reservation lapsed: ``paid`` False, no professional told)."""
    context = {"refund_amount": str(refund_amount or 0), "currency": purchase.currency, "paid": bool(paid)}
    pro_event = Event.PRO_PACK_CANCELLED if paid else None
    at = min(purchase.cancelled_at or _now(now), _now(now))
    return _plan_pack(Event.PACK_CANCELLED, pro_event, purchase, now=at, context=context)


def plan_pack_expiring(*, purchase, remaining: int, expires_at: datetime, now: datetime | None = None) -> int:
    """The pack expires soon with sessions left to book (the daily task sends the signal once per purchase)."""
    context = {"remaining": int(remaining), "expires_at": expires_at.isoformat()}
    at = min(purchase.expiry_notified_at or _now(now), _now(now))
    return _plan_pack(Event.PACK_EXPIRING, None, purchase, now=at, context=context)


def on_pack_purchased(sender, purchase, **kwargs) -> None:
    plan_pack_purchased(purchase=purchase)


def on_pack_cancelled(sender, purchase, refund_amount=None, paid=True, **kwargs) -> None:
    plan_pack_cancelled(purchase=purchase, refund_amount=refund_amount, paid=paid)


def on_pack_expiring(sender, purchase, remaining=0, expires_at=None, **kwargs) -> None:
    plan_pack_expiring(purchase=purchase, remaining=remaining, expires_at=expires_at or purchase.expires_at)


# --- Billing -----------------------------------------------------------------------------------------------


def plan_payment_received(*, invoice, now: datetime | None = None) -> int:
    """The invoice was paid in full: the receipt email to its patient, in billing's own transaction."""
    now = _now(now)
    patient = getattr(invoice, "patient", None)
    user = getattr(patient, "user", None) if patient is not None else None
    if user is None:
        return 0
    at = min(invoice.paid_at or now, now)
    return _write([_row(Event.PAYMENT_RECEIVED, invoice, user=user, at=at)], now=now)


def on_invoice_paid(sender, invoice, now=None, **kwargs) -> None:
    plan_payment_received(invoice=invoice, now=now)


# --- Staff alerts --------------------------------------------------------------------------------------------


def plan_undeliverable_alert(*, notification: Notification, now: datetime | None = None) -> int:
    """Tell the clinic's staff a message could not be delivered: once per failed message (planned at the failed
    message's own planned time, so a repeated bounce report plans nothing new)."""
    now = _now(now)
    context = {"notification": notification.pk, "to": notification.to_email, "event": notification.event}
    at = min(notification.scheduled_at, now)
    row = _row(Event.MESSAGE_UNDELIVERABLE, notification, email=staff_address(), at=at, context=context)
    return _write([row], now=now)


def plan_template_alert(*, template, error: str, now: datetime | None = None) -> int:
    """An editor's template failed to render (the default was sent instead): staff are told, once a day at most."""
    now = _now(now)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    context = {"template": template.pk, "error": error[:500]}
    return _write([_row(Event.TEMPLATE_BROKEN, template, email=staff_address(), at=day, context=context)], now=now)
