"""The portal's section navigation: who sees which sections and which one is marked as the current page."""

import pytest
from django.urls import reverse

from portal import navigation
from portal.accounts import roles


def test_a_patient_sees_the_patient_sections_and_the_current_one_is_marked():
    shown = navigation.sections_for({roles.ROLE_PATIENT}, reverse("portal:invoice_detail", args=["abc"]))

    urls = [section["url"] for section in shown]
    assert reverse("portal:home") in urls and reverse("portal:invoices") in urls
    assert [section["url"] for section in shown if section["current"]] == [reverse("portal:invoices")]


def test_home_is_current_only_on_the_home_page_itself():
    on_profile = navigation.sections_for({roles.ROLE_PATIENT}, reverse("portal:calendar"))

    current = [section["url"] for section in on_profile if section["current"]]
    assert current == [reverse("portal:profile")]


def test_staff_without_a_patient_profile_do_not_see_patient_sections():
    shown = navigation.sections_for({roles.ROLE_STAFF}, reverse("portal:home"))

    assert [section["url"] for section in shown] == [reverse("portal:home")]


@pytest.mark.django_db
def test_every_portal_page_shows_the_navigation(patient_client):
    response = patient_client.get(reverse("portal:invoices"))

    assert response.status_code == 200
    assert 'class="portal-nav' in response.text
    assert f'href="{reverse("portal:invoices")}" aria-current="page"' in response.text
