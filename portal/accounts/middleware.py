"""Two-factor authentication is compulsory for the people who can see other people's data."""

from __future__ import annotations

import functools

from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME, get_user_model
from django.contrib.auth.models import Permission
from django.db.models import Exists, OuterRef, Q
from django.http import HttpResponseRedirect
from django.urls import Resolver404, URLResolver, resolve, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _


def must_enrol_totp(user) -> bool:
    """Staff, anyone with Wagtail admin access, and professionals must set up an authenticator app.

    Patients are never forced: for them two-factor authentication stays optional. Asked on every request (pages
    and API calls alike), so it is ONE query whoever asks: whether the account is one that must enrol (staff flag,
    admin access granted directly or through a group, a linked professional) and whether it already has an
    authenticator app. ``ModelBackend`` is the only backend that grants permissions here, and it grants
    nothing to an inactive account, which cannot log in anyway.
    """
    if not getattr(user, "is_authenticated", False):
        return False
    admin_access = Permission.objects.filter(codename="access_admin", content_type__app_label="wagtailadmin")
    owes = (
        get_user_model()
        .objects.filter(pk=user.pk)
        .filter(
            Q(is_staff=True)
            | Q(is_superuser=True)
            | Q(user_permissions__in=admin_access)
            | Q(groups__permissions__in=admin_access)
            | Q(professional__isnull=False)
        )
        .annotate(enrolled=Exists(Authenticator.objects.filter(user=OuterRef("pk"), type=Authenticator.Type.TOTP)))
        .values_list("enrolled", flat=True)[:1]
    )
    return any(not enrolled for enrolled in owes)


# Views an account that still owes two-factor setup may use: allauth's own pages (setting up the authenticator,
# email, password, logout; every name in ``allauth.urls``), the language switcher and the site's plumbing.
# Everything else is refused, whatever its URL: a new view is protected without anyone remembering to list it.
OPEN_URL_NAMES = frozenset({"wagtailadmin_logout", "set_language", "healthz", "favicon", "robots_txt"})
OPEN_VIEW_MODULES = ("django.views.static",)  # media files in DEBUG


def _url_names(patterns) -> set[str]:
    names = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            names |= _url_names(pattern.url_patterns)
        elif pattern.name:
            names.add(pattern.name)
    return names


@functools.cache
def _open_url_names() -> frozenset[str]:
    from allauth import urls as allauth_urls

    return OPEN_URL_NAMES | _url_names(allauth_urls.urlpatterns)


def _view_of(match):
    return getattr(match.func, "view_class", None) or getattr(match.func, "cls", None) or match.func


def is_open_before_enrolment(match) -> bool:
    """Whether the resolved view may serve an account that must set up two-factor authentication but has not."""
    if match.url_name in _open_url_names():
        return True
    return (getattr(_view_of(match), "__module__", "") or "").startswith(OPEN_VIEW_MODULES)


def is_api_view(match) -> bool:
    """DRF views answer for themselves, in JSON (``booking.scheduling.api.authentication``)."""
    from rest_framework.views import APIView

    view = _view_of(match)
    return isinstance(view, type) and issubclass(view, APIView)


class RequireMFAMiddleware:
    """Sends staff and professionals without TOTP to TOTP activation, from every page but a few open ones.

    Enrolment is enforced by who the user is, not by where they go: any signed-in request of an account that
    must enrol (see ``must_enrol_totp``) is redirected to the authenticator setup, except the views listed as
    open above. The API is left to its authentication classes, which refuse such accounts with a JSON 403.

    Also routes Wagtail's own login and password-reset screens to allauth's, so that nobody can
    log in to the admin past the two-factor step (signed-in users without admin access, whom
    Wagtail sends to its login screen, go to the portal instead).
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self._paths = None

    def _resolve_paths(self) -> dict:
        if self._paths is None:
            # Every name must resolve: a renamed login or password-reset URL that silently dropped out of the
            # handover would let someone past the two-factor step.
            self._paths = {
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
        if request.user.is_authenticated and self._must_stop(request) and must_enrol_totp(request.user):
            messages.warning(
                request,
                _(
                    "Your account gives access to patients' information, so it must be protected with "
                    "two-factor authentication. Please set up an authenticator app to continue."
                ),
            )
            return HttpResponseRedirect(reverse("mfa_activate_totp"))
        return self.get_response(request)

    @staticmethod
    def _must_stop(request) -> bool:
        try:
            match = resolve(request.path_info, getattr(request, "urlconf", None))
        except Resolver404:
            return False  # nothing is served there: a 404 for everybody
        return not (is_open_before_enrolment(match) or is_api_view(match))
