"""The portal's pages. Every view shows or changes only the logged-in user's own data."""

from allauth.account.decorators import verified_email_required
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from portal.accounts import roles
from portal.accounts.adapters import activate_user_language
from portal.accounts.forms import ProfileForm
from portal.accounts.services import AccountError, ensure_patient, update_profile


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
        "is_staff": request.user.is_staff,
        "is_professional": roles.ROLE_PROFESSIONAL in user_roles,
    }
    return render(request, "portal/home.html", context)


@verified_email_required
@require_http_methods(["GET", "POST"])
def profile(request):
    """The patient edits their own details (Post/Redirect/Get)."""
    patient = ensure_patient(request.user)
    form = ProfileForm(request.POST or None, patient=patient)
    if request.method == "POST" and form.is_valid():
        try:
            update_profile(request.user, patient, **form.cleaned_data)
        except AccountError as error:
            form.add_error(error.field, error.message)
        else:
            response = redirect("portal:profile")
            activate_user_language(request, response, request.user)
            messages.success(request, _("Your profile has been saved."))
            return response
    return render(request, "portal/profile.html", {"form": form, "patient": patient})
