"""The scheduling JSON API: catalog, availability and the patient's booking actions.

Thin views: validate with a serializer, look the appointment up in the user's own scope, call one selector or
service, render. Every error leaves as ``{"error": <code>, "detail": <translated message>}`` (plus ``errors``
per field for invalid input), so a client can both branch on the code and show the message.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from booking.billing import services as billing
from booking.billing.errors import PaymentError
from booking.scheduling import services
from booking.scheduling.availability import iso_in_zone
from booking.scheduling.errors import BookingError
from booking.scheduling.models import (
    AppointmentSource,
    Location,
    Professional,
    ProfessionalService,
    Service,
)
from booking.scheduling.selectors import find_slots
from portal.accounts.services import ensure_patient
from website.middleware import BUSY_MESSAGE, BUSY_RETRY_AFTER_SECONDS, busy_json, is_database_busy

from .permissions import HasVerifiedEmail, appointments_visible_to, may_change
from .schema import APIAutoSchema
from .serializers import (
    MAX_AVAILABILITY_DAYS,
    AppointmentCreateSerializer,
    AppointmentSerializer,
    AvailabilityQuerySerializer,
    AvailabilitySerializer,
    CancellationSerializer,
    CancelSerializer,
    ErrorSerializer,
    ProfessionalQuerySerializer,
    ProfessionalSerializer,
    RescheduleSerializer,
    ServiceSerializer,
)

# A booking rule that says no because of the appointment's state or the clock is a conflict (409); one about who
# is asking is 403; anything about the request itself (wrong time, not offered) is 400.
BOOKING_ERROR_STATUS = {
    "slot_unavailable": status.HTTP_409_CONFLICT,
    "invalid_state": status.HTTP_409_CONFLICT,
    "max_reschedules": status.HTTP_409_CONFLICT,
    "policy_window": status.HTTP_409_CONFLICT,
    "patient_overlap": status.HTTP_409_CONFLICT,
    "not_allowed": status.HTTP_403_FORBIDDEN,
}

INVALID_INPUT = _("Some of the data sent is not valid.")


def _first_message(detail) -> str | None:
    if isinstance(detail, dict):
        for value in detail.values():
            if (message := _first_message(value)) is not None:
                return message
        return None
    if isinstance(detail, list):
        for value in detail:
            if (message := _first_message(value)) is not None:
                return message
        return None
    return str(detail)


def api_exception_handler(exc, context):
    """Every refusal as JSON with a stable code and a readable message; unknown exceptions still propagate."""
    if isinstance(exc, BookingError | PaymentError):
        return Response(
            {"error": exc.code, "detail": str(exc.message)},
            status=BOOKING_ERROR_STATUS.get(exc.code, status.HTTP_400_BAD_REQUEST),
        )
    if is_database_busy(exc):
        return Response(
            busy_json(str(BUSY_MESSAGE)),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)},
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(_("No appointment with that reference is visible to you."))
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        field, message = next(iter(detail.items()), (None, None))
        readable = _first_message(message) or str(INVALID_INPUT)
        if field and field != "non_field_errors":
            readable = f"{field}: {readable}"
        response.data = {"error": "invalid", "detail": readable, "errors": detail}
        return response
    codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
    response.data = {
        "error": codes if isinstance(codes, str) else getattr(exc, "default_code", "error"),
        "detail": _first_message(getattr(exc, "detail", "")) or str(exc),
    }
    return response


class SchedulingAPIView(APIView):
    """Base view: the API's JSON error shape, whatever the project-wide DRF settings say, and its documentation."""

    schema = APIAutoSchema()

    def get_exception_handler(self):
        return api_exception_handler


ERRORS_400 = OpenApiResponse(ErrorSerializer, description=_("Invalid input, with a message per field."))
ERRORS_401 = OpenApiResponse(
    ErrorSerializer, description=_("Not logged in, or the token is unknown or revoked (not_authenticated).")
)
ERRORS_403 = OpenApiResponse(ErrorSerializer, description=_("Email not verified, or not allowed."))
ERRORS_404 = OpenApiResponse(ErrorSerializer, description=_("No such appointment among those visible to you."))
ERRORS_409 = OpenApiResponse(
    ErrorSerializer,
    description=_(
        "The slot was taken, you already have a session at that time (patient_overlap), "
        "or the policy no longer allows this change."
    ),
)
REFERENCE = OpenApiParameter("reference", OpenApiTypes.STR, OpenApiParameter.PATH, description=_("The reference."))


class ServiceListView(SchedulingAPIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: ServiceSerializer(many=True)}, summary=_("Bookable services"))
    def get(self, request):
        queryset = Service.objects.active().select_related("category")
        return Response(ServiceSerializer(queryset, many=True).data)


class ProfessionalListView(SchedulingAPIView):
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[ProfessionalQuerySerializer],
        responses={200: ProfessionalSerializer(many=True), 400: ERRORS_400},
        summary=_("Active professionals, optionally only those offering a service"),
    )
    def get(self, request):
        query = ProfessionalQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        professionals = Professional.objects.active().prefetch_related(
            Prefetch(
                "offered_services",
                queryset=ProfessionalService.objects.filter(service__active=True).select_related("service"),
                to_attr="active_offers",
            ),
            Prefetch("locations", queryset=Location.objects.active(), to_attr="active_locations"),
        )
        if service := query.validated_data.get("service"):
            professionals = professionals.offering(service)
        return Response(ProfessionalSerializer(professionals, many=True).data)


# How many professional-days one availability answer covers at most: every professional for the longest range
# (62 days) up to 20 professionals, more professionals for shorter ranges. A search over more is paged by
# professional (see AvailabilityView).
MAX_PROFESSIONAL_DAYS = 20 * MAX_AVAILABILITY_DAYS


def _paging_description() -> str:
    return gettext(
        "Paged by professional: one answer covers at most %(limit)d professional-days (20 professionals for 62 "
        "days, 177 for 7 days), professionals in slug order. Follow next (null on the last page) for the "
        "others; professionals lists whom this page covers."
    ) % {"limit": MAX_PROFESSIONAL_DAYS}


class AvailabilityView(SchedulingAPIView):
    """Free slots of a service, paged by professional so that one answer stays small.

    Without ``professional`` the professionals offering the service are taken in slug order, as many per page as
    fit ``MAX_PROFESSIONAL_DAYS`` for the requested days (1240: 20 for 62 days, 177 for a week); ``next`` is the
    URL of the following page (the same query plus ``after``, the last slug of this one), null on the last page.
    """

    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[AvailabilityQuerySerializer],
        responses={200: AvailabilitySerializer, 400: ERRORS_400},
        summary=_("Bookable slots of a service"),
        description=lazy(_paging_description, str)(),
    )
    def get(self, request):
        query = AvailabilityQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        page, more = self._professionals_page(params)
        slots = (
            find_slots(
                service=params["service"],
                professionals=[pk for pk, _slug in page],
                location=params["location"],
                start_day=params["start"],
                end_day=params["end"],
                now=timezone.now(),
            )
            if page
            else []
        )
        professional_slugs = dict(page)
        location_ids = {slot.location_id for slot in slots} - {None}
        location_slugs = (
            dict(Location.objects.filter(pk__in=location_ids).values_list("pk", "slug")) if location_ids else {}
        )
        local_text = iso_in_zone(params["tz"])
        next_url = None
        if more:
            next_query = request.query_params.copy()
            next_query["after"] = page[-1][1]
            next_url = f"{request.build_absolute_uri(request.path)}?{next_query.urlencode()}"
        return Response(
            {
                "timezone": params["tz"],
                "professionals": [slug for _pk, slug in page],
                "next": next_url,
                "slots": [
                    {
                        "start": local_text(slot.start),
                        "end": local_text(slot.end),
                        "professional": professional_slugs[slot.professional_id],
                        "location": location_slugs.get(slot.location_id),
                    }
                    for slot in slots
                ],
            }
        )

    @staticmethod
    def _professionals_page(params) -> tuple[list[tuple[int, str]], bool]:
        """``(id, slug)`` of the professionals this page covers, and whether more follow."""
        if professional := params.get("professional"):
            return [(professional.pk, professional.slug)], False
        days = (params["end"] - params["start"]).days + 1
        per_page = max(1, MAX_PROFESSIONAL_DAYS // days)
        offering = Professional.objects.active().offering(params["service"]).order_by("slug")
        if after := params.get("after"):
            offering = offering.filter(slug__gt=after)
        rows = list(offering.values_list("pk", "slug")[: per_page + 1])
        return rows[:per_page], len(rows) > per_page


class AppointmentCreateView(SchedulingAPIView):
    permission_classes = [IsAuthenticated, HasVerifiedEmail]
    throttle_scope = "booking"

    @extend_schema(
        request=AppointmentCreateSerializer,
        responses={201: AppointmentSerializer, 400: ERRORS_400, 401: ERRORS_401, 403: ERRORS_403, 409: ERRORS_409},
        summary=_("Book a slot"),
        description=_(
            "Services paid online at booking are held (pending_payment) until hold_expires_at; "
            "the others are confirmed at once."
        ),
    )
    def post(self, request):
        body = AppointmentCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        appointment, _invoice = billing.book_with_invoice(
            patient=ensure_patient(request.user),
            professional=data["professional"],
            service=data["service"],
            start=data["start"],
            location=data["location"],
            modality=data["modality"],
            source=AppointmentSource.API,
            actor=request.user,
            note=data["note"],
        )
        url = reverse("api:appointment-detail", kwargs={"reference": appointment.reference})
        return Response(
            AppointmentSerializer(appointment).data, status=status.HTTP_201_CREATED, headers={"Location": url}
        )


class AppointmentObjectView(SchedulingAPIView):
    permission_classes = [IsAuthenticated]

    def get_appointment(self, reference: str):
        return get_object_or_404(appointments_visible_to(self.request.user), reference=reference.upper())

    def get_changeable_appointment(self, reference: str):
        appointment = self.get_appointment(reference)
        if not may_change(self.request.user, appointment):
            raise BookingError("not_allowed")
        return appointment


class AppointmentDetailView(AppointmentObjectView):
    @extend_schema(
        parameters=[REFERENCE],
        responses={200: AppointmentSerializer, 401: ERRORS_401, 403: ERRORS_403, 404: ERRORS_404},
        summary=_("One appointment"),
    )
    def get(self, request, reference):
        return Response(AppointmentSerializer(self.get_appointment(reference)).data)


class AppointmentRescheduleView(AppointmentObjectView):
    throttle_scope = "booking"

    @extend_schema(
        parameters=[REFERENCE],
        request=RescheduleSerializer,
        responses={
            200: AppointmentSerializer,
            400: ERRORS_400,
            401: ERRORS_401,
            403: ERRORS_403,
            404: ERRORS_404,
            409: ERRORS_409,
        },
        summary=_("Move an appointment to another free slot"),
    )
    def post(self, request, reference):
        appointment = self.get_changeable_appointment(reference)
        body = RescheduleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        appointment = services.reschedule_appointment(
            appointment=appointment, start=body.validated_data["start"], actor=request.user
        )
        return Response(AppointmentSerializer(appointment).data)


class AppointmentCancelView(AppointmentObjectView):
    @extend_schema(
        parameters=[REFERENCE],
        request=CancelSerializer,
        responses={
            200: CancellationSerializer,
            400: ERRORS_400,
            401: ERRORS_401,
            403: ERRORS_403,
            404: ERRORS_404,
            409: ERRORS_409,
        },
        summary=_("Cancel an appointment"),
        description=_("The answer says whether the payment is refunded (refund) and whether it was late."),
    )
    def post(self, request, reference):
        appointment = self.get_changeable_appointment(reference)
        body = CancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        cancelled = billing.cancel_booking(
            appointment=appointment, reason=body.validated_data["reason"], actor=request.user
        )
        outcome = cancelled.outcome
        data = AppointmentSerializer(outcome.appointment).data
        data.update(refund=outcome.refund.value, late=outcome.late)
        return Response(data)


@extend_schema(exclude=True)
class UnknownEndpointView(SchedulingAPIView):
    """Any other address under /api/v1/ (e.g. a reference with a slash in it): a JSON 404 in the API's error
    shape, like every other answer of the API, never the site's HTML "page not found"."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def initial(self, request, *args, **kwargs):
        raise exceptions.NotFound(_("There is nothing at this address of the API."))
