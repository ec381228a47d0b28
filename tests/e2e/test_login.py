"""A patient logs in with email and password and lands in the portal."""

import pytest
from allauth.account.models import EmailAddress
from playwright.sync_api import expect

from tests.factories.accounts import DEFAULT_PASSWORD, PatientFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def verified_patient(db):
    patient = PatientFactory(user__email="ana.rojas@example.com", user__first_name="Ana", user__last_name="Rojas")
    EmailAddress.objects.update_or_create(
        user=patient.user, email=patient.user.email, defaults={"verified": True, "primary": True}
    )
    return patient


def test_patient_logs_in_and_lands_in_the_portal(live_server, page, home_page, verified_patient, screenshot):
    response = page.goto(f"{live_server.url}/accounts/login/")
    assert response is not None and response.status == 200
    screenshot(page, "login-form")

    page.locator("input[name=login]").fill(verified_patient.user.email)
    password = page.locator("input[name=password]")
    password.fill(DEFAULT_PASSWORD)
    with page.expect_navigation():
        password.press("Enter")

    expect(page).to_have_url(f"{live_server.url}/portal/")
    greeting = page.get_by_role("heading", level=1)
    expect(greeting).to_be_visible()
    expect(greeting).to_contain_text(verified_patient.user.first_name)
    screenshot(page, "portal-home")
    assert page.js_errors == []
