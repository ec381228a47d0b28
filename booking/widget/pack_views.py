"""The booking box's pack path: pick a pack, identify, pay (online or at the clinic), then book the first session.

- ``packs``: the public packs (those that include ``?service=`` when given), each linking to its page.
- ``pack``: one pack (what it includes, validity, price) and the ways to pay it that are really possible now:
  online only when a payment provider is switched on, at the clinic only where the pack allows it. When neither
  is, the page says so with the clinic's contact and offers no sign-up: never a dead end. A logged-in patient
  buys with a POST (``purchase_pack``: the purchase and its invoice in one transaction); paid online, they go on to
  the provider's checkout for the pack's invoice (``billing.start_checkout``), exactly as a held session does.
- ``pack_identify``: the box's own sign-up or log-in, coming back to the pack's page.
- ``purchase``: the patient's pack after paying. The provider's webhook activates it; until then the page says it
  waits for the confirmation, with a refresh (and checks the checkout the provider sent the patient back from, as
  billing's return page does). Once active it lists what is left and "book your first session": the normal slot
  flow with ``purchase=<reference>``, limited to the pack's services and professionals, whose review books with
  ``book_from_pack``.
- ``cancel_purchase``: the patient cancels their own pack where the pack allows it (its snapshot's
  ``patient_may_cancel``): GET shows what cancelling would do now (``pack_refund_quote``: sessions not used, price
  per session, the refund and where it goes, the upcoming sessions cancelled and whether a late one is lost), POST
  cancels it (``cancel_pack``) and goes back to the purchase page with what happened to the money.

Only the patient's own purchase is ever found (anyone else's reference is a 404), and every POST is a use case
that writes all or nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlencode

from allauth.account import app_settings as account_settings
from allauth.account.adapter import get_adapter
from allauth.account.internal.flows.signup import complete_signup
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.decorators import rate_limit
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from booking.billing import providers
from booking.billing import services as billing
from booking.billing.errors import PaymentError
from booking.billing.models import Invoice, InvoiceStatus, Payment, PaymentMethod, PaymentStatus, RefundStatus
from booking.http import HttpResponseSeeOther
from booking.packs.errors import PackError
from booking.packs.models import LIVE_STATUSES, Package, PackagePurchase, PurchaseStatus
from booking.packs.selectors import balances
from booking.packs.services import PackRefundQuote, cancel_pack, pack_refund_quote, purchase_pack
from booking.scheduling.models import AppointmentSource, Professional, Service
from booking.scheduling.money import format_money
from portal.accounts.services import ensure_patient

from .forms import MAX_TEAM, PackCancelForm
from .identify import PENDING_REVIEW_SESSION_KEY
from .identify_forms import BookingSignupForm
from .pack_offers import offered_pack, offered_packs, pack_contents, pack_sessions, purchase_url
from .payment import online_payment_test_mode

logger = logging.getLogger(__name__)

PAY_ONLINE, PAY_AT_CLINIC = "online", "clinic"


@dataclass(frozen=True)
class PackPaymentWays:
    """How a pack can be paid right now: online (a provider is on) and/or at the clinic (the pack allows it)."""

    online: bool
    at_clinic: bool

    @property
    def possible(self) -> bool:
        return self.online or self.at_clinic


def payment_ways(package: Package) -> PackPaymentWays:
    """The same test the box uses for a service paid online (``providers.online_payment_available``), and the
    pack's own permission to be paid at the clinic."""
    return PackPaymentWays(online=providers.online_payment_available(), at_clinic=package.pay_at_clinic_allowed)


def pack_url(package: Package) -> str:
    return reverse("widget:pack", kwargs={"slug": package.slug})


def _with_next(url_name: str, next_url: str) -> str:
    return f"{reverse(url_name)}?{urlencode({'next': next_url})}"


def _pack_or_404(slug: str) -> Package:
    package = offered_pack(slug)
    if package is None:
        raise Http404
    return package


def _pack_context(package: Package) -> dict:
    return {"package": package, "contents": pack_contents(package), "sessions": pack_sessions(package)}


@require_GET
def packs(request):
    """The public packs, or those that include ``?service=<slug>``: name, contents, validity, price. Two queries."""
    service = None
    slug = request.GET.get("service", "")
    if slug:
        service = Service.objects.filter(active=True, slug=slug).first()
        if service is None:
            raise Http404
    links = [(package, pack_contents(package), pack_url(package)) for package in offered_packs(service=service)]
    return render(request, "widget/packs.html", {"pack_links": links, "service": service})


def _pack_page(request, package: Package, *, error: str = "", status: int = 200):
    ways = payment_ways(package)
    context = {
        **_pack_context(package),
        "ways": ways,
        "error": error,
        "identify_url": reverse("widget:pack_identify", kwargs={"slug": package.slug}),
        "test_mode": ways.online and online_payment_test_mode(),
    }
    return render(request, "widget/pack.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def pack(request, slug: str):
    """A pack and the ways to pay it (GET); buying it (POST ``pay=online|clinic``, logged in).

    The POST offers only what the page offered: a way to pay that is not possible now (a tampered form, or the
    provider switched off meanwhile) is refused with the page again and nothing written.
    """
    package = _pack_or_404(slug)
    if request.method == "GET":
        return _pack_page(request, package)
    if not request.user.is_authenticated:
        return HttpResponseSeeOther(reverse("widget:pack_identify", kwargs={"slug": package.slug}))
    ways = payment_ways(package)
    way = request.POST.get("pay", "")
    if way not in (PAY_ONLINE, PAY_AT_CLINIC) or (way == PAY_ONLINE and not ways.online):
        return _pack_page(request, package, error=_("Please choose one of the ways to pay offered."), status=400)
    if way == PAY_AT_CLINIC and not ways.at_clinic:
        return _pack_page(request, package, error=_("This pack cannot be paid at the clinic."), status=400)
    now = timezone.now()
    try:
        with transaction.atomic():
            purchase = purchase_pack(
                package=package,
                patient=ensure_patient(request.user),
                actor=request.user,
                pay_at_clinic=way == PAY_AT_CLINIC,
                source=AppointmentSource.BOOKING_BOX,
                now=now,
            )
    except (PackError, PaymentError) as error:
        return _pack_page(request, package, error=error.message, status=409)
    if way == PAY_AT_CLINIC:
        messages.success(request, _("Your pack is ready. You pay it at the clinic."))
        return HttpResponseSeeOther(purchase_url(purchase))
    return _start_checkout(request, purchase, now=now)


def _pack_invoice(purchase: PackagePurchase) -> Invoice | None:
    """The open invoice that sells the pack, if any is still to be paid."""
    line = purchase.invoice_line
    if line is None:
        return None
    invoice = Invoice.objects.select_related("series").get(pk=line.invoice_id)
    return invoice if invoice.status == InvoiceStatus.OPEN else None


def _start_checkout(request, purchase: PackagePurchase, *, now):
    """Send the patient to the provider's checkout for the pack's invoice; back to the purchase page if it cannot
    start (the purchase stays waiting for its payment and the page offers to try again)."""
    invoice = _pack_invoice(purchase)
    if invoice is None:
        return HttpResponseSeeOther(purchase_url(purchase))
    page = request.build_absolute_uri(purchase_url(purchase))
    try:
        payment = billing.start_checkout(
            invoice=invoice,
            success_url=f"{page}?session_id={providers.CHECKOUT_REFERENCE_PLACEHOLDER}",
            cancel_url=page,
            actor=request.user,
            now=now,
        )
    except PaymentError as error:
        logger.warning("Checkout could not start for pack purchase %s: %s", purchase.reference, error.code)
        messages.error(request, error.message)
        return HttpResponseSeeOther(purchase_url(purchase))
    if request.htmx:
        return HttpResponseClientRedirect(payment.checkout_url)
    return HttpResponseSeeOther(payment.checkout_url)


@never_cache
@sensitive_post_parameters("email", "phone", "rut")
@require_http_methods(["GET", "POST"])
@rate_limit(action="signup")
def pack_identify(request, slug: str):
    """Log in or sign up (allauth's own sign-up, as in the slot flow), then back to the pack's page to pay it.

    Only while the pack can be paid some way: nobody signs up to find a dead end.
    """
    package = _pack_or_404(slug)
    back = pack_url(package)
    if request.user.is_authenticated:
        return redirect(back)
    if not payment_ways(package).possible:
        return redirect(back)
    signup_open = get_adapter(request).is_open_for_signup(request)
    signup_form = BookingSignupForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and signup_open and signup_form.is_valid():
        request.session[PENDING_REVIEW_SESSION_KEY] = back
        with transaction.atomic():
            user, response = signup_form.try_save(request)
        if response:
            return response
        try:
            return complete_signup(request, user=user, redirect_url=back)
        except ImmediateHttpResponse as error:
            return error.response
    context = {
        **_pack_context(package),
        "form": signup_form,
        "signup_open": signup_open,
        "back_url": back,
        "login_url": _with_next("account_login", back),
        "login_code_url": _with_next("account_request_login_code", back)
        if account_settings.LOGIN_BY_CODE_ENABLED
        else "",
    }
    return render(request, "widget/pack_identify.html", context)


def _confirm_returning_checkout(request, invoice: Invoice) -> None:
    """Back from the provider with ``session_id``: if that checkout of this invoice is paid, confirm it now (the
    webhook may come later; confirming twice is harmless), as billing's own return page does."""
    reference = request.GET.get("session_id", "").strip()
    if not reference:
        return
    payment = (
        Payment.objects.filter(method=PaymentMethod.ONLINE, provider_reference=reference, invoice=invoice)
        .exclude(provider_reference="")
        .first()
    )
    provider = providers.get_provider(payment.provider) if payment is not None else None
    if payment is None or provider is None or payment.status == PaymentStatus.SUCCEEDED:
        return
    try:
        checkout = provider.checkout_state(reference)
    except providers.ProviderError:
        return  # unreachable: the webhook will tell, the page waits
    if checkout is not None and checkout.is_paid:
        try:
            billing.confirm_checkout(checkout)
        except PaymentError as error:
            messages.error(request, error.message)


def _book_links(purchase: PackagePurchase, remaining_by_service: dict[int, int]) -> list[tuple]:
    """(service, sessions left, start of the slot flow) for each service of the pack with a session left; the flow
    is limited to the pack's allowed professionals (its ``team``) and carries the purchase. Two queries."""
    services = Service.objects.filter(pk__in=purchase.service_ids, active=True).in_bulk()
    allowed = purchase.allowed_professional_ids
    team = []
    if allowed:
        team = list(
            Professional.objects.filter(pk__in=allowed, active=True)
            .order_by("sort_order", "display_name")
            .values_list("slug", flat=True)[:MAX_TEAM]
        )
    links = []
    for service_id in purchase.service_ids:
        service = services.get(service_id)
        left = remaining_by_service.get(service_id, 0)
        if service is None or left < 1:
            continue
        query = {"service": service.slug, "purchase": purchase.reference}
        if team:
            query["team"] = ",".join(team)
        links.append((service, left, f"{reverse('widget:start')}?{urlencode(query)}"))
    return links


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def purchase(request, reference: str):
    """The patient's pack: waiting for its payment (with a refresh and "pay now"), or what is left and the way to
    book a session with it. POST ``action=pay`` starts (or resumes) the online payment of a pack still unpaid."""
    bought = get_object_or_404(
        PackagePurchase.objects.select_related("package", "invoice_line"),
        reference=reference.upper(),
        patient__user_id=request.user.pk,
    )
    now = timezone.now()
    invoice = _pack_invoice(bought)
    if request.method == "POST":
        if bought.status != PurchaseStatus.PENDING_PAYMENT or invoice is None or request.POST.get("action") != "pay":
            messages.error(request, _("This pack has nothing left to pay online."))
            return HttpResponseSeeOther(purchase_url(bought))
        return _start_checkout(request, bought, now=now)
    if bought.status == PurchaseStatus.PENDING_PAYMENT and invoice is not None:
        _confirm_returning_checkout(request, invoice)
        bought.refresh_from_db()
        invoice = _pack_invoice(bought)
    live = bought.status in LIVE_STATUSES
    current = balances(bought) if live else None
    remaining = {}
    if current is not None:
        remaining = {service_id: current.for_service(service_id).remaining for service_id in bought.service_ids}
    usable = live and bought.status == PurchaseStatus.ACTIVE and not bought.has_expired(now)
    context = {
        "purchase": bought,
        "may_cancel": patient_may_cancel(bought),
        "balances": current,
        "pending": bought.status == PurchaseStatus.PENDING_PAYMENT,
        "invoice": invoice,
        "can_pay_online": bought.status == PurchaseStatus.PENDING_PAYMENT
        and invoice is not None
        and providers.online_payment_available(),
        "book_links": _book_links(bought, remaining) if usable else [],
        "expires_at": timezone.localtime(bought.expires_at),
        "refresh_url": purchase_url(bought),
    }
    return render(request, "widget/pack_purchase.html", context)


# ------------------------------------------------------------------------------------------------ cancelling

# Kept in the pack's ledger and the invoice's history when the patient gives no reason of their own.
PATIENT_CANCEL_REASON = "Cancelled by the patient in the booking box."

CANCELLABLE_STATUSES = (PurchaseStatus.ACTIVE, PurchaseStatus.PENDING_PAYMENT)


def patient_may_cancel(purchase: PackagePurchase) -> bool:
    """Whether the page offers "Cancel this pack": active or waiting for payment, and the pack (as sold) allows it.

    Only what to show: ``cancel_pack`` decides again under its locks."""
    return purchase.status in CANCELLABLE_STATUSES and bool((purchase.snapshot or {}).get("patient_may_cancel"))


@dataclass(frozen=True)
class UpcomingSession:
    appointment: object
    local_start: object
    lost: bool  # a late cancellation the service does not give back: the session counts as used


def _upcoming(quote: PackRefundQuote, now) -> list[UpcomingSession]:
    """The sessions cancelling would cancel, each saying whether it is lost (the rule ``pack_refund_quote`` counts)."""
    return [
        UpcomingSession(
            appointment=session,
            local_start=timezone.localtime(session.start),
            lost=not (session.cancellation_is_free(now) or session.service.pack_late_cancel_returns_session),
        )
        for session in quote.upcoming
    ]


def _refund_destinations(purchase: PackagePurchase) -> tuple[bool, bool]:
    """``(to the card, at the clinic)``: where a refund of the pack's invoice goes, from how it was paid. One query."""
    if purchase.invoice_line_id is None:
        return False, False
    methods = set(
        Payment.objects.filter(invoice_id=purchase.invoice_line.invoice_id, status=PaymentStatus.SUCCEEDED)
        .values_list("method", flat=True)
        .distinct()
    )
    return PaymentMethod.ONLINE in methods, bool(methods - {PaymentMethod.ONLINE})


def _cancel_page(request, bought: PackagePurchase, form: PackCancelForm, *, now, status: int = 200):
    try:
        quote = pack_refund_quote(purchase=bought, actor=request.user, now=now)
    except PackError as error:
        messages.error(request, error.message)
        return HttpResponseSeeOther(purchase_url(bought))
    to_card, at_clinic = _refund_destinations(bought)
    upcoming = _upcoming(quote, now)
    context = {
        "purchase": bought,
        "quote": quote,
        "upcoming": upcoming,
        "lost_sessions": sum(1 for item in upcoming if item.lost),
        "refund_to_card": to_card,
        "refund_at_clinic": at_clinic,
        "form": form,
        "back_url": purchase_url(bought),
    }
    return render(request, "widget/pack_cancel.html", context, status=status)


def _cancelled_message(result) -> str:
    """What happened to the money: on its way to the card (a provider refund pending or sent), given back at the
    clinic, the invoice voided, or nothing to give back."""
    amount = format_money(result.refund_amount, result.purchase.currency)
    online_payments = set(
        Payment.objects.filter(
            pk__in=[refund.payment_id for refund in result.refunds], method=PaymentMethod.ONLINE
        ).values_list("pk", flat=True)
    )
    online = [refund for refund in result.refunds if refund.payment_id in online_payments]
    if result.refund_amount > 0 and any(refund.status == RefundStatus.PENDING for refund in online):
        return _("Your pack was cancelled. A refund of %(amount)s is pending; it will reach your card.") % {
            "amount": amount
        }
    if result.refund_amount > 0 and online:
        return _("Your pack was cancelled. A refund of %(amount)s was sent to your card.") % {"amount": amount}
    if result.refund_amount > 0:
        return _("Your pack was cancelled. The clinic gives you back %(amount)s.") % {"amount": amount}
    if result.invoice_voided:
        return _("Your pack was cancelled and its invoice voided: you owe nothing for it.")
    return _("Your pack was cancelled. There is nothing left to refund.")


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def cancel_purchase(request, reference: str):
    """Cancel the patient's own pack: what it would do (GET), then doing it (POST, optional ``reason``).

    Refused with a message and nothing changed where the pack does not allow it; a second POST (another tab, a
    double click) finds the pack cancelled and says so, with no second refund.
    """
    bought = get_object_or_404(
        PackagePurchase.objects.select_related("package", "invoice_line"),
        reference=reference.upper(),
        patient__user_id=request.user.pk,
    )
    now = timezone.now()
    if bought.status == PurchaseStatus.CANCELLED:
        messages.info(request, _("This pack is already cancelled."))
        return HttpResponseSeeOther(purchase_url(bought))
    if not patient_may_cancel(bought):
        messages.error(request, _("This pack cannot be cancelled online; please contact the clinic."))
        return HttpResponseSeeOther(purchase_url(bought))
    if request.method == "GET":
        return _cancel_page(request, bought, PackCancelForm(), now=now)
    form = PackCancelForm(request.POST)
    if not form.is_valid():
        return _cancel_page(request, bought, form, now=now, status=400)
    try:
        result = cancel_pack(
            purchase=bought,
            actor=request.user,
            reason=form.cleaned_data["reason"] or PATIENT_CANCEL_REASON,
            now=now,
        )
    except PackError as error:
        bought.refresh_from_db(fields=["status"])
        if bought.status == PurchaseStatus.CANCELLED:
            messages.info(request, _("This pack is already cancelled."))
        else:
            messages.error(request, error.message)
        return HttpResponseSeeOther(purchase_url(bought))
    messages.success(request, _cancelled_message(result))
    return HttpResponseSeeOther(purchase_url(bought))
