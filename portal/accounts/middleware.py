"""Two-factor authentication is compulsory for the people who can see other people's data."""

from __future__ import annotations

from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from .roles import is_professional


def must_enrol_totp(user) -> bool:
    """Staff, anyone with Wagtail admin access, and professionals must set up an authenticator app.

    Patients are never forced: for them two-factor authentication stays optional.
    """
    if not getattr(user, "is_authenticated", False):
        return False
    if not (user.is_staff or user.has_perm("wagtailadmin.access_admin") or is_professional(user)):
        return False
    return not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


class RequireMFAMiddleware:
    """Sends staff and professionals without TOTP from the admin and the portal to TOTP activation.

    Also routes Wagtail's own login and password-reset screens to allauth's, so that nobody can
    log in to the admin past the two-factor step (signed-in users without admin access, whom
    Wagtail sends to its login screen, go to the portal instead). Everything outside /admin/ and /portal/ (allauth's
    pages, logout, static and media files, health check, language switcher) is left alone.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self._paths = None

    def _resolve_paths(self) -> dict:
        if self._paths is None:
            # Every name must resolve: a renamed login or password-reset URL that silently dropped out of the
            # handover would let someone past the two-factor step.
            self._paths = {
                "protected": (reverse("wagtailadmin_home"), reverse("portal:home")),
                "open": (reverse("wagtailadmin_logout"),),
                "handover": {
                    reverse("wagtailadmin_login"): "account_login",
                    reverse("wagtailadmin_password_reset"): "account_reset_password",
                },
            }
        return self._paths

    def __call__(self, request):
        paths = self._resolve_paths()
        path = request.path_info
        if path in paths["handover"]:
            if request.user.is_authenticated:
                # Wagtail sends signed-in users without admin access here; the portal is their place
                # (and sending them to allauth's login would bounce them straight back: a loop).
                return HttpResponseRedirect(reverse("portal:home"))
            target = reverse(paths["handover"][path])
            next_url = request.GET.get(REDIRECT_FIELD_NAME)
            if next_url:
                target = f"{target}?{urlencode({REDIRECT_FIELD_NAME: next_url})}"
            return HttpResponseRedirect(target)
        if (
            path.startswith(paths["protected"])
            and not path.startswith(paths["open"])
            and must_enrol_totp(request.user)
        ):
            messages.warning(
                request,
                _(
                    "Your account gives access to patients' information, so it must be protected with "
                    "two-factor authentication. Please set up an authenticator app to continue."
                ),
            )
            return HttpResponseRedirect(reverse("mfa_activate_totp"))
        return self.get_response(request)
