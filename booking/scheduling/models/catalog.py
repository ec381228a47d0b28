"""The clinic catalog: what is offered, where, and by whom.

These are plain Django models managed in the Wagtail admin's "Clinic" menu. Public
pages (``website.clinic``) link to them; the scheduling engine books against them.
"""

import zoneinfo
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey, ParentalManyToManyField
from modelcluster.models import ClusterableModel
from wagtail.models import Orderable
from wagtail.search import index

from portal.accounts.rut import normalize_rut, validate_rut

from ..money import format_money

CURRENCY_CHOICES = [("CLP", "CLP — Peso chileno"), ("USD", "USD — US dollar"), ("EUR", "EUR — Euro")]


def time_zone_choices():
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class Modality(models.TextChoices):
    IN_PERSON = "in_person", _("In person")
    ONLINE = "online", _("Online")
    BOTH = "both", _("In person or online")


class PaymentMode(models.TextChoices):
    ONLINE_AT_BOOKING = "online", _("Pay online when booking")
    LATER = "later", _("Pay later (online or at the clinic)")
    AT_CLINIC = "clinic", _("Pay at the clinic")


class ActiveQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True)


class ServiceCategory(index.Indexed, models.Model):
    """A family of services, e.g. Psychology or Nutrition."""

    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)
    sort_order = models.PositiveIntegerField(_("order"), default=0)

    search_fields = [index.SearchField("name"), index.AutocompleteField("name")]

    class Meta:
        verbose_name = _("service category")
        verbose_name_plural = _("service categories")
        ordering = ["sort_order", "name"]

    def __str__(self):
        return self.name


class Service(index.Indexed, models.Model):
    """Something a patient can book: a kind of session with its duration, price and policy."""

    name = models.CharField(_("name"), max_length=150)
    slug = models.SlugField(_("slug"), max_length=150, unique=True)
    category = models.ForeignKey(
        ServiceCategory, on_delete=models.PROTECT, related_name="services", verbose_name=_("category")
    )
    description = models.TextField(_("description"), blank=True)
    duration_minutes = models.PositiveIntegerField(
        _("duration (minutes)"), default=50, validators=[MinValueValidator(5)]
    )
    buffer_before_minutes = models.PositiveIntegerField(
        _("buffer before (minutes)"),
        default=0,
        help_text=_("Time kept free before the session, e.g. to prepare the room."),
    )
    buffer_after_minutes = models.PositiveIntegerField(
        _("buffer after (minutes)"),
        default=10,
        help_text=_("Time kept free after the session, e.g. to write notes."),
    )
    price = models.DecimalField(
        _("price"), max_digits=12, decimal_places=2, default=Decimal("0"), validators=[MinValueValidator(0)]
    )
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES, default="CLP")
    modality = models.CharField(_("modality"), max_length=16, choices=Modality.choices, default=Modality.BOTH)
    min_notice_minutes = models.PositiveIntegerField(
        _("minimum notice (minutes)"),
        default=12 * 60,
        help_text=_("How long before the start a session can still be booked."),
    )
    booking_horizon_days = models.PositiveIntegerField(
        _("booking horizon (days)"),
        default=60,
        validators=[MinValueValidator(1)],
        help_text=_("How many days ahead patients can book."),
    )
    cancellation_window_hours = models.PositiveIntegerField(
        _("cancellation window (hours)"),
        default=24,
        help_text=_("Patients may cancel with a refund up to this many hours before the start."),
    )
    reschedule_window_hours = models.PositiveIntegerField(
        _("reschedule window (hours)"),
        default=24,
        help_text=_("Patients may reschedule up to this many hours before the start."),
    )
    max_reschedules = models.PositiveIntegerField(
        _("maximum reschedules"), default=2, help_text=_("How many times a patient may move one booking.")
    )
    payment_mode = models.CharField(
        _("payment"), max_length=16, choices=PaymentMode.choices, default=PaymentMode.LATER
    )
    available_in_packs = models.BooleanField(_("available in packs"), default=True)
    # A yes/no policy (default: the session is lost), so that forms posted without it keep the default.
    pack_late_cancel_returns_session = models.BooleanField(
        _("return pack sessions cancelled late or missed"),
        default=False,
        help_text=_(
            "Whether a session booked from a pack goes back to the pack when it is cancelled late or the patient "
            "does not attend; otherwise it is lost. A timely cancellation and a professional's no-show always "
            "return it."
        ),
    )
    # The nutrition control reminder: a session of this service with no later one booked gets an email this many
    # days after it (booking.notifications). Empty: no reminder (most services).
    control_reminder_days = models.PositiveIntegerField(
        _("control reminder after (days)"),
        null=True,
        blank=True,
        help_text=_(
            "Email the patient this many days after a session of this service when no next session is booked. "
            "Leave empty for no reminder."
        ),
    )
    active = models.BooleanField(_("active"), default=True, help_text=_("Inactive services cannot be booked."))
    sort_order = models.PositiveIntegerField(_("order"), default=0)

    objects = ActiveQuerySet.as_manager()

    search_fields = [
        index.SearchField("name"),
        index.AutocompleteField("name"),
        index.SearchField("description"),
        index.FilterField("active"),
        index.FilterField("category_id"),
    ]

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ["category__sort_order", "sort_order", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="scheduling_service_price_non_negative"),
            models.CheckConstraint(condition=Q(duration_minutes__gte=5), name="scheduling_service_min_duration"),
        ]

    def __str__(self):
        return self.name

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)

    @property
    def formatted_price(self) -> str:
        """The price as a patient reads it, e.g. ``$35.000``."""
        return format_money(self.price, self.currency)

    @property
    def cancellation_policy(self) -> str:
        """The cancellation and rescheduling rules in one plain sentence for the public pages."""
        if self.cancellation_window_hours:
            cancel = ngettext(
                "You can cancel free of charge up to %(hours)d hour before the session.",
                "You can cancel free of charge up to %(hours)d hours before the session.",
                self.cancellation_window_hours,
            ) % {"hours": self.cancellation_window_hours}
        else:
            cancel = gettext("You can cancel free of charge until the session starts.")
        if not self.max_reschedules:
            reschedule = gettext("Bookings of this service cannot be rescheduled.")
        elif self.reschedule_window_hours:
            reschedule = ngettext(
                "You can reschedule up to %(hours)d hour before the session",
                "You can reschedule up to %(hours)d hours before the session",
                self.reschedule_window_hours,
            ) % {"hours": self.reschedule_window_hours}
            reschedule += " " + ngettext(
                "(at most %(count)d time per booking).",
                "(at most %(count)d times per booking).",
                self.max_reschedules,
            ) % {"count": self.max_reschedules}
        else:
            reschedule = ngettext(
                "You can reschedule until the session starts (at most %(count)d time per booking).",
                "You can reschedule until the session starts (at most %(count)d times per booking).",
                self.max_reschedules,
            ) % {"count": self.max_reschedules}
        return f"{cancel} {reschedule}"

    @property
    def offers_in_person(self) -> bool:
        return self.modality in (Modality.IN_PERSON, Modality.BOTH)

    @property
    def offers_online(self) -> bool:
        return self.modality in (Modality.ONLINE, Modality.BOTH)


class Location(index.Indexed, ClusterableModel):
    """A place where sessions happen, with its own time zone for wall-clock schedules.

    Clusterable so that its rooms are edited inline on the location's admin form.
    """

    name = models.CharField(_("name"), max_length=150)
    slug = models.SlugField(_("slug"), max_length=150, unique=True)
    address = models.CharField(_("address"), max_length=255)
    city = models.CharField(_("city"), max_length=100, blank=True)
    region = models.CharField(_("region"), max_length=100, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    email = models.EmailField(_("email"), blank=True)
    directions = models.TextField(_("how to get there"), blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, choices=time_zone_choices, default=settings.TIME_ZONE)
    observes_public_holidays = models.BooleanField(
        _("closed on public holidays"),
        default=True,
        help_text=_("Chile's public holidays close this location. Untick it if the location opens on holidays."),
    )
    active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveIntegerField(_("order"), default=0)

    objects = ActiveQuerySet.as_manager()

    search_fields = [
        index.SearchField("name"),
        index.AutocompleteField("name"),
        index.SearchField("address"),
        index.SearchField("city"),
    ]

    class Meta:
        verbose_name = _("location")
        verbose_name_plural = _("locations")
        ordering = ["sort_order", "name"]

    def __str__(self):
        return self.name

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def full_address(self) -> str:
        return ", ".join(part for part in (self.address, self.city, self.region) if part)


class Room(models.Model):
    """An optional room inside a location; a booking may reserve one."""

    location = ParentalKey(Location, on_delete=models.CASCADE, related_name="rooms", verbose_name=_("location"))
    name = models.CharField(_("name"), max_length=100)
    active = models.BooleanField(_("active"), default=True)

    objects = ActiveQuerySet.as_manager()

    class Meta:
        verbose_name = _("room")
        verbose_name_plural = _("rooms")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["location", "name"], name="scheduling_room_unique_name_per_location"),
        ]

    def __str__(self):
        return f"{self.location} · {self.name}"


class AvailabilitySelfService(models.TextChoices):
    """What a professional may change of their own hours in the portal; the clinic decides per professional."""

    NONE = "none", _("Nothing (the clinic's staff change the hours)")
    TIME_OFF = "time_off", _("Time off and date overrides")
    FULL = "full", _("Weekly hours, date overrides and time off")


class ProfessionalQuerySet(ActiveQuerySet):
    def bookable(self):
        """Professionals a new patient can book: active and accepting new patients."""
        return self.filter(active=True, accepting_new_patients=True)

    def offering(self, service):
        """Professionals who offer ``service`` (a Service or its slug)."""
        if isinstance(service, str):
            return self.filter(offered_services__service__slug=service).distinct()
        return self.filter(offered_services__service=service).distinct()

    def in_category(self, category):
        """Professionals who offer at least one active service of ``category`` (a ServiceCategory or its slug)."""
        lookup = (
            "offered_services__service__category__slug"
            if isinstance(category, str)
            else ("offered_services__service__category")
        )
        return self.filter(**{lookup: category, "offered_services__service__active": True}).distinct()


class Professional(index.Indexed, ClusterableModel):
    """A psychologist, nutritionist or other therapist who sees patients."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="professional",
        verbose_name=_("user account"),
        help_text=_("The account this professional uses to log in to the portal."),
    )
    display_name = models.CharField(_("display name"), max_length=150)
    slug = models.SlugField(_("slug"), max_length=150, unique=True)
    title = models.CharField(_("title"), max_length=150, blank=True, help_text=_("E.g. Clinical psychologist"))
    rut = models.CharField(_("RUT"), max_length=12, null=True, blank=True, validators=[validate_rut])
    bio = models.TextField(_("biography"), blank=True)
    photo = models.ForeignKey(
        "wagtailimages.Image",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("photo"),
    )
    video_url = models.URLField(_("video URL"), blank=True, help_text=_("A presentation video (YouTube or Vimeo)."))
    locations = ParentalManyToManyField(
        Location, blank=True, related_name="professionals", verbose_name=_("locations")
    )
    accepting_new_patients = models.BooleanField(_("accepting new patients"), default=True)
    active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveIntegerField(_("order"), default=0)
    # Read by booking.notifications (its hourly planner); the professional switches it in their portal.
    daily_agenda_email = models.BooleanField(
        _("daily agenda email"),
        default=False,
        help_text=_("Every morning at 07:00, an email with the day's sessions (only on days with sessions)."),
    )

    # Read by booking.scheduling.availability_services, which refuses what this does not allow.
    availability_self_service = models.CharField(
        _("changes own availability"),
        max_length=16,
        choices=AvailabilitySelfService.choices,
        default=AvailabilitySelfService.NONE,
        help_text=_(
            "What this professional may change themselves in the portal. A change that would leave booked sessions "
            "outside their hours is always refused."
        ),
    )

    objects = ProfessionalQuerySet.as_manager()

    search_fields = [
        index.SearchField("display_name"),
        index.AutocompleteField("display_name"),
        index.SearchField("title"),
        index.SearchField("bio"),
        index.FilterField("active"),
    ]

    class Meta:
        verbose_name = _("professional")
        verbose_name_plural = _("professionals")
        ordering = ["sort_order", "display_name"]
        constraints = [
            models.UniqueConstraint(fields=["rut"], name="scheduling_professional_rut_unique"),
        ]

    def __str__(self):
        return self.display_name

    @property
    def may_change_time_off(self) -> bool:
        """Whether the professional may add and remove their own time off and date overrides in the portal."""
        return self.availability_self_service in (AvailabilitySelfService.TIME_OFF, AvailabilitySelfService.FULL)

    @property
    def may_change_weekly_hours(self) -> bool:
        """Whether the professional may add, change and remove their own weekly hours in the portal."""
        return self.availability_self_service == AvailabilitySelfService.FULL

    def clean(self):
        # Normalised before the form's uniqueness check, so "12345678-5" and "12.345.678-5"
        # are recognised as the same RUT instead of failing later in the database.
        super().clean()
        self.rut = normalize_rut(self.rut or "") or None

    def save(self, *args, **kwargs):
        self.rut = normalize_rut(self.rut or "") or None
        super().save(*args, **kwargs)


class ProfessionalService(Orderable):
    """A service a professional offers, optionally at their own price or duration."""

    professional = ParentalKey(Professional, on_delete=models.CASCADE, related_name="offered_services")
    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="offered_by", verbose_name=_("service")
    )
    price_override = models.DecimalField(
        _("own price"),
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=_("Leave empty to use the service's price."),
    )
    duration_override_minutes = models.PositiveIntegerField(
        _("own duration (minutes)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(5)],
        help_text=_("Leave empty to use the service's duration."),
    )

    class Meta(Orderable.Meta):
        verbose_name = _("service offered")
        verbose_name_plural = _("services offered")
        constraints = [
            models.UniqueConstraint(fields=["professional", "service"], name="scheduling_professional_service_unique"),
        ]

    def __str__(self):
        return f"{self.professional} · {self.service}"

    @property
    def price(self) -> Decimal:
        return self.price_override if self.price_override is not None else self.service.price

    @property
    def duration_minutes(self) -> int:
        return self.duration_override_minutes or self.service.duration_minutes

    @property
    def formatted_price(self) -> str:
        return format_money(self.price, self.service.currency)

    @property
    def has_own_price(self) -> bool:
        """True when this professional charges something other than the service's list price."""
        return self.price_override is not None and self.price_override != self.service.price

    @property
    def has_own_duration(self) -> bool:
        return bool(self.duration_override_minutes) and self.duration_override_minutes != self.service.duration_minutes


class ProfessionalDegree(Orderable):
    """A postgraduate degree or specialisation, shown in order on the profile."""

    professional = ParentalKey(Professional, on_delete=models.CASCADE, related_name="degrees")
    title = models.CharField(_("degree"), max_length=200)
    institution = models.CharField(_("institution"), max_length=200, blank=True)
    year = models.PositiveIntegerField(_("year"), null=True, blank=True)

    class Meta(Orderable.Meta):
        verbose_name = _("postgraduate degree")
        verbose_name_plural = _("postgraduate degrees")

    def __str__(self):
        return self.title


class ProfessionalExperience(Orderable):
    """A past or current position, shown in order on the profile."""

    professional = ParentalKey(Professional, on_delete=models.CASCADE, related_name="experience")
    role = models.CharField(_("role"), max_length=200)
    organisation = models.CharField(_("organisation"), max_length=200, blank=True)
    period = models.CharField(_("period"), max_length=100, blank=True, help_text=_("E.g. 2018 – today"))
    description = models.TextField(_("description"), blank=True)

    class Meta(Orderable.Meta):
        verbose_name = _("experience")
        verbose_name_plural = _("experience")

    def __str__(self):
        return self.role
