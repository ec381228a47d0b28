"""The "API tokens" admin screen: issue (key shown once), list without keys, revoke, permissions."""

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.authtoken.models import Token

from tests.factories.accounts import UserFactory, VerifiedUserFactory
from tests.factories.scheduling import StaffUserFactory

INDEX_URL = "/admin/clinic/api-tokens/"


def revoke_url(user):
    return reverse("clinic_api_tokens:revoke", args=[user.pk])


def client_with(*codenames, email="tokens@clinic.example"):
    user = StaffUserFactory(email=email)
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin"),
        *Permission.objects.filter(content_type__app_label="authtoken", codename__in=codenames),
    )
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_url_and_menu_entry(superuser_client):
    assert reverse("clinic_api_tokens:index") == INDEX_URL
    assert INDEX_URL in superuser_client.get("/admin/").content.decode()


@pytest.mark.django_db
def test_issuing_shows_the_key_once_and_the_list_never_shows_keys(superuser_client):
    patient = VerifiedUserFactory(email="ana@example.com")

    issued = superuser_client.post(INDEX_URL, {"email": "ANA@example.com"})

    token = Token.objects.get(user=patient)
    assert issued.status_code == 200
    assert token.key in issued.content.decode()
    listing = superuser_client.get(INDEX_URL).content.decode()
    assert "ana@example.com" in listing
    assert token.key not in listing


@pytest.mark.django_db
def test_issuing_again_replaces_the_old_key(superuser_client):
    patient = VerifiedUserFactory()
    old = Token.objects.create(user=patient)

    superuser_client.post(INDEX_URL, {"email": patient.email})

    new = Token.objects.get(user=patient)
    assert new.key != old.key


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("email", "message"),
    [
        ("nobody@example.com", "There is no user with that email."),
        ("gone@example.com", "That account is deactivated"),
        ("not an email", "Enter a valid email address."),
    ],
    ids=["unknown", "inactive", "malformed"],
)
def test_bad_email_is_a_form_error(email, message):
    UserFactory(email="gone@example.com", is_active=False)
    client = client_with("view_token", "add_token")

    response = client.post(INDEX_URL, {"email": email})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Token.objects.exists()


@pytest.mark.django_db
def test_revoking_deletes_the_token(superuser_client):
    patient = VerifiedUserFactory(email="ana@example.com")
    Token.objects.create(user=patient)

    response = superuser_client.post(revoke_url(patient))

    assert response.status_code == 302
    assert not Token.objects.exists()
    assert superuser_client.post(revoke_url(patient)).status_code == 404


@pytest.mark.django_db
def test_permissions_are_the_authtoken_model_permissions():
    patient = VerifiedUserFactory(email="ana@example.com")
    Token.objects.create(user=patient)
    nobody = client_with(email="nobody@clinic.example")
    viewer = client_with("view_token", email="viewer@clinic.example")

    assert nobody.get(INDEX_URL).status_code in (302, 403)
    listing = viewer.get(INDEX_URL)
    assert listing.status_code == 200
    assert revoke_url(patient) not in listing.content.decode()
    assert viewer.post(INDEX_URL, {"email": patient.email}).status_code in (302, 403)
    assert viewer.post(revoke_url(patient)).status_code in (302, 403)
    assert Token.objects.count() == 1
    assert Token.objects.filter(user=patient).exists()


@pytest.mark.django_db
def test_revoke_is_post_only(superuser_client):
    patient = VerifiedUserFactory()
    Token.objects.create(user=patient)

    assert superuser_client.get(revoke_url(patient)).status_code == 405
    assert Token.objects.exists()


@pytest.mark.django_db
def test_list_runs_the_same_number_of_queries_for_3_and_30_tokens(superuser_client):
    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            assert superuser_client.get(INDEX_URL).status_code == 200
        return len(queries)

    for _ in range(3):
        Token.objects.create(user=UserFactory())
    few = count_queries()
    for _ in range(27):
        Token.objects.create(user=UserFactory())

    assert count_queries() == few
