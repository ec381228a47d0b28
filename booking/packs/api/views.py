"""The packs JSON API: the public packs, the patient's purchases with their balances and ledger, buying a pack,
booking a session from it, auto-scheduling the rest (preview, then confirm all or none) and cancelling it (what it
would give back, then the cancellation).

Same conventions as the scheduling API (``booking.scheduling.api.views``): thin views over the packs services,
the same authentication, throttles and ``{"error", "detail"}`` bodies. A purchase is looked up in the user's own
scope (``purchases_visible_to``), so another patient's reference is a 404 and nobody learns it exists. Staff who
see every appointment see every purchase, and act on one as far as the services let them (booking for the
patient needs the permission that lets staff book for patients), as they do on appointments; buying, like
booking a slot, is for the logged-in patient themselves.
"""

from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response

from booking.billing.models import RefundStatus
from booking.packs import services
from booking.packs.errors import PackError
from booking.packs.models import Package, PackageItem, PackagePurchase, PurchaseStatus
from booking.packs.selectors import balances_for_purchases
from booking.packs.services import ScheduleConflict
from booking.scheduling.api.permissions import HasVerifiedEmail, is_scheduling_staff
from booking.scheduling.api.serializers import AppointmentSerializer, ErrorSerializer
from booking.scheduling.api.views import (
    ERRORS_400,
    ERRORS_401,
    ERRORS_403,
    REFERENCE,
    SchedulingAPIView,
    api_exception_handler,
)
from booking.scheduling.models import Appointment, AppointmentSource, Service
from portal.accounts.services import ensure_patient

from .serializers import (
    BookFromPackSerializer,
    CancelQuoteSerializer,
    InvoiceSummarySerializer,
    PackageSerializer,
    PurchaseCancelledSerializer,
    PurchaseCancelSerializer,
    PurchaseCreatedSerializer,
    PurchaseCreateSerializer,
    PurchaseDetailSerializer,
    PurchaseSerializer,
    ScheduleConfirmSerializer,
    ScheduleConflictSerializer,
    ScheduledSerializer,
    SchedulePlanSerializer,
    SchedulePreviewSerializer,
    UnplacedSerializer,
)

# As for BookingError: a rule about who is asking is 403; one the pack's state or the calendar decides (nothing
# left, expired, taken meanwhile) is 409; anything about the request itself (a service the pack does not cover,
# a professional it does not allow, a bad quantity) is 400.
PACK_ERROR_STATUS = {
    "not_allowed": status.HTTP_403_FORBIDDEN,
    "other_patient": status.HTTP_403_FORBIDDEN,
    "cancel_not_allowed": status.HTTP_403_FORBIDDEN,
    "not_active": status.HTTP_409_CONFLICT,
    "expired": status.HTTP_409_CONFLICT,
    "no_sessions_left": status.HTTP_409_CONFLICT,
    "invalid_state": status.HTTP_409_CONFLICT,
    "already_reserved": status.HTTP_409_CONFLICT,
    "already_settled": status.HTTP_409_CONFLICT,
    "session_not_open": status.HTTP_409_CONFLICT,
    "package_inactive": status.HTTP_409_CONFLICT,
    "limit_reached": status.HTTP_409_CONFLICT,
    "changed_meanwhile": status.HTTP_409_CONFLICT,
    "schedule_conflict": status.HTTP_409_CONFLICT,
    "session_not_cancellable": status.HTTP_409_CONFLICT,
    "refund_refused": status.HTTP_409_CONFLICT,
}

NOT_FOUND = _("No pack purchase with that reference is visible to you.")


def packs_exception_handler(exc, context):
    """The scheduling API's handler, plus ``PackError`` (and a schedule conflict's failures with alternatives)."""
    if isinstance(exc, ScheduleConflict):
        body = ScheduleConflictSerializer(
            {"error": exc.code, "detail": str(exc.message), "failures": list(exc.failures)}
        ).data
        return Response(body, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, PackError):
        return Response(
            {"error": exc.code, "detail": str(exc.message)},
            status=PACK_ERROR_STATUS.get(exc.code, status.HTTP_400_BAD_REQUEST),
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(NOT_FOUND)
    return api_exception_handler(exc, context)


class PacksAPIView(SchedulingAPIView):
    def get_exception_handler(self):
        return packs_exception_handler


ERRORS_404 = OpenApiResponse(ErrorSerializer, description=_("No such pack purchase among those visible to you."))
ERRORS_409 = OpenApiResponse(
    ErrorSerializer,
    description=_(
        "The pack cannot be used now (not active, expired, no sessions left), or the slot was taken meanwhile."
    ),
)


def purchases_visible_to(user) -> QuerySet[PackagePurchase]:
    """The purchases ``user`` may see: their own, or every one for staff who see every appointment."""
    purchases = PackagePurchase.objects.select_related("package", "patient")
    if not user.is_authenticated:
        return purchases.none()
    if is_scheduling_staff(user):
        return purchases
    return purchases.filter(patient__user=user)


def _service_slugs(purchases) -> dict[int, str]:
    """Slugs of every service the purchases' snapshots list, in one query."""
    ids = {service_id for purchase in purchases for service_id in purchase.service_ids}
    return dict(Service.objects.filter(pk__in=ids).values_list("pk", "slug")) if ids else {}


def _list_context(purchases) -> dict:
    return {"balances": balances_for_purchases(purchases), "service_slugs": _service_slugs(purchases)}


def _invoice_of(purchase: PackagePurchase, request):
    line = purchase.invoice_line
    if line is None:
        return None
    invoice = line.invoice
    data = {
        "reference": invoice.reference,
        "number": invoice.display_number if invoice.number is not None else None,
        "status": invoice.status,
        "total": invoice.total,
        "balance_due": invoice.balance_due,
        "currency": invoice.currency,
        "url": request.build_absolute_uri(reverse("portal:invoice_detail", kwargs={"reference": invoice.reference})),
    }
    return InvoiceSummarySerializer(data).data


def check_proposals_fit(purchase: PackagePurchase, proposals) -> None:
    """Refuse at once proposals the pack can never pay for (a service it does not cover, a professional it does not
    allow), as tampered input, before any booking is tried; the rest ``confirm_schedule`` checks under the locks."""
    allowed = purchase.allowed_professional_ids
    for proposal in proposals:
        if proposal.service.pk not in purchase.service_ids:
            raise PackError("service_not_in_pack")
        if allowed and proposal.professional.pk not in allowed:
            raise PackError("professional_not_in_pack")


class PackageListView(PacksAPIView):
    permission_classes = [AllowAny]

    @extend_schema(responses={200: PackageSerializer(many=True)}, summary=_("Packs on sale"))
    def get(self, request):
        packages = Package.objects.public().prefetch_related(
            Prefetch("items", queryset=PackageItem.objects.select_related("service").order_by("sort_order", "pk")),
            "allowed_professionals",
        )
        return Response(PackageSerializer(packages, many=True).data)


class PurchaseListView(PacksAPIView):
    permission_classes = [IsAuthenticated]

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsAuthenticated(), HasVerifiedEmail()]
        return super().get_permissions()

    def get_throttles(self):
        self.throttle_scope = "booking" if self.request.method == "POST" else None
        return super().get_throttles()

    @extend_schema(
        responses={200: PurchaseSerializer(many=True), 401: ERRORS_401},
        summary=_("My packs"),
        description=_("The logged-in patient's own purchases, newest first, with their balances."),
    )
    def get(self, request):
        purchases = list(PackagePurchase.objects.for_patient(request.user).select_related("package"))
        return Response(PurchaseSerializer(purchases, many=True, context=_list_context(purchases)).data)

    @extend_schema(
        request=PurchaseCreateSerializer,
        responses={
            201: PurchaseCreatedSerializer,
            400: ERRORS_400,
            401: ERRORS_401,
            403: ERRORS_403,
            409: ERRORS_409,
        },
        summary=_("Buy a pack"),
        description=_(
            "Paid at the clinic (where the pack allows it): active at once, its invoice owed. Paid online: "
            "pending_payment until paid; payment_url is the invoice in the portal where the payment starts."
        ),
    )
    def post(self, request):
        body = PurchaseCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        purchase = services.purchase_pack(
            package=body.validated_data["package"],
            patient=ensure_patient(request.user),
            actor=request.user,
            pay_at_clinic=body.validated_data["pay_at_clinic"],
            source=AppointmentSource.API,
        )
        purchase = PackagePurchase.objects.select_related("package", "invoice_line__invoice__series").get(
            pk=purchase.pk
        )
        invoice = _invoice_of(purchase, request)
        online = purchase.status == PurchaseStatus.PENDING_PAYMENT
        data = PurchaseSerializer(purchase, context=_list_context([purchase])).data
        data["invoice"] = invoice
        data["payment_url"] = invoice["url"] if online and invoice else None
        url = reverse("api:purchase-detail", kwargs={"reference": purchase.reference})
        return Response(data, status=status.HTTP_201_CREATED, headers={"Location": url})


class PurchaseObjectView(PacksAPIView):
    permission_classes = [IsAuthenticated]

    def get_purchase(self, reference: str) -> PackagePurchase:
        return get_object_or_404(purchases_visible_to(self.request.user), reference=reference.upper())


class PurchaseDetailView(PurchaseObjectView):
    @extend_schema(
        parameters=[REFERENCE],
        responses={200: PurchaseDetailSerializer, 401: ERRORS_401, 403: ERRORS_403, 404: ERRORS_404},
        summary=_("One of my packs, with its ledger and sessions"),
    )
    def get(self, request, reference):
        purchase = get_object_or_404(
            purchases_visible_to(request.user).select_related("invoice_line__invoice__series"),
            reference=reference.upper(),
        )
        context = _list_context([purchase])
        context["ledger"] = list(purchase.credit_entries.select_related("appointment").order_by("at", "pk"))
        context["sessions"] = list(
            Appointment.objects.filter(pack_purchase=purchase)
            .select_related("service", "professional", "location")
            .order_by("start")
        )
        context["invoice"] = _invoice_of(purchase, request)
        return Response(PurchaseDetailSerializer(purchase, context=context).data)


class PurchaseBookView(PurchaseObjectView):
    throttle_scope = "booking"

    @extend_schema(
        parameters=[REFERENCE],
        request=BookFromPackSerializer,
        responses={
            201: AppointmentSerializer,
            400: ERRORS_400,
            401: ERRORS_401,
            403: ERRORS_403,
            404: ERRORS_404,
            409: ERRORS_409,
        },
        summary=_("Book a session with one of the pack's sessions"),
        description=_("Confirmed at once, with no invoice of its own: the pack's invoice carries the money."),
    )
    def post(self, request, reference):
        purchase = self.get_purchase(reference)
        body = BookFromPackSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        appointment = services.book_from_pack(
            purchase=purchase,
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


class SchedulePreviewView(PurchaseObjectView):
    @extend_schema(
        parameters=[REFERENCE],
        request=SchedulePreviewSerializer,
        responses={
            200: SchedulePlanSerializer,
            400: ERRORS_400,
            401: ERRORS_401,
            403: ERRORS_403,
            404: ERRORS_404,
            409: ERRORS_409,
        },
        summary=_("Propose free times for every remaining session of the pack"),
        description=_("Nothing is booked: send the proposals (or some swapped for other free times) to confirm."),
    )
    def post(self, request, reference):
        purchase = self.get_purchase(reference)
        body = SchedulePreviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        plan = services.propose_schedule(
            purchase=purchase,
            professionals=data["professionals"],
            locations=data.get("locations"),
            start_date=data["start"],
            weekdays=data["weekdays"],
            time_from=data["time_from"],
            time_to=data["time_to"],
            cadence=data["cadence"],
            one_per_day=data["one_per_day"],
            actor=request.user,
        )
        return Response(
            {
                "proposals": SchedulePlanSerializer().fields["proposals"].to_representation(plan.proposals),
                "unplaced": UnplacedSerializer(plan.unplaced, many=True).data,
            }
        )


class ScheduleConfirmView(PurchaseObjectView):
    throttle_scope = "booking"

    @extend_schema(
        parameters=[REFERENCE],
        request=ScheduleConfirmSerializer,
        responses={
            201: ScheduledSerializer,
            400: ERRORS_400,
            401: ERRORS_401,
            403: ERRORS_403,
            404: ERRORS_404,
            409: OpenApiResponse(
                ScheduleConflictSerializer,
                description=_(
                    "Some proposals are no longer free (schedule_conflict: nothing was booked; failures lists them "
                    "with alternatives), or the pack cannot be used now."
                ),
            ),
        },
        summary=_("Book the proposed sessions, all of them or none"),
    )
    def post(self, request, reference):
        purchase = self.get_purchase(reference)
        body = ScheduleConfirmSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        proposals = body.validated_data["proposals"]
        check_proposals_fit(purchase, proposals)
        appointments = services.confirm_schedule(
            purchase=purchase,
            proposals=proposals,
            actor=request.user,
            source=AppointmentSource.API,
        )
        return Response(ScheduledSerializer({"appointments": appointments}).data, status=status.HTTP_201_CREATED)


# Kept in the pack's ledger and the invoice's history when the API client gives no reason.
API_CANCEL_REASON = "Cancelled through the API."

ERRORS_409_CANCEL = OpenApiResponse(
    ErrorSerializer,
    description=_(
        "The pack cannot be cancelled now: already cancelled or expired (invalid_state), an upcoming session that "
        "can no longer be cancelled, its sessions changed meanwhile, or the refund could not be prepared."
    ),
)
ERRORS_403_CANCEL = OpenApiResponse(
    ErrorSerializer,
    description=_("Email not verified, or the pack may not be cancelled by you online (cancel_not_allowed)."),
)


class PurchaseCancelView(PurchaseObjectView):
    """The patient cancels their own pack where it allows it (``cancel_pack``); staff with the permission to cancel
    packs any they see. GET is the same calculation without changing anything (``pack_refund_quote``)."""

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsAuthenticated(), HasVerifiedEmail()]
        return super().get_permissions()

    def get_throttles(self):
        self.throttle_scope = "booking" if self.request.method == "POST" else None
        return super().get_throttles()

    @extend_schema(
        parameters=[REFERENCE],
        responses={
            200: CancelQuoteSerializer,
            401: ERRORS_401,
            403: ERRORS_403_CANCEL,
            404: ERRORS_404,
            409: ERRORS_409_CANCEL,
        },  # fmt: skip
        summary=_("What cancelling the pack now would give back"),
        description=_("Nothing is changed: the sessions it would cancel and the refund, as the POST computes them."),
    )
    def get(self, request, reference):
        purchase = self.get_purchase(reference)
        now = timezone.now()
        quote = services.pack_refund_quote(purchase=purchase, actor=request.user, now=now)
        staff = services.may_cancel_for_clinic(request.user)
        data = {
            "reference": purchase.reference,
            "sessions_sold": quote.sessions_sold,
            "sessions_unused": quote.sessions_unused,
            "per_session": quote.per_session,
            "refund_amount": quote.amount,
            "paid": quote.paid,
            "currency": quote.currency,
            "voids_invoice": quote.voids_invoice,
            "upcoming_sessions": [
                {
                    "reference": session.reference,
                    "start": session.start,
                    "service": session.service.slug,
                    "lost": not (
                        staff or session.cancellation_is_free(now) or session.service.pack_late_cancel_returns_session
                    ),
                }
                for session in quote.upcoming
            ],
        }
        return Response(CancelQuoteSerializer(data).data)

    @extend_schema(
        parameters=[REFERENCE],
        request=PurchaseCancelSerializer,
        responses={
            200: PurchaseCancelledSerializer,
            400: ERRORS_400,
            401: ERRORS_401,
            403: ERRORS_403_CANCEL,
            404: ERRORS_404,
            409: ERRORS_409_CANCEL,
        },
        summary=_("Cancel the pack"),
        description=_(
            "Its upcoming sessions are cancelled (a late one may count as used), the sessions left are written off "
            "and the unused part is refunded pro rata (to the card it was paid with), or the invoice voided if "
            "nothing was paid. All or nothing; a second call finds it cancelled (409 invalid_state)."
        ),
    )
    def post(self, request, reference):
        purchase = self.get_purchase(reference)
        body = PurchaseCancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        result = services.cancel_pack(
            purchase=purchase, actor=request.user, reason=body.validated_data["reason"].strip() or API_CANCEL_REASON
        )
        purchase = PackagePurchase.objects.select_related("package").get(pk=purchase.pk)
        data = PurchaseSerializer(purchase, context=_list_context([purchase])).data
        data["refund_amount"] = f"{result.refund_amount:.2f}"
        if result.refund_amount <= 0:
            data["refund_status"] = "none"
        elif any(refund.status == RefundStatus.PENDING for refund in result.refunds):
            data["refund_status"] = "pending"
        else:
            data["refund_status"] = "sent"
        data["invoice_voided"] = result.invoice_voided
        data["cancelled_sessions"] = [session.reference for session in result.cancelled_appointments]
        return Response(data)
