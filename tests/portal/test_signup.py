"""Signing up: the form's extra fields, consents, the verification code and the first visit to the portal."""

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import RequestFactory
from django.urls import reverse
from wagtail.models import Page, Site

from portal.accounts.models import ConsentRecord, Patient, User
from portal.accounts.roles import PATIENTS
from portal.accounts.services import UNVERSIONED, legal_documents
from website.models import SiteSettings

SIGNUP_URL = reverse("account_signup")


def signup_data(**overrides):
    data = {
        "first_name": "Camila",
        "last_name": "Rojas",
        "email": "camila@example.com",
        "password1": "una-clave-bastante-larga-42",
        "password2": "una-clave-bastante-larga-42",
        "preferred_language": "en",
        "phone": "+56 9 1234 5678",
        "accept_privacy": "on",
        "accept_terms": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def verification_code(message) -> str:
    match = re.search(r"^\s*([A-Z0-9][A-Z0-9-]{3,12})\s*$", message.body, re.MULTILINE)
    assert match, message.body
    return match.group(1)


@pytest.mark.django_db
def test_signup_then_code_then_portal(client):
    response = client.post(SIGNUP_URL, signup_data(), REMOTE_ADDR="203.0.113.7")

    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    user = User.objects.get(email="camila@example.com")
    assert (user.first_name, user.last_name, user.phone, user.preferred_language) == (
        "Camila",
        "Rojas",
        "+56 9 1234 5678",
        "en",
    )
    assert Patient.objects.filter(user=user).count() == 1
    assert user.groups.filter(name=PATIENTS).exists()
    assert not EmailAddress.objects.get(user=user).verified
    # Not verified yet: the portal is out of reach.
    assert client.get(reverse("portal:home")).status_code == 302

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["camila@example.com"]
    code = verification_code(mail.outbox[0])

    response = client.post(reverse("account_email_verification_sent"), {"code": code})

    assert response.status_code == 302
    assert EmailAddress.objects.get(user=user).verified
    portal = client.get(reverse("portal:home"))
    assert portal.status_code == 200
    assert portal.wsgi_request.user == user
    assert "Camila" in portal.text


@pytest.mark.django_db
def test_signup_records_both_consents_with_ip_and_unversioned_without_pages(client):
    client.post(SIGNUP_URL, signup_data(), REMOTE_ADDR="203.0.113.7")

    consents = ConsentRecord.objects.filter(user__email="camila@example.com")
    assert sorted(consents.values_list("document", "version", "page_id", "ip_address")) == [
        ("privacy", "unversioned", None, "203.0.113.7"),
        ("terms", "unversioned", None, "203.0.113.7"),
    ]


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("accept_privacy", "You must accept the privacy policy to create an account."),
        ("accept_terms", "You must accept the terms of service to create an account."),
    ],
    ids=["privacy-not-accepted", "terms-not-accepted"],
)
@pytest.mark.django_db
def test_signup_without_consent_is_refused_with_a_message(client, missing, message):
    response = client.post(SIGNUP_URL, signup_data(**{missing: None}), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert message in response.text
    assert not User.objects.filter(email="camila@example.com").exists()
    assert ConsentRecord.objects.count() == 0
    assert mail.outbox == []


@pytest.mark.django_db
def test_signup_form_shows_the_fields_with_labels_and_links_to_login(client):
    response = client.get(SIGNUP_URL, HTTP_ACCEPT_LANGUAGE="en")

    html = response.text
    for name in ["first_name", "last_name", "email", "password1", "password2", "preferred_language", "phone"]:
        assert f'for="id_{name}"' in html, name
    assert 'type="checkbox" name="accept_privacy"' in html
    assert 'type="checkbox" name="accept_terms"' in html
    assert "form-control" in html
    assert f'href="{reverse("account_login")}' in html


@pytest.mark.django_db
def test_signup_errors_are_tied_to_their_field(client):
    response = client.post(SIGNUP_URL, signup_data(email="not-an-email"))

    assert response.status_code == 200
    html = response.text
    assert 'aria-invalid="true"' in html
    assert 'id="id_email_error"' in html
    assert re.search(r'aria-describedby="[^"]*id_email_error"', html)
    assert 'id="div_id_email" class="mb-3"' in html  # crispy-forms (Bootstrap 5) renders allauth's fields


@pytest.mark.django_db
def test_signup_with_an_existing_email_looks_the_same_and_creates_nothing(client, verified_user):
    response = client.post(SIGNUP_URL, signup_data(email=verified_user.email))

    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert User.objects.filter(email__iexact=verified_user.email).count() == 1
    assert ConsentRecord.objects.count() == 0
    # The owner is told by email that someone tried to sign up with their address.
    assert [m.to for m in mail.outbox] == [[verified_user.email]]


@pytest.mark.django_db
def test_signup_links_and_versions_the_legal_pages_chosen_in_site_settings(client, home_page):

    privacy = home_page.add_child(instance=Page(title="Privacidad", slug="privacidad"))
    privacy.save_revision().publish()
    terms = home_page.add_child(instance=Page(title="Términos", slug="terminos"))
    terms.save_revision().publish()
    privacy.refresh_from_db()
    terms.refresh_from_db()
    site = Site.objects.get(is_default_site=True)
    settings_row = SiteSettings.for_site(site)
    settings_row.privacy_policy_page = privacy
    settings_row.terms_page = terms
    settings_row.save()

    page = client.get(SIGNUP_URL, HTTP_HOST=site.hostname)
    assert privacy.url in page.text
    assert terms.url in page.text

    client.post(SIGNUP_URL, signup_data(), HTTP_HOST=site.hostname)

    consents = dict(ConsentRecord.objects.filter(user__email="camila@example.com").values_list("document", "version"))
    assert consents == {"privacy": str(privacy.live_revision_id), "terms": str(terms.live_revision_id)}
    assert set(ConsentRecord.objects.values_list("page_id", flat=True)) == {privacy.pk, terms.pk}


@pytest.mark.django_db
def test_legal_documents_without_a_site_for_the_host_are_unlinked_and_unversioned():
    """No Wagtail site answers the host, so there are no site settings: signup still works, without links."""
    Site.objects.all().delete()

    documents = legal_documents(RequestFactory().get(SIGNUP_URL, HTTP_HOST="unknown.example"))

    assert {document.url for document in documents.values()} == {None}
    assert {document.version for document in documents.values()} == {UNVERSIONED}


@pytest.mark.parametrize(
    ("preferred_language", "expected_subject_word"),
    # The Spanish subject comes from the project's catalogue (helper "emails" strings, merged by the lead).
    [("en", "Your code to confirm your email"), ("es-cl", "Tu código para confirmar tu correo")],
    ids=["english-speaker", "spanish-speaker"],
)
@pytest.mark.django_db
def test_verification_email_is_in_the_users_language(client, preferred_language, expected_subject_word):
    client.cookies["django_language"] = "es-cl" if preferred_language == "en" else "en"

    client.post(SIGNUP_URL, signup_data(preferred_language=preferred_language))

    assert expected_subject_word in mail.outbox[0].subject
