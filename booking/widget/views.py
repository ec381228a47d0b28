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

from allauth.account.adapter import get_adapter as get_account_adapter
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.messages.storage.base import Message
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from booking.billing import providers
from booking.billing import services as billing
from booking.billing.errors import PaymentError
from booking.billing.models import Invoice, InvoiceStatus
from booking.http import HttpResponseSeeOther
from booking.packs.errors import PackError
from booking.packs.models import PackagePurchase
from booking.packs.selectors import balances
from booking.packs.services import book_from_pack
from booking.scheduling.errors import BookingError
from booking.scheduling.models import (
    Appointment,
    AppointmentModality,
    AppointmentSource,
    AppointmentStatus,
    Location,
    Professional,
    ProfessionalService,
)
from portal.accounts.models import ConsentRecord
from portal.accounts.services import ensure_patient, legal_documents, record_consents
from portal.records.selectors import discharge_blocks_booking
from website.models.site_settings import OnlinePaymentFallback

from .calendar_links import calendar_links
from .forms import ChoiceForm, ConfirmForm, DateForm, OptionsForm, SlotForm, format_start
from .pack_offers import purchase_refusal, purchase_url, usable_packs
from .payment import OnlinePayment, clinic_fallback, online_payment_for, online_payment_test_mode
from .selectors import (
    box_services,
    clinic_zone,
    has_accepted,
    month_availability,
    nearest_times,
    possible_places,
    preview_coupon,
    slot_is_offered,
)

logger = logging.getLogger(__name__)


#: Steps that leave an embedded box for the clinic's own site (log in, review, pay need first-party cookies).
TOP_LEVEL_STEPS = {"identify", "review", "pay", "done"}


def is_embedded(request) -> bool:
    """Whether this request came through ``/embed/booking/`` (the box inside another site's iframe)."""
    match = getattr(request, "resolver_match", None)
    return match is not None and match.namespace == "embed"


def flow_url(request, name: str, filters: dict[str, str]) -> str:
    """A step's address with the choices so far; inside an embed it stays in the embed but for the top-level
    steps. An embed's ``lang`` (no language cookie in a third-party frame) travels along."""
    language = getattr(request, "box_language", "")
    query = urlencode({key: value for key, value in {**filters, "lang": language}.items() if value})
    namespace = "embed" if is_embedded(request) and name not in TOP_LEVEL_STEPS else "widget"
    return reverse(f"widget:{name}", current_app=namespace) + (f"?{query}" if query else "")


def _invalid(request, form):
    """The choices in the address do not hold (tampered or out of date): say why, offer a fresh start."""
    errors = [str(error) for field_errors in form.errors.values() for error in field_errors]
    return render(
        request, "widget/invalid.html", {"errors": errors, "start_url": flow_url(request, "start", {})}, status=400
    )


def _choice_context(form) -> dict:
    data = form.cleaned_data
    return {
        "service": data.get("service"),
        "professional": data.get("professional"),
        "location": data.get("location"),
        "modality": data.get("modality") or "",
    }


#: What the "change professional or place" link keeps: the service and the box's own limits.
BOX_KEYS = ("service", "category", "team", "lock", "purchase")


@vary_on_headers("HX-Request")
@require_GET
def choose(request):
    """Step 1: the service (unless fixed), then the professional ("first available") and the place.

    Only within the box's limits: the services of its ``category`` that someone of its ``team`` offers, and only
    that team to choose from. Two queries for the team and the services whatever their number.
    """
    form = ChoiceForm(request.GET)
    if not form.is_valid():
        return _invalid(request, form)
    choice = _choice_context(form)
    service, professional = choice["service"], choice["professional"]
    team = form.cleaned_data["team"]
    if service is None:
        services = box_services(
            service=None,
            professional=professional,
            location=choice["location"],
            modality=choice["modality"],
            category=form.cleaned_data["category"],
            team=team,
        )
        links = [
            (
                item,
                flow_url(request, "start", {**form.filters(), "service": item.slug}),
                online_payment_for(request, item),
            )
            for item in services
        ]
        return render(request, "widget/choose_service.html", {**choice, "service_links": links})
    if professional is not None and choice["modality"] and (choice["location"] or choice["modality"] == "online"):
        return redirect(flow_url(request, "date", form.filters()))
    return _options_page(request, form, choice)


def _options_page(request, form, choice: dict, *, error: str = "", status: int = 200):
    """Step 1's second half: the professional ("first available") and the places that are really possible.

    Only professionals with at least one possible place for the service are listed, and only places where one of
    them works (``Places``); each location carries the slugs of who works there, so booking.js can hide the
    others once a professional is picked (without JavaScript the next step checks the pair and comes back here).
    When nothing is possible the step says so and offers the clinic's contact instead of an empty choice.
    """
    service, professional, team = choice["service"], choice["professional"], form.cleaned_data.get("team") or []
    if professional is not None:
        professionals = [professional]
    else:
        offering = Professional.objects.bookable().offering(service)
        if team:
            offering = offering.filter(pk__in=[member.pk for member in team])
        professionals = list(offering.order_by("sort_order", "display_name"))
    places = possible_places(service=service, professionals=professionals)
    professionals = [item for item in professionals if places.has_place_for(item.pk)]
    modality, location = choice["modality"], choice["location"]
    locations = []
    if professionals and modality != AppointmentModality.ONLINE:
        locations = [item for item in places.locations if location is None or item.pk == location.pk]
    offers_online = bool(professionals) and places.online and modality != AppointmentModality.IN_PERSON
    working_at = {
        item.pk: " ".join(member.slug for member in professionals if item in places.for_professional(member.pk))
        for item in locations
    }
    context = {
        **choice,
        "options_form": OptionsForm(
            professionals=professionals,
            chosen=professional,
            locations=[(item, working_at[item.pk]) for item in locations],
            offers_online=offers_online,
            location=location,
            modality=modality,
        ),
        "nothing_possible": not locations and not offers_online,
        "place_error": error,
        "payment": online_payment_for(request, service),
        "date_url": flow_url(request, "date", {}),
        # The box's limits travel as hidden fields of the GET form (a GET form drops its action's query string).
        "carried_filters": [
            (key, value) for key, value in form.filters().items() if key in ("category", "team", "lock", "purchase")
        ],
        # A box whose editor did not allow changes shows no way back to the other services (UX only).
        "back_url": ""
        if form.cleaned_data.get("lock")
        else flow_url(request, "start", {key: value for key, value in form.filters().items() if key != "service"}),
    }
    return render(request, "widget/choose_options.html", context, status=status)


def _no_place_message(places) -> str:
    if not places:
        return _(
            "This service cannot be booked online with the chosen professional right now. Please contact the clinic."
        )
    return _("Please choose one of the places offered.")


def _back_to_step_one(request, form, message: str):
    """An empty or impossible place (or a service that cannot be booked now) sent to step 2: step 1 again (400)
    with the message, never times."""
    choice = {**_choice_context(form), "location": None, "modality": ""}
    return _options_page(request, form, choice, error=message, status=400)


#: The fields whose errors send the visitor back to step 1's place choice rather than to "invalid link".
PLACE_FIELDS = {"where", "location", "modality"}


@vary_on_headers("HX-Request")
@require_GET
def choose_date(request):
    """Step 2: a month marking the days with free times, and the times of the chosen day in the clinic's zone.

    "First available" means the first of the box's ``team`` (of everyone without one): one ``find_slots`` call.
    """
    form = DateForm(request.GET)
    if not form.is_valid():
        if set(form.errors) <= PLACE_FIELDS and form.cleaned_data.get("service") is not None:
            message = " ".join(str(error) for errors in form.errors.values() for error in errors)
            return _back_to_step_one(request, form, message)
        return _invalid(request, form)
    choice = _choice_context(form)
    service = choice["service"]
    if service is None:
        return redirect(flow_url(request, "start", form.filters()))
    chosen = [choice["professional"]] if choice["professional"] is not None else form.cleaned_data["team"]
    places = possible_places(service=service, professionals=chosen or None)
    if not places.allows(location=choice["location"], modality=choice["modality"]):
        return _back_to_step_one(request, form, _no_place_message(places))
    # Step 1 says so; no way on to the sign-up. A session paid with a pack pays nothing here (the review checks it).
    if not form.cleaned_data["purchase"] and not online_payment_for(request, service).bookable:
        return _back_to_step_one(request, form, _not_bookable_message())
    back_url = (
        ""
        if form.cleaned_data["lock"]
        else flow_url(request, "start", {key: value for key, value in form.filters().items() if key in BOX_KEYS})
    )
    if choice["professional"] is not None and _discharged(request, choice["professional"]):
        # A logged-in patient the professional discharged: no times that would end in a refusal at the review.
        context = {**choice, "discharged": BookingError("discharged").message, "back_url": back_url}
        return render(request, "widget/choose_date.html", context)
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
        team=form.cleaned_data["team"],
        places=places,
    )
    if day is None or day.replace(day=1) != availability.first_day:
        day = min(availability.free_days) if availability.free_days else None
    filters = form.filters()
    times = availability.times_by_day.get(day, []) if day else []
    known = {member.pk: (member.slug, member.display_name) for member in chosen}  # no query for them
    unknown = {time_choice.slot.professional_id for time_choice in times} - known.keys()
    if unknown:
        rows = Professional.objects.filter(pk__in=unknown).values_list("pk", "slug", "display_name")
        known.update((pk, (slug, name)) for pk, slug, name in rows)
    slug_of = {pk: slug for pk, (slug, _name) in known.items()}
    time_links = [
        (
            time_choice,
            flow_url(
                request,
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
                "url": flow_url(request, "date", {**filters, "month": f"{cell:%Y-%m}", "day": f"{cell:%Y-%m-%d}"}),
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
        # "First available": each time says with whom, so nobody learns it only at the review.
        "time_groups": _time_groups(
            time_links, {pk: name for pk, (_slug, name) in known.items()} if choice["professional"] is None else {}
        ),
        "zone": zone.key,
        "previous_url": flow_url(request, "date", {**filters, "month": f"{availability.previous:%Y-%m}"})
        if availability.previous
        else "",
        "next_url": flow_url(request, "date", {**filters, "month": f"{availability.next:%Y-%m}"})
        if availability.next
        else "",
        "back_url": back_url,
    }
    return render(request, "widget/choose_date.html", context)


def _time_groups(time_links: list[tuple], name_of: dict[int, str]) -> list[tuple]:
    """The day's times by place, each place named once above its times (locations first, then online); each time
    with its professional's name when ``name_of`` has it (the visitor chose "first available")."""
    groups: dict[int | None, list[tuple]] = {}
    for time_choice, url in time_links:
        location = time_choice.location
        name = name_of.get(time_choice.slot.professional_id, "")
        groups.setdefault(location.pk if location is not None else None, []).append((time_choice, url, name))
    ordered = sorted(groups.values(), key=lambda links: _place_order(links[0][0].location))
    return [(links[0][0].location, links) for links in ordered]


def _place_order(location: Location | None) -> tuple:
    return (1, 0, "") if location is None else (0, location.sort_order, location.name)


def _review_links(request, base: dict[str, str], alternatives) -> list[tuple]:
    """(time, review address) for each alternative time offered instead of one that is gone."""
    return [
        (choice, flow_url(request, "review", {**base, "start": format_start(choice.slot.start)}))
        for choice in alternatives
    ]


def _unavailable(request, form, message: str = "", *, status: int = 200):
    """The time is no longer offered: say so and show the nearest free times (nothing has been written).

    Without ``message`` the page says the time was just taken (the race a confirmation can lose); the block is
    ``#slot-taken`` either way, so a browser test can find it whatever the wording.
    """
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
    links = _review_links(request, base, alternatives)
    context = {
        "message": message,
        "alternatives": links,
        "service": data["service"],
        "zone": clinic_zone(data["location"]).key,
        "date_url": flow_url(request, "date", base),
    }
    return render(request, "widget/unavailable.html", context, status=status)


def _review_context(
    request, form, confirm_form, *, price, payment: OnlinePayment, preview=None, offer_packs: bool = True
) -> dict:
    data = form.cleaned_data
    usable = (
        usable_packs(user=request.user, service=data["service"], professional=data["professional"], now=timezone.now())
        if offer_packs
        else []
    )
    return {
        # "Use my pack (N left)": the same review with the pack; confirming without it pays as usual.
        "pack_offers": [
            (item, flow_url(request, "review", {**form.filters(), "purchase": item.purchase.reference}))
            for item in usable
            if data["start"] < item.purchase.expires_at
        ],
        **_choice_context(form),
        "form": confirm_form,
        "start": data["start"].astimezone(clinic_zone(data["location"])),
        "zone": clinic_zone(data["location"]).key,
        "online": data["modality"] == AppointmentModality.ONLINE,
        "price": price,
        "coupon_preview": preview,
        "payment": payment,
        "pays_online": payment.pays_online,
        "online_unavailable": not payment.bookable,
        "date_url": flow_url(request, "date", {k: v for k, v in form.filters().items() if k not in ("start",)}),
        "messages": _review_messages(request),
    }


def _review_messages(request) -> list:
    """The messages the review shows: after a sign-up allauth leaves two success notes ("email confirmed",
    "signed in"), which read as two stacked alerts; they become one sentence. Reading them marks them shown."""
    stored = list(messages.get_messages(request))
    successes = [message for message in stored if message.level == messages.SUCCESS]
    if len(successes) < 2:
        return stored
    merged = Message(messages.SUCCESS, _("You are logged in. Check the details below and confirm your booking."))
    return [merged, *(message for message in stored if message.level != messages.SUCCESS)]


def _privacy_to_accept(request):
    """The privacy policy the patient must still accept at review, or None if they already did (e.g. at sign-up).

    A patient created by staff, or one who accepted an older version of the policy page, is asked here."""
    document = legal_documents(request)[ConsentRecord.Document.PRIVACY]
    return None if has_accepted(request.user, document) else document


def _confirm_form(request, data, privacy, *, with_coupon: bool = True) -> ConfirmForm:
    return ConfirmForm(
        data,
        needs_consent=privacy is not None,
        privacy_url=privacy.url if privacy is not None else None,
        apply_url=request.get_full_path(),
        with_coupon=with_coupon,
    )


def _apply_coupon_preview(request, form, confirm_form, *, price, now):
    """The review's "Apply" button: the price with the code, or the code's error; nothing is redeemed or booked.

    Only the code's own message is shown: the consent or the note are not being submitted yet.
    """
    confirm_form.is_valid()
    for field in [name for name in confirm_form.errors if name != "coupon"]:
        del confirm_form.errors[field]
    code = (confirm_form.cleaned_data.get("coupon") or "").strip()
    if not code:
        confirm_form.add_error("coupon", _("Please enter a discount code."))
        return None
    data = form.cleaned_data
    try:
        return preview_coupon(
            code=code,
            service=data["service"],
            price=price,
            currency=data["service"].currency,
            patient_id=getattr(getattr(request.user, "patient", None), "pk", None),
            now=now,
        )
    except PaymentError as error:
        confirm_form.add_error("coupon", error.message)
        return None


@never_cache
@vary_on_headers("HX-Request")
@require_http_methods(["GET", "POST"])
def review(request):
    """Step 4: review the session and its price, confirm (POST); a held time goes on to step 5, "pay".

    A POST with ``action=apply`` only shows the price with the discount code (nothing is written). A service paid
    online at booking is booked to be paid at the clinic while online payment is off, if the clinic allows it.
    """
    if not request.user.is_authenticated:  # a logged-out POST books nothing: identify first, same slot
        query = request.GET.urlencode()
        return redirect(reverse("widget:identify", current_app="widget") + (f"?{query}" if query else ""))
    form = SlotForm(request.GET)
    if not form.is_valid():
        return _invalid(request, form)
    data = form.cleaned_data
    service, professional, location = data["service"], data["professional"], data["location"]
    now = timezone.now()
    offer = ProfessionalService.objects.filter(professional=professional, service=service).select_related("service")
    price = offer.get().price
    payment = online_payment_for(request, service)
    privacy = _privacy_to_accept(request)
    if not slot_is_offered(
        service=service, professional=professional, location=location, start=data["start"], now=now
    ):
        if request.method == "POST":
            return _unavailable(request, form, status=409)
        return _unavailable(request, form, _("That time is not available any more. Please choose another one."))
    if _discharged(request, professional):
        return _discharged_page(
            request, form, price=price, payment=payment, status=409 if request.method == "POST" else 200
        )
    if data["purchase"]:
        return _review_with_pack(request, form, privacy=privacy, price=price, payment=payment, now=now)
    if request.method == "GET":
        context = _review_context(request, form, _confirm_form(request, None, privacy), price=price, payment=payment)
        return render(request, "widget/review.html", context)

    confirm_form = _confirm_form(request, request.POST, privacy)
    if request.POST.get("action") == "apply":
        preview = _apply_coupon_preview(request, form, confirm_form, price=price, now=now)
        context = _review_context(request, form, confirm_form, price=price, payment=payment, preview=preview)
        return render(request, "widget/review.html", context, status=200 if preview else 400)
    if not payment.bookable:
        confirm_form.is_valid()
        confirm_form.add_error(None, _not_bookable_message())
    if not confirm_form.is_valid():
        context = _review_context(request, form, confirm_form, price=price, payment=payment)
        return render(request, "widget/review.html", context)
    try:
        appointment, invoice = _book(request, form, confirm_form, privacy=privacy, hold=payment.pays_online, now=now)
    except BookingError as error:
        if error.code == "slot_unavailable":
            return _unavailable(request, form, status=409)
        confirm_form.add_error(None, error.message)
    except PaymentError as error:
        field = "coupon" if error.code.startswith("coupon") else None
        confirm_form.add_error(field, error.message)
    else:
        if appointment.status == AppointmentStatus.PENDING_PAYMENT:
            return HttpResponseSeeOther(reverse("widget:pay", kwargs={"reference": appointment.reference}))
        return redirect("widget:done", reference=appointment.reference)
    context = _review_context(request, form, confirm_form, price=price, payment=payment)
    return render(request, "widget/review.html", context)


def _discharged(request, professional: Professional) -> bool:
    """The professional discharged this patient and nobody referred them back since (``portal.records``): the
    booking would be refused, so the review says so before the patient fills anything in."""
    patient_id = getattr(getattr(request.user, "patient", None), "pk", None)
    return discharge_blocks_booking(patient_id=patient_id, professional_id=professional.pk)


def _discharged_page(request, form, *, price, payment: OnlinePayment, status: int):
    """The review without a way to confirm: the patient's treatment with this professional has ended, so they are
    told to contact the clinic, with its contact details, and may go back to choose someone else."""
    context = _review_context(request, form, None, price=price, payment=payment, offer_packs=False)
    context["discharged"] = BookingError("discharged").message
    if not form.cleaned_data.get("lock"):
        context["other_professional_url"] = flow_url(
            request, "start", {key: value for key, value in form.filters().items() if key in BOX_KEYS}
        )
    return render(request, "widget/review.html", context, status=status)


def _pack_to_use(request, form, *, now) -> tuple[PackagePurchase | None, object, str]:
    """The patient's purchase named in the address, its bucket for the service and why it cannot be used ("" if it
    can). Only the patient's own purchases are found: another patient's reference reads as unknown."""
    data = form.cleaned_data
    purchase = (
        PackagePurchase.objects.filter(reference=data["purchase"], patient__user_id=request.user.pk)
        .select_related("package")
        .first()
    )
    if purchase is None:
        return None, None, _("That pack was not found among yours.")
    refusal = purchase_refusal(purchase, service=data["service"], professional=data["professional"], now=now)
    if refusal:
        return purchase, None, refusal
    bucket = balances(purchase).for_service(data["service"].pk)
    if bucket is None or bucket.remaining < 1:
        return purchase, bucket, _("There are no sessions left in this pack for that service.")
    if data["start"] >= purchase.expires_at:
        return purchase, bucket, PackError("expired").message
    return purchase, bucket, ""


def _review_with_pack(request, form, *, privacy, price, payment: OnlinePayment, now):
    """Step 4 with "use my pack": the credit instead of a price, and the booking through ``book_from_pack``.

    A pack that is not the patient's, not active, expired, used up or that does not cover this session is named
    with its reason and nothing is booked (the review offers paying as usual instead). The booking itself checks
    everything again with the purchase locked, so a pack used up in another tab meanwhile is refused the same way.
    """
    data = form.cleaned_data
    purchase, bucket, refusal = _pack_to_use(request, form, now=now)
    posted = request.method == "POST"
    confirm_form = _confirm_form(request, request.POST if posted else None, privacy, with_coupon=False)
    context = _review_context(request, form, confirm_form, price=price, payment=payment, offer_packs=False)
    context.update(
        {
            "pack_purchase": purchase,
            "pack_bucket": bucket,
            "pack_left_after": bucket.remaining - 1 if bucket is not None else 0,
            "pay_normally_url": flow_url(
                request, "review", {key: value for key, value in form.filters().items() if key != "purchase"}
            ),
            "online_unavailable": False,
        }
    )
    if refusal:
        context["pack_error"] = refusal
        return render(request, "widget/review.html", context, status=409 if posted else 200)
    if not posted or not confirm_form.is_valid():
        return render(request, "widget/review.html", context)
    try:
        with transaction.atomic():
            if privacy is not None:
                record_consents(
                    request.user, [privacy], ip_address=get_account_adapter(request).get_client_ip(request)
                )
            appointment = book_from_pack(
                purchase=purchase,
                professional=data["professional"],
                service=data["service"],
                start=data["start"],
                location=data["location"],
                modality=data["modality"],
                source=AppointmentSource.BOOKING_BOX,
                actor=request.user,
                note=confirm_form.cleaned_data["note"],
                now=now,
            )
    except BookingError as error:
        if error.code == "slot_unavailable":
            return _unavailable(request, form, status=409)
        confirm_form.add_error(None, error.message)
    except PackError as error:
        context["pack_error"] = error.message
        return render(request, "widget/review.html", context, status=409)
    else:
        return redirect("widget:done", reference=appointment.reference)
    return render(request, "widget/review.html", context)


def _not_bookable_message() -> str:
    return _(
        "Online payment is not available right now, so this service cannot be booked online. "
        "Please contact the clinic."
    )


def _book(request, form, confirm_form, *, privacy, hold: bool, now):
    """Book (or hold), invoice, discount and record the privacy consent given here, in ONE transaction: a refused
    code or a taken time writes nothing (not even the consent, which is asked again with the next try)."""
    data = form.cleaned_data
    with transaction.atomic():
        if privacy is not None:
            record_consents(request.user, [privacy], ip_address=get_account_adapter(request).get_client_ip(request))
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
            hold=hold,
            now=now,
        )
        appointment.refresh_from_db()  # a session with nothing to pay is confirmed at once
    return appointment, invoice


def _open_invoice(appointment: Appointment) -> Invoice | None:
    return (
        Invoice.objects.filter(lines__appointment=appointment, status=InvoiceStatus.OPEN)
        .select_related("series")
        .order_by("-pk")
        .first()
    )


def _choose_again_url(request, appointment: Appointment) -> str:
    """The date step of the same service, professional and place, open at the day of the lost time."""
    day = appointment.start.astimezone(clinic_zone(appointment.location)).date()
    filters = {
        "service": appointment.service.slug,
        "professional": appointment.professional.slug,
        "location": appointment.location.slug if appointment.location else "",
        "modality": appointment.modality,
        "month": f"{day:%Y-%m}",
        "day": f"{day:%Y-%m-%d}",
    }
    return flow_url(request, "date", filters)


def _appointment_context(appointment: Appointment) -> dict:
    """What ``includes/summary.html`` and the time lines show, for a booked (or held) appointment."""
    zone = clinic_zone(appointment.location)
    return {
        "appointment": appointment,
        "service": appointment.service,
        "professional": appointment.professional,
        "location": appointment.location,
        "modality": appointment.modality,
        "online": appointment.modality == AppointmentModality.ONLINE,
        "start": appointment.start.astimezone(zone),
        "zone": zone.key,
    }


def _pay_page(request, appointment: Appointment, invoice: Invoice, *, now, error: str = "", status: int = 200):
    """The held time, its price and the countdown; the numbers come from the server, so it works without JS."""
    deadline = appointment.hold_expires_at  # None only for a hold made outside the box: no countdown then
    seconds_left = max(0, int((deadline - now).total_seconds())) if deadline else None
    context = {
        **_appointment_context(appointment),
        "invoice": invoice,
        "hold_until": deadline.astimezone(clinic_zone(appointment.location)) if deadline else None,
        "seconds_left": seconds_left,
        "countdown": f"{seconds_left // 60:02d}:{seconds_left % 60:02d}" if deadline else "",
        "announced_minutes": range(seconds_left // 60, 0, -1) if deadline else [],
        "error": error,
        "test_mode": online_payment_test_mode(),
        "pay_at_clinic_offered": _may_pay_at_clinic_instead(request, appointment, invoice),
        "date_url": _choose_again_url(request, appointment),
    }
    return render(request, "widget/pay.html", context, status=status)


def _hold_lapsed(request, appointment: Appointment, *, now, status: int):
    """The held time ran out or was given back: say so and offer the nearest free times (a bounded search)."""
    service = appointment.service
    alternatives = nearest_times(
        service=service,
        professional=appointment.professional,
        location=appointment.location,
        modality=appointment.modality,
        around=appointment.start,
        now=now,
    )
    base = {
        "service": service.slug,
        "professional": appointment.professional.slug,
        "location": appointment.location.slug if appointment.location else "",
        "modality": appointment.modality,
    }
    links = _review_links(request, base, alternatives)
    context = {
        **_appointment_context(appointment),
        "lapsed": True,
        "alternatives": links,
        "date_url": _choose_again_url(request, appointment),
    }
    return render(request, "widget/pay.html", context, status=status)


#: Checkout errors that mean the gateway is unreachable or switched off (not a rule about this invoice).
GATEWAY_DOWN_CODES = {"provider_error", "payments_unavailable"}
#: The reference whose checkout just failed to start because of the gateway, for the pay-at-clinic offer.
CHECKOUT_FAILED_SESSION_KEY = "widget_checkout_failed"


def _may_pay_at_clinic_instead(request, appointment: Appointment, invoice: Invoice) -> bool:
    """A held session may become "pay at the clinic" only while online payment is down (off, or its checkout just
    failed to start for this patient), if the clinic allows that fallback, and with no checkout left open (one
    could still be paid)."""
    if clinic_fallback(request) != OnlinePaymentFallback.PAY_AT_CLINIC:
        return False
    failed_here = request.session.get(CHECKOUT_FAILED_SESSION_KEY) == appointment.reference
    gateway_down = not providers.online_payment_available() or failed_here
    return gateway_down and not invoice.payments.open_checkouts().exists()


def _pay_at_clinic_instead(request, appointment: Appointment, invoice: Invoice, *, now):
    """The pay step's way out when the gateway is down: the held time is booked, its invoice stays open to be paid
    at the clinic. Invoice locked first, as the payment webhook locks, then the appointment is confirmed."""
    if not _may_pay_at_clinic_instead(request, appointment, invoice):
        return _pay_page(request, appointment, invoice, now=now, error=PaymentError("not_allowed").message, status=400)
    try:
        with transaction.atomic():
            invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
            if invoice.status != InvoiceStatus.OPEN or invoice.payments.open_checkouts().exists():
                raise PaymentError("invalid_state")
            billing.confirm_held_appointment(appointment=appointment, actor=request.user, now=now)
    except BookingError:
        return _hold_lapsed(request, appointment, now=now, status=409)
    except PaymentError as error:
        return _pay_page(request, appointment, invoice, now=now, error=error.message, status=409)
    request.session.pop(CHECKOUT_FAILED_SESSION_KEY, None)
    messages.success(request, _("Your session is booked. You pay at the clinic."))
    return HttpResponseSeeOther(reverse("widget:done", kwargs={"reference": appointment.reference}))


def _start_checkout(request, appointment: Appointment, invoice: Invoice, *, now):
    """Send the patient to the provider's checkout; when it cannot start, keep the hold so they can try again.

    The hold is left alone on purpose: the patient may retry until it lapses, and the periodic task voids the
    invoices of lapsed holds. A boosted (htmx) request cannot follow a redirect to another site, so it gets
    ``HX-Redirect`` instead of a 303.
    """
    success_url = (
        request.build_absolute_uri(reverse("billing:checkout_success"))
        + f"?session_id={providers.CHECKOUT_REFERENCE_PLACEHOLDER}"
    )
    cancel_url = request.build_absolute_uri(
        reverse("billing:checkout_cancel", kwargs={"reference": invoice.reference})
    )
    try:
        payment = billing.start_checkout(
            invoice=invoice, success_url=success_url, cancel_url=cancel_url, actor=request.user, now=now
        )
    except PaymentError as error:
        logger.warning("Checkout could not start for appointment %s: %s", appointment.reference, error.code)
        if error.code == "hold_expired":
            return _hold_lapsed(request, appointment, now=now, status=409)
        if error.code in GATEWAY_DOWN_CODES:
            request.session[CHECKOUT_FAILED_SESSION_KEY] = appointment.reference
        return _pay_page(request, appointment, invoice, now=now, error=error.message)
    if request.htmx:
        return HttpResponseClientRedirect(payment.checkout_url)
    return HttpResponseSeeOther(payment.checkout_url)


def _cancel_hold(request, appointment: Appointment, invoice: Invoice, *, now):
    """Give the held time back and void its invoice (``billing.cancel_unpaid_hold``: both or neither).

    Money that arrived meanwhile (paid in another tab) cancels nothing: the patient goes to done. A refusal or an
    unreachable provider keeps the hold and says so on the pay step; a session no longer held goes to done, which
    says where it stands.
    """
    try:
        cancelled = billing.cancel_unpaid_hold(appointment=appointment, invoice=invoice, actor=request.user, now=now)
    except PaymentError as error:
        appointment.refresh_from_db()
        if appointment.status != AppointmentStatus.PENDING_PAYMENT:
            return redirect("widget:done", reference=appointment.reference)
        return _pay_page(request, appointment, _open_invoice(appointment) or invoice, now=now, error=error.message)
    if cancelled.paid:
        return redirect("widget:done", reference=appointment.reference)
    messages.success(request, _("Your booking was cancelled and the time is free again. You can choose another one."))
    return HttpResponseSeeOther(_choose_again_url(request, appointment))


@never_cache
@vary_on_headers("HX-Request")
@login_required
@require_http_methods(["GET", "POST"])
def pay(request, reference: str):
    """Step 5: the held time with a countdown, the button to Stripe (POST) and a way to give the time back (POST).

    Only the patient's own appointment is found (anyone else's reference is a 404). A hold that lapsed or was
    cancelled says so and offers other times; one the webhook already confirmed goes to the done step.
    """
    appointment = get_object_or_404(
        Appointment.objects.select_related("service", "professional", "location"),
        reference=reference.upper(),
        patient__user_id=request.user.pk,
    )
    now = timezone.now()
    if appointment.status not in (AppointmentStatus.PENDING_PAYMENT, AppointmentStatus.CANCELLED):
        return redirect("widget:done", reference=appointment.reference)
    invoice = _open_invoice(appointment) if appointment.status == AppointmentStatus.PENDING_PAYMENT else None
    if invoice is None or appointment.hold_expired(now):
        return _hold_lapsed(request, appointment, now=now, status=409 if request.method == "POST" else 200)
    if request.method == "POST":
        if request.POST.get("action") == "cancel":
            return _cancel_hold(request, appointment, invoice, now=now)
        if request.POST.get("action") == "pay_at_clinic":
            return _pay_at_clinic_instead(request, appointment, invoice, now=now)
        return _start_checkout(request, appointment, invoice, now=now)
    return _pay_page(request, appointment, invoice, now=now)


@vary_on_headers("HX-Request")
@login_required
@require_GET
def done(request, reference: str):
    """Step 6: the booked session, with its calendar file and the way to the portal."""
    appointment = get_object_or_404(
        Appointment.objects.select_related("service", "professional", "location", "pack_purchase"),
        reference=reference.upper(),
        patient__user_id=request.user.pk,
    )
    try:
        calendar_url = reverse("portal:appointment_calendar", kwargs={"reference": appointment.reference})
    except NoReverseMatch:
        calendar_url = ""
    portal_url = reverse("portal:home")
    context = {
        **_appointment_context(appointment),
        "calendar_url": calendar_url,
        "calendar_links": calendar_links(appointment, portal_url=request.build_absolute_uri(portal_url)),
        "portal_url": portal_url,
        "confirmed": appointment.status == AppointmentStatus.CONFIRMED,
        **_pack_done_context(appointment),
    }
    return render(request, "widget/done.html", context)


def _pack_done_context(appointment: Appointment) -> dict:
    """For a session booked with a pack: the pack, the sessions left of this service (or the pool), and the way to
    book the next one."""
    purchase = appointment.pack_purchase
    if purchase is None:
        return {}
    bucket = balances(purchase).for_service(appointment.service_id)
    return {
        "pack_purchase": purchase,
        "pack_left": bucket.remaining if bucket is not None else 0,
        "pack_url": purchase_url(purchase),
    }
