"""The code pages (email verification, sign-in by code) offer a working "Request new code" button.

Run with the production rate limits: allauth's default of one verification email per three minutes would have
answered the first resend with a 429 page.
"""

import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.urls import reverse

from tests.factories.accounts import VerifiedUserFactory
from website.settings import base

from .test_signup import SIGNUP_URL, signup_data, verification_code

pytestmark = pytest.mark.django_db

RESEND_BUTTON = re.compile(r'<button form="resend"[^>]*>\s*Request new code\s*</button>')
RESEND_FORM = re.compile(
    r'<form id="resend" method="post" action="([^"]+)">\s*<input type="hidden" name="action" value="resend">'
)


@pytest.fixture(autouse=True)
def production_rate_limits(settings):
    settings.ACCOUNT_RATE_LIMITS = base.ACCOUNT_RATE_LIMITS
    cache.clear()
    yield
    cache.clear()


def resend_action(html: str) -> str:
    assert RESEND_BUTTON.search(html), html
    match = RESEND_FORM.search(html)
    assert match, html
    return match.group(1).strip()


def test_verification_code_page_resends_a_new_code_that_works(client):
    client.post(SIGNUP_URL, signup_data(), HTTP_ACCEPT_LANGUAGE="en")
    first = verification_code(mail.outbox[0])
    page = client.get(reverse("account_email_verification_sent"), HTTP_ACCEPT_LANGUAGE="en")

    response = client.post(resend_action(page.content.decode()), {"action": "resend"}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert len(mail.outbox) == 2
    second = verification_code(mail.outbox[1])
    assert second != first
    confirmed = client.post(reverse("account_email_verification_sent"), {"code": second})
    assert confirmed.status_code == 302
    assert client.get(reverse("portal:home")).status_code == 200


def test_sign_in_code_page_resends_a_new_code_that_works(client):
    user = VerifiedUserFactory(email="ana@example.com", preferred_language="en")
    client.post(reverse("account_request_login_code"), {"email": user.email}, HTTP_ACCEPT_LANGUAGE="en")
    page = client.get(reverse("account_confirm_login_code"), HTTP_ACCEPT_LANGUAGE="en")

    response = client.post(resend_action(page.content.decode()), {"action": "resend"}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 302
    assert len(mail.outbox) == 2
    code = re.search(r"^([A-Z0-9]{4}-[A-Z0-9]{4})$", mail.outbox[1].body, re.MULTILINE).group(1)
    signed_in = client.post(reverse("account_confirm_login_code"), {"code": code})
    assert signed_in.status_code == 302
    assert client.get(reverse("portal:home")).status_code == 200


def test_after_two_resends_the_button_goes_and_cancel_starts_again(client):
    user = VerifiedUserFactory(email="ana@example.com", preferred_language="en")
    client.post(reverse("account_request_login_code"), {"email": user.email}, HTTP_ACCEPT_LANGUAGE="en")
    for _ in range(2):
        client.post(reverse("account_confirm_login_code"), {"action": "resend"})

    html = client.get(reverse("account_confirm_login_code"), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert len(mail.outbox) == 3
    assert not RESEND_BUTTON.search(html)
    assert 'form="logout-from-stage"' in html  # "Cancel": back to the sign-in page to ask for a fresh code
