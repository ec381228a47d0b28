"""The invoice's history in the billing admin reads as staff read it: money formatted, choices by their label,
payments by method and amount, never raw keys such as ``amount: 35000.00``. Requests are made as a member of the
real Receptionists group, in English."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from booking.billing import services
from booking.billing.models import InvoiceEvent
from tests.booking.scheduling.people import receptionist_user
from tests.factories.accounts import PatientFactory
from tests.factories.scheduling import AppointmentFactory, ServiceFactory, SuperuserFactory

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=ZoneInfo("America/Santiago"))


@pytest.fixture(autouse=True)
def _pinned_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def receptionist_client(db):
    user = receptionist_user(preferred_language="en")
    assert user.has_perm("billing.view_invoice") and not user.is_superuser
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


@pytest.fixture
def paid_invoice(db):
    appointment = AppointmentFactory(
        patient=PatientFactory(user__first_name="Pía", user__last_name="Rojas"),
        service=ServiceFactory(price=Decimal("35000")),
        start=datetime(2026, 12, 1, 13, 0, tzinfo=UTC),
        price=Decimal("35000"),
    )
    invoice = services.create_invoice_for_appointment(appointment=appointment, actor=None)
    staff = SuperuserFactory(email="caja@clinic.example")
    services.record_offline_payment(
        invoice=invoice, method="cash", amount=Decimal("35000"), actor=staff, external_reference="REC-1"
    )
    services.refund_payment(payment=invoice.payments.get(), amount=Decimal("5000"), reason="Goodwill", actor=staff)
    services.record_tax_document(invoice=invoice, document_type="41", folio="98765", actor=staff)
    invoice.refresh_from_db()
    return invoice


def history(client, invoice) -> str:
    response = client.get(reverse("billing_invoices:detail", args=[invoice.reference]))
    assert response.status_code == 200
    html = response.content.decode()
    section = html[html.index('id="invoice-history-list"') :]
    return section[: section.index("</table>")]


@pytest.mark.django_db
def test_history_details_are_labelled_and_formatted(receptionist_client, paid_invoice):
    section = history(receptionist_client, paid_invoice)

    assert f"Number: {paid_invoice.display_number}" in section
    assert "Total: $35,000" in section
    assert "Method: Cash" in section
    assert "Amount: $35,000" in section  # the payment
    assert "Reference: REC-1" in section
    assert "Payment: Cash · $35,000" in section  # the refund names the payment it came from
    assert "Amount: $5,000" in section
    assert "Tax document: Boleta electrónica exenta (41)" in section
    assert "Folio: 98765" in section
    for raw in ("<code>", "amount:", "35000.00", "method: cash", "type: 41"):
        assert raw not in section, raw


@pytest.mark.django_db
def test_a_payment_no_longer_on_the_invoice_shows_as_deleted(receptionist_client, paid_invoice):
    InvoiceEvent.objects.create(
        invoice=paid_invoice,
        action=InvoiceEvent.Action.CHECKOUT_EXPIRED,
        at=NOW,
        data={"payment": 987654, "refund": 123456, "mystery": "as is"},
    )

    section = history(receptionist_client, paid_invoice)

    assert "Payment: (deleted #987654)" in section
    assert "Refund: (deleted #123456)" in section
    assert "mystery: as is" in section


@pytest.mark.django_db
def test_invoice_language_is_named(receptionist_client, paid_invoice):
    response = receptionist_client.get(reverse("billing_invoices:detail", args=[paid_invoice.reference]))

    assert paid_invoice.language == "es"
    assert "<dd>Spanish</dd>" in response.content.decode()


@pytest.mark.django_db
def test_a_long_history_costs_no_more_queries(receptionist_client, paid_invoice):
    url = reverse("billing_invoices:detail", args=[paid_invoice.reference])
    receptionist_client.get(url)

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert receptionist_client.get(url).status_code == 200
        return len(queries)

    few = count()
    payment = paid_invoice.payments.get()
    refund = payment.refunds.get()
    for minute in range(30):
        InvoiceEvent.objects.create(
            invoice=paid_invoice,
            action=InvoiceEvent.Action.REFUNDED,
            at=NOW + timedelta(minutes=minute),
            data={"payment": payment.pk, "refund": refund.pk, "amount": "5000"},
        )

    assert count() == few
