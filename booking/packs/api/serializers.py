"""Input validation and output shapes of the packs API.

Input serializers turn slugs into rows (a bounded number of queries whatever the size of the body) and refuse
malformed bodies with a 400 per field; the pack rules themselves (service not in the pack, nothing left, expired)
are the services', raised as ``PackError``. Outputs read what the views prefetched (``context``): no serializer
method runs a query per row.
"""

from datetime import UTC, timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from booking.packs.models import Package, PackagePurchase
from booking.packs.services.autoschedule import CADENCES, MAX_PROPOSALS, Proposal
from booking.scheduling.api.serializers import (
    ONLINE,
    AppointmentCreateSerializer,
    AppointmentSerializer,
    AwareDateTimeField,
)
from booking.scheduling.models import AppointmentModality, Location, Professional, ProfessionalService

MAX_PROFESSIONALS = 20
MAX_LOCATIONS = 20

# --- request bodies -------------------------------------------------------------------------------------------


class PurchaseCreateSerializer(serializers.Serializer):
    package = serializers.SlugField(max_length=150, help_text=_("The pack's slug, from the list of packs."))
    pay_at_clinic = serializers.BooleanField(
        default=False,
        help_text=_("Pay at the clinic (only where the pack allows it); otherwise pay online before using it."),
    )

    def validate_package(self, value):
        package = Package.objects.public().filter(slug=value).first()
        if package is None:
            raise serializers.ValidationError(_("There is no pack “%(slug)s” on sale.") % {"slug": value})
        return package


class BookFromPackSerializer(AppointmentCreateSerializer):
    """The same body as booking a slot: the pack pays for it instead of an invoice."""


class PurchaseCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("Why the pack is cancelled (optional); kept in its ledger and the invoice's history."),
    )


class SchedulePreviewSerializer(serializers.Serializer):
    professionals = serializers.ListField(
        child=serializers.SlugField(max_length=150),
        min_length=1,
        max_length=MAX_PROFESSIONALS,
        help_text=_("Slugs of the professionals the sessions may be booked with."),
    )
    locations = serializers.ListField(
        child=serializers.SlugField(max_length=150),
        required=False,
        allow_null=True,
        max_length=MAX_LOCATIONS,
        help_text=_("Location slugs, or “online”; omit for every place of the professionals."),
    )
    start = serializers.DateField(input_formats=["%Y-%m-%d"], help_text=_("First day, YYYY-MM-DD."))
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6),
        min_length=1,
        max_length=7,
        help_text=_("Weekdays the sessions may fall on, Monday = 0."),
    )
    time_from = serializers.TimeField(input_formats=["%H:%M"], help_text=_("Earliest local start, HH:MM."))
    time_to = serializers.TimeField(input_formats=["%H:%M"], help_text=_("Latest local end, HH:MM."))
    cadence = serializers.ChoiceField(choices=list(CADENCES), help_text=_("weekly, biweekly or asap."))
    one_per_day = serializers.BooleanField(default=True, help_text=_("At most one session a day (the default)."))

    def validate_professionals(self, value):
        found = Professional.objects.active().in_bulk(value, field_name="slug")
        missing = [slug for slug in value if slug not in found]
        if missing:
            raise serializers.ValidationError(_("There is no professional “%(slug)s”.") % {"slug": missing[0]})
        return [found[slug] for slug in dict.fromkeys(value)]

    def validate_locations(self, value):
        if value is None:
            return None
        found = Location.objects.filter(active=True).in_bulk(
            [slug for slug in value if slug != ONLINE], field_name="slug"
        )
        missing = [slug for slug in value if slug != ONLINE and slug not in found]
        if missing:
            raise serializers.ValidationError(_("There is no location “%(slug)s”.") % {"slug": missing[0]})
        return [None if slug == ONLINE else found[slug] for slug in dict.fromkeys(value)]

    def validate(self, attrs):
        if attrs["time_from"] >= attrs["time_to"]:
            raise serializers.ValidationError({"time_to": _("The time window must end after it starts.")})
        return attrs


class ProposalInputSerializer(serializers.Serializer):
    service = serializers.SlugField(max_length=150)
    professional = serializers.SlugField(max_length=150)
    location = serializers.SlugField(max_length=150, allow_null=True, required=False)
    modality = serializers.ChoiceField(choices=AppointmentModality.choices, required=False)
    start = AwareDateTimeField()


class ScheduleConfirmSerializer(serializers.Serializer):
    """The proposals of a preview, sent back as they are (or with some swapped for other free times).

    Every slug is resolved here in two queries whatever the number of proposals; ``confirm_schedule`` then checks
    each one again under the locks (free time, the pack's services, professionals, balance and expiry).
    """

    proposals = ProposalInputSerializer(many=True, help_text=_("The proposals to book: all of them or none."))

    def validate_proposals(self, rows):
        if not rows:
            raise serializers.ValidationError(_("There is nothing to book in this schedule."))
        if len(rows) > MAX_PROPOSALS:
            raise serializers.ValidationError(
                _("At most %(count)d sessions can be booked at once.") % {"count": MAX_PROPOSALS}
            )
        offers = {
            (offer.professional.slug, offer.service.slug): offer
            for offer in ProfessionalService.objects.select_related("professional", "service").filter(
                professional__slug__in={row["professional"] for row in rows},
                service__slug__in={row["service"] for row in rows},
                professional__active=True,
                service__active=True,
            )
        }
        location_slugs = {row["location"] for row in rows if row.get("location")}
        locations = Location.objects.filter(active=True).in_bulk(location_slugs, field_name="slug")
        proposals = []
        for row in rows:
            offer = offers.get((row["professional"], row["service"]))
            if offer is None:
                raise serializers.ValidationError(
                    _("No active professional “%(professional)s” offers “%(service)s”.")
                    % {"professional": row["professional"], "service": row["service"]}
                )
            slug = row.get("location")
            location = locations.get(slug) if slug else None
            if slug and location is None:
                raise serializers.ValidationError(_("There is no location “%(slug)s”.") % {"slug": slug})
            modality = row.get("modality") or (
                AppointmentModality.ONLINE if location is None else AppointmentModality.IN_PERSON
            )
            start = row["start"].astimezone(UTC)
            if start <= timezone.now():
                raise serializers.ValidationError(_("That time is in the past."))
            proposals.append(
                Proposal(
                    service=offer.service,
                    professional=offer.professional,
                    location=location,
                    modality=modality,
                    start=start,
                    end=start + timedelta(minutes=offer.duration_minutes),
                )
            )
        return proposals


# --- answers --------------------------------------------------------------------------------------------------


class PackageItemSerializer(serializers.Serializer):
    service = serializers.CharField(source="service.slug", help_text=_("The service's slug."))
    service_name = serializers.CharField(source="service.name")
    sessions = serializers.IntegerField(
        allow_null=True, help_text=_("Sessions of this service; null in a shared pool (see pool_sessions).")
    )


class PackageSerializer(serializers.ModelSerializer):
    price = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)
    items = PackageItemSerializer(many=True)
    allowed_professionals = serializers.SlugRelatedField(
        slug_field="slug",
        many=True,
        read_only=True,
        help_text=_("Professionals the sessions can be booked with; empty means any who offers the service."),
    )

    class Meta:
        model = Package
        fields = [
            "slug",
            "name",
            "description",
            "price",
            "currency",
            "validity_days",
            "credit_mode",
            "pool_sessions",
            "items",
            "allowed_professionals",
            "pay_at_clinic_allowed",
        ]
        read_only_fields = fields


class BalanceSerializer(serializers.Serializer):
    service = serializers.CharField(
        allow_null=True, help_text=_("The service's slug; null for the shared pool of a pool pack.")
    )
    label = serializers.CharField()
    total = serializers.IntegerField(help_text=_("Sessions the pack gives, with staff adjustments."))
    remaining = serializers.IntegerField(help_text=_("Sessions that can still be booked."))
    booked = serializers.IntegerField(help_text=_("Sessions booked and not yet taken place."))
    used = serializers.IntegerField(help_text=_("Sessions attended, or lost to a late cancellation or no-show."))


def _balance_rows(balances, service_slugs: dict[int, str]) -> list[dict]:
    return [
        {
            "service": service_slugs.get(bucket.service_id) if bucket.service_id is not None else None,
            "label": bucket.label,
            "total": bucket.total,
            "remaining": bucket.remaining,
            "booked": bucket.booked,
            "used": bucket.used,
        }
        for bucket in balances.buckets
    ]


class PurchaseSerializer(serializers.ModelSerializer):
    """A purchase with its balances; the view passes ``balances`` (purchase id → PackBalances) and ``service_slugs``
    in the context, read for a whole page in one query each."""

    package = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    name = serializers.CharField(source="snapshot_name", help_text=_("The pack's name when it was bought."))
    credit_mode = serializers.CharField()
    price = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)
    remaining = serializers.SerializerMethodField(help_text=_("Sessions that can still be booked, in all."))
    balances = serializers.SerializerMethodField()

    class Meta:
        model = PackagePurchase
        fields = [
            "reference",
            "package",
            "name",
            "status",
            "credit_mode",
            "price",
            "currency",
            "purchased_at",
            "expires_at",
            "remaining",
            "balances",
        ]
        read_only_fields = fields

    def get_remaining(self, purchase) -> int:
        return self.context["balances"][purchase.pk].remaining

    @extend_schema_field(BalanceSerializer(many=True))
    def get_balances(self, purchase):
        return BalanceSerializer(
            _balance_rows(self.context["balances"][purchase.pk], self.context["service_slugs"]), many=True
        ).data


class LedgerEntrySerializer(serializers.Serializer):
    kind = serializers.CharField(help_text=_("granted, reserved, consumed, released, forfeited, adjusted, expired…"))
    quantity = serializers.IntegerField()
    service = serializers.CharField(allow_null=True)
    appointment = serializers.CharField(allow_null=True, help_text=_("The session's reference, if any."))
    reason = serializers.CharField()
    at = serializers.DateTimeField()


class InvoiceSummarySerializer(serializers.Serializer):
    reference = serializers.CharField()
    number = serializers.CharField(allow_null=True, help_text=_("Null until the invoice is numbered."))
    status = serializers.CharField()
    total = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)
    balance_due = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)
    currency = serializers.CharField()
    url = serializers.URLField(help_text=_("The invoice in the patient's portal, where it can be paid online."))


class PurchaseDetailSerializer(PurchaseSerializer):
    invoice = serializers.SerializerMethodField()
    ledger = serializers.SerializerMethodField()
    sessions = serializers.SerializerMethodField()

    class Meta(PurchaseSerializer.Meta):
        fields = [*PurchaseSerializer.Meta.fields, "invoice", "ledger", "sessions"]
        read_only_fields = fields

    def get_invoice(self, purchase) -> InvoiceSummarySerializer(allow_null=True):
        invoice = self.context.get("invoice")
        return InvoiceSummarySerializer(invoice).data if invoice is not None else None

    def get_ledger(self, purchase) -> LedgerEntrySerializer(many=True):
        slugs = self.context["service_slugs"]
        return LedgerEntrySerializer(
            [
                {
                    "kind": entry.kind,
                    "quantity": entry.quantity,
                    "service": slugs.get(entry.service_id),
                    "appointment": entry.appointment.reference if entry.appointment_id else None,
                    "reason": entry.reason,
                    "at": entry.at,
                }
                for entry in self.context["ledger"]
            ],
            many=True,
        ).data

    def get_sessions(self, purchase) -> AppointmentSerializer(many=True):
        return AppointmentSerializer(self.context["sessions"], many=True).data


class PurchaseCreatedSerializer(PurchaseSerializer):
    invoice = InvoiceSummarySerializer(allow_null=True)
    payment_url = serializers.URLField(
        allow_null=True,
        help_text=_(
            "For a pack paid online: the invoice in the patient's portal, where the online payment starts. "
            "The pack becomes active once paid. Null when paid at the clinic."
        ),
    )

    class Meta(PurchaseSerializer.Meta):
        fields = [*PurchaseSerializer.Meta.fields, "invoice", "payment_url"]
        read_only_fields = fields


class ProposalSerializer(serializers.Serializer):
    service = serializers.CharField(source="service.slug")
    professional = serializers.CharField(source="professional.slug")
    location = serializers.CharField(source="location.slug", allow_null=True, default=None)
    modality = serializers.CharField()
    start = serializers.DateTimeField(source="local_start", help_text=_("In the place's time zone."))
    end = serializers.DateTimeField(source="local_end")


class UnplacedSerializer(serializers.Serializer):
    service = serializers.CharField(source="service.slug", allow_null=True)
    count = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()


class SchedulePlanSerializer(serializers.Serializer):
    proposals = ProposalSerializer(
        many=True, help_text=_("Free slots for the remaining sessions; send them back to confirm.")
    )
    unplaced = UnplacedSerializer(many=True, help_text=_("Sessions no free slot was found for, and why."))


class ScheduledSerializer(serializers.Serializer):
    appointments = AppointmentSerializer(many=True)


class ProposalFailureSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text=_("The proposal's position in the request."))
    proposal = ProposalSerializer()
    code = serializers.CharField()
    detail = serializers.CharField(source="message")
    alternatives = ProposalSerializer(many=True)


class ScheduleConflictSerializer(serializers.Serializer):
    error = serializers.CharField(
        help_text=_("schedule_conflict when failures lists the proposals; otherwise the code of the pack's refusal.")
    )
    detail = serializers.CharField()
    failures = ProposalFailureSerializer(many=True, required=False)


class CancelQuoteSessionSerializer(serializers.Serializer):
    reference = serializers.CharField()
    start = serializers.DateTimeField()
    service = serializers.CharField(help_text=_("The service's slug."))
    lost = serializers.BooleanField(
        help_text=_("Too late to cancel for free and the service keeps it: the session counts as used.")
    )


class CancelQuoteSerializer(serializers.Serializer):
    """What cancelling the pack now would do (``pack_refund_quote``); the POST applies the same rules."""

    reference = serializers.CharField()
    sessions_sold = serializers.IntegerField()
    sessions_unused = serializers.IntegerField(
        help_text=_("Sessions left to book plus the upcoming ones whose cancellation gives them back.")
    )
    per_session = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)
    refund_amount = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)
    paid = serializers.DecimalField(
        max_digits=12, decimal_places=2, coerce_to_string=True, help_text=_("Paid and not yet refunded.")
    )
    currency = serializers.CharField()
    voids_invoice = serializers.BooleanField(help_text=_("Nothing was paid: the invoice is voided instead."))
    upcoming_sessions = CancelQuoteSessionSerializer(many=True)


class PurchaseCancelledSerializer(PurchaseSerializer):
    """The cancelled purchase, what is given back and the sessions cancelled with it."""

    refund_amount = serializers.DecimalField(max_digits=12, decimal_places=2, coerce_to_string=True)
    refund_status = serializers.ChoiceField(
        choices=["none", "pending", "sent"],
        help_text=_("none: nothing to give back; pending: a card refund not yet sent; sent: every refund is done."),
    )
    invoice_voided = serializers.BooleanField()
    cancelled_sessions = serializers.ListField(
        child=serializers.CharField(), help_text=_("References of the upcoming sessions cancelled.")
    )

    class Meta(PurchaseSerializer.Meta):
        fields = [*PurchaseSerializer.Meta.fields, "refund_amount", "refund_status", "invoice_voided",
                  "cancelled_sessions"]  # fmt: skip
        read_only_fields = fields
