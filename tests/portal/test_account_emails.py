"""allauth's emails in the site's own voice: greeted by name, signed and sent by the clinic, never by the host.

New strings have Spanish only once the lead merges the catalogue, so the wording is asserted in English; the
Spanish rendering is checked for what holds in any language (sender, clinic name, no host in the greeting).
"""

import re

import pytest
from allauth.account.adapter import get_adapter
from allauth.core import context as allauth_context
from django.core import mail
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation
from wagtail.models import Site

from tests.factories.accounts import VerifiedUserFactory
from website.models import SiteSettings

pytestmark = pytest.mark.django_db

FROM = '"Clínica Aurora" <no-reply@clinic.localhost>'
RESET_URL = "http://127.0.0.1:8000/accounts/password/reset/key/x-set-password/"
SIGNUP_URL = "http://127.0.0.1:8000/accounts/signup/"


@pytest.fixture(autouse=True)
def clinic_name(home_page):
    row = SiteSettings.for_site(Site.objects.get(is_default_site=True))
    row.clinic_name = "Clínica Aurora"
    row.email = "hola@aurora.example"
    row.save()
    return row


@pytest.fixture
def user(db):
    return VerifiedUserFactory(email="ana@example.com", first_name="Ana", preferred_language="en")


def send(prefix, email, context, *, notification_user=None):
    """Send one allauth email the way allauth does, inside a request from a browser at 203.0.113.9."""
    request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="Firefox 130")
    with allauth_context.request_context(request):
        adapter = get_adapter(request)
        if notification_user is not None:
            adapter.send_notification_mail(prefix, notification_user, context)
        else:
            adapter.send_mail(prefix, email, context)
    assert len(mail.outbox) == 1
    return mail.outbox.pop()


# (template prefix, extra context, what the English body must say)
EMAILS = [
    (
        "account/email/email_confirmation",
        {"code": "K7P2QX"},
        ["Here is your code to confirm your email address at Clínica Aurora:", "\nK7P2QX\n"],
    ),
    (
        "account/email/email_confirmation_signup",
        {"activate_url": "http://127.0.0.1:8000/accounts/confirm-email/abc/"},
        ["Open this link to confirm your email address at Clínica Aurora:", "/accounts/confirm-email/abc/"],
    ),
    ("account/email/login_code", {"code": "Q4RT9Z"}, ["Here is your code to sign in to Clínica Aurora:", "Q4RT9Z"]),
    ("account/email/password_reset_code", {"code": "M3N8"}, ["choose a new password at Clínica Aurora", "\nM3N8\n"]),
    (
        "account/email/password_reset_key",
        {"password_reset_url": RESET_URL},
        ["You asked to choose a new password for your account at Clínica Aurora.", RESET_URL],
    ),
    (
        "account/email/account_already_exists",
        {"password_reset_url": RESET_URL, "signup_url": SIGNUP_URL},
        ["an account with it already exists", RESET_URL, "http://127.0.0.1:8000/accounts/login/"],
    ),
]
NOTIFICATIONS = [
    ("account/email/email_changed", {"from_email": "a@example.com", "to_email": "b@example.com"}, "to b@example"),
    ("account/email/email_confirm", {}, "Your email address is confirmed."),
    ("account/email/email_deleted", {"deleted_email": "old@example.com"}, "old@example.com was removed"),
    ("account/email/password_changed", {}, "Your password has changed."),
    ("account/email/password_reset", {}, "You chose a new password for your account."),
    ("account/email/password_set", {}, "You set a password for your account."),
    ("mfa/email/recovery_codes_generated", {}, "new set of recovery codes"),
    ("mfa/email/totp_activated", {}, "You turned on two-factor authentication"),
    ("mfa/email/totp_deactivated", {}, "You turned off two-factor authentication"),
]


def assert_in_the_clinics_voice(message):
    assert message.from_email == FROM
    assert "\n" not in message.subject and message.subject.strip()
    greeting = message.body.splitlines()[0]
    assert "127.0.0.1" not in greeting and "testserver" not in greeting and "example.com" not in greeting
    for allauth_phrase in ("Hello from", "Thank you for using", "{{", "{%"):
        assert allauth_phrase not in message.body + message.subject
    assert "Clínica Aurora" in message.body


@pytest.mark.parametrize(("prefix", "extra", "expected"), EMAILS, ids=[row[0].split("/")[-1] for row in EMAILS])
def test_account_emails_in_english(user, prefix, extra, expected):
    message = send(prefix, user.email, {"user": user, **extra})

    assert_in_the_clinics_voice(message)
    assert message.body.startswith("Hi Ana,\n")
    assert "The Clínica Aurora team\nhttp://127.0.0.1:8000" in message.body
    for text in expected:
        assert text in message.body


@pytest.mark.parametrize(
    ("prefix", "extra", "expected"), NOTIFICATIONS, ids=[row[0].split("/")[-1] for row in NOTIFICATIONS]
)
def test_security_notifications_say_what_changed_and_from_where(user, prefix, extra, expected):
    message = send(prefix, user.email, extra, notification_user=user)

    assert_in_the_clinics_voice(message)
    assert message.body.startswith("Hi Ana,\n")
    assert expected in message.body
    assert "If it wasn't you, change your password right away and write to us at hola@aurora.example." in message.body
    assert "203.0.113.9" in message.body and "Firefox 130" in message.body


def test_unknown_account_greets_without_a_name_or_host(db):
    with translation.override("en"):  # no account, so no language of its own: the request's language
        message = send("account/email/unknown_account", "nadie@example.com", {"signup_url": SIGNUP_URL})

    assert_in_the_clinics_voice(message)
    assert message.body.startswith("Hi,\n")
    assert "there is no account with it" in message.body
    assert SIGNUP_URL in message.body


@pytest.mark.parametrize(("prefix", "extra", "expected"), EMAILS, ids=[row[0].split("/")[-1] for row in EMAILS])
def test_spanish_rendering_keeps_the_clinic_as_sender_and_no_host_in_the_greeting(user, prefix, extra, expected):
    user.preferred_language = "es-cl"
    user.save()
    message = send(prefix, user.email, {"user": user, **extra})

    assert_in_the_clinics_voice(message)
    assert "Ana" in message.body.splitlines()[0]


def test_the_sender_follows_the_clinic_name_in_the_settings(user, clinic_name):
    clinic_name.clinic_name = ""
    clinic_name.save()
    message = send("account/email/login_code", user.email, {"user": user, "code": "Q4RT9Z"})

    assert message.from_email == '"Clínica" <no-reply@clinic.localhost>'  # WAGTAIL_SITE_NAME, the settings' default


def test_requesting_a_sign_in_code_sends_it_from_the_clinic(client, user):
    response = client.post(reverse("account_request_login_code"), {"email": user.email})

    assert response.status_code == 302
    [message] = mail.outbox
    assert message.from_email == FROM
    assert message.subject == "Your code to sign in to Clínica Aurora"
    assert re.search(r"^[A-Z0-9]{4}-[A-Z0-9]{4}$", message.body, re.MULTILINE)


# --- nothing a stranger typed goes to an address they have not verified -------------------------------------------

STRANGER = {"first_name": "Visit evil.example now", "last_name": "Phisher"}


def _sign_up(client, email, **names):
    from tests.portal.test_signup import SIGNUP_URL, signup_data

    return client.post(SIGNUP_URL, signup_data(email=email, **names), HTTP_HOST="evil.example")


def test_the_confirmation_email_to_an_unverified_address_leaves_the_typed_name_out(client):
    _sign_up(client, "victim@example.net", **STRANGER)

    assert [message.to for message in mail.outbox] == [["victim@example.net"]]
    body = mail.outbox[0].body
    assert "evil.example" not in body and "Phisher" not in body
    assert body.startswith("Hi,\n")


def test_the_account_exists_email_names_only_a_verified_owner_and_links_to_the_site(client, user):
    from django.test import Client

    _sign_up(client, "victim@example.net", **STRANGER)  # an account nobody verified, named by a stranger
    mail.outbox.clear()

    _sign_up(Client(), "victim@example.net", **STRANGER)
    _sign_up(Client(), user.email, **STRANGER)

    unverified, verified = mail.outbox
    assert "already exists" in unverified.body and "already exists" in verified.body
    assert unverified.body.startswith("Hi,\n") and "evil.example" not in unverified.body
    assert verified.body.startswith("Hi Ana,\n") and "evil.example" not in verified.body
    assert "http://127.0.0.1:8000/accounts/password/reset/" in verified.body
