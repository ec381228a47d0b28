"""Input validation and output shapes of the scheduling API.

Input serializers turn slugs into rows and strings into aware datetimes, so the views only call selectors and
services; every refusal here becomes a 400 with a translated message per field.
"""

import zoneinfo
from datetime import UTC, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from booking.scheduling.availability import ALL
from booking.scheduling.date_range import in_range, out_of_range_message, validate_in_range
from booking.scheduling.models import (
    Appointment,
    AppointmentModality,
    Location,
    Professional,
    ProfessionalService,
    Service,
)

MAX_AVAILABILITY_DAYS = 62
ONLINE = "online"


def active_service(slug: str) -> Service:
    try:
        return Service.objects.select_related("category").get(slug=slug, active=True)
    except Service.DoesNotExist:
        raise serializers.ValidationError(_("There is no bookable service “%(slug)s”.") % {"slug": slug}) from None


def valid_time_zone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise serializers.ValidationError(
            _("“%(name)s” is not a time zone; use an IANA name such as America/Santiago.") % {"name": name[:64]}
        ) from None
    return name


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO-8601 instant that must carry its UTC offset: a naive time is ambiguous across time zones and DST."""

    default_error_messages = {
        "invalid": _("Enter a date and time in ISO-8601 format with a UTC offset, e.g. 2026-12-01T09:00:00-03:00."),
        "naive": _("Include the UTC offset in the time (e.g. -03:00 or Z): a time without it is ambiguous."),
    }

    def to_internal_value(self, value):
        if not isinstance(value, str):
            self.fail("invalid")
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            self.fail("invalid")
        if timezone.is_naive(parsed):
            self.fail("naive")
        if not in_range(parsed):  # checked before converting: 9999-12-31T23:00-05:00 has no UTC instant
            raise serializers.ValidationError(out_of_range_message(), code="out_of_range")
        return parsed.astimezone(UTC)


# --- query parameters -----------------------------------------------------------------------------------------


class OptionalQueryParameter(serializers.CharField):
    """An optional query parameter, where an empty value (``?service=``) means the same as leaving it out.

    DRF already reads an empty optional parameter of a query string as absent; allowing blank says so in the
    schema too (it said ``minLength: 1`` and the API answered 200 to ``?service=``).
    """

    def __init__(self, **kwargs):
        super().__init__(required=False, allow_blank=True, max_length=150, **kwargs)


class ProfessionalQuerySerializer(serializers.Serializer):
    service = OptionalQueryParameter(help_text=_("Only professionals who offer this service (its slug)."))

    def validate_service(self, value):
        return active_service(value) if value else None


class AvailabilityQuerySerializer(serializers.Serializer):
    service = serializers.CharField(max_length=150, help_text=_("The service's slug."))
    professional = OptionalQueryParameter(help_text=_("A professional's slug; omit to search every professional."))
    location = OptionalQueryParameter(
        help_text=_("A location's slug, or “online”; omit for every location and online.")
    )
    start = serializers.DateField(
        input_formats=["%Y-%m-%d"], validators=[validate_in_range], help_text=_("First day, YYYY-MM-DD.")
    )
    end = serializers.DateField(
        input_formats=["%Y-%m-%d"], validators=[validate_in_range], help_text=_("Last day (included), YYYY-MM-DD.")
    )
    tz = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text=_("IANA time zone for the answer's times; the clinic's zone when omitted."),
    )
    after = serializers.CharField(
        required=False,
        max_length=150,
        help_text=_("Paging: only professionals whose slug sorts after this one (the next link of a page sets it)."),
    )

    def validate_service(self, value):
        return active_service(value)

    def validate_location(self, value):
        if not value:
            return ALL
        if value == ONLINE:
            return None
        try:
            return Location.objects.get(slug=value, active=True)
        except Location.DoesNotExist:
            raise serializers.ValidationError(
                _("There is no location “%(slug)s”; use a location's slug or “online”.") % {"slug": value}
            ) from None

    def validate_tz(self, value):
        return valid_time_zone(value) if value else settings.TIME_ZONE

    def validate(self, attrs):
        service = attrs["service"]
        attrs.setdefault("location", ALL)
        attrs.setdefault("tz", settings.TIME_ZONE)
        slug = attrs.pop("professional", None)
        if slug:
            try:
                attrs["professional"] = Professional.objects.active().offering(service).get(slug=slug)
            except Professional.DoesNotExist:
                raise serializers.ValidationError(
                    {"professional": _("No active professional “%(slug)s” offers this service.") % {"slug": slug}}
                ) from None
        start, end = attrs["start"], attrs["end"]
        if end < start:
            raise serializers.ValidationError({"end": _("The end date must be on or after the start date.")})
        if (end - start).days + 1 > MAX_AVAILABILITY_DAYS:
            raise serializers.ValidationError(
                {"end": _("Ask for at most %(days)d days at a time.") % {"days": MAX_AVAILABILITY_DAYS}}
            )
        today = timezone.now().astimezone(zoneinfo.ZoneInfo(attrs["tz"])).date()
        if end < today:
            raise serializers.ValidationError({"end": _("These dates are in the past.")})
        if start < today:
            attrs["start"] = today
        if start > today + timedelta(days=service.booking_horizon_days):
            raise serializers.ValidationError(
                {
                    "start": _("This service can be booked at most %(days)d days ahead.")
                    % {"days": service.booking_horizon_days}
                }
            )
        return attrs


# --- request bodies -------------------------------------------------------------------------------------------


class AppointmentCreateSerializer(serializers.Serializer):
    service = serializers.CharField(max_length=150, help_text=_("The service's slug."))
    professional = serializers.CharField(max_length=150, help_text=_("The professional's slug."))
    start = AwareDateTimeField(help_text=_("A start from the availability answer, ISO-8601 with UTC offset."))
    location = serializers.CharField(
        required=False, allow_null=True, max_length=150, help_text=_("A location's slug; omit or null for online.")
    )
    modality = serializers.ChoiceField(
        choices=AppointmentModality.choices,
        required=False,
        help_text=_("Defaults to in person when a location is given, else online."),
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")

    def validate_service(self, value):
        return active_service(value)

    def validate_location(self, value):
        if value is None:
            return None
        try:
            return Location.objects.get(slug=value, active=True)
        except Location.DoesNotExist:
            raise serializers.ValidationError(_("There is no location “%(slug)s”.") % {"slug": value}) from None

    def validate(self, attrs):
        service = attrs["service"]
        slug = attrs["professional"]
        offered = ProfessionalService.objects.filter(
            service=service, professional__slug=slug, professional__active=True
        ).select_related("professional")
        offer = offered.first()
        if offer is None:
            raise serializers.ValidationError(
                {"professional": _("No active professional “%(slug)s” offers this service.") % {"slug": slug}}
            )
        attrs["professional"] = offer.professional
        attrs.setdefault("location", None)
        if "modality" not in attrs:
            attrs["modality"] = (
                AppointmentModality.ONLINE if attrs["location"] is None else AppointmentModality.IN_PERSON
            )
        if attrs["start"] <= timezone.now():
            raise serializers.ValidationError({"start": _("That time is in the past.")})
        return attrs


class RescheduleSerializer(serializers.Serializer):
    start = AwareDateTimeField(help_text=_("The new start, ISO-8601 with UTC offset."))

    def validate_start(self, value):
        if value <= timezone.now():
            raise serializers.ValidationError(_("That time is in the past."))
        return value


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


# --- answers --------------------------------------------------------------------------------------------------


class CategorySerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()


class ServiceSerializer(serializers.ModelSerializer):
    category = CategorySerializer()
    duration_minutes = serializers.IntegerField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)

    class Meta:
        model = Service
        fields = ["slug", "name", "category", "duration_minutes", "price", "currency", "modality", "payment_mode"]


class ProfessionalSerializer(serializers.ModelSerializer):
    services = serializers.SerializerMethodField()
    locations = serializers.SerializerMethodField()

    class Meta:
        model = Professional
        fields = ["slug", "display_name", "title", "services", "locations", "accepting_new_patients"]

    def get_services(self, professional) -> list[str]:
        return [offer.service.slug for offer in professional.active_offers]

    def get_locations(self, professional) -> list[str]:
        return [location.slug for location in professional.active_locations]


class SlotSerializer(serializers.Serializer):
    start = serializers.CharField(help_text=_("ISO-8601 with the offset of the requested time zone."))
    end = serializers.CharField()
    professional = serializers.CharField(help_text=_("The professional's slug."))
    location = serializers.CharField(allow_null=True, help_text=_("The location's slug, null for online."))


class AvailabilitySerializer(serializers.Serializer):
    timezone = serializers.CharField()
    professionals = serializers.ListField(
        child=serializers.CharField(),
        help_text=_("The slugs of the professionals this page covers, in order, whether or not they have free slots."),
    )
    next = serializers.URLField(
        allow_null=True, help_text=_("The next page (the following professionals, same days), or null on the last.")
    )
    slots = SlotSerializer(many=True)


class AppointmentSerializer(serializers.ModelSerializer):
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    professional = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    location = serializers.SlugRelatedField(slug_field="slug", read_only=True, allow_null=True)

    class Meta:
        model = Appointment
        fields = [
            "reference",
            "status",
            "service",
            "professional",
            "location",
            "modality",
            "start",
            "end",
            "hold_expires_at",
            "price",
            "currency",
            "reschedule_count",
        ]
        read_only_fields = fields


class CancellationSerializer(AppointmentSerializer):
    refund = serializers.CharField(help_text=_("full_refund, no_refund or nothing_paid."))
    late = serializers.BooleanField(help_text=_("Whether the cancellation came after the free cancellation window."))

    class Meta(AppointmentSerializer.Meta):
        fields = [*AppointmentSerializer.Meta.fields, "refund", "late"]
        read_only_fields = fields


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text=_("A stable machine-readable code, e.g. slot_unavailable."))
    detail = serializers.CharField(help_text=_("A message for people, in the request's language."))
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text=_("Per-field messages, for invalid input."),
    )
