"""The booking box's step pages: service and place, date and time, log in, review, confirm, done.

Server-rendered and usable without JavaScript: each step is a GET page whose choices travel in the query string
(``service``, ``professional``, ``location``, ``modality``, then ``start``), so a step can be bookmarked, shared
and re-entered after logging in. Every step validates everything it receives again (``forms.py``); the price
comes from the database and the slot from ``find_slots``, never from the request. Only the confirmation is a POST,
and it books, invoices and applies the discount code in one transaction: on any refusal nothing is written.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from booking.billing import services as billing
from booking.billing import stripe_gateway
from booking.billing.errors import PaymentError
from booking.scheduling import services as scheduling
from booking.scheduling.errors import BookingError
from booking.scheduling.models import (
    Appointment,
    AppointmentModality,
    AppointmentSource,
    AppointmentStatus,
    Location,
    PaymentMode,
    Professional,
    ProfessionalService,
)
from portal.accounts.services import ensure_patient

from .emails import send_booking_confirmation
from .forms import ChoiceForm, ConfirmForm, DateForm, SlotForm, format_start
from .selectors import box_services, clinic_zone, month_availability, nearest_times, slot_is_offered

logger = logging.getLogger(__name__)


class HttpResponseSeeOther(HttpResponseRedirect):
    """303: the browser follows with a GET (to Stripe's Checkout page after the confirmation POST)."""

    status_code = 303


def flow_url(name: str, filters: dict[str, str]) -> str:
    query = urlencode({key: value for key, value in filters.items() if value})
    return reverse(f"widget:{name}") + (f"?{query}" if query else "")


def _invalid(request, form):
    """The choices in the address do not hold (tampered or out of date): say why, offer a fresh start."""
    errors = [str(error) for field_errors in form.errors.values() for error in field_errors]
    return render(request, "widget/invalid.html", {"errors": errors, "start_url": reverse("widget:start")}, status=400)


def _choice_context(form) -> dict:
    data = form.cleaned_data
    return {
        "service": data.get("service"),
        "professional": data.get("professional"),
        "location": data.get("location"),
        "modality": data.get("modality") or "",
    }


@require_GET
def choose(request):
    """Step 1: the service (unless fixed), then the professional ("first available") and the place."""
    form = ChoiceForm(request.GET)
    if not form.is_valid():
        return _invalid(request, form)
    choice = _choice_context(form)
    service, professional = choice["service"], choice["professional"]
    if service is None:
        services = box_services(
            service=None, professional=professional, location=choice["location"], modality=choice["modality"]
        )
        links = [(item, flow_url("start", {**form.filters(), "service": item.slug})) for item in services]
        return render(request, "widget/choose_service.html", {**choice, "service_links": links})
    if professional is not None and choice["modality"] and (choice["location"] or choice["modality"] == "online"):
        return redirect(flow_url("date", form.filters()))
    professionals = (
        [professional]
        if professional is not None
        else list(Professional.objects.bookable().offering(service).order_by("sort_order", "display_name"))
    )
    locations = []
    if service.offers_in_person and choice["modality"] != AppointmentModality.ONLINE:
        if choice["location"] is not None:
            locations = [choice["location"]]
        else:
            locations = list(
                Location.objects.filter(active=True, professionals__in=[p.pk for p in professionals])
                .distinct()
                .order_by("sort_order", "name")
            )
    offers_online = service.offers_online and choice["modality"] != AppointmentModality.IN_PERSON
    context = {
        **choice,
        "professionals": professionals,
        "locations": locations,
        "offers_online": offers_online,
        "date_url": reverse("widget:date"),
        "back_url": flow_url("start", {key: value for key, value in form.filters().items() if key != "service"}),
    }
    return render(request, "widget/choose_options.html", context)


@require_GET
def choose_date(request):
    """Step 2: a month marking the days with free times, and the times of the chosen day in the clinic's zone."""
    form = DateForm(request.GET)
    if not form.is_valid():
        return _invalid(request, form)
    choice = _choice_context(form)
    service = choice["service"]
    if service is None:
        return redirect(flow_url("start", form.filters()))
    now = timezone.now()
    zone = clinic_zone(choice["location"])
    day = form.cleaned_data.get("day")
    month = form.cleaned_data.get("month") or (day or now.astimezone(zone).date()).replace(day=1)
    availability = month_availability(
        service=service,
        professional=choice["professional"],
        location=choice["location"],
        modality=choice["modality"],
        month=month,
        now=now,
    )
    if day is None or day.replace(day=1) != availability.first_day:
        day = min(availability.free_days) if availability.free_days else None
    filters = form.filters()
    times = availability.times_by_day.get(day, []) if day else []
    slug_of = dict(
        Professional.objects.filter(pk__in={choice.slot.professional_id for choice in times}).values_list("pk", "slug")
    )
    time_links = [
        (
            time_choice,
            flow_url(
                "review",
                {
                    **filters,
                    "professional": slug_of[time_choice.slot.professional_id],
                    "location": time_choice.location.slug if time_choice.location else "",
                    "modality": AppointmentModality.IN_PERSON if time_choice.location else AppointmentModality.ONLINE,
                    "start": format_start(time_choice.slot.start),
                },
            ),
        )
        for time_choice in times
    ]
    weeks = [
        [
            None
            if cell.month != availability.first_day.month
            else {
                "date": cell,
                "free": cell in availability.free_days,
                "selected": cell == day,
                "url": flow_url("date", {**filters, "month": f"{cell:%Y-%m}", "day": f"{cell:%Y-%m-%d}"}),
            }
            for cell in week
        ]
        for week in availability.weeks
    ]
    context = {
        **choice,
        "month": availability,
        "weeks": weeks,
        "day": day,
        "time_links": time_links,
        "zone": zone.key,
        "previous_url": flow_url("date", {**filters, "month": f"{availability.previous:%Y-%m}"})
        if availability.previous
        else "",
        "next_url": flow_url("date", {**filters, "month": f"{availability.next:%Y-%m}"}) if availability.next else "",
        "back_url": flow_url("start", {key: value for key, value in filters.items() if key == "service"}),
    }
    return render(request, "widget/choose_date.html", context)


def _unavailable(request, form, message: str, *, status: int = 200):
    """The time is no longer offered: say so and show the nearest free times (nothing has been written)."""
    data = form.cleaned_data
    now = timezone.now()
    alternatives = nearest_times(
        service=data["service"],
        professional=data["professional"],
        location=data["location"],
        modality=data["modality"],
        around=data["start"],
        now=now,
    )
    base = {key: value for key, value in form.filters().items() if key != "start"}
    links = [
        (choice, flow_url("review", {**base, "start": format_start(choice.slot.start)})) for choice in alternatives
    ]
    context = {
        "message": message,
        "alternatives": links,
        "service": data["service"],
        "date_url": flow_url("date", base),
    }
    return render(request, "widget/unavailable.html", context, status=status)


def _review_context(form, confirm_form, *, price, online_unavailable: bool) -> dict:
    data = form.cleaned_data
    return {
        **_choice_context(form),
        "form": confirm_form,
        "start": data["start"].astimezone(clinic_zone(data["location"])),
        "zone": clinic_zone(data["location"]).key,
        "price": price,
        "pays_online": data["service"].payment_mode == PaymentMode.ONLINE_AT_BOOKING,
        "online_unavailable": online_unavailable,
        "date_url": flow_url("date", {k: v for k, v in form.filters().items() if k not in ("start",)}),
    }


@never_cache
@require_http_methods(["GET", "POST"])
def review(request):
    """Steps 3 to 5: log in if need be, review the session and its price, confirm (POST)."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    form = SlotForm(request.GET)
    if not form.is_valid():
        return _invalid(request, form)
    data = form.cleaned_data
    service, professional, location = data["service"], data["professional"], data["location"]
    now = timezone.now()
    offer = ProfessionalService.objects.filter(professional=professional, service=service).select_related("service")
    price = offer.get().price
    online_unavailable = service.payment_mode == PaymentMode.ONLINE_AT_BOOKING and not stripe_gateway.is_enabled()
    if not slot_is_offered(
        service=service, professional=professional, location=location, start=data["start"], now=now
    ):
        message = _("That time is not available any more. Please choose another one.")
        return _unavailable(request, form, message, status=409 if request.method == "POST" else 200)
    if request.method == "GET":
        context = _review_context(form, ConfirmForm(), price=price, online_unavailable=online_unavailable)
        return render(request, "widget/review.html", context)

    confirm_form = ConfirmForm(request.POST)
    if online_unavailable:
        confirm_form.is_valid()
        confirm_form.add_error(None, PaymentError("payments_unavailable").message)
    if not confirm_form.is_valid():
        context = _review_context(form, confirm_form, price=price, online_unavailable=online_unavailable)
        return render(request, "widget/review.html", context)
    try:
        appointment, invoice = _book(request, form, confirm_form, now=now)
    except BookingError as error:
        if error.code == "slot_unavailable":
            return _unavailable(request, form, error.message, status=409)
        confirm_form.add_error(None, error.message)
    except PaymentError as error:
        field = "coupon" if error.code.startswith("coupon") else None
        confirm_form.add_error(field, error.message)
    else:
        if appointment.status == AppointmentStatus.PENDING_PAYMENT:
            return _checkout(request, form, confirm_form, appointment, invoice, price=price)
        return redirect("widget:done", reference=appointment.reference)
    context = _review_context(form, confirm_form, price=price, online_unavailable=online_unavailable)
    return render(request, "widget/review.html", context)


def _book(request, form, confirm_form, *, now):
    """Book (or hold), invoice and discount in ONE transaction: a refused code or a taken time writes nothing."""
    data = form.cleaned_data
    with transaction.atomic():
        appointment, invoice = billing.book_with_invoice(
            patient=ensure_patient(request.user),
            professional=data["professional"],
            service=data["service"],
            start=data["start"],
            location=data["location"],
            modality=data["modality"],
            source=AppointmentSource.BOOKING_BOX,
            actor=request.user,
            note=confirm_form.cleaned_data["note"],
            coupon_code=confirm_form.cleaned_data["coupon"].strip(),
            now=now,
        )
        appointment.refresh_from_db()  # a session with nothing to pay is confirmed at once
        if appointment.status == AppointmentStatus.CONFIRMED:
            appointment_id = appointment.pk
            transaction.on_commit(lambda: send_booking_confirmation(appointment_id))
    return appointment, invoice


def _checkout(request, form, confirm_form, appointment, invoice, *, price):
    """Send the patient to Stripe; when the checkout cannot start, give the held time back and void the invoice."""
    success_url = request.build_absolute_uri(reverse("billing:checkout_success")) + "?session_id={CHECKOUT_SESSION_ID}"
    cancel_url = request.build_absolute_uri(
        reverse("billing:checkout_cancel", kwargs={"reference": invoice.reference})
    )
    try:
        payment = billing.start_checkout(
            invoice=invoice, success_url=success_url, cancel_url=cancel_url, actor=request.user
        )
    except PaymentError as error:
        logger.warning("Checkout could not start for appointment %s: %s", appointment.reference, error.code)
        scheduling.release_hold(appointment=appointment, reason="checkout could not start")
        try:
            billing.void_invoice(invoice=invoice, actor=None, reason="checkout could not start")
        except PaymentError:
            logger.exception("Could not void invoice %s after a failed checkout", invoice.reference)
        confirm_form.add_error(None, error.message)
        context = _review_context(form, confirm_form, price=price, online_unavailable=False)
        return render(request, "widget/review.html", context)
    return HttpResponseSeeOther(payment.stripe_checkout_url)


@login_required
@require_GET
def done(request, reference: str):
    """Step 6: the booked session, with its calendar file and the way to the portal."""
    appointment = get_object_or_404(
        Appointment.objects.select_related("service", "professional", "location"),
        reference=reference.upper(),
        patient__user_id=request.user.pk,
    )
    zone = clinic_zone(appointment.location)
    try:
        calendar_url = reverse("portal:appointment_calendar", kwargs={"reference": appointment.reference})
    except NoReverseMatch:
        calendar_url = ""
    context = {
        "appointment": appointment,
        "start": appointment.start.astimezone(zone),
        "zone": zone.key,
        "calendar_url": calendar_url,
        "portal_url": reverse("portal:home"),
        "confirmed": appointment.status == AppointmentStatus.CONFIRMED,
    }
    return render(request, "widget/done.html", context)
