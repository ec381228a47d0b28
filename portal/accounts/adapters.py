"""Project hooks into allauth: the user's language after login and in every email, and the clinic as sender."""

from __future__ import annotations

from email.utils import parseaddr

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from allauth.account.utils import filter_users_by_email
from django.conf import settings
from django.urls import reverse
from django.utils import translation


def supported_language(code: str | None) -> str | None:
    """``code`` if the site offers it, else None."""
    code = (code or "").lower()
    return code if code in {language for language, _name in settings.LANGUAGES} else None


def activate_user_language(request, response, user) -> str | None:
    """Switch this request and the following ones (language cookie) to the user's preferred language."""
    language = supported_language(getattr(user, "preferred_language", None))
    if not language:
        return None
    translation.activate(language)
    request.LANGUAGE_CODE = language
    if response is not None:
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,
        )
    return language


def clinic_settings(request=None):
    """The clinic's site settings (name, phone, email) for ``request``'s site, else the default site's.

    Imported lazily: accounts is the lowest layer and the website app's models import much of the project.
    """
    from wagtail.models import Site

    from website.models import SiteSettings

    site = Site.find_for_request(request) if request is not None else None
    site = site or Site.objects.filter(is_default_site=True).first()
    return SiteSettings.for_site(site) if site else SiteSettings()


def clinic_from_email(clinic_name: str) -> str:
    """``DEFAULT_FROM_EMAIL``'s address under the clinic's name, e.g. ``"Clínica Aurora" <no-reply@…>``.

    The settings give the address (one per deployment); the name is what editors call the clinic today.
    """
    default_name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    name = " ".join((clinic_name or default_name).replace("\\", "").replace('"', "").split())
    return f'"{name}" <{address}>' if name else address


def _is_verified_address(user, email: str) -> bool:
    """Whether ``email`` is a verified address of ``user``'s account (False without an account)."""
    if user is None or not getattr(user, "pk", None):
        return False
    return EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()


class AccountAdapter(DefaultAccountAdapter):
    """allauth adapter. Enumeration prevention stays on (``ACCOUNT_PREVENT_ENUMERATION``): nothing here
    tells a visitor whether an address has an account."""

    def post_login(self, request, user, **kwargs):
        # Activate first, so allauth's "Successfully signed in" message is already in the user's language.
        activate_user_language(request, None, user)
        response = super().post_login(request, user, **kwargs)
        activate_user_language(request, response, user)
        return response

    def send_mail(self, template_prefix, email, context):
        """Render every email in its recipient's preferred language (the page's language if unknown), greeting
        them by first name when the address is a verified address of their account, signed with the clinic's name
        from the site settings and sent under it. Absolute links come from ``SITE_URL``, never from the request's
        host.

        The name is left out for an address nobody has verified: whoever typed the name did not prove the address
        is theirs, so the name may be a stranger's words (a link, an insult) sent to somebody else's inbox under
        the clinic's name. A verified address's account holder typed their own name."""
        recipient = self._recipient(email, context)
        language = supported_language(getattr(recipient, "preferred_language", None)) or translation.get_language()
        clinic = clinic_settings(self.request)
        context = {
            "clinic_name": clinic.display_name,
            "clinic_email": clinic.email,
            "clinic_phone": clinic.phone,
            "site_url": settings.SITE_URL,
            "login_url": settings.SITE_URL + reverse("account_login"),
            "recipient_name": recipient.first_name if _is_verified_address(recipient, email) else "",
            **context,
        }
        with translation.override(language):
            super().send_mail(template_prefix, email, context)

    def send_account_already_exists_mail(self, email: str) -> None:
        """The "someone used your address" email: only the clinic's own words and links built from ``SITE_URL``.

        allauth builds the links from the request's host, which the visitor chooses; this goes to an address the
        visitor has not verified, so nothing in it may come from the request.
        """
        context = {
            "signup_url": settings.SITE_URL + reverse("account_signup"),
            "password_reset_url": settings.SITE_URL + reverse("account_reset_password"),
        }
        self.send_mail("account/email/account_already_exists", email, context)

    def get_from_email(self):
        return clinic_from_email(clinic_settings(self.request).display_name)

    @staticmethod
    def _recipient(email, context):
        """The account the email goes to: the context's user, else the one owning the address (None if none)."""
        user = context.get("user")
        if user is None or not getattr(user, "pk", None):
            users = filter_users_by_email(email, prefer_verified=True)
            user = users[0] if users else None
        return user
