"""The patient's invoices in the portal: only their own, how to pay, the receipt PDF, and the home page's reminder."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from wagtail.models import Site

from booking.billing.models import BillingSettings, Invoice, Refund
from tests.factories.accounts import PatientFactory, VerifiedUserFactory, verify_email
from tests.factories.billing import InvoiceFactory, PaymentFactory
from tests.factories.scheduling import AppointmentFactory, ProfessionalFactory, ServiceFactory, StaffUserFactory

LIST_URL = reverse("portal:invoices")


def detail_url(invoice):
    return reverse("portal:invoice_detail", args=[invoice.reference])


def receipt_url(invoice):
    return reverse("portal:invoice_receipt", args=[invoice.reference])


def client_for(user):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


@pytest.fixture
def patient(db):
    return PatientFactory(user=VerifiedUserFactory(email="pia@example.com", first_name="Pía", last_name="Rojas"))


@pytest.fixture
def patient_client(patient):
    return client_for(patient.user)


@pytest.fixture
def open_invoice(patient):
    """35.000 to pay for a session on 1 December at 10:00 in Santiago with Ana Pérez."""
    appointment = AppointmentFactory(
        patient=patient,
        professional=ProfessionalFactory(display_name="Ana Pérez"),
        service=ServiceFactory(name="Psicoterapia adultos"),
        start=datetime(2026, 12, 1, 13, 0, tzinfo=UTC),
    )
    return InvoiceFactory(patient=patient, appointment=appointment, number=41)


@pytest.fixture
def paid_invoice(patient):
    invoice = InvoiceFactory(
        patient=patient, number=42, status="partially_refunded", amount_paid=Decimal("35000"), amount_refunded=5000
    )
    payment = PaymentFactory(invoice=invoice, method="transfer")
    Refund.objects.create(
        payment=payment,
        amount=Decimal("5000"),
        status="succeeded",
        created_at=datetime(2026, 11, 22, 12, tzinfo=UTC),
        completed_at=datetime(2026, 11, 22, 12, tzinfo=UTC),
    )
    return invoice


@pytest.fixture
def stripe_on(settings):
    settings.STRIPE_ENABLED = True
    settings.STRIPE_SECRET_KEY = "sk_test_portal"


# --- Who gets in -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_login(client, open_invoice):
    for url in (LIST_URL, detail_url(open_invoice), receipt_url(open_invoice)):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("account_login")), url


@pytest.mark.django_db
def test_another_patients_invoice_is_not_found(open_invoice):
    stranger = client_for(PatientFactory(user=VerifiedUserFactory(email="other@example.com")).user)

    assert stranger.get(detail_url(open_invoice)).status_code == 404
    assert stranger.get(receipt_url(open_invoice)).status_code == 404
    assert "B-000041" not in stranger.get(LIST_URL).content.decode()


@pytest.mark.django_db
def test_unknown_and_draft_invoices_are_not_found(patient_client, patient):
    draft = InvoiceFactory(patient=patient, status="draft", number=None)

    assert patient_client.get(reverse("portal:invoice_detail", args=["NOPE1234"])).status_code == 404
    assert patient_client.get(detail_url(draft)).status_code == 404
    assert patient_client.get(receipt_url(draft)).status_code == 404


# --- The list --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_shows_own_invoices_and_what_is_left_to_pay(patient_client, open_invoice, paid_invoice, patient):
    InvoiceFactory(patient=patient, status="draft", number=None, billing_name="Borrador")
    InvoiceFactory(number=99)  # someone else's

    response = patient_client.get(LIST_URL)

    html = response.content.decode()
    assert response.status_code == 200
    assert "B-000041" in html and "B-000042" in html
    assert "B-000099" not in html
    assert html.count("portal/invoices/") >= 2
    assert "$35,000 to pay" in html
    assert receipt_url(paid_invoice) in html
    assert "Borrador" not in html
    assert detail_url(open_invoice) in html


@pytest.mark.django_db
def test_list_runs_the_same_number_of_queries_for_3_and_19_invoices(patient_client, patient):
    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            assert patient_client.get(LIST_URL).status_code == 200
        return len(queries)

    for _ in range(3):
        InvoiceFactory(patient=patient, appointment=False)
    count_queries()  # the first page view of a site creates its settings rows
    few = count_queries()
    for _ in range(16):  # one page holds 20
        InvoiceFactory(patient=patient, appointment=False)
    many = count_queries()

    assert many == few


# --- One invoice -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_detail_shows_the_session_totals_payments_and_refunds(patient_client, paid_invoice):
    response = patient_client.get(detail_url(paid_invoice))

    html = response.content.decode()
    assert response.status_code == 200
    for text in ["B-000042", "$35,000", "Bank transfer", "-$5,000", "Partially refunded", receipt_url(paid_invoice)]:
        assert text in html, text
    assert "Pay online" not in html


@pytest.mark.django_db
def test_detail_shows_the_session_in_the_clinic_time_zone(patient_client, open_invoice):
    html = patient_client.get(detail_url(open_invoice)).content.decode()

    assert "Tuesday 1 December 2026, 10:00" in html
    assert "Ana Pérez" in html


@pytest.mark.django_db
def test_pay_online_button_posts_to_the_pay_view_when_stripe_is_on(patient_client, open_invoice, stripe_on):
    html = patient_client.get(detail_url(open_invoice)).content.decode()

    assert f'action="{reverse("billing:pay", args=[open_invoice.reference])}"' in html
    assert "Pay online" in html


@pytest.mark.django_db
def test_without_stripe_the_patient_is_told_to_pay_at_the_clinic(patient_client, open_invoice):
    billing = BillingSettings.for_site(Site.objects.get(is_default_site=True))
    billing.transfer_instructions = "Banco Estado, cuenta 123456"
    billing.save()

    html = patient_client.get(detail_url(open_invoice)).content.decode()

    assert "Pay online" not in html
    assert reverse("billing:pay", args=[open_invoice.reference]) not in html
    assert "pay at the clinic" in html
    assert "Banco Estado, cuenta 123456" in html


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["paid", "void"], ids=["paid", "void"])
def test_nothing_to_pay_means_no_pay_button(patient_client, patient, stripe_on, status):
    invoice = InvoiceFactory(patient=patient, status=status, amount_paid=Decimal("35000") if status == "paid" else 0)

    html = patient_client.get(detail_url(invoice)).content.decode()

    assert "Pay online" not in html
    assert reverse("billing:pay", args=[invoice.reference]) not in html


# --- Receipts -------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_patient_downloads_their_receipt(patient_client, paid_invoice):
    response = patient_client.get(receipt_url(paid_invoice))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert 'filename="B-000042.pdf"' in response["Content-Disposition"]
    assert response.content.startswith(b"%PDF")


@pytest.mark.django_db
@pytest.mark.parametrize(("may_see_invoices", "status"), [(True, 200), (False, 404)], ids=["billing-staff", "other"])
def test_staff_download_receipts_only_with_the_billing_permission(paid_invoice, may_see_invoices, status):
    staff = StaffUserFactory(email="desk@clinic.example")
    verify_email(staff)
    if may_see_invoices:
        staff.user_permissions.add(Permission.objects.get(content_type__app_label="billing", codename="view_invoice"))

    response = client_for(staff).get(receipt_url(paid_invoice))

    assert response.status_code == status
    assert response.content.startswith(b"%PDF") is may_see_invoices


# --- The portal's home ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_home_lists_the_invoices_to_pay(patient_client, open_invoice, paid_invoice):
    Invoice.objects.filter(pk=open_invoice.pk).update(due_date=datetime(2026, 12, 1).date())

    html = patient_client.get(reverse("portal:home")).content.decode()

    assert f'href="{LIST_URL}"' in html
    assert "Invoices to pay" in html
    assert detail_url(open_invoice) in html
    assert "$35,000 to pay" in html
    assert "1 Dec 2026" in html
    assert detail_url(paid_invoice) not in html


@pytest.mark.django_db
def test_home_without_unpaid_invoices_only_links_to_them(patient_client, paid_invoice):
    html = patient_client.get(reverse("portal:home")).content.decode()

    assert f'href="{LIST_URL}"' in html
    assert "Invoices to pay" not in html
