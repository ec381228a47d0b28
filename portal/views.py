"""The portal's pages. Every view shows or changes only the logged-in user's own data."""

from urllib.parse import urlencode

from allauth.account.decorators import verified_email_required
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from booking.notifications.forms import DailyAgendaForm
from booking.scheduling.api.permissions import is_scheduling_staff
from booking.scheduling.ics import calendar_for
from booking.scheduling.models import Appointment, AppointmentStatus
from portal import feeds
from portal.accounts import roles
from portal.accounts.adapters import activate_user_language
from portal.accounts.forms import ProfileForm
from portal.accounts.services import ensure_patient, update_profile


@verified_email_required
def home(request):
    """Greeting, the shortcuts the user's roles allow, and account settings."""
    user_roles = roles.user_roles(request.user)
    if not user_roles & {roles.ROLE_STAFF, roles.ROLE_PROFESSIONAL}:
        ensure_patient(request.user)
        user_roles.add(roles.ROLE_PATIENT)
    context = {
        "roles": user_roles,
        "is_patient": roles.ROLE_PATIENT in user_roles,
        "is_staff": request.user.has_perm("wagtailadmin.access_admin"),
        "is_professional": roles.ROLE_PROFESSIONAL in user_roles,
    }
    if context["is_professional"]:
        agenda_choice = {"daily_agenda_email": request.user.professional.daily_agenda_email}
        context["daily_agenda_form"] = DailyAgendaForm(initial=agenda_choice)
    if context["is_patient"]:
        context |= _patient_home(request)
    return render(request, "portal/home.html", context)


def _patient_home(request) -> dict:
    """The next session (with "join" when it is time), the active packs and "book again" (five queries)."""
    from booking.packs.models import PurchaseStatus
    from booking.packs.selectors import balances_for_purchases

    from . import pack_views
    from . import sessions as portal_sessions
    from .session_views import session_row

    now = timezone.now()
    own = portal_sessions.sessions_for_user(request.user)
    next_session = portal_sessions.upcoming(own, now).first()
    packs = list(pack_views.purchases_for_user(request.user).filter(status=PurchaseStatus.ACTIVE, expires_at__gt=now))
    balances = balances_for_purchases(packs)
    last = (
        own.filter(status__in=[AppointmentStatus.COMPLETED, AppointmentStatus.CONFIRMED], start__lt=now)
        .filter(professional__active=True, service__active=True)
        .order_by("-start")
        .first()
    )
    book_again = None
    if last is not None:
        where = last.location.slug if last.location_id else "online"
        query = urlencode({"service": last.service.slug, "professional": last.professional.slug, "where": where})
        book_again = {"session": last, "url": f"{reverse('widget:date')}?{query}"}
    return {
        "next_session": session_row(next_session, now) if next_session else None,
        "active_packs": [
            {"purchase": purchase, "remaining": balances[purchase.pk].remaining, "expires_at": purchase.expires_at}
            for purchase in packs
        ],
        "book_again": book_again,
    }


def rut_not_saved_message() -> str:
    """The same words whatever kept the RUT out: nothing in them says that another patient has it."""
    return _(
        "Your other details have been saved, but we could not save the RUT you entered. "
        "If it is yours, please contact the clinic and we will sort it out."
    )


@verified_email_required
@require_http_methods(["GET", "POST"])
def profile(request):
    """The patient edits their own details (Post/Redirect/Get)."""
    patient = ensure_patient(request.user)
    form = ProfileForm(request.POST or None, patient=patient)
    if request.method == "POST" and form.is_valid():
        outcome = update_profile(request.user, patient, **form.cleaned_data)
        response = redirect("portal:profile")
        activate_user_language(request, response, request.user)
        if outcome.rut_refused:
            messages.warning(request, rut_not_saved_message())
        else:
            messages.success(request, _("Your profile has been saved."))
        return response
    return render(request, "portal/profile.html", {"form": form, "patient": patient})


ICS_CONTENT_TYPE = "text/calendar; charset=utf-8"


def _feed_name() -> str:
    return _("%(clinic)s: my appointments") % {"clinic": settings.WAGTAIL_SITE_NAME}


@verified_email_required
@require_http_methods(["GET", "POST"])
def calendar(request):
    """The user's private feed link: create it, reset it (new token, old one dead) or turn it off (POST only)."""
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "create":
            feeds.create_feed(user=request.user)
            messages.success(request, _("Your calendar link is ready. Add it to your calendar app."))
        elif action == "reset":
            feeds.reset_feed(user=request.user)
            messages.success(
                request, _("Your calendar link has been replaced. The old link no longer works: add the new one.")
            )
        elif action == "revoke":
            feeds.revoke_feed(user=request.user)
            messages.success(request, _("Your calendar link has been turned off."))
        else:
            return HttpResponseBadRequest(_("Unknown action."))
        return redirect("portal:calendar")

    feed = feeds.active_feed(request.user)
    feed_url = request.build_absolute_uri(reverse("portal:calendar_feed", args=[feed.token])) if feed else ""
    context = {
        "feed": feed,
        "feed_url": feed_url,
        # Apple Calendar and Outlook on the desktop subscribe when given the same address as webcal://.
        "webcal_url": feed_url.replace("https://", "webcal://", 1).replace("http://", "webcal://", 1),
        "is_professional": feeds.feed_is_for_professional(request.user),
    }
    return render(request, "portal/calendar.html", context)


@never_cache
@require_GET
def calendar_feed(request, token):
    """The public feed: no login, the token is the credential; revoked or unknown tokens are 404."""
    feed = feeds.feed_by_token(token)
    if feed is None:
        raise Http404
    user = feed.user
    with translation.override(user.preferred_language or settings.LANGUAGE_CODE):
        body = calendar_for(
            feeds.feed_appointments(user),
            name=_feed_name(),
            for_professional=feeds.feed_is_for_professional(user),
        )
    response = HttpResponse(body, content_type=ICS_CONTENT_TYPE)
    response["Content-Disposition"] = 'inline; filename="calendar.ics"'
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@verified_email_required
@require_GET
def appointment_calendar(request, reference):
    """One appointment as an .ics file, for its patient, its professional or staff who may see every appointment.

    Staff means the ``scheduling.view_appointment`` permission (receptionists, clinic administrators), never the
    ``is_staff`` flag or admin access: editors enter the admin to publish pages and must never see a patient.
    Anyone else gets a 404, so the address does not reveal that the appointment exists.
    """
    appointment = (
        Appointment.objects.select_related("service", "professional", "location", "patient__user")
        .filter(reference=reference)
        .first()
    )
    if appointment is None:
        raise Http404
    user = request.user
    is_professional = appointment.professional.user_id == user.pk
    is_patient = appointment.patient.user_id == user.pk
    clinic_view = not (is_professional or is_patient) and is_scheduling_staff(user)
    if not (is_professional or is_patient or clinic_view):
        raise Http404
    body = calendar_for([appointment], name=appointment.service.name, for_professional=is_professional or clinic_view)
    response = HttpResponse(body, content_type=ICS_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{appointment.reference}.ics"'
    return response
