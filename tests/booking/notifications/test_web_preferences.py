"""Patients choose whether they get the emails the clinic does not have to send; every such email can be left with
one click (RFC 8058), and the planner and dispatcher ask ``wants`` before sending.
"""

import re

import pytest
from django.test import Client
from django.urls import reverse

from booking.notifications import preferences
from booking.notifications.web_models import NotificationPreference
from tests.factories.accounts import PatientFactory, VerifiedUserFactory

from .web_helpers import ESSENTIAL_EVENT, NON_ESSENTIAL_EVENT, make_notification

pytestmark = pytest.mark.django_db

PROFILE_URL = "/portal/profile/"


def unsubscribe_url(user):
    return reverse("notifications:unsubscribe", args=[preferences.unsubscribe_token(user)])


def box_is_ticked(response) -> bool:
    """Whether the profile's "emails after my sessions" box is ticked (it must be on the page)."""
    tag = re.search(r"<input[^>]*name=\"non_essential_email\"[^>]*>", response.content.decode())
    assert tag, "the box is not on the page"
    return " checked" in tag.group(0)


def turned_off(user) -> bool:
    return NotificationPreference.objects.filter(user=user, non_essential_email=False).exists()


# --- wants -------------------------------------------------------------------------------------------------


def test_essential_emails_always_go_and_the_others_until_the_patient_says_no(django_assert_num_queries):
    user = VerifiedUserFactory()
    assert preferences.wants(user, NON_ESSENTIAL_EVENT)
    preferences.set_non_essential_email(user=user, enabled=False, via=NotificationPreference.Via.PROFILE)
    user = type(user).objects.get(pk=user.pk)
    with django_assert_num_queries(0):
        assert preferences.wants(user, ESSENTIAL_EVENT)
    with django_assert_num_queries(1):
        assert not preferences.wants(user, NON_ESSENTIAL_EVENT)


def test_wants_reads_a_notifications_event_and_recipient():
    user = VerifiedUserFactory()
    preferences.set_non_essential_email(user=user, enabled=False, via=NotificationPreference.Via.PROFILE)
    assert not preferences.wants(make_notification(user=user, event=NON_ESSENTIAL_EVENT))
    assert preferences.wants(make_notification(user=user, event=ESSENTIAL_EVENT))


# --- headers -----------------------------------------------------------------------------------------------


def test_a_non_essential_email_carries_the_one_click_unsubscribe_headers(settings):
    settings.SITE_URL = "https://clinica.example"
    notification = make_notification(event=NON_ESSENTIAL_EVENT)
    headers = preferences.unsubscribe_headers(notification)
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = headers["List-Unsubscribe"]
    assert url.startswith("<https://clinica.example/notifications/unsubscribe/") and url.endswith("/>")
    token = url.removeprefix("<https://clinica.example/notifications/unsubscribe/").removesuffix("/>")
    assert preferences.read_unsubscribe_token(token) == notification.user


def test_an_essential_email_has_no_unsubscribe_headers():
    assert preferences.unsubscribe_headers(make_notification(event=ESSENTIAL_EVENT)) == {}


# --- the unsubscribe link ------------------------------------------------------------------------------------


def test_opening_the_unsubscribe_link_only_shows_a_button(client):
    user = VerifiedUserFactory()
    response = client.get(unsubscribe_url(user))
    assert response.status_code == 200
    assert 'method="post"' in response.content.decode()
    assert not turned_off(user)


def test_the_button_unsubscribes_and_the_page_says_so():
    user = VerifiedUserFactory(preferred_language="en")
    client = Client(enforce_csrf_checks=True)
    response = client.post(unsubscribe_url(user), follow=True)
    assert response.status_code == 200
    assert "You are unsubscribed" in response.content.decode()
    preference = NotificationPreference.objects.get(user=user)
    assert not preference.non_essential_email
    assert preference.changed_via == NotificationPreference.Via.UNSUBSCRIBE_PAGE


def test_a_mail_programs_one_click_post_needs_no_csrf_token_and_is_idempotent():
    user = VerifiedUserFactory()
    client = Client(enforce_csrf_checks=True)
    for _attempt in range(2):
        response = client.post(unsubscribe_url(user), {"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
    preference = NotificationPreference.objects.get(user=user)
    assert not preference.non_essential_email
    assert preference.changed_via == NotificationPreference.Via.ONE_CLICK


@pytest.mark.parametrize("token", ["nonsense", "eyJ1Ijo1fQ:1abc:xyz"], ids=["garbage", "forged"])
def test_a_bad_unsubscribe_link_changes_nothing(client, token):
    user = VerifiedUserFactory()
    response = client.post(reverse("notifications:unsubscribe", args=[token]), {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 400
    assert "Este enlace no es válido" in response.content.decode()  # no patient known: the default language
    assert not NotificationPreference.objects.filter(user=user).exists()


def test_the_unsubscribe_token_of_one_user_never_reads_as_another():
    first, second = VerifiedUserFactory(), VerifiedUserFactory()
    assert preferences.read_unsubscribe_token(preferences.unsubscribe_token(first)) == first
    assert preferences.read_unsubscribe_token(preferences.unsubscribe_token(second)) == second


# --- the profile -------------------------------------------------------------------------------------------


def test_the_profile_shows_the_choice_and_saves_it():
    patient = PatientFactory()
    client = Client()
    client.force_login(patient.user)
    assert box_is_ticked(client.get(PROFILE_URL))

    response = client.post(reverse("notifications:preferences"), {}, follow=True)  # the box unticked
    assert response.redirect_chain[-1][0] == PROFILE_URL
    assert turned_off(patient.user)
    assert not box_is_ticked(response)

    client.post(reverse("notifications:preferences"), {"non_essential_email": "on"})
    assert not turned_off(patient.user)


def test_saving_the_preference_needs_a_login_and_a_post(client):
    response = client.post(reverse("notifications:preferences"), {})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    patient = PatientFactory()
    client.force_login(patient.user)
    assert client.get(reverse("notifications:preferences")).status_code == 405
    assert not NotificationPreference.objects.exists()
