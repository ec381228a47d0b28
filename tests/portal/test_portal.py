"""The portal's home and profile pages: who gets in, what they see, what they can change."""

import datetime
import re

import pytest
import time_machine
from django.urls import reverse

from portal.accounts.models import Patient
from tests.factories.accounts import PatientFactory, UserFactory, VerifiedUserFactory

HOME_URL = reverse("portal:home")
PROFILE_URL = reverse("portal:profile")


def profile_data(**overrides):
    data = {
        "first_name": "Paula",
        "last_name": "Soto",
        "phone": "+56 9 8765 4321",
        "preferred_language": "es-cl",
        "rut": "12.345.678-5",
        "birth_date": "1990-04-12",
        "emergency_contact_name": "Marta Soto",
        "emergency_contact_phone": "+56 9 1111 2222",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize("url", [HOME_URL, PROFILE_URL], ids=["home", "profile"])
@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_login(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("url", [HOME_URL, PROFILE_URL], ids=["home", "profile"])
@pytest.mark.django_db
def test_unverified_user_is_sent_to_verify_their_email(client, url):
    client.force_login(UserFactory(email="unverified@example.com"))

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_email_verification_sent"))


@pytest.mark.django_db
def test_home_greets_the_patient_with_profile_and_account_links(patient_client, patient_user):
    response = patient_client.get(HOME_URL)

    assert response.status_code == 200
    html = response.text
    assert patient_user.first_name in html
    for url in [PROFILE_URL, reverse("account_email"), reverse("account_change_password"), reverse("mfa_index")]:
        assert f'href="{url}"' in html, url
    assert f'action="{reverse("account_logout")}"' in html
    assert 'href="/admin/"' not in html


@pytest.mark.django_db
def test_home_shows_the_admin_link_to_staff(mfa_admin_client):
    response = mfa_admin_client.get(HOME_URL)

    assert response.status_code == 200
    assert 'href="/admin/"' in response.text


@pytest.mark.django_db
def test_home_creates_the_missing_patient_profile_once(client, verified_user):
    client.force_login(verified_user)

    client.get(HOME_URL)
    client.get(HOME_URL)

    assert Patient.objects.filter(user=verified_user).count() == 1


@pytest.mark.django_db
def test_profile_saves_and_redirects_with_a_message(patient_client, patient_user):
    response = patient_client.post(PROFILE_URL, profile_data(rut="123456785", preferred_language="en"))

    assert response.status_code == 302
    assert response["Location"] == PROFILE_URL
    assert response.cookies["django_language"].value == "en"
    patient_user.refresh_from_db()
    patient = patient_user.patient
    patient.refresh_from_db()
    assert (patient_user.last_name, patient_user.phone, patient_user.preferred_language) == (
        "Soto",
        "+56 9 8765 4321",
        "en",
    )
    assert patient.rut == "12.345.678-5"
    assert patient.birth_date == datetime.date(1990, 4, 12)
    assert patient.emergency_contact_name == "Marta Soto"
    page = patient_client.get(PROFILE_URL)
    assert "Your profile has been saved." in page.text
    assert 'value="12.345.678-5"' in page.text


@pytest.mark.django_db
def test_profile_clears_the_rut_when_left_empty(patient_client, patient_user):
    Patient.objects.filter(user=patient_user).update(rut="12.345.678-5")

    patient_client.post(PROFILE_URL, profile_data(rut=""))

    assert Patient.objects.get(user=patient_user).rut is None


RUT_NOT_SAVED = "we could not save the RUT you entered. If it is yours, please contact the clinic"


def _messages_of(client) -> list[str]:
    page = client.get(PROFILE_URL, HTTP_ACCEPT_LANGUAGE="en")
    return [str(message) for message in page.context["messages"]]


@pytest.mark.django_db
def test_a_rut_of_another_patient_is_neither_stored_nor_named(patient_client, patient_user):
    other = PatientFactory(user=VerifiedUserFactory(email="other@example.com"), rut="15.432.876-9")

    response = patient_client.post(
        PROFILE_URL, profile_data(first_name="Changed", rut="15432876-9", preferred_language="en")
    )

    assert response.status_code == 302
    page = patient_client.get(PROFILE_URL, HTTP_ACCEPT_LANGUAGE="en").text
    assert RUT_NOT_SAVED in page
    assert "already registered" not in page and "15.432.876-9" not in page
    patient_user.refresh_from_db()
    assert patient_user.first_name == "Changed"  # the rest of the profile is saved
    assert Patient.objects.get(user=patient_user).rut is None
    other.refresh_from_db()
    assert other.rut == "15.432.876-9"


@pytest.mark.django_db
def test_after_five_refused_ruts_a_free_one_gets_the_same_answer(patient_client, patient_user):
    """Trying RUT after RUT cannot sort the registered ones from the free ones: past five refusals, all are refused."""
    taken = ["12.345.678-5", "15.432.876-9", "17.654.321-3", "11.111.111-1", "22.222.222-2"]
    for number, rut in enumerate(taken):
        PatientFactory(user=VerifiedUserFactory(email=f"other{number}@example.com"), rut=rut)
    answers = []
    for rut in taken:
        patient_client.post(PROFILE_URL, profile_data(rut=rut, preferred_language="en"))
        answers.append(_messages_of(patient_client))

    patient_client.post(PROFILE_URL, profile_data(rut="9.876.543-3", preferred_language="en"))

    assert _messages_of(patient_client) == answers[0] == answers[-1]
    assert RUT_NOT_SAVED in answers[0][0]
    assert Patient.objects.get(user=patient_user).rut is None


@pytest.mark.django_db
def test_a_free_rut_is_stored(patient_client, patient_user):
    patient_client.post(PROFILE_URL, profile_data(rut="9876543-3", preferred_language="en"))

    assert _messages_of(patient_client) == ["Your profile has been saved."]
    assert Patient.objects.get(user=patient_user).rut == "9.876.543-3"


@pytest.mark.django_db
def test_keeping_ones_own_rut_is_not_a_duplicate(patient_client, patient_user):
    Patient.objects.filter(user=patient_user).update(rut="12.345.678-5")

    response = patient_client.post(PROFILE_URL, profile_data(rut="12.345.678-5"))

    assert response.status_code == 302


@time_machine.travel(datetime.datetime(2026, 3, 10, 12, 0, tzinfo=datetime.UTC), tick=False)
@pytest.mark.parametrize(
    ("birth_date", "accepted"),
    [("2026-03-10", True), ("2026-03-11", False), ("not-a-date", False)],
    ids=["today", "tomorrow", "garbage"],
)
@pytest.mark.django_db
def test_birth_date_cannot_be_in_the_future(patient_client, patient_user, birth_date, accepted):
    response = patient_client.post(PROFILE_URL, profile_data(birth_date=birth_date))

    assert (response.status_code == 302) is accepted
    if not accepted:
        assert 'id="id_birth_date_error"' in response.text
        assert re.search(r'<input type="date"[^>]*aria-describedby="id_birth_date_error"', response.text)


@pytest.mark.django_db
def test_profile_only_ever_edits_the_logged_in_user(patient_client, patient_user):
    other = PatientFactory(user=VerifiedUserFactory(email="other@example.com", first_name="Other"))

    patient_client.post(PROFILE_URL, {**profile_data(first_name="Hacked"), "user": other.user.pk, "id": other.pk})

    other.user.refresh_from_db()
    assert other.user.first_name == "Other"
    patient_user.refresh_from_db()
    assert patient_user.first_name == "Hacked"


@pytest.mark.django_db
def test_profile_form_fields_have_labels_and_help_is_described(patient_client):
    html = patient_client.get(PROFILE_URL).text

    for name in ["first_name", "last_name", "phone", "preferred_language", "rut", "birth_date"]:
        assert f'for="id_{name}"' in html, name
    assert 'aria-describedby="id_rut_helptext"' in html
    assert 'id="div_id_rut" class="mb-3"' in html  # rendered by crispy-forms (Bootstrap 5)
    assert 'autocomplete="given-name"' in html and 'autocomplete="bday"' in html
    assert 'type="date"' in html
