"""Receipts: the PDF's content in the invoice's language, and the email that sends it."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from anymail.exceptions import AnymailAPIError
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from wagtail.models import Site

from booking.billing import receipts
from booking.billing.errors import PaymentError
from booking.billing.models import (
    BillingSettings,
    CouponRedemption,
    InvoiceEvent,
    InvoiceLine,
    Refund,
    RefundStatus,
    TaxDocumentType,
)
from tests.factories.accounts import PatientFactory
from tests.factories.billing import CouponFactory, InvoiceFactory, PaymentFactory
from tests.factories.scheduling import AppointmentFactory, ProfessionalFactory, ServiceFactory, StaffUserFactory
from website.models import SiteSettings

NOW = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def clinic(db):
    site = Site.objects.get(is_default_site=True)
    billing = BillingSettings.for_site(site)
    billing.legal_name = "Centro Clínico Bienestar SpA"
    billing.tax_id = "76.123.456-7"
    billing.business_activity = "Servicios de psicología"
    billing.address = "Av. Providencia 1234, Santiago"
    billing.receipt_footer = "Documento sin validez tributaria."
    billing.save()
    settings_row = SiteSettings.for_site(site)
    settings_row.clinic_name = "Clínica Bienestar"
    settings_row.email = "hola@bienestar.example"
    settings_row.save()
    return billing


@pytest.fixture
def paid_invoice(clinic):
    """A paid invoice of B-000042: one session on 1 December 10:00 in Santiago, a coupon, cash and a refund."""
    patient = PatientFactory(
        user__email="pia@example.com", user__first_name="Pía", user__last_name="Rojas", user__preferred_language="en"
    )
    appointment = AppointmentFactory(
        patient=patient,
        professional=ProfessionalFactory(display_name="Ana Pérez"),
        service=ServiceFactory(name="Psicoterapia adultos"),
        start=datetime(2026, 12, 1, 13, 0, tzinfo=UTC),
        participants=2,
    )
    invoice = InvoiceFactory(
        patient=patient,
        appointment=appointment,
        number=42,
        billing_tax_id="12.345.678-5",
        status="partially_refunded",
        subtotal=Decimal("35000"),
        discount_total=Decimal("3500"),
        total=Decimal("31500"),
        amount_paid=Decimal("31500"),
        amount_refunded=Decimal("10000"),
        tax_document_type=TaxDocumentType.BOLETA_EXENTA,
        tax_document_folio="98765",
        language="en",
    )
    InvoiceLine.objects.filter(invoice=invoice).update(discount=Decimal("3500"), total=Decimal("31500"))
    coupon = CouponFactory(code="BIENVENIDA")
    CouponRedemption.objects.create(
        coupon=coupon, invoice=invoice, patient=patient, amount=Decimal("3500"), created_at=NOW
    )
    payment = PaymentFactory(invoice=invoice, amount=Decimal("31500"), external_reference="VOUCHER-77")
    Refund.objects.create(
        payment=payment, amount=Decimal("10000"), status=RefundStatus.SUCCEEDED, created_at=NOW, completed_at=NOW
    )
    return invoice


@pytest.mark.django_db
def test_receipt_shows_the_clinic_the_patient_the_lines_and_the_money(paid_invoice):
    html = receipts.receipt_html(paid_invoice, language="en")

    for text in [
        "Centro Clínico Bienestar SpA",
        "76.123.456-7",
        "Servicios de psicología",
        "Av. Providencia 1234, Santiago",
        "B-000042",
        "98765",
        "Boleta electrónica exenta (41)",
        "Pía Rojas",
        "12.345.678-5",
        "Psicoterapia adultos",
        "Ana Pérez",
        "1 December 2026 10:00",  # 13:00 UTC is 10:00 in Santiago (summer time, UTC-3)
        "2 participants",
        "BIENVENIDA",
        "$35,000",
        "-$3,500",
        "$31,500",
        "-$10,000",
        "VOUCHER-77",
        "Cash",
        "Documento sin validez tributaria.",
    ]:
        assert text in html, text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "expected", "not_expected"),
    [
        ("en", ["Status", "Date", "December", "$31,500"], ["Estado", "diciembre"]),
        ("es", ["Estado", "Fecha", "diciembre", "$31.500"], ["Status", "December"]),
    ],
    ids=["english", "spanish"],
)
def test_receipt_labels_follow_the_language(paid_invoice, language, expected, not_expected):
    html = receipts.receipt_html(paid_invoice, language=language)

    for text in expected:
        assert text in html, text
    for text in not_expected:
        assert text not in html, text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("invoice_language", "label"), [("es", "Estado"), ("en", "Status")], ids=["spanish", "english"]
)
def test_receipt_defaults_to_the_invoice_language(paid_invoice, invoice_language, label):
    paid_invoice.language = invoice_language
    paid_invoice.save()

    assert label in receipts.receipt_html(paid_invoice)


@pytest.mark.django_db
def test_void_and_unpaid_invoices_say_so(clinic):
    void = InvoiceFactory(status="void")
    unpaid = InvoiceFactory(status="open")

    void_html = receipts.receipt_html(void, language="en")
    unpaid_html = receipts.receipt_html(unpaid, language="en")

    assert "VOID" in void_html
    assert "Balance due" in unpaid_html and "$35,000" in unpaid_html
    assert "<h1>Invoice</h1>" in unpaid_html
    assert "VOID" not in unpaid_html


@pytest.mark.django_db
def test_pdf_is_a_pdf(paid_invoice):
    pdf = receipts.render_receipt_pdf(paid_invoice)

    assert pdf.startswith(b"%PDF")
    assert len(pdf) > 1000


@pytest.mark.django_db
def test_receipt_runs_the_same_number_of_queries_for_3_and_30_lines(clinic, django_assert_max_num_queries):
    def invoice_with(line_count):
        invoice = InvoiceFactory(appointment=False)
        for _ in range(line_count):
            appointment = AppointmentFactory(patient=invoice.patient)
            InvoiceLine.objects.create(
                invoice=invoice,
                kind="appointment",
                description="S",
                appointment=appointment,
                service=appointment.service,
            )
            PaymentFactory(invoice=invoice, amount=Decimal("1000"))
        return invoice

    few, many = invoice_with(3), invoice_with(30)
    receipts.receipt_html(few)  # settings rows exist after the first render

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few_queries:
        receipts.receipt_html(few)
    with django_assert_max_num_queries(len(few_queries)):
        html = receipts.receipt_html(many)
    assert html.count("<tr>") > 60


# --- Sending ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "total"),
    [("es", "$31.500"), ("en", "$31,500")],
    ids=["spanish", "english"],
)
def test_send_receipt_emails_the_pdf_in_the_invoice_language(paid_invoice, language, total):
    paid_invoice.language = language
    paid_invoice.save()
    staff = StaffUserFactory()

    event = receipts.send_receipt(invoice=paid_invoice, actor=staff, now=NOW)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["pia@example.com"]
    assert message.reply_to == ["hola@bienestar.example"]
    assert "B-000042" in message.subject
    assert "Pía Rojas" in message.body
    assert total in message.body  # amounts are written the invoice language's way
    assert total in message.alternatives[0][0]
    (filename, content, mimetype) = message.attachments[0]
    assert filename == "B-000042.pdf"
    assert mimetype == "application/pdf"
    assert content.startswith(b"%PDF")
    assert event.action == InvoiceEvent.Action.RECEIPT_SENT
    assert event.actor == staff
    assert event.at == NOW
    assert event.data["to"] == "pia@example.com"


@pytest.mark.django_db
def test_send_receipt_without_email_is_refused(clinic):
    invoice = InvoiceFactory(billing_email="")

    with pytest.raises(PaymentError) as refused:
        receipts.send_receipt(invoice=invoice, actor=None, now=NOW)

    assert refused.value.code == "invalid_request"
    assert mail.outbox == []
    assert not invoice.events.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("status", ["draft", "void"], ids=["draft", "void"])
def test_send_receipt_of_a_draft_or_void_invoice_is_refused(clinic, status):
    invoice = InvoiceFactory(status=status)

    with pytest.raises(PaymentError) as refused:
        receipts.send_receipt(invoice=invoice, actor=None, now=NOW)

    assert refused.value.code == "invalid_state"
    assert mail.outbox == []


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("mail server down")


@pytest.mark.django_db
def test_a_mail_server_failure_is_a_payment_error_and_nothing_is_recorded(paid_invoice, settings):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"

    with pytest.raises(PaymentError) as refused:
        receipts.send_receipt(invoice=paid_invoice, actor=None, now=NOW)

    assert refused.value.code == "provider_error"
    assert not paid_invoice.events.filter(action=InvoiceEvent.Action.RECEIPT_SENT).exists()


class ProviderRefusingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise AnymailAPIError("Mailgun said no")


class BrokenBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise RuntimeError("a bug in the mail backend")


@pytest.mark.django_db
def test_a_mail_provider_refusal_is_a_payment_error(paid_invoice, settings):
    settings.EMAIL_BACKEND = f"{__name__}.ProviderRefusingBackend"

    with pytest.raises(PaymentError) as refused:
        receipts.send_receipt(invoice=paid_invoice, actor=None, now=NOW)

    assert refused.value.code == "provider_error"


@pytest.mark.django_db
def test_a_bug_while_sending_is_not_disguised_as_a_refusal(paid_invoice, settings):
    """Only the mail server's or provider's refusals become "try again"; anything else is a bug and raises."""
    settings.EMAIL_BACKEND = f"{__name__}.BrokenBackend"

    with pytest.raises(RuntimeError, match="a bug in the mail backend"):
        receipts.send_receipt(invoice=paid_invoice, actor=None, now=NOW)

    assert not paid_invoice.events.filter(action=InvoiceEvent.Action.RECEIPT_SENT).exists()
