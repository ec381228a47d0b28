"""Editors can open every screen of the site shell in Wagtail's admin."""

import pytest
from wagtail.models import Site

from tests.factories.accounts import UserFactory, activate_totp
from tests.factories.website import StandardPageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor_client(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    activate_totp(user)  # staff without two-factor authentication are sent to set it up
    client.force_login(user)
    return client


def test_home_page_edit_form_opens(editor_client, home_page):
    response = editor_client.get(f"/admin/pages/{home_page.pk}/edit/")

    assert response.status_code == 200
    assert b"hero_heading" in response.content


def test_standard_page_can_be_added_under_the_home_page(editor_client, home_page):
    response = editor_client.get(f"/admin/pages/add/website/standardpage/{home_page.pk}/")

    assert response.status_code == 200


def test_standard_page_edit_form_with_every_block_opens(editor_client, home_page, full_body):
    page = StandardPageFactory(parent=home_page, body=full_body)

    response = editor_client.get(f"/admin/pages/{page.pk}/edit/")

    assert response.status_code == 200


@pytest.mark.parametrize("model", ["sitesettings", "navigationsettings"], ids=["clinic", "navigation"])
def test_settings_forms_open(editor_client, home_page, model):
    site = Site.objects.get(is_default_site=True)

    response = editor_client.get(f"/admin/settings/website/{model}/{site.pk}/")

    assert response.status_code == 200


def test_clinic_settings_can_be_saved_from_the_admin(editor_client, home_page):
    from website.models import SiteSettings

    site = Site.objects.get(is_default_site=True)
    response = editor_client.post(
        f"/admin/settings/website/sitesettings/{site.pk}/",
        {"clinic_name": "Clínica Aurora", "email": "hola@aurora.example", "phone": "+56 2 2345 6789"},
    )

    assert response.status_code == 302
    assert SiteSettings.for_site(site).clinic_name == "Clínica Aurora"
