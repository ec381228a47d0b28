"""The patient's "my data": the export (JSON and PDF) holds everything about them and nothing about anybody else;
closing the account keeps what Chilean law requires, anonymises the rest, records the request and logs them out,
and is refused with the reason while sessions are booked or invoices owed."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from booking.billing.models import Invoice
from booking.notifications.models import Notification
from portal.accounts.models import AccountClosure
from portal.records.services import share_document
from tests.factories.accounts import DEFAULT_PASSWORD, PatientFactory, VerifiedUserFactory
from tests.factories.billing import InvoiceFactory
from tests.factories.scheduling import AppointmentFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def pinned_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def patient():
    return PatientFactory(
        user=VerifiedUserFactory(
            email="zoraida@example.com", first_name="Zoraida", last_name="Quintanilla", preferred_language="en"
        ),
        rut="15.432.876-9",
        phone="+56 9 1111 2222",
        emergency_contact_name="Rosa Quintanilla",
        emergency_contact_phone="+56 9 3333 4444",
    )


@pytest.fixture
def history(patient):
    """A past session with its paid invoice and a shared document."""
    session = AppointmentFactory(patient=patient, start=NOW - timedelta(days=10), status="completed")
    invoice = InvoiceFactory(patient=patient, appointment=session, status="paid")
    share_document(
        appointment=session,
        upload=SimpleUploadedFile("plan.pdf", b"%PDF-1.4 plan"),
        title="Plan",
        kind="plan",
        actor=None,
    )
    return session, invoice


@pytest.fixture
def patient_client(client, patient):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_login(patient.user)
    return client


def flash(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_the_json_export_holds_everything_about_the_patient_and_nothing_else(patient_client, patient, history):
    session, invoice = history
    stranger = PatientFactory(user__email="beto@example.com")
    AppointmentFactory(patient=stranger)

    response = patient_client.get(reverse("portal:privacy_export_json"))

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="my-data-')
    assert "no-store" in response["Cache-Control"]
    data = json.loads(response.content)
    assert data["account"]["email"] == "zoraida@example.com"
    assert data["patient"]["rut"] == patient.rut
    assert [s["reference"] for s in data["sessions"]] == [session.reference]
    assert [i["reference"] for i in data["invoices"]] == [invoice.reference]
    assert [d["title"] for d in data["documents"]] == ["Plan"]
    assert "beto@example.com" not in response.content.decode()


def test_the_pdf_export_is_a_readable_pdf(patient_client, history):
    response = patient_client.get(reverse("portal:privacy_export_pdf"))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


def test_closing_keeps_what_the_law_requires_and_anonymises_the_rest(client, patient_client, patient, history):
    session, invoice = history
    response = patient_client.post(reverse("portal:privacy_close"), {"confirm": "on"})

    assert response.status_code == 302 and response["Location"] == "/"
    user = get_user_model().objects.get(pk=patient.user.pk)
    assert not user.is_active and not user.has_usable_password()
    assert user.email.endswith("@closed.invalid") and user.phone == ""
    assert (user.first_name, user.last_name) == ("Zoraida", "Quintanilla")  # the clinical record's identity
    patient.refresh_from_db()
    assert patient.rut == "15.432.876-9" and patient.birth_date == patient.birth_date
    assert (patient.phone, patient.emergency_contact_name, patient.emergency_contact_phone) == ("", "", "")
    assert Invoice.objects.get(pk=invoice.pk).billing_email  # the invoice's snapshot is tax law's
    closure = AccountClosure.objects.get(user=user)
    assert closure.requested_at == NOW and "15 years" in closure.kept
    assert not Notification.objects.filter(user=user, state="scheduled").exists()
    # logged out, and the old password no longer opens anything
    assert patient_client.get(reverse("portal:home")).status_code == 302
    assert not client.login(email="zoraida@example.com", password=DEFAULT_PASSWORD)


def test_closing_is_refused_while_a_session_is_booked(patient_client, patient):
    AppointmentFactory(patient=patient, start=NOW + timedelta(days=2))
    page = patient_client.get(reverse("portal:privacy")).content.decode()
    assert 'id="close-blocked"' in page and 'id="close-account-form"' not in page

    response = patient_client.post(reverse("portal:privacy_close"), {"confirm": "on"})

    assert "cancel them first" in " ".join(flash(response))
    assert get_user_model().objects.get(pk=patient.user.pk).is_active
    assert not AccountClosure.objects.exists()


def test_closing_is_refused_while_an_invoice_is_owed(patient_client, patient):
    session = AppointmentFactory(patient=patient, start=NOW - timedelta(days=3), status="completed")
    InvoiceFactory(patient=patient, appointment=session, status="open")
    response = patient_client.post(reverse("portal:privacy_close"), {"confirm": "on"})
    assert "invoices to pay" in " ".join(flash(response))
    assert not AccountClosure.objects.exists()


def test_closing_needs_the_box_ticked(patient_client, patient):
    response = patient_client.post(reverse("portal:privacy_close"), {})
    assert "Tick the box" in " ".join(flash(response))
    assert get_user_model().objects.get(pk=patient.user.pk).is_active


def test_the_profile_leads_to_my_data(patient_client):
    html = patient_client.get(reverse("portal:profile")).content.decode()
    assert reverse("portal:privacy") in html


def test_a_visitor_is_sent_to_log_in(client):
    for name in ("privacy", "privacy_export_json", "privacy_export_pdf"):
        response = client.get(reverse(f"portal:{name}"))
        assert response.status_code == 302 and reverse("account_login") in response["Location"]
    assert client.post(reverse("portal:privacy_close"), {"confirm": "on"}).status_code == 302


def test_the_profile_links_password_two_factor_and_the_calendar_feed(patient_client):
    html = patient_client.get(reverse("portal:profile")).content.decode()
    for name in ("account_email", "account_change_password", "mfa_index", "portal:calendar"):
        assert f'href="{reverse(name)}"' in html
