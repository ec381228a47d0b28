"""Billing's public views: the Stripe webhook, the pay button and the Checkout return pages.

Thin views (CONVENTIONS.md): each finds the invoice or payment scoped to the logged-in patient (anything else
is a 404, never a hint that it exists), calls one service and redirects, or shows a page. The only GET that
changes anything is the success page, which records a payment Stripe reports paid when the webhook is late.
"""

from __future__ import annotations

import logging
import zoneinfo

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from booking.http import HttpResponseSeeOther
from booking.scheduling.models import AppointmentStatus

from . import services, stripe_gateway, webhooks
from .errors import PaymentError
from .models import Invoice, Payment, PaymentMethod, PaymentStatus
from .selectors import payment_for_checkout_session

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------- webhook


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """Stripe's events: 400 when the signature fails, 2xx once handled (or already handled), 500 to be retried."""
    try:
        event = stripe_gateway.construct_event(request.body, request.headers.get("Stripe-Signature", ""))
    except stripe_gateway.SignatureError as error:
        logger.warning("Refused a Stripe webhook: %s", error)
        return JsonResponse({"error": "invalid_signature"}, status=400)
    try:
        outcome = webhooks.process_event(event)
    except Exception:
        logger.exception("Stripe event %s (%s) failed; Stripe will send it again", event.id, event.type)
        return JsonResponse({"error": "processing_failed"}, status=500)
    return JsonResponse({"received": True, "duplicate": outcome == webhooks.DUPLICATE})


# --------------------------------------------------------------------------------------------- pages


def _invoice_url(invoice: Invoice) -> str:
    """The portal's page of the invoice."""
    return reverse("portal:invoice_detail", kwargs={"reference": invoice.reference})


def _patient_invoice(request, reference: str) -> Invoice:
    return get_object_or_404(
        Invoice.objects.select_related("series"), reference=reference, patient__user_id=request.user.pk
    )


def _sessions(invoice: Invoice) -> list[dict]:
    """The invoice's sessions with their start in the clinic's zone (the location's, else the site's)."""
    lines = invoice.lines.filter(appointment__isnull=False).select_related(
        "appointment__service", "appointment__professional", "appointment__location"
    )
    default_zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    sessions = []
    for line in lines:
        appointment = line.appointment
        zone = appointment.location.tzinfo if appointment.location_id else default_zone
        sessions.append(
            {
                "appointment": appointment,
                "start": timezone.localtime(appointment.start, zone),
                "hold_expires_at": (
                    timezone.localtime(appointment.hold_expires_at, zone) if appointment.hold_expires_at else None
                ),
                "zone": zone.key,
                "confirmed": appointment.status in (AppointmentStatus.CONFIRMED, AppointmentStatus.COMPLETED),
                "held": appointment.status == AppointmentStatus.PENDING_PAYMENT,
            }
        )
    return sessions


@login_required
@require_POST
def pay(request, reference: str):
    """Start (or resume) the online payment of the patient's invoice and send them to Stripe's page."""
    invoice = _patient_invoice(request, reference)
    back = _invoice_url(invoice)
    success_url = request.build_absolute_uri(reverse("billing:checkout_success")) + "?session_id={CHECKOUT_SESSION_ID}"
    cancel_url = request.build_absolute_uri(
        reverse("billing:checkout_cancel", kwargs={"reference": invoice.reference})
    )
    try:
        payment = services.start_checkout(
            invoice=invoice, success_url=success_url, cancel_url=cancel_url, actor=request.user
        )
    except PaymentError as error:
        messages.error(request, error.message)
        return redirect(back)
    return HttpResponseSeeOther(payment.stripe_checkout_url)


@never_cache
@login_required
@require_GET
def checkout_success(request):
    """Where Stripe sends the patient after paying: "payment received" (confirming it if need be) or "processing"."""
    session_id = request.GET.get("session_id", "").strip()
    payment = payment_for_checkout_session(session_id)
    if payment is None or payment.method != PaymentMethod.STRIPE:
        raise Http404
    invoice = _patient_invoice(request, payment.invoice.reference)
    if payment.status != PaymentStatus.SUCCEEDED:
        try:
            session = stripe_gateway.retrieve_checkout_session(session_id)
        except stripe_gateway.GatewayError:
            session = None  # Stripe unreachable: the webhook will tell; the page says "processing"
        if session is not None and session.is_paid:
            try:
                payment = services.confirm_checkout_session(session) or payment
            except PaymentError as error:
                messages.error(request, error.message)
        payment.refresh_from_db()
        invoice.refresh_from_db()
    context = {
        "invoice": invoice,
        "payment": payment,
        "paid": payment.status == PaymentStatus.SUCCEEDED,
        "failed": payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELLED),
        "sessions": _sessions(invoice),
        "invoice_url": _invoice_url(invoice),
    }
    return render(request, "billing/checkout_success.html", context)


def _pending_checkouts(invoice: Invoice) -> list[Payment]:
    return list(invoice.payments.filter(method=PaymentMethod.STRIPE, status=PaymentStatus.PENDING).order_by("-pk"))


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def checkout_cancel(request, reference: str):
    """Where Stripe's "back" link leads: the patient may go back to paying, or cancel and free the held time.

    GET only shows the choice; the POST closes the Checkout at Stripe first (so it can no longer be paid) and
    then releases the hold. A session found paid meanwhile is confirmed instead (Post/Redirect/Get).
    """
    invoice = _patient_invoice(request, reference)
    if request.method == "POST":
        _cancel_checkouts(request, invoice)
        return redirect("billing:checkout_cancel", reference=invoice.reference)
    pending = _pending_checkouts(invoice)
    context = {
        "invoice": invoice,
        "pending": pending[0] if pending else None,
        "sessions": _sessions(invoice),
        "invoice_url": _invoice_url(invoice),
    }
    return render(request, "billing/checkout_cancel.html", context)


def _cancel_checkouts(request, invoice: Invoice) -> None:
    if not _pending_checkouts(invoice):
        messages.info(request, _("There is no payment in progress for this invoice."))
        return
    try:
        paid = services.close_open_checkouts(invoice)
    except stripe_gateway.GatewayError:
        messages.error(request, PaymentError("provider_error").message)
        return
    except PaymentError as error:
        messages.error(request, error.message)
        return
    if paid:
        messages.success(request, _("Your payment had already gone through, so your session is confirmed."))
    else:
        messages.success(request, _("The payment was cancelled and the time held for you has been released."))
