"""Planning: which messages a fact owes, to whom, in which language and when. One function per use case.

Every function only writes ``Notification`` rows (the dispatcher sends them later) and is idempotent: rows go in
with ``bulk_create(ignore_conflicts=True)`` against the unique (event, object, recipient, scheduled time), so a
signal delivered twice, or a planner run again after a crash, inserts nothing new. Messages "sent at once" are
scheduled at the time of the fact (the audit event's ``at``), not at the planner's clock, for the same reason.

Timing (see ``events.RULES``): offsets of whole days are counted on the wall clock of the place's zone (the
"24 h" reminder arrives the day before at the session's local time, also across a clock change, and the nutrition
control reminder N calendar days after at the same local time); shorter offsets are absolute (1 hour before is
60 minutes before). Only times
still ahead are planned: a session booked 3 hours ahead gets no "day before" reminder.

Connecting another app's facts is one call each; the appointment ones are wired in ``signals``, the packs' and
billing's ``invoice_paid`` in ``hooks``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from email.utils import getaddresses
from itertools import groupby

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from booking.scheduling.models import Appointment, AppointmentEvent, AppointmentModality, AppointmentStatus
from portal.accounts.adapters import clinic_settings, supported_language

from .events import AFTER_SESSION_EVENTS, BEFORE_SESSION_EVENTS, Anchor, Event, rule
from .models import Notification, State, object_key

SESSION_EVENTS = (*BEFORE_SESSION_EVENTS, *AFTER_SESSION_EVENTS)
# The immediate messages of an appointment change, per audience.
CONFIRMED_EVENTS = (Event.APPOINTMENT_CONFIRMED, Event.PRO_APPOINTMENT_CONFIRMED)
CANCELLED_EVENTS = (Event.APPOINTMENT_CANCELLED, Event.PRO_APPOINTMENT_CANCELLED)
RESCHEDULED_EVENTS = (Event.APPOINTMENT_RESCHEDULED, Event.PRO_APPOINTMENT_RESCHEDULED)


@dataclass(frozen=True)
class Recipient:
    """Who a message goes to: the account when there is one (its language), else a bare address (staff)."""

    email: str
    language: str
    user: object | None = None


def user_recipient(user) -> Recipient | None:
    """The user's address in the language they chose (es-CL when none or an unsupported one is stored)."""
    if user is None or not user.email:
        return None
    language = supported_language(user.preferred_language) or settings.LANGUAGE_CODE
    return Recipient(email=user.email, language=language, user=user)


def staff_recipients() -> list[Recipient]:
    """The clinic's own address (site settings), else the ``ADMINS``; in the clinic's default language."""
    address = clinic_settings().email
    emails = [address] if address else [email for _name, email in getaddresses([a for _n, a in settings.ADMINS])]
    return [Recipient(email=email, language=settings.LANGUAGE_CODE) for email in emails if email]


def _row(
    event: str, *, about, recipient: Recipient, at: datetime, data: dict | None = None, **objects
) -> Notification:
    return Notification(
        event=event,
        audience=rule(event).audience,
        object_key=about if isinstance(about, str) else object_key(about),
        user=recipient.user,
        email=recipient.email,
        language=recipient.language,
        scheduled_for=at,
        next_attempt_at=at,
        data=data or {},
        **objects,
    )


def _insert(rows: Iterable[Notification]) -> None:
    Notification.objects.bulk_create(list(rows), ignore_conflicts=True)


# --- appointments -------------------------------------------------------------------------


def session_plan(appointment: Appointment) -> dict[str, datetime]:
    """The patient's timed messages of one session and when each is due, whether or not that time has passed."""
    in_person = appointment.modality == AppointmentModality.IN_PERSON
    events = [Event.REMINDER_24H]
    events += [Event.REMINDER_1H_IN_PERSON, Event.ATTENDANCE_REQUEST] if in_person else [Event.REMINDER_30M_ONLINE]
    events.append(Event.AFTER_SESSION_IN_PERSON if in_person else Event.AFTER_SESSION_ONLINE)
    plan = {}
    for event in events:
        timing = rule(event)
        anchor = appointment.start if timing.anchor == Anchor.START else appointment.end
        plan[event] = _offset(anchor, timing.offset, _zone(appointment))
    days = appointment.service.control_reminder_days
    if days:
        plan[Event.NUTRITION_CONTROL] = _offset(appointment.end, timedelta(days=days), _zone(appointment))
    return plan


def _offset(anchor: datetime, offset: timedelta, zone) -> datetime:
    """``anchor + offset``: whole days on the zone's wall clock (what a patient means by "the day before"), other
    offsets in absolute time. Python adds a timedelta to an aware datetime on its wall clock, so the whole-day
    case is the local time plus the days, then back to UTC with the offset of the new date."""
    if offset % timedelta(days=1):
        return anchor + offset
    return (anchor.astimezone(zone) + offset).astimezone(UTC)


def _zone(appointment: Appointment):
    """The place's zone, else the clinic's (online sessions): the clock the patient reads."""
    return appointment.location.tzinfo if appointment.location_id else timezone.get_default_timezone()


def _session_rows(appointment: Appointment, recipient: Recipient, plan: dict[str, datetime], now: datetime):
    return [
        _row(event, about=appointment, recipient=recipient, at=when, appointment=appointment)
        for event, when in plan.items()
        if when > now
    ]


def _revive(appointment: Appointment, recipient: Recipient, plan: dict[str, datetime], now: datetime) -> None:
    """Back to scheduled: rows at exactly a planned future time that an earlier change cancelled or skipped (a
    session moved away and back, or online and back to in person) — the insert above would collide with them."""
    matches = Q()
    for event, when in plan.items():
        if when > now:
            matches |= Q(event=event, scheduled_for=when)
    if matches:
        Notification.objects.filter(
            matches,
            object_key=object_key(appointment),
            email=recipient.email,
            state__in=[State.CANCELLED, State.SKIPPED],
        ).update(state=State.SCHEDULED, next_attempt_at=F("scheduled_for"), error="", updated_at=now)


def _immediate(events, appointment: Appointment, at: datetime, data: dict | None = None) -> list[Notification]:
    recipients = (user_recipient(appointment.patient.user), user_recipient(_professional_user(appointment)))
    return [
        _row(event, about=appointment, recipient=recipient, at=at, data=data, appointment=appointment)
        for event, recipient in zip(events, recipients, strict=True)
        if recipient is not None
    ]


def _professional_user(appointment: Appointment):
    return appointment.professional.user if appointment.professional.user_id else None


def plan_appointment_confirmed(appointment: Appointment, *, at: datetime, now: datetime | None = None) -> None:
    """The booking confirmation to the patient and the professional, and the patient's reminders and follow-ups.

    Whatever confirmed it (staff, the box, the API, the portal, the payment webhook): scheduling's
    ``appointment_changed`` is the one door. Nothing for a session no longer confirmed when this runs.
    """
    now = now or timezone.now()
    if appointment.status != AppointmentStatus.CONFIRMED:
        return
    rows = _immediate(CONFIRMED_EVENTS, appointment, at)
    patient = user_recipient(appointment.patient.user)
    with transaction.atomic():
        if patient is not None:
            plan = session_plan(appointment)
            rows += _session_rows(appointment, patient, plan, now)
            _revive(appointment, patient, plan, now)
        _insert(rows)


def plan_appointment_rescheduled(
    appointment: Appointment,
    *,
    at: datetime,
    previous_start: str = "",
    reason: str = "",
    now: datetime | None = None,
) -> None:
    """Tell both sides the new time (and ``reason``, when the professional moved it); move the pending reminders.

    A pending row whose new time has already passed is ``skipped`` (a "day before" for a session moved to this
    afternoon); one that no longer applies (the session went online: no "1 hour before, in person") is
    ``cancelled``; times the old plan lacked and the new one has ahead are planned.
    """
    now = now or timezone.now()
    if appointment.status != AppointmentStatus.CONFIRMED:
        return
    patient = user_recipient(appointment.patient.user)
    data = {"previous_start": previous_start} | ({"reason": reason} if reason else {})
    rows = _immediate(RESCHEDULED_EVENTS, appointment, at, data=data)
    with transaction.atomic():
        if patient is not None:
            plan = session_plan(appointment)
            pending = list(
                Notification.objects.select_for_update().filter(
                    object_key=object_key(appointment), event__in=SESSION_EVENTS, state=State.SCHEDULED
                )
            )
            for row in pending:
                when = plan.get(row.event)
                if when is None:
                    row.state, row.error = State.CANCELLED, "no longer applies after the reschedule"
                else:
                    row.scheduled_for = row.next_attempt_at = when
                    if when <= now:
                        row.state, row.error = State.SKIPPED, "its time had passed when the session was moved"
                row.updated_at = now
            Notification.objects.bulk_update(
                pending, ["state", "error", "scheduled_for", "next_attempt_at", "updated_at"]
            )
            rows += _session_rows(appointment, patient, plan, now)
            _revive(appointment, patient, plan, now)
        _insert(rows)


def plan_appointment_cancelled(appointment: Appointment, *, at: datetime, was_confirmed: bool) -> None:
    """Cancel everything still pending about the session (its confirmation too) and, if it had been confirmed,
    tell both sides. A payment hold that lapsed was never announced, so it is not "cancelled" either."""
    with transaction.atomic():
        Notification.objects.filter(object_key=object_key(appointment), state=State.SCHEDULED).exclude(
            event__in=CANCELLED_EVENTS
        ).update(state=State.CANCELLED, error="the session was cancelled", updated_at=timezone.now())
        if was_confirmed:
            _insert(_immediate(CANCELLED_EVENTS, appointment, at))


def plan_appointment_no_show(appointment: Appointment) -> None:
    """A session that did not take place gets no after-session messages."""
    Notification.objects.filter(
        object_key=object_key(appointment), event__in=AFTER_SESSION_EVENTS, state=State.SCHEDULED
    ).update(state=State.CANCELLED, error="the session did not take place", updated_at=timezone.now())


def plan_for_appointment_change(appointment_id: int, action: str, *, now: datetime | None = None) -> bool:
    """Route one ``appointment_changed`` (after its commit) to the use case above; True if messages may be due now.

    The appointment is read again with what the messages name (one query), and the fact's time is the latest
    audit event of that action, so a repeated signal plans the very same rows.
    """
    Action = AppointmentEvent.Action
    if action not in (
        Action.CONFIRMED,
        Action.RESCHEDULED,
        Action.CANCELLED,
        Action.NO_SHOW_PATIENT,
        Action.NO_SHOW_PROFESSIONAL,
    ):
        return False
    appointment = (
        Appointment.objects.select_related("service", "location", "professional__user", "patient__user")
        .filter(pk=appointment_id)
        .first()
    )
    if appointment is None:
        return False
    if action in (Action.NO_SHOW_PATIENT, Action.NO_SHOW_PROFESSIONAL):
        plan_appointment_no_show(appointment)
        return False
    fact = appointment.events.filter(action=action).order_by("-at", "-pk").first()
    at = fact.at if fact else (now or timezone.now())
    before = fact.before if fact else {}
    if action == Action.CONFIRMED:
        plan_appointment_confirmed(appointment, at=at, now=now)
    elif action == Action.RESCHEDULED:
        # The reason reaches the patient only when the session's professional moved it (an internal reschedule):
        # a staff override's reason is the clinic's own justification, not a message to the patient.
        by_professional = fact is not None and fact.actor_id and fact.actor_id == appointment.professional.user_id
        plan_appointment_rescheduled(
            appointment,
            at=at,
            previous_start=before.get("start", ""),
            reason=fact.reason if by_professional else "",
            now=now,
        )
    else:
        plan_appointment_cancelled(
            appointment, at=at, was_confirmed=before.get("status") == AppointmentStatus.CONFIRMED
        )
    return True


# --- packs (connected to the packs signals in ``hooks``) -----------------------------------


def _pack_rows(purchase, events, *, at: datetime) -> list[Notification]:
    """The patient's message, and each allowed professional's for their patient (``events`` = patient, pro)."""
    patient_event, pro_event = events
    rows = []
    patient = user_recipient(purchase.patient.user)
    if patient is not None:
        rows.append(_row(patient_event, about=purchase, recipient=patient, at=at, pack_purchase=purchase))
    if pro_event is not None:
        from booking.scheduling.models import Professional

        professionals = Professional.objects.filter(pk__in=purchase.allowed_professional_ids).select_related("user")
        for professional in professionals:
            recipient = user_recipient(professional.user)
            if recipient is not None:
                rows.append(_row(pro_event, about=purchase, recipient=recipient, at=at, pack_purchase=purchase))
    return rows


def plan_pack_purchased(purchase, *, at: datetime) -> None:
    """To the patient, and to the professionals the pack may be used with."""
    _insert(_pack_rows(purchase, (Event.PACK_PURCHASED, Event.PRO_PACK_PURCHASED), at=at))


def plan_pack_cancelled(purchase, *, at: datetime) -> None:
    _insert(_pack_rows(purchase, (Event.PACK_CANCELLED, Event.PRO_PACK_CANCELLED), at=at))


def plan_pack_expiring(purchase, *, at: datetime) -> None:
    """To the patient only; ``at`` is when packs decided to warn (its daily job), one message per warning day."""
    _insert(_pack_rows(purchase, (Event.PACK_EXPIRING, None), at=at))


# --- billing --------------------------------------------------------------------------------


def plan_payment_received(invoice, *, at: datetime) -> None:
    """The receipt email to the invoice's patient once it is paid in full (none for an invoice without a patient
    account). Written inside billing's transaction (``invoice_paid``), so a payment rolled back plans nothing."""
    patient = invoice.patient
    recipient = user_recipient(patient.user) if patient is not None else None
    if recipient is None:
        return
    data = {"amount": str(invoice.total)}
    _insert([_row(Event.PAYMENT_RECEIVED, about=invoice, recipient=recipient, at=at, data=data, invoice=invoice)])


def plan_refund_issued(invoice, refund, *, at: datetime) -> None:
    """The "refund issued" email to the invoice's patient, once per refund.

    Each refund has its own object key, so two refunds of one invoice are two emails. Written inside billing's
    transaction (``refund_succeeded``)."""
    patient = invoice.patient
    recipient = user_recipient(patient.user) if patient is not None else None
    if recipient is None:
        return
    data = {"amount": str(refund.amount)}
    _insert([_row(Event.REFUND_ISSUED, about=refund, recipient=recipient, at=at, data=data, invoice=invoice)])


def plan_payment_failed(invoice, payment, *, at: datetime) -> None:
    """The staff's alert that a patient's payment was declined, once per payment."""
    detail = payment.failure_message or ""
    data = {"amount": str(payment.amount), "detail": detail}
    _insert(
        _row(Event.STAFF_PAYMENT_FAILED, about=payment, recipient=recipient, at=at, data=data, invoice=invoice)
        for recipient in staff_recipients()
    )


# --- records --------------------------------------------------------------------------------


def plan_document_shared(document, *, at: datetime) -> None:
    """The nutrition evaluation email when the clinic shares an evaluation with the patient (other kinds of
    document are not announced). Written inside the sharing transaction (``document_shared``)."""
    from portal.records.models import DocumentKind

    if document.kind != DocumentKind.EVALUATION:
        return
    recipient = user_recipient(document.patient.user)
    if recipient is None:
        return
    _insert(
        [
            _row(
                Event.NUTRITION_EVALUATION,
                about=document,
                recipient=recipient,
                at=at,
                appointment=document.appointment,
            )
        ]
    )


def plan_document_withdrawn(document) -> None:
    """A document taken back before its email went out is not announced."""
    Notification.objects.filter(object_key=object_key(document), state=State.SCHEDULED).update(
        state=State.CANCELLED, error="the document was withdrawn", updated_at=timezone.now()
    )


def referral_booking_url(*, professional=None, service=None) -> str:
    """The absolute address of the booking box opened on the professional and/or the service (its first step takes
    both from the query string, ``booking.widget.forms.ChoiceForm``): an email has no request to build it from."""
    from urllib.parse import urlencode

    from django.urls import reverse

    query = {"service": service.slug if service else "", "professional": professional.slug if professional else ""}
    query = urlencode({key: value for key, value in query.items() if value})
    return f"{settings.SITE_URL}{reverse('widget:start')}?{query}"


def _referral_pack(referral):
    """The public pack that includes the referred service (and allows the referred professional, if one), if any."""
    from django.urls import reverse

    from booking.packs.models import Package

    if referral.to_service_id is None:
        return None, ""
    packages = Package.objects.public().filter(items__service_id=referral.to_service_id)
    if referral.to_professional_id is not None:
        packages = packages.filter(
            Q(allowed_professionals__isnull=True) | Q(allowed_professionals=referral.to_professional_id)
        )
    package = packages.order_by("sort_order", "name").distinct().first()
    if package is None:
        return None, ""
    return package, f"{settings.SITE_URL}{reverse('widget:pack', kwargs={'slug': package.slug})}"


def plan_referral(referral, *, at: datetime) -> None:
    """The referred patient's email: whom they are referred to, the booking link opened on that professional or
    service, and the pack that includes the service when the clinic sells one. Never the referral's note (it is
    for the professional). The names and links are copied into the row when planned, so the email says what was
    true when the professional referred. Written inside the referral's transaction (``referral_made``)."""
    recipient = user_recipient(referral.patient.user)
    if recipient is None:
        return
    professional, service = referral.to_professional, referral.to_service
    package, pack_url = _referral_pack(referral)
    data = {
        "referred_to": professional.display_name if professional else "",
        "service": service.name if service else "",
        "booking_url": referral_booking_url(professional=professional, service=service),
        "pack_name": package.name if package else "",
        "pack_url": pack_url,
        "referred_by": referral.from_professional.display_name,
    }
    _insert([_row(Event.REFERRAL, about=referral, recipient=recipient, at=at, data=data)])


# --- professionals ------------------------------------------------------------------------

# The local hour of the professionals' daily agenda, and how many hours after it a late planner still plans it.
AGENDA_HOUR = 7
AGENDA_LATE_HOURS = 5


def plan_daily_agendas(*, now: datetime | None = None) -> int:
    """Today's agenda email to each professional who asked for it and has sessions today; how many were planned.

    Run every hour (``tasks``): the first run from 07:00 in the clinic's zone plans the day's rows, scheduled at
    07:00, and later runs insert nothing (the unique constraint), so a system down at 07:00 still sends the agenda
    when it comes back, until noon. The sessions are copied into the row's data when planned: the dispatcher
    renders them without a query per message, and the email lists what was booked at 07:00. The day is the local
    date: on the night Santiago skips midnight, the day starts at 01:00.
    """
    now = now or timezone.now()
    zone = timezone.get_default_timezone()
    local_now = now.astimezone(zone)
    if not AGENDA_HOUR <= local_now.hour < AGENDA_HOUR + AGENDA_LATE_HOURS:
        return 0
    day = local_now.date()
    day_start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    day_end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    send_at = datetime.combine(day, time(AGENDA_HOUR), tzinfo=zone).astimezone(UTC)
    sessions = (
        Appointment.objects.filter(
            professional__daily_agenda_email=True,
            professional__active=True,
            status=AppointmentStatus.CONFIRMED,
            start__gte=day_start,
            start__lt=day_end,
        )
        .select_related("professional__user", "patient__user", "service", "location")
        .order_by("professional_id", "start")
    )
    rows = []
    for _professional_id, group in groupby(sessions, key=lambda appointment: appointment.professional_id):
        appointments = list(group)
        professional = appointments[0].professional
        recipient = user_recipient(professional.user if professional.user_id else None)
        if recipient is None:
            continue
        data = {"day": day.isoformat(), "sessions": [_agenda_entry(appointment) for appointment in appointments]}
        rows.append(_row(Event.PRO_DAILY_AGENDA, about=professional, recipient=recipient, at=send_at, data=data))
    _insert(rows)
    return len(rows)


def _agenda_entry(appointment: Appointment) -> dict:
    """One line of the agenda as plain facts; the email writes them in its language (``rendering``)."""
    user = appointment.patient.user
    return {
        "start": appointment.start.isoformat(),
        "end": appointment.end.isoformat(),
        "patient": user.get_full_name() or user.email,
        "service": appointment.service.name,
        "modality": appointment.modality,
        "place": appointment.location.name if appointment.location_id else "",
        "zone": _zone(appointment).key,
        "reference": appointment.reference,
    }


# --- staff --------------------------------------------------------------------------------


def plan_staff_alert(event: str, *, about: str, at: datetime, data: dict | None = None) -> None:
    """One alert per staff address about ``about`` (an object key) at ``at``: the same failure alerts once."""
    _insert(_row(event, about=about, recipient=recipient, at=at, data=data) for recipient in staff_recipients())
