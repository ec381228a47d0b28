"""Billing's public views: the payment providers' webhooks, the pay button and the checkout return pages.

Thin views (CONVENTIONS.md): each finds the invoice or payment scoped to the logged-in patient (anything else
is a 404, never a hint that it exists), calls one service and redirects, or shows a page. The only GET that
changes anything is the success page, which records a payment the provider reports paid when the webhook is late.
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

from . import providers, services, webhooks
from .errors import PaymentError
from .models import Invoice, Payment, PaymentMethod, PaymentStatus

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------- webhook


@csrf_exempt
@require_POST
def provider_webhook(request, provider: str):
    """A provider's events: 404 for an unknown provider, 400 when the signature fails, 2xx once handled (or
    already handled), 500 to be retried."""
    gateway = providers.get_provider(provider)
    if gateway is None:
        raise Http404
    try:
        event = gateway.parse_webhook(request.body, request.headers)
    except providers.WebhookSignatureError as error:
        logger.warning("Refused a %s webhook: %s", gateway, error)
        return JsonResponse({"error": "invalid_signature"}, status=400)
    try:
        outcome = webhooks.process_event(event, provider=gateway)
    except Exception:
        logger.exception("%s event %s (%s) failed; it will be sent again", gateway, event.id, event.type)
        return JsonResponse({"error": "processing_failed"}, status=500)
    return JsonResponse({"received": True, "duplicate": outcome == webhooks.DUPLICATE})


@csrf_exempt
@require_POST
def stripe_webhook(request):
    """The address Stripe's dashboard has been configured with since before there were other providers."""
    return provider_webhook(request, provider="stripe")


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
    """Start (or resume) the online payment of the patient's invoice and send them to the provider's page."""
    invoice = _patient_invoice(request, reference)
    back = _invoice_url(invoice)
    success_url = checkout_success_url(request)
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
    return HttpResponseSeeOther(payment.checkout_url)


def checkout_success_url(request) -> str:
    """Where the provider sends the patient back; it writes the checkout's reference into the placeholder."""
    success = request.build_absolute_uri(reverse("billing:checkout_success"))
    return f"{success}?session_id={providers.CHECKOUT_REFERENCE_PLACEHOLDER}"


@never_cache
@login_required
@require_GET
def checkout_success(request):
    """Where the provider sends the patient after paying: "payment received" (confirming it if need be) or
    "processing". The checkout is looked up among the patient's own online payments, whichever provider took it."""
    reference = request.GET.get("session_id", "").strip()
    payment = (
        Payment.objects.filter(
            method=PaymentMethod.ONLINE, provider_reference=reference, invoice__patient__user_id=request.user.pk
        )
        .exclude(provider_reference="")
        .select_related("invoice")
        .first()
    )
    provider = providers.get_provider(payment.provider) if payment is not None else None
    if payment is None or provider is None:
        raise Http404
    invoice = _patient_invoice(request, payment.invoice.reference)
    if payment.status != PaymentStatus.SUCCEEDED:
        try:
            checkout = provider.checkout_state(reference)
        except providers.ProviderError:
            checkout = None  # the provider is unreachable: the webhook will tell; the page says "processing"
        if checkout is not None and checkout.is_paid:
            try:
                payment = services.confirm_checkout(checkout) or payment
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
    return list(invoice.payments.open_checkouts().order_by("-pk"))


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def checkout_cancel(request, reference: str):
    """Where the provider's "back" link leads: the patient may go back to paying, or cancel and free the held time.

    GET only shows the choice; the POST closes the checkout at the provider first (so it can no longer be paid) and
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
    except providers.ProviderError:
        messages.error(request, PaymentError("provider_error").message)
        return
    except PaymentError as error:
        messages.error(request, error.message)
        return
    if paid:
        messages.success(request, _("Your payment had already gone through, so your session is confirmed."))
    else:
        messages.success(request, _("The payment was cancelled and the time held for you has been released."))
