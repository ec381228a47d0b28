"""The API's authentication: the browser's session or a token, refused for accounts that still owe two-factor setup.

Staff, anyone with admin access and professionals can read other people's appointments, so the site makes them
set up an authenticator app before anything else (``portal.accounts.middleware``). The API must not be the way
around that. A session of such an account was opened with a password alone; a token was issued by staff to the
user and stands for the user, so it gets no more than the user's own session would: until the user enrols, the
token is refused too (an integration's account that needs no two-factor is one without those permissions). The
refusal is a 403 with ``"error": "mfa_required"`` and a message saying where to enrol, not a 401: the credentials
are right, the account is not ready.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.authentication import SessionScheme
from rest_framework import authentication, exceptions

from portal.accounts.middleware import must_enrol_totp


class TwoFactorRequired(exceptions.PermissionDenied):
    default_code = "mfa_required"


def _refuse_unenrolled(result):
    if result is not None and must_enrol_totp(result[0]):
        raise TwoFactorRequired(
            _(
                "Your account gives access to patients' information, so it must be protected with two-factor "
                "authentication. Set up an authenticator app at %(url)s, then try again."
            )
            % {"url": settings.SITE_URL + reverse("mfa_activate_totp")}
        )
    return result


class TwoFactorTokenAuthentication(authentication.TokenAuthentication):
    """``Authorization: Token <key>``, refused while the token's user must enrol two-factor and has not."""

    def authenticate(self, request):
        return _refuse_unenrolled(super().authenticate(request))


class TwoFactorSessionAuthentication(authentication.SessionAuthentication):
    """The browser's session (with CSRF), refused while its user must enrol two-factor and has not."""

    def authenticate(self, request):
        return _refuse_unenrolled(super().authenticate(request))


class TwoFactorSessionScheme(SessionScheme):
    """The OpenAPI description of the session: the cookie, as for DRF's own class (tokens match subclasses)."""

    target_class = TwoFactorSessionAuthentication
