"""Logging in and resetting a password: generic errors, no account enumeration, the user's language."""

import pytest
from django.core import mail
from django.urls import reverse

from tests.factories.accounts import DEFAULT_PASSWORD, VerifiedUserFactory

LOGIN_URL = reverse("account_login")
RESET_URL = reverse("account_reset_password")
GENERIC_LOGIN_ERROR = "The email address and/or password you specified are not correct."


@pytest.mark.django_db
def test_login_page_links_to_signup_and_password_reset(client):
    response = client.get(LOGIN_URL, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert f'href="{reverse("account_signup")}' in response.text
    assert f'href="{RESET_URL}' in response.text
    assert 'for="id_login"' in response.text
    assert 'for="id_password"' in response.text


@pytest.mark.parametrize(
    "email",
    ["ana@example.com", "nobody@example.com"],
    ids=["known-email-wrong-password", "unknown-email"],
)
@pytest.mark.django_db
def test_failed_login_shows_the_same_generic_error(client, verified_user, email):
    response = client.post(LOGIN_URL, {"login": email, "password": "wrong-password"}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert GENERIC_LOGIN_ERROR in response.text
    assert not response.wsgi_request.user.is_authenticated


@pytest.mark.django_db
def test_password_reset_answers_the_same_for_known_and_unknown_emails(client, verified_user):
    known = client.post(RESET_URL, {"email": verified_user.email}, HTTP_ACCEPT_LANGUAGE="en")
    unknown = client.post(RESET_URL, {"email": "nobody@example.com"}, HTTP_ACCEPT_LANGUAGE="en")

    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"] == reverse("account_reset_password_done")
    done_known = client.get(known["Location"], HTTP_ACCEPT_LANGUAGE="en")
    done_unknown = client.get(unknown["Location"], HTTP_ACCEPT_LANGUAGE="en")
    assert done_known.status_code == done_unknown.status_code == 200
    # Each address gets its own email; only the inbox owner learns whether an account exists.
    assert sorted(m.to[0] for m in mail.outbox) == ["ana@example.com", "nobody@example.com"]


@pytest.mark.django_db
def test_password_reset_email_is_in_the_users_language(client):
    user = VerifiedUserFactory(email="john@example.com", preferred_language="en")
    client.cookies["django_language"] = "es-cl"

    client.post(RESET_URL, {"email": user.email})

    assert mail.outbox[0].subject == "Choose a new password for Clínica"


@pytest.mark.django_db
def test_login_switches_the_site_to_the_users_language(client):
    user = VerifiedUserFactory(email="john@example.com", preferred_language="en")
    client.cookies["django_language"] = "es-cl"

    response = client.post(LOGIN_URL, {"login": user.email, "password": DEFAULT_PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == reverse("portal:home")
    assert response.cookies["django_language"].value == "en"
    portal = client.get(reverse("portal:home"))
    assert portal.status_code == 200
    assert portal["Content-Language"] == "en"
    assert '<html lang="en"' in portal.text


@pytest.mark.django_db
def test_spanish_speaker_logging_in_from_an_english_browser_gets_spanish(client, verified_user):
    client.cookies["django_language"] = "en"

    response = client.post(LOGIN_URL, {"login": verified_user.email, "password": DEFAULT_PASSWORD})

    assert response.cookies["django_language"].value == "es-cl"
    assert client.get(reverse("portal:home"))["Content-Language"] == "es-cl"


def test_login_and_signup_are_rate_limited_in_production_settings():
    from website.settings import base

    limits = base.ACCOUNT_RATE_LIMITS
    for action in ["login", "login_failed", "signup", "reset_password", "confirm_email"]:
        assert limits[action], action
    assert "/ip" in limits["login_failed"] and "/key" in limits["login_failed"]
    assert base.ACCOUNT_PREVENT_ENUMERATION is True
    assert base.ACCOUNT_EMAIL_VERIFICATION == "mandatory"


def test_the_test_settings_switch_rate_limits_off(settings):
    assert settings.ACCOUNT_RATE_LIMITS is False
