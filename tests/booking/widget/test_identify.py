"""Step 3, "Your details": log in or sign up without a password, verify the email by code, come back to review.

Driven with the test client at the widget conftest's pinned clock; the verification code is read from the email.
"""

import logging
import re
from urllib.parse import quote, urlencode

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from booking.billing.models import Invoice
from booking.scheduling.models import Appointment, AppointmentStatus
from portal.accounts.models import ConsentRecord, Patient, User
from tests.factories.accounts import DEFAULT_PASSWORD, PatientFactory, VerifiedUserFactory, activate_totp
from tests.factories.scheduling import AppointmentFactory

from .conftest import TUESDAY_9

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
TUESDAY_9_UTC = "2026-12-01T12:00Z"  # 09:00 in Santiago (UTC-3)
SLOT = {"service": "therapy", "professional": "ana", "location": "providencia", "modality": "in_person"}
QUERY = urlencode({**SLOT, "start": TUESDAY_9_UTC})
IDENTIFY_URL = f"/booking/identify/?{QUERY}"
REVIEW_URL = f"/booking/review/?{QUERY}"
CODE_URL = reverse("account_email_verification_sent")
CONSENT = {"consent": "on", "note": "", "coupon": ""}


def identify_url(**overrides) -> str:
    return f"/booking/identify/?{urlencode({**SLOT, 'start': TUESDAY_9_UTC} | overrides)}"


def signup_data(**overrides) -> dict:
    data = {
        "first_name": "Camila",
        "last_name": "Rojas",
        "email": "camila@example.com",
        "phone": "+56 9 1234 5678",
        "rut": "12345678-5",
        "preferred_language": "en",
        "accept_privacy": "on",
        "accept_terms": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def verification_code(message) -> str:
    match = re.search(r"^\s*([A-Z0-9][A-Z0-9-]{3,12})\s*$", message.body, re.MULTILINE)
    assert match, message.body
    return match.group(1)


def comparable(response, email: str) -> str:
    """The page without what differs between any two visitors: the address they typed and the CSRF token."""
    html = response.content.decode().replace(email.lower(), "EMAIL").replace(email, "EMAIL")
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


# --- reaching the step ------------------------------------------------------------------------------------------


def test_anonymous_review_get_and_post_go_to_identify_with_the_same_slot(client, clinic):
    assert client.get(REVIEW_URL)["Location"] == IDENTIFY_URL

    response = client.post(REVIEW_URL, CONSENT)

    assert response.status_code == 302
    assert response["Location"] == IDENTIFY_URL
    assert Appointment.objects.count() == 0
    assert Invoice.objects.count() == 0


def test_logged_in_patient_skips_identify(patient_client, clinic):
    response = patient_client.get(IDENTIFY_URL)

    assert response.status_code == 302
    assert response["Location"] == REVIEW_URL


def test_identify_shows_the_slot_a_login_link_back_here_and_the_signup_form(client, clinic):
    response = client.get(IDENTIFY_URL, **EN)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="step-heading"' in html and "Step 3 of 5" in html
    assert "Ana Rojas" in html and "Providencia" in html
    assert "Tuesday 1 December 2026, 09:00" in html
    next_param = quote(REVIEW_URL, safe="")
    assert f'href="{reverse("account_login")}?next={next_param}"' in html
    assert f'href="{reverse("account_request_login_code")}?next={next_param}"' in html
    for name in ("first_name", "last_name", "email", "phone", "rut"):
        assert f'for="id_{name}"' in html, name
    assert 'autocomplete="email"' in html and 'autocomplete="tel"' in html
    assert 'name="password1"' not in html
    assert 'type="checkbox" name="accept_privacy"' in html and 'type="checkbox" name="accept_terms"' in html
    assert 'id="identify-submit"' in html


def test_identify_as_an_htmx_step_posts_its_form_back_to_itself(client, clinic):
    response = client.get(IDENTIFY_URL, HTTP_HX_REQUEST="true", **EN)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html  # the step alone
    assert f'action="{IDENTIFY_URL.replace("&", "&amp;")}"' in html
    assert 'hx-boost="false"' in html


def test_identify_speaks_the_sites_language_by_default(client, clinic):
    html = client.get(IDENTIFY_URL).content.decode()

    assert 'name="preferred_language" value="es-cl"' in html
    assert 'id="identify-submit"' in html


def test_inside_the_embed_log_in_and_review_leave_for_the_clinics_own_site(client, clinic):
    html = client.get(f"/embed/booking/identify/?{QUERY}", **EN).content.decode()

    assert f"next={quote(REVIEW_URL, safe='')}" in html


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"professional": "ghost"}, "That professional cannot be booked online."),
        ({"start": "2026-11-28T12:00Z"}, "That time has already passed."),
        ({"start": "tomorrow"}, "That time is not valid."),
        ({"modality": "teleport"}, "Choose in person or online."),
    ],
    ids=["unknown-professional", "past-time", "garbled-time", "bad-modality"],
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_tampered_or_past_slot_is_refused_with_a_message(client, clinic, overrides, message, method):
    url = identify_url(**overrides)
    response = client.post(url, signup_data(), **EN) if method == "post" else client.get(url, **EN)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not User.objects.filter(email="camila@example.com").exists()
    assert mail.outbox == []


def test_a_time_taken_meanwhile_offers_the_nearest_free_times_before_any_signup(client, clinic):
    AppointmentFactory(professional=clinic.ana, service=clinic.service, location=clinic.location, start=TUESDAY_9)

    response = client.post(IDENTIFY_URL, signup_data(), **EN)

    assert response.status_code == 409
    assert "not available any more" in response.content.decode()
    assert not User.objects.filter(email="camila@example.com").exists()


# --- the form's validation --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"first_name": None}, "first_name", "This field is required."),
        ({"last_name": "   "}, "last_name", "This field is required."),
        ({"email": None}, "email", "This field is required."),
        ({"email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"phone": None}, "phone", "Please enter a phone number so the clinic can reach you."),
        ({"phone": "call me"}, "phone", "Enter a valid phone number"),
        ({"phone": "12 34"}, "phone", "Enter a valid phone number"),
        ({"rut": "12.345.678-9"}, "rut", "check digit does not match"),
        ({"rut": "not a rut"}, "rut", "Enter a valid RUT"),
        ({"accept_privacy": None}, "accept_privacy", "You must accept the privacy policy to create an account."),
        ({"accept_terms": None}, "accept_terms", "You must accept the terms of service to create an account."),
    ],
    ids=[
        "no-first-name",
        "blank-last-name",
        "no-email",
        "bad-email",
        "no-phone",
        "phone-letters",
        "phone-too-short",
        "rut-checksum",
        "rut-garbage",
        "privacy-unticked",
        "terms-unticked",
    ],
)
def test_bad_details_are_refused_with_the_fields_message(client, clinic, overrides, field, message):
    users_before = User.objects.count()

    response = client.post(IDENTIFY_URL, signup_data(**overrides), **EN)

    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    # crispy-forms names each field's error block id_<field>_error and ties the input to it.
    assert f'id="id_{field}_error"' in html
    assert re.search(rf'<input[^>]*aria-describedby="[^"]*id_{field}_error"[^>]*id="id_{field}"', html)
    assert 'role="alert"' in html
    assert User.objects.count() == users_before
    assert ConsentRecord.objects.count() == 0
    assert mail.outbox == []
    assert not logged_in(client)


# --- a new visitor: account, code, review, booking --------------------------------------------------------------


def test_new_visitor_signs_up_verifies_the_code_and_books(client, clinic, django_capture_on_commit_callbacks):
    response = client.post(IDENTIFY_URL, signup_data(), **EN)

    assert response.status_code == 302
    assert response["Location"] == CODE_URL
    user = User.objects.get(email="camila@example.com")
    assert not user.has_usable_password()
    assert (user.first_name, user.last_name, user.phone, user.preferred_language) == (
        "Camila",
        "Rojas",
        "+56 9 1234 5678",
        "en",
    )
    assert not EmailAddress.objects.get(user=user).verified
    assert ConsentRecord.objects.filter(user=user).count() == 2
    assert not logged_in(client)
    assert [message.to for message in mail.outbox] == [["camila@example.com"]]
    code = verification_code(mail.outbox[0])

    page = client.get(CODE_URL, **EN)
    assert page.status_code == 200
    assert 'id="booking-waiting"' in page.content.decode()

    wrong = client.post(CODE_URL, {"code": "WRONG1"}, **EN)
    assert wrong.status_code == 200
    assert "Incorrect code." in wrong.content.decode()
    assert not logged_in(client)
    assert client.get(REVIEW_URL)["Location"] == IDENTIFY_URL

    right = client.post(CODE_URL, {"code": code}, **EN)
    assert right.status_code == 302
    assert right["Location"] == REVIEW_URL
    assert logged_in(client)
    assert EmailAddress.objects.get(user=user).verified

    review = client.get(right["Location"], **EN)
    assert review.status_code == 200
    assert "Individual therapy" in review.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        booked = client.post(REVIEW_URL, CONSENT, **EN)
    appointment = Appointment.objects.get()
    assert booked["Location"] == f"/booking/done/{appointment.reference}/"
    assert appointment.status == AppointmentStatus.CONFIRMED
    assert appointment.start == TUESDAY_9
    patient = Patient.objects.get(user=user)
    assert appointment.patient == patient
    assert (patient.phone, patient.rut) == ("+56 9 1234 5678", "12.345.678-5")


def test_the_language_is_the_pages_when_the_hidden_field_is_tampered_with(client, clinic):
    client.post(IDENTIFY_URL, signup_data(preferred_language="klingon"), **EN)

    assert User.objects.get(email="camila@example.com").preferred_language == "en"


def test_signup_without_a_rut_stores_none(client, clinic):
    client.post(IDENTIFY_URL, signup_data(rut=""))

    assert Patient.objects.get(user__email="camila@example.com").rut is None


# --- no enumeration ---------------------------------------------------------------------------------------------


def test_an_existing_email_gets_the_same_answer_and_its_owner_an_email(client, clinic):
    from django.test import Client

    owner = clinic.patient.user
    newcomer_client = Client()
    newcomer = newcomer_client.post(IDENTIFY_URL, signup_data(email="new@example.com"), **EN)
    mail.outbox.clear()
    users_before = User.objects.count()

    response = client.post(IDENTIFY_URL, signup_data(email=owner.email.upper()), **EN)

    assert (response.status_code, response["Location"]) == (newcomer.status_code, newcomer["Location"])
    assert User.objects.count() == users_before
    assert not logged_in(client)
    assert [message.to for message in mail.outbox] == [[owner.email]]
    assert "already exists" in mail.outbox[0].body
    page = client.get(CODE_URL, **EN)
    newcomer_page = newcomer_client.get(CODE_URL, **EN)
    assert page.status_code == newcomer_page.status_code == 200
    assert 'id="booking-waiting"' in page.content.decode()
    assert comparable(page, owner.email.upper()) == comparable(newcomer_page, "new@example.com")
    assert not logged_in(client)
    owner.patient.refresh_from_db()
    assert owner.patient.rut is None  # nothing of the form lands on the existing account


def test_a_rut_already_registered_is_not_stored_and_not_revealed(client, clinic, caplog):
    other = PatientFactory(rut="12.345.678-5")
    caplog.set_level(logging.INFO, logger="booking.widget.identify_forms")

    response = client.post(IDENTIFY_URL, signup_data(rut="12345678-5"), **EN)

    assert response.status_code == 302
    assert response["Location"] == CODE_URL
    patient = Patient.objects.get(user__email="camila@example.com")
    assert patient.rut is None
    other.refresh_from_db()
    assert other.rut == "12.345.678-5"
    assert "RUT already registered" in caplog.text
    page = client.get(CODE_URL, **EN).content.decode()
    assert "RUT" not in page


# --- patients who already have an account ------------------------------------------------------------------------


def test_the_login_link_brings_a_patient_back_to_review(client, clinic):
    login = reverse("account_login") + "?" + urlencode({"next": REVIEW_URL})

    response = client.post(login, {"login": clinic.patient.user.email, "password": DEFAULT_PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == REVIEW_URL


def test_a_patient_without_a_password_signs_in_with_an_emailed_code_and_comes_back(client, clinic):
    user = VerifiedUserFactory(email="nopassword@example.com")
    user.set_unusable_password()
    user.save()
    request_code = reverse("account_request_login_code") + "?" + urlencode({"next": REVIEW_URL})

    response = client.post(request_code, {"email": user.email})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_confirm_login_code"))
    code = verification_code(mail.outbox[-1])

    response = client.post(response["Location"], {"code": code, "next": REVIEW_URL})

    assert response.status_code == 302
    assert response["Location"] == REVIEW_URL
    assert logged_in(client)


def test_a_sign_in_code_does_not_skip_two_factor_authentication(client, clinic):
    user = VerifiedUserFactory(email="admin@example.com", is_staff=True)
    activate_totp(user)
    response = client.post(reverse("account_request_login_code"), {"email": user.email})
    code = verification_code(mail.outbox[-1])

    response = client.post(response["Location"], {"code": code})

    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_authenticate")
    assert not logged_in(client)


# --- rate limit -------------------------------------------------------------------------------------------------


def test_allauths_signup_rate_limit_applies(client, clinic, settings):
    settings.ACCOUNT_RATE_LIMITS = {"signup": "2/m/ip"}
    statuses = [client.post(IDENTIFY_URL, signup_data(email="bad")).status_code for _attempt in range(3)]

    assert statuses == [200, 200, 429]
