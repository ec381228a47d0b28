"""Appointments (bookings) and their audit trail.

Only ``booking.scheduling.services`` changes an appointment's status; the model holds the state and the
predicates the services and the pages ask (``can_cancel``, ``can_reschedule``).

Overlap is checked on ``blocked_start``/``blocked_end`` (the session plus the service's buffers), never on the
session alone. On PostgreSQL an exclusion constraint (migration 0003) guards it in the database as well.
"""

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from portal.accounts.models import Patient

from .catalog import CURRENCY_CHOICES, Location, Professional, Room, Service

REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U to misread
REFERENCE_LENGTH = 10  # 32**10 ≈ 10**15: not guessable, short enough to read over the phone


def new_reference() -> str:
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


class AppointmentStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("Pending payment")
    CONFIRMED = "confirmed", _("Confirmed")
    COMPLETED = "completed", _("Completed")
    CANCELLED = "cancelled", _("Cancelled")
    NO_SHOW_PATIENT = "no_show_patient", _("Patient did not attend")
    NO_SHOW_PROFESSIONAL = "no_show_professional", _("Professional did not attend")


# Statuses whose time stays taken. Completed and no-show sessions lie in the past but keep blocking, so that
# history never shows two sessions of one professional at once; a pending hold blocks until it expires.
BLOCKING_STATUSES = (
    AppointmentStatus.PENDING_PAYMENT,
    AppointmentStatus.CONFIRMED,
    AppointmentStatus.COMPLETED,
    AppointmentStatus.NO_SHOW_PATIENT,
    AppointmentStatus.NO_SHOW_PROFESSIONAL,
)
OPEN_STATUSES = (AppointmentStatus.PENDING_PAYMENT, AppointmentStatus.CONFIRMED)


class AppointmentModality(models.TextChoices):
    IN_PERSON = "in_person", _("In person")
    ONLINE = "online", _("Online")


class AppointmentSource(models.TextChoices):
    BOOKING_BOX = "booking_box", _("Booking box")
    PORTAL = "portal", _("Patient portal")
    ADMIN = "admin", _("Admin")
    API = "api", _("API")


def expired_hold_q(now: datetime) -> Q:
    """Still held at ``now`` though its time ran out: nobody released it yet, but it no longer blocks anyone."""
    return Q(status=AppointmentStatus.PENDING_PAYMENT, hold_expires_at__lte=now)


# A hold given back unpaid (ran out, abandoned or cancelled before the money came): it is cancelled, and keeps the
# deadline it had, which confirming a hold clears. Sessions booked without a hold never have one.
LAPSED_HOLD_Q = Q(status=AppointmentStatus.CANCELLED, hold_expires_at__isnull=False)


class AppointmentQuerySet(models.QuerySet):
    def active(self, now: datetime):
        """Appointments that keep their time taken at ``now``: every blocking status except expired holds."""
        return self.filter(status__in=BLOCKING_STATUSES).exclude(expired_hold_q(now))

    def held(self):
        """Sessions held until paid (``pending_payment``), whether or not their time has run out yet."""
        return self.filter(status=AppointmentStatus.PENDING_PAYMENT)

    def expired_holds(self, now: datetime):
        """Holds whose time ran out by ``now`` and that nobody has released yet."""
        return self.filter(expired_hold_q(now))

    def lapsed_holds(self):
        """Holds given back unpaid: cancelled (expired, abandoned at checkout or cancelled) before any payment."""
        return self.filter(LAPSED_HOLD_Q)

    def lapsed_or_expired_holds(self, now: datetime):
        """Holds that can no longer be paid for at ``now``: given back already, or past their deadline."""
        return self.filter(LAPSED_HOLD_Q | expired_hold_q(now))

    def other_than_lapsed_holds(self):
        """Every appointment except the holds given back unpaid (to find invoices with nothing else on them)."""
        return self.exclude(LAPSED_HOLD_Q)

    def upcoming(self, now: datetime):
        """Sessions still to come that the patient will attend (confirmed, or held and not expired)."""
        return self.active(now).filter(status__in=OPEN_STATUSES, start__gte=now).order_by("start")

    def for_patient(self, user):
        return self.filter(patient__user=user)

    def overlapping(self, start: datetime, end: datetime):
        """Appointments whose blocked interval overlaps ``[start, end)`` (half-open: touching is fine)."""
        return self.filter(blocked_start__lt=end, blocked_end__gt=start)


class Appointment(models.Model):
    """A session of one patient with one professional; a ``pending_payment`` one is a hold until paid."""

    reference = models.CharField(_("reference"), max_length=16, unique=True, default=new_reference, editable=False)
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="appointments", verbose_name=_("patient")
    )
    professional = models.ForeignKey(
        Professional, on_delete=models.PROTECT, related_name="appointments", verbose_name=_("professional")
    )
    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="appointments", verbose_name=_("service")
    )
    location = models.ForeignKey(
        Location,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="appointments",
        verbose_name=_("location"),
        help_text=_("Empty for online sessions."),
    )
    room = models.ForeignKey(
        Room, on_delete=models.PROTECT, null=True, blank=True, related_name="appointments", verbose_name=_("room")
    )
    modality = models.CharField(_("modality"), max_length=16, choices=AppointmentModality.choices)
    start = models.DateTimeField(_("start"), db_index=True)
    end = models.DateTimeField(_("end"))
    blocked_start = models.DateTimeField(_("blocked from"), help_text=_("The start minus the buffer before."))
    blocked_end = models.DateTimeField(_("blocked until"), help_text=_("The end plus the buffer after."))
    status = models.CharField(
        _("status"), max_length=24, choices=AppointmentStatus.choices, default=AppointmentStatus.PENDING_PAYMENT
    )
    hold_expires_at = models.DateTimeField(_("hold expires at"), null=True, blank=True)
    participants = models.PositiveSmallIntegerField(_("participants"), default=1)
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES, default="CLP")
    patient_note = models.TextField(_("note from the patient"), blank=True)
    # Another video service's address for this one session (e.g. the professional's own Zoom); it replaces the room.
    video_link = models.URLField(_("video link"), blank=True)
    # An online session's unguessable room on VIDEO_BASE_URL (booking.scheduling.video), given when it is booked.
    video_room = models.CharField(_("video room"), max_length=64, blank=True, editable=False)
    source = models.CharField(_("source"), max_length=16, choices=AppointmentSource.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    pack_purchase = models.ForeignKey(
        "packs.PackagePurchase",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="appointments",
        verbose_name=_("pack"),
        help_text=_("The pack this session was booked from; set with its credit by booking.packs.services."),
    )
    cancellation_reason = models.TextField(_("cancellation reason"), blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("cancelled by"),
    )
    reschedule_count = models.PositiveSmallIntegerField(_("times rescheduled"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = AppointmentQuerySet.as_manager()

    class Meta:
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        ordering = ["-start"]
        indexes = [models.Index(fields=["professional", "blocked_start"], name="scheduling_appt_prof_blocked")]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="scheduling_appointment_end_after_start"),
            models.CheckConstraint(
                condition=Q(blocked_end__gt=F("blocked_start")), name="scheduling_appointment_blocked_end_after_start"
            ),
            models.UniqueConstraint(
                fields=["video_room"], condition=~Q(video_room=""), name="scheduling_appointment_unique_video_room"
            ),
            # The exclusion constraints against overlaps are PostgreSQL-only: see migration 0003.
        ]

    def __str__(self):
        return f"{self.reference} · {self.professional} · {self.start:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_lapsed_hold(self) -> bool:
        """A hold given back unpaid (``LAPSED_HOLD_Q`` for one row already loaded)."""
        return self.status == AppointmentStatus.CANCELLED and self.hold_expires_at is not None

    def hold_expired(self, now: datetime) -> bool:
        return (
            self.status == AppointmentStatus.PENDING_PAYMENT
            and self.hold_expires_at is not None
            and self.hold_expires_at <= now
        )

    def can_cancel(self, now: datetime) -> bool:
        """Whether the patient may still cancel (late cancellations are allowed; they only lose the refund)."""
        return self.is_open and now < self.start

    def cancellation_is_free(self, now: datetime) -> bool:
        """Whether a cancellation at ``now`` is inside the service's window and therefore refunded."""
        return now <= self.start - timedelta(hours=self.service.cancellation_window_hours)

    def can_reschedule(self, now: datetime) -> bool:
        """Whether the patient may still move this booking: open, early enough, and moves left."""
        return (
            self.is_open
            and self.reschedule_count < self.service.max_reschedules
            and now <= self.start - timedelta(hours=self.service.reschedule_window_hours)
            and now < self.start
        )


class AppointmentEvent(models.Model):
    """One change of an appointment: who did what, when, and the state before and after (the audit trail)."""

    class Action(models.TextChoices):
        CREATED = "created", _("Created")
        HELD = "held", _("Held")
        CONFIRMED = "confirmed", _("Confirmed")
        RESCHEDULED = "rescheduled", _("Rescheduled")
        CANCELLED = "cancelled", _("Cancelled")
        COMPLETED = "completed", _("Completed")
        NO_SHOW_PATIENT = "no_show_patient", _("Patient did not attend")
        NO_SHOW_PROFESSIONAL = "no_show_professional", _("Professional did not attend")
        HOLD_EXPIRED = "hold_expired", _("Hold expired")

    appointment = models.ForeignKey(
        Appointment, on_delete=models.CASCADE, related_name="events", verbose_name=_("appointment")
    )
    action = models.CharField(_("action"), max_length=24, choices=Action.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    at = models.DateTimeField(_("at"))
    before = models.JSONField(_("before"), default=dict, blank=True)
    after = models.JSONField(_("after"), default=dict, blank=True)
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        verbose_name = _("appointment event")
        verbose_name_plural = _("appointment events")
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.appointment.reference} · {self.get_action_display()} · {self.at:%Y-%m-%d %H:%M}"
