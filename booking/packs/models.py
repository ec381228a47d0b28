"""Session packs: the templates the clinic sells, what a patient bought, and the ledger of their session credits.

- ``Package`` is the template ("8 psychology sessions", "4 nutrition controls"), edited by staff. Its credit mode
  says how the sessions are counted:

  * ``per_service``: each ``PackageItem`` gives its own quota (``sessions``) of one service.
  * ``shared_pool``: the package's ``pool_sessions`` can be spent on any service its items list; an item's
    ``sessions`` is then left empty (the form refuses a number there, so nobody believes it is a quota).

- ``PackagePurchase`` is one patient's pack. It keeps a ``snapshot`` of the items, price and rules at purchase
  time (``Package.snapshot()``), so editing or deactivating the template never changes what was sold.

- ``PackCreditEntry`` is the append-only ledger. Nothing stores a counter: the balance is derived from the rows
  (``booking.packs.selectors``), inside the transaction that books, with the purchase row locked.

Quantities: every row's ``quantity`` is a positive number of sessions whose effect is given by its ``kind``;
only ``adjusted`` rows are signed (a staff correction adds or removes sessions). For one balance bucket (a
service of a per-service pack, or the whole pool of a shared-pool pack)::

    remaining (bookable) = granted + adjusted − reserved + released − expired − cancelled
    booked (still open)  = reserved − consumed − released − forfeited
    used                 = consumed + forfeited

``consumed``, ``released`` and ``forfeited`` settle one ``reserved`` row of the same appointment (at most one
settlement per appointment, enforced by the database). Rows of a shared pool carry the service a session was
booked for (``reserved`` and its settlement); ``granted``, ``expired`` and ``adjusted`` rows of a pool have no
service, because they concern the pool as a whole. ``cancelled`` rows write off what was left when the pack was
cancelled (``cancel_pack``), like ``expired`` ones when its validity ends.

Only ``booking.packs.services`` writes ledger rows or a purchase's status.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey, ParentalManyToManyField
from modelcluster.models import ClusterableModel
from wagtail.models import Orderable

from booking.scheduling.models import Appointment, Location, Professional, Service
from booking.scheduling.models.appointments import AppointmentSource, new_reference
from booking.scheduling.models.catalog import CURRENCY_CHOICES
from booking.scheduling.money import format_money
from portal.accounts.models import Patient

SNAPSHOT_VERSION = 1


class CreditMode(models.TextChoices):
    PER_SERVICE = "per_service", _("Sessions per service")
    SHARED_POOL = "shared_pool", _("Shared pool of sessions")


class PackageQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True)

    def public(self):
        """Packs offered to visitors: active and public."""
        return self.filter(active=True, public=True)


class Package(ClusterableModel):
    """A pack the clinic sells: sessions of one or more services, a price and a validity."""

    name = models.CharField(_("name"), max_length=150)
    slug = models.SlugField(_("slug"), max_length=150, unique=True)
    description = models.TextField(_("description"), blank=True)
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2, validators=[MinValueValidator(0)])
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES, default="CLP")
    validity_days = models.PositiveIntegerField(
        _("validity (days)"),
        default=180,
        validators=[MinValueValidator(1)],
        help_text=_("How many days after the purchase the sessions can be used."),
    )
    active = models.BooleanField(_("active"), default=True, help_text=_("Inactive packs cannot be bought."))
    public = models.BooleanField(
        _("public"), default=True, help_text=_("Offered to visitors on the site; otherwise staff assign it.")
    )
    credit_mode = models.CharField(
        _("how sessions are counted"),
        max_length=16,
        choices=CreditMode.choices,
        default=CreditMode.PER_SERVICE,
        help_text=_(
            "Per service: each service has its own number of sessions. Shared pool: one number of sessions "
            "usable on any of the listed services."
        ),
    )
    pool_sessions = models.PositiveSmallIntegerField(
        _("sessions in the pool"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Only for a shared pool: how many sessions the pack gives in total."),
    )
    allowed_professionals = ParentalManyToManyField(
        Professional,
        blank=True,
        related_name="packages",
        verbose_name=_("allowed professionals"),
        help_text=_("Leave empty to allow every professional who offers the services."),
    )
    default_location = models.ForeignKey(
        Location,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("default location"),
    )
    max_purchases_per_patient = models.PositiveSmallIntegerField(
        _("purchases per patient"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("How many times one patient may buy this pack. Leave empty for no limit."),
    )
    pay_at_clinic_allowed = models.BooleanField(
        _("patients may pay at the clinic"),
        default=False,
        help_text=_(
            "Lets a patient buying this pack online choose to pay at the clinic (the pack is usable at once and "
            "its invoice stays owed). Staff can always assign a pack paid at the clinic."
        ),
    )
    patient_may_cancel = models.BooleanField(
        _("patients may cancel"),
        default=False,
        help_text=_(
            "Lets the patient cancel the pack themselves: upcoming sessions are cancelled and the unused sessions "
            "refunded. Staff can always cancel a pack."
        ),
    )
    sort_order = models.PositiveIntegerField(_("order"), default=0)

    objects = PackageQuerySet.as_manager()

    class Meta:
        verbose_name = _("pack")
        verbose_name_plural = _("packs")
        ordering = ["sort_order", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="packs_package_price_non_negative"),
            models.CheckConstraint(condition=Q(validity_days__gte=1), name="packs_package_validity_positive"),
            models.CheckConstraint(
                condition=(Q(credit_mode=CreditMode.PER_SERVICE) & Q(pool_sessions__isnull=True))
                | (Q(credit_mode=CreditMode.SHARED_POOL) & Q(pool_sessions__gte=1)),
                name="packs_package_pool_sessions_match_mode",
                violation_error_message=_(
                    "A shared pool needs its number of sessions; a pack counted per service has none."
                ),
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def formatted_price(self) -> str:
        return format_money(self.price, self.currency)

    @property
    def is_pool(self) -> bool:
        return self.credit_mode == CreditMode.SHARED_POOL

    def snapshot(self) -> dict:
        """What a purchase keeps of this pack: items, price and rules, as plain JSON.

        Reads the items (with their services) and the allowed professionals: call it on a package fetched with
        ``prefetch_related("items__service", "allowed_professionals")`` when snapshotting many.
        """
        return {
            "version": SNAPSHOT_VERSION,
            "package": {"id": self.pk, "name": self.name, "slug": self.slug},
            "credit_mode": self.credit_mode,
            "pool_sessions": self.pool_sessions if self.is_pool else None,
            "items": [
                {
                    "service_id": item.service_id,
                    "service_name": item.service.name,
                    "sessions": None if self.is_pool else item.sessions,
                }
                for item in self.items.all()
            ],
            "price": str(self.price),
            "currency": self.currency,
            "validity_days": self.validity_days,
            "allowed_professional_ids": sorted(professional.pk for professional in self.allowed_professionals.all()),
            "default_location_id": self.default_location_id,
            "pay_at_clinic_allowed": self.pay_at_clinic_allowed,
            "patient_may_cancel": self.patient_may_cancel,
        }


class PackageItem(Orderable):
    """A service a pack covers; in a per-service pack, with its number of sessions.

    In a shared-pool pack the item only says the service is usable; ``sessions`` stays empty and the package's
    ``pool_sessions`` counts. The admin form checks this, since a row cannot see its package's mode in a
    database constraint.
    """

    package = ParentalKey(Package, on_delete=models.CASCADE, related_name="items", verbose_name=_("pack"))
    service = models.ForeignKey(
        Service, on_delete=models.PROTECT, related_name="package_items", verbose_name=_("service")
    )
    sessions = models.PositiveSmallIntegerField(
        _("sessions"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Per-service packs only: how many sessions of this service. Leave empty in a shared pool."),
    )

    class Meta(Orderable.Meta):
        verbose_name = _("pack item")
        verbose_name_plural = _("pack items")
        constraints = [
            models.UniqueConstraint(fields=["package", "service"], name="packs_item_unique_service"),
            models.CheckConstraint(
                condition=Q(sessions__isnull=True) | Q(sessions__gte=1), name="packs_item_sessions_positive"
            ),
        ]

    def __str__(self):
        if self.sessions:
            return f"{self.service} × {self.sessions}"
        return str(self.service)


class PurchaseStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("Pending payment")
    ACTIVE = "active", _("Active")
    EXHAUSTED = "exhausted", _("All sessions used")
    EXPIRED = "expired", _("Expired")
    CANCELLED = "cancelled", _("Cancelled")


# Purchases whose sessions can still change: booked, settled, adjusted or expired.
LIVE_STATUSES = (PurchaseStatus.ACTIVE, PurchaseStatus.EXHAUSTED)


class PackagePurchaseQuerySet(models.QuerySet):
    def for_patient(self, user):
        return self.filter(patient__user=user)

    def due_to_expire(self, now: datetime):
        """Active purchases whose validity ended at or before ``now`` (an exhausted one has nothing to expire)."""
        return self.filter(status=PurchaseStatus.ACTIVE, expires_at__lte=now)


class PackagePurchase(models.Model):
    """One patient's pack: what was bought (a snapshot), until when, and where it stands."""

    reference = models.CharField(_("reference"), max_length=16, unique=True, default=new_reference, editable=False)
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, related_name="pack_purchases", verbose_name=_("patient")
    )
    package = models.ForeignKey(Package, on_delete=models.PROTECT, related_name="purchases", verbose_name=_("pack"))
    snapshot = models.JSONField(
        _("snapshot"), help_text=_("The pack's items, price and rules when it was bought (Package.snapshot()).")
    )
    price = models.DecimalField(_("price"), max_digits=12, decimal_places=2, validators=[MinValueValidator(0)])
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES, default="CLP")
    purchased_at = models.DateTimeField(_("purchased at"))
    expires_at = models.DateTimeField(_("expires at"), db_index=True)
    status = models.CharField(
        _("status"), max_length=24, choices=PurchaseStatus.choices, default=PurchaseStatus.PENDING_PAYMENT
    )
    # One line sells one pack; set by billing when the pack is invoiced.
    invoice_line = models.OneToOneField(
        "billing.InvoiceLine",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="pack_purchase",
        verbose_name=_("invoice line"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    source = models.CharField(_("source"), max_length=16, choices=AppointmentSource.choices, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    # Set once the "expiring in 7 days" notice was sent (pack_expiring), so the daily task sends it once.
    expiry_notified_at = models.DateTimeField(_("expiry notice sent at"), null=True, blank=True, editable=False)

    objects = PackagePurchaseQuerySet.as_manager()

    class Meta:
        verbose_name = _("pack purchase")
        verbose_name_plural = _("pack purchases")
        ordering = ["-purchased_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="packs_purchase_price_non_negative"),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("purchased_at")), name="packs_purchase_expires_after_purchase"
            ),
            models.CheckConstraint(condition=Q(status__in=PurchaseStatus.values), name="packs_purchase_status_valid"),
        ]

    def __str__(self):
        return f"{self.reference} · {self.snapshot_name}"

    @property
    def snapshot_name(self) -> str:
        return (self.snapshot or {}).get("package", {}).get("name") or ""

    @property
    def credit_mode(self) -> str:
        return (self.snapshot or {}).get("credit_mode", CreditMode.PER_SERVICE)

    @property
    def is_pool(self) -> bool:
        return self.credit_mode == CreditMode.SHARED_POOL

    @property
    def service_ids(self) -> list[int]:
        """The services this purchase covers, from its snapshot."""
        return [item["service_id"] for item in (self.snapshot or {}).get("items", [])]

    @property
    def allowed_professional_ids(self) -> list[int]:
        """Professionals the sessions may be booked with; empty means any who offers the service."""
        return list((self.snapshot or {}).get("allowed_professional_ids") or [])

    @property
    def formatted_price(self) -> str:
        return format_money(self.price, self.currency)

    @property
    def default_location_id(self) -> int | None:
        """The location to preselect when booking a session of this pack (the package's, when it was bought)."""
        return (self.snapshot or {}).get("default_location_id")

    @property
    def sold_sessions(self) -> int:
        """How many sessions the pack was sold with (the snapshot's; staff adjustments are not counted)."""
        snapshot = self.snapshot or {}
        if snapshot.get("credit_mode") == CreditMode.SHARED_POOL:
            return int(snapshot.get("pool_sessions") or 0)
        return sum(int(item.get("sessions") or 0) for item in snapshot.get("items", []))

    def has_expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    @staticmethod
    def expiry_for(package: Package, purchased_at: datetime) -> datetime:
        """The end of the validity of ``package`` bought at ``purchased_at``."""
        return purchased_at + timedelta(days=package.validity_days)


class CreditKind(models.TextChoices):
    GRANTED = "granted", _("Granted")
    RESERVED = "reserved", _("Booked")
    CONSUMED = "consumed", _("Used")
    RELEASED = "released", _("Returned")
    FORFEITED = "forfeited", _("Lost (late cancellation or no-show)")
    ADJUSTED = "adjusted", _("Adjusted by staff")
    EXPIRED = "expired", _("Expired")
    CANCELLED = "cancelled", _("Cancelled with the pack")


# The kinds that close one reserved session; at most one of them per appointment.
SETTLEMENT_KINDS = (CreditKind.CONSUMED, CreditKind.RELEASED, CreditKind.FORFEITED)
APPOINTMENT_KINDS = (CreditKind.RESERVED, *SETTLEMENT_KINDS)


class AppendOnlyError(Exception):
    """A ledger row was about to be changed or deleted: the ledger only grows."""


class AppendOnlyQuerySet(models.QuerySet):
    """Refuses bulk updates and deletes, which would bypass ``save()`` and ``delete()``."""

    def update(self, **kwargs):
        raise AppendOnlyError("Pack credit entries cannot be changed; add an adjustment instead.")

    def delete(self):
        raise AppendOnlyError("Pack credit entries cannot be deleted; add an adjustment instead.")

    update.queryset_only = True
    delete.queryset_only = True


class PackCreditEntry(models.Model):
    """One change of a purchase's session credits (see the module docstring for what each kind means)."""

    purchase = models.ForeignKey(
        PackagePurchase, on_delete=models.PROTECT, related_name="credit_entries", verbose_name=_("pack purchase")
    )
    service = models.ForeignKey(
        Service,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("service"),
        help_text=_("Empty for rows about a shared pool as a whole (granted, adjusted, expired)."),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=CreditKind.choices)
    quantity = models.IntegerField(
        _("sessions"), help_text=_("Positive; only staff adjustments may be negative (sessions taken away).")
    )
    appointment = models.ForeignKey(
        Appointment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="pack_credit_entries",
        verbose_name=_("appointment"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    reason = models.TextField(_("reason"), blank=True)
    at = models.DateTimeField(_("at"))

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("pack credit entry")
        verbose_name_plural = _("pack credit entries")
        ordering = ["at", "pk"]
        # Rows are only ever added: "change" and "delete" permissions would mean nothing.
        default_permissions = ("add", "view")
        indexes = [models.Index(fields=["purchase", "service"], name="packs_entry_purchase_service")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=CreditKind.values), name="packs_entry_kind_valid"),
            models.CheckConstraint(
                condition=(Q(kind=CreditKind.ADJUSTED) & ~Q(quantity=0))
                | (~Q(kind=CreditKind.ADJUSTED) & Q(quantity__gte=1)),
                name="packs_entry_quantity_sign",
            ),
            # A booked session takes exactly one credit, and its settlement returns or spends that one.
            models.CheckConstraint(
                condition=~Q(kind__in=APPOINTMENT_KINDS) | (Q(appointment__isnull=False) & Q(quantity=1)),
                name="packs_entry_session_rows_have_appointment",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=APPOINTMENT_KINDS) | Q(appointment__isnull=True),
                name="packs_entry_pack_rows_have_no_appointment",
            ),
            models.CheckConstraint(
                condition=~Q(kind=CreditKind.ADJUSTED) | ~Q(reason=""), name="packs_entry_adjustment_has_reason"
            ),
            models.UniqueConstraint(
                fields=["purchase", "service"],
                condition=Q(kind=CreditKind.GRANTED),
                name="packs_entry_one_grant_per_service",
            ),
            models.UniqueConstraint(
                fields=["purchase"],
                condition=Q(kind=CreditKind.GRANTED, service__isnull=True),
                name="packs_entry_one_pool_grant",
            ),
            models.UniqueConstraint(
                fields=["appointment"], condition=Q(kind=CreditKind.RESERVED), name="packs_entry_one_reservation"
            ),
            models.UniqueConstraint(
                fields=["appointment"],
                condition=Q(kind__in=SETTLEMENT_KINDS),
                name="packs_entry_one_settlement",
            ),
        ]

    def __str__(self):
        return f"{self.purchase_id} · {self.get_kind_display()} · {self.quantity}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError("Pack credit entries cannot be changed; add an adjustment instead.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Pack credit entries cannot be deleted; add an adjustment instead.")
