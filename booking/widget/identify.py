"""Step 3, "Identify": a logged-in patient goes on to review; a visitor logs in or signs up without leaving the flow.

The sign-up is allauth's own, in the order its ``SignupView.form_valid`` runs it, so its protections hold here
too: the signup rate limit, enumeration prevention (an address that already has an account gets the very same
"enter the code" page, and its owner an "account already exists" email) and mandatory email verification. The
review URL travels as the login's ``redirect_url``: once the emailed code is entered allauth logs the new
patient in (``ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION``) and sends them back to review this very slot. Nothing is
booked here; the booking is still the review step's POST.
"""

from __future__ import annotations

from urllib.parse import urlencode

from allauth.account import app_settings as account_settings
from allauth.account.adapter import get_adapter
from allauth.account.internal.flows.signup import complete_signup
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.decorators import rate_limit
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from booking.scheduling.models import AppointmentModality

from .forms import SlotForm
from .identify_forms import BookingSignupForm
from .payment import online_payment_for
from .selectors import clinic_zone, slot_is_offered
from .views import _choice_context, _invalid, _not_bookable_message, _unavailable, flow_url

#: Session key read by ``templates/account/confirm_email_verification_code.html`` to say a booking is waiting.
PENDING_REVIEW_SESSION_KEY = "widget_pending_review"


def _with_next(url_name: str, next_url: str) -> str:
    return f"{reverse(url_name)}?{urlencode({'next': next_url})}"


@never_cache
@sensitive_post_parameters("email", "phone", "rut")
@require_http_methods(["GET", "POST"])
@rate_limit(action="signup")
def identify(request):
    """Log in (with ``next`` = this slot's review) or create an account and verify its email by code."""
    form = SlotForm(request.GET)
    if not form.is_valid():
        return _invalid(request, form)
    data = form.cleaned_data
    # Never a sign-up that ends in a dead end (a session paid with a pack pays nothing: the review checks the pack).
    if not data["purchase"] and not online_payment_for(request, data["service"]).bookable:
        form.add_error(None, _not_bookable_message())
        return _invalid(request, form)
    review_url = flow_url(request, "review", form.filters())
    if request.user.is_authenticated:
        return redirect(review_url)
    now = timezone.now()
    if data["start"] <= now:
        form.add_error("start", _("That time has already passed. Please choose another one."))
        return _invalid(request, form)
    if not slot_is_offered(
        service=data["service"],
        professional=data["professional"],
        location=data["location"],
        start=data["start"],
        now=now,
    ):
        # Taken meanwhile: say so before the visitor types their details, and offer the nearest free times.
        message = _("That time is not available any more. Please choose another one.")
        return _unavailable(request, form, message, status=409 if request.method == "POST" else 200)

    signup_open = get_adapter(request).is_open_for_signup(request)
    signup_form = BookingSignupForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and signup_open and signup_form.is_valid():
        # Set for a new address and a known one alike: the code page must not differ between the two.
        request.session[PENDING_REVIEW_SESSION_KEY] = review_url
        with transaction.atomic():  # user, email address, patient, consents and RUT, or nothing
            user, response = signup_form.try_save(request)
        if response:  # the address already has an account: allauth's enumeration-proof answer
            return response
        try:
            return complete_signup(request, user=user, redirect_url=review_url)
        except ImmediateHttpResponse as error:
            return error.response

    context = {
        **_choice_context(form),
        "start": data["start"].astimezone(clinic_zone(data["location"])),
        "zone": clinic_zone(data["location"]).key,
        "online": data["modality"] == AppointmentModality.ONLINE,
        "form": signup_form,
        "signup_open": signup_open,
        "login_url": _with_next("account_login", review_url),
        "login_code_url": _with_next("account_request_login_code", review_url)
        if account_settings.LOGIN_BY_CODE_ENABLED
        else "",
        "date_url": flow_url(request, "date", {k: v for k, v in form.filters().items() if k != "start"}),
    }
    return render(request, "widget/identify.html", context, status=200)
