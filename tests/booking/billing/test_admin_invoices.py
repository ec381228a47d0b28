"""Invoices in the Wagtail admin: the list and its filters, the detail, the actions and who may do them, receipts,
and the dashboard's "Today's sales"."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from booking.billing import services
from booking.billing.admin_views import todays_sales
from booking.billing.errors import DEFAULT_MESSAGES
from booking.billing.models import (
    CouponRedemption,
    Invoice,
    InvoiceEvent,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    Refund,
)
from portal.accounts import roles
from tests.factories.accounts import PatientFactory
from tests.factories.billing import CouponFactory, InvoiceFactory, PaymentFactory
from tests.factories.scheduling import (
    AppointmentFactory,
    LocationFactory,
    ProfessionalFactory,
    ServiceFactory,
    StaffUserFactory,
)

SANTIAGO = ZoneInfo("America/Santiago")
# Sunday 29 November 2026 at 22:00 in Santiago is already Monday 30 November in UTC: "today" is the 29th.
NOW = datetime(2026, 11, 29, 22, 0, tzinfo=SANTIAGO)
INDEX_URL = "/admin/billing/invoices/"


def santiago(*args):
    return datetime(*args, tzinfo=SANTIAGO)


def detail_url(invoice):
    return reverse("billing_invoices:detail", args=[invoice.reference])


def action_url(invoice, action):
    return reverse(f"billing_invoices:{action}", args=[invoice.reference])


def in_response_language(response, text):
    with translation.override(response.wsgi_request.LANGUAGE_CODE):
        return escape(str(text))


def english_client(user):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def staff_client_with(*codenames, email):
    """Staff who may open the admin and hold only ``codenames`` (``app_label.codename``)."""
    group = Group.objects.create(name=f"Group for {email}")
    group.permissions.add(Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin"))
    for codename in codenames:
        app_label, name = codename.split(".")
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=name))
    user = StaffUserFactory(email=email, preferred_language="en")
    user.groups.add(group)
    return english_client(user)


def role_client(group_name, email):
    """A staff member in one of the role groups ``ensure_role_groups`` builds (with 2FA, as the admin needs)."""
    user = StaffUserFactory(email=email, preferred_language="en")
    user.groups.add(Group.objects.get(name=group_name))
    return english_client(user), user


@pytest.fixture(autouse=True)
def _pinned_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def admin_client_en(superuser):
    superuser.preferred_language = "en"
    superuser.save()
    return english_client(superuser)


@pytest.fixture
def patient(db):
    return PatientFactory(
        user__email="pia@example.com", user__first_name="Pía", user__last_name="Rojas", rut="12.345.678-5"
    )


@pytest.fixture
def appointment(patient):
    """A confirmed session on Tuesday 1 December at 10:00 in Santiago (13:00 UTC) with Ana Pérez."""
    return AppointmentFactory(
        patient=patient,
        professional=ProfessionalFactory(display_name="Ana Pérez"),
        service=ServiceFactory(name="Psicoterapia adultos"),
        location=LocationFactory(name="Sede Providencia"),
        modality="in_person",
        start=datetime(2026, 12, 1, 13, 0, tzinfo=UTC),
        participants=2,
    )


@pytest.fixture
def open_invoice(appointment):
    """An invoice issued by the service: open, 35.000 owed."""
    return services.create_invoice_for_appointment(appointment=appointment, actor=None)


@pytest.fixture
def paid_invoice(open_invoice, superuser):
    services.record_offline_payment(
        invoice=open_invoice, method="cash", amount=Decimal("35000"), actor=superuser, external_reference="REC-1"
    )
    open_invoice.refresh_from_db()
    return open_invoice


# --- The list ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_shows_the_invoices_newest_first_with_their_money(admin_client_en):
    older = InvoiceFactory(number=7, billing_name="Tomás Older")
    newer = InvoiceFactory(number=8, billing_name="Yolanda Newer", status="paid", amount_paid=Decimal("35000"))
    PaymentFactory(invoice=newer, method="transfer")
    Invoice.objects.filter(pk=older.pk).update(created_at=NOW - timedelta(days=2))

    response = admin_client_en.get(INDEX_URL)

    html = response.content.decode()
    rows = html[html.index('id="invoice-list"') :]
    assert response.status_code == 200
    assert rows.index("B-000008") < rows.index("B-000007")
    assert "Yolanda Newer" in rows and "Tomás Older" in rows
    assert "$35,000" in rows
    assert "Bank transfer" in rows
    assert "Paid" in rows and "Open" in rows


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("status=paid", "Dentro", "Fuera"),
        ("q=dentro", "Dentro", "Fuera"),
        ("q=dentro@example.com", "Dentro", "Fuera"),
        ("q=123456785", "Dentro", "Fuera"),  # a RUT typed without dots or dash
        ("method=transfer", "Dentro", "Fuera"),
        ("issued_from=2026-11-29&issued_to=2026-11-29", "Dentro", "Fuera"),
        ("issued_from=2026-11-30", "Fuera", "Dentro"),
    ],
    ids=["status", "name", "email", "rut", "method", "issued-day-in-clinic-time", "issued-from"],
)
def test_list_filters(admin_client_en, query, shown, hidden):
    inside_patient = PatientFactory(user__email="dentro@example.com", user__first_name="Dentro", rut="12.345.678-5")
    inside = InvoiceFactory(
        patient=inside_patient,
        billing_tax_id="12.345.678-5",
        status="paid",
        amount_paid=Decimal("35000"),
        issued_at=santiago(2026, 11, 29, 23, 30),  # already the 30th in UTC
    )
    PaymentFactory(invoice=inside, method="transfer")
    outside = InvoiceFactory(
        patient=PatientFactory(user__email="fuera@example.com", user__first_name="Fuera"),
        issued_at=santiago(2026, 11, 30, 0, 30),
    )
    PaymentFactory(invoice=outside, method="cash", status="failed")

    html = admin_client_en.get(f"{INDEX_URL}?{query}").content.decode()
    rows = html[html.index('id="invoice-list"') :]

    assert shown in rows
    assert hidden not in rows


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    ["issued_from=2026-12-05&issued_to=2026-12-01", "issued_from=yesterday", "status=lost", "method=bitcoin"],
    ids=["reversed-range", "not-a-date", "unknown-status", "unknown-method"],
)
def test_bad_filters_give_a_message_not_an_error(admin_client_en, query):
    InvoiceFactory(billing_name="Nadie")

    response = admin_client_en.get(f"{INDEX_URL}?{query}")

    assert response.status_code == 200
    assert response.context["filter_form"].errors
    assert "Nadie" not in response.content.decode()


@pytest.mark.django_db
def test_list_runs_the_same_number_of_queries_for_3_and_30_rows(admin_client_en):
    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            response = admin_client_en.get(INDEX_URL)
        assert response.status_code == 200
        return len(queries)

    def invoice_with_payments():
        invoice = InvoiceFactory(appointment=False)
        PaymentFactory(invoice=invoice, method="cash", amount=Decimal("10000"))
        PaymentFactory(invoice=invoice, method="transfer", amount=Decimal("25000"))

    for _ in range(3):
        invoice_with_payments()
    few = count_queries()
    for _ in range(27):
        invoice_with_payments()
    many = count_queries()

    assert Invoice.objects.count() == 30
    assert many == few


# --- Who may see and do what ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_staff_without_billing_permissions_see_nothing(paid_invoice):
    client = staff_client_with("scheduling.view_service", email="catalog@clinic.example")

    assert client.get(reverse("wagtailadmin_home")).status_code == 200
    for url in (INDEX_URL, detail_url(paid_invoice), action_url(paid_invoice, "receipt")):
        response = client.get(url)
        assert response.status_code in (302, 403), url
        assert "Pía Rojas" not in response.content.decode()
        assert not response.content.startswith(b"%PDF")


@pytest.mark.django_db
def test_receptionist_records_payments_but_cannot_refund(open_invoice):
    client, _user = role_client(roles.RECEPTIONISTS, "reception@clinic.example")

    detail = client.get(detail_url(open_invoice)).content.decode()
    assert action_url(open_invoice, "record_payment") in detail
    response = client.post(
        action_url(open_invoice, "record_payment"), {"payment-method": "cash", "payment-amount": "35000"}
    )
    assert response.status_code == 302
    open_invoice.refresh_from_db()
    assert open_invoice.status == InvoiceStatus.PAID

    paid_detail = client.get(detail_url(open_invoice)).content.decode()
    refused = client.post(
        action_url(open_invoice, "refund"),
        {"refund-payment": open_invoice.payments.get().pk, "refund-scope": "full", "refund-reason": "asked"},
    )

    assert action_url(open_invoice, "refund") not in paid_detail
    assert refused.status_code in (302, 403)
    assert not Refund.objects.exists()


@pytest.mark.django_db
def test_clinic_administrator_refunds(paid_invoice):
    client, administrator = role_client(roles.CLINIC_ADMINISTRATORS, "boss@clinic.example")

    detail = client.get(detail_url(paid_invoice)).content.decode()
    response = client.post(
        action_url(paid_invoice, "refund"),
        {"refund-payment": paid_invoice.payments.get().pk, "refund-scope": "full", "refund-reason": "Cancelled"},
    )

    assert action_url(paid_invoice, "refund") in detail
    assert response.status_code == 302
    refund = Refund.objects.get()
    assert refund.amount == Decimal("35000")
    assert refund.actor == administrator
    paid_invoice.refresh_from_db()
    assert paid_invoice.status == InvoiceStatus.REFUNDED


@pytest.mark.django_db
def test_viewer_sees_the_detail_without_action_buttons(paid_invoice):
    client = staff_client_with("billing.view_invoice", email="viewer@clinic.example")

    response = client.get(detail_url(paid_invoice))
    html = response.content.decode()
    refused = client.post(action_url(paid_invoice, "void"), {"void-reason": "test"})

    assert response.status_code == 200
    assert "Pía Rojas" in html
    for action in ("record_payment", "refund", "void", "tax_document", "send_receipt"):
        assert action_url(paid_invoice, action) not in html, action
    assert reverse("billing_invoices:receipt", args=[paid_invoice.reference]) in html
    assert refused.status_code in (302, 403)
    paid_invoice.refresh_from_db()
    assert paid_invoice.status == InvoiceStatus.PAID


# --- The detail ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_detail_shows_everything_about_the_invoice(admin_client_en, superuser, paid_invoice):
    coupon = CouponFactory(code="BIENVENIDA")
    CouponRedemption.objects.create(coupon=coupon, invoice=paid_invoice, amount=Decimal("0"), created_at=NOW)
    stripe_payment = Payment.objects.create(
        invoice=paid_invoice,
        method="online",
        provider="stripe",
        amount=Decimal("35000"),
        status=PaymentStatus.FAILED,
        provider_reference="cs_test_123",
        provider_payment_reference="pi_test_456",
        failure_message="card declined",
    )
    services.refund_payment(
        payment=paid_invoice.payments.get(method="cash"), amount=Decimal("5000"), reason="Goodwill", actor=superuser
    )
    services.record_tax_document(invoice=paid_invoice, document_type="41", folio="98765", actor=superuser)

    response = admin_client_en.get(detail_url(paid_invoice))

    html = response.content.decode()
    assert response.status_code == 200
    for text in [
        paid_invoice.display_number,
        "Pía Rojas",
        "12.345.678-5",
        "pia@example.com",
        "98765",
        "Psicoterapia adultos",
        "Ana Pérez",
        "1 Dec 2026 10:00",  # the session's start in the clinic's zone
        "2 participants",
        "Sede Providencia",
        "BIENVENIDA",
        "$35,000",
        "-$5,000",
        "Goodwill",
        "REC-1",
        stripe_payment.provider_reference,
        stripe_payment.provider_payment_reference,
        "card declined",
        str(superuser),
    ]:
        assert text in html, text
    for action in (InvoiceEvent.Action.ISSUED, InvoiceEvent.Action.PAYMENT_RECORDED, InvoiceEvent.Action.REFUNDED):
        assert in_response_language(response, action.label) in html
    assert "Open → Paid" in html
    assert reverse("clinic_appointments:detail", args=[paid_invoice.lines.get().appointment.reference]) in html


@pytest.mark.django_db
def test_detail_of_an_unknown_reference_is_404(admin_client_en):
    assert admin_client_en.get(f"{INDEX_URL}NOPE/").status_code == 404


@pytest.mark.django_db
def test_payment_amount_defaults_to_the_balance_due(admin_client_en, open_invoice):
    response = admin_client_en.get(detail_url(open_invoice))

    assert response.context["forms"]["record_payment"]["amount"].value() == Decimal("35000")
    assert 'value="35000"' in response.content.decode()  # pesos are shown without decimals


# --- Actions ---------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_record_a_payment(admin_client_en, superuser, open_invoice):
    response = admin_client_en.post(
        action_url(open_invoice, "record_payment"),
        {"payment-method": "transfer", "payment-amount": "20000", "payment-external_reference": "TRF-9"},
        follow=True,
    )

    open_invoice.refresh_from_db()
    payment = open_invoice.payments.get()
    assert response.redirect_chain[0][0] == detail_url(open_invoice)
    assert "success" in [message.level_tag for message in response.context["messages"]]
    assert (payment.method, payment.amount, payment.external_reference) == ("transfer", Decimal("20000"), "TRF-9")
    assert payment.recorded_by == superuser
    assert open_invoice.amount_paid == Decimal("20000")
    assert open_invoice.status == InvoiceStatus.OPEN
    assert open_invoice.events.get(action=InvoiceEvent.Action.PAYMENT_RECORDED).actor == superuser


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"payment-method": "cash", "payment-amount": "abc"}, "amount"),
        ({"payment-method": "cash", "payment-amount": "100.50"}, "amount"),  # pesos have no cents
        ({"payment-method": "cash", "payment-amount": "-5"}, "amount"),
        ({"payment-method": "stripe", "payment-amount": "1000"}, "method"),  # online payments are not typed in
    ],
    ids=["not-a-number", "cents-in-pesos", "negative", "online-method"],
)
def test_bad_payment_input_is_a_form_error(admin_client_en, open_invoice, data, field):
    response = admin_client_en.post(action_url(open_invoice, "record_payment"), data)

    assert response.status_code == 200
    assert field in response.context["forms"]["record_payment"].errors
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_paying_more_than_is_owed_is_refused_with_the_reason(admin_client_en, open_invoice):
    response = admin_client_en.post(
        action_url(open_invoice, "record_payment"), {"payment-method": "cash", "payment-amount": "50000"}
    )

    assert response.status_code == 200
    assert in_response_language(response, DEFAULT_MESSAGES["amount_above_balance"]) in response.content.decode()
    assert response.context["forms"]["record_payment"]["amount"].value() == "50000"  # what was typed stays
    assert not Payment.objects.exists()


@pytest.mark.django_db
def test_partial_refund(admin_client_en, superuser, paid_invoice):
    payment = paid_invoice.payments.get()

    response = admin_client_en.post(
        action_url(paid_invoice, "refund"),
        {"refund-payment": payment.pk, "refund-scope": "partial", "refund-amount": "10000", "refund-reason": "Late"},
    )

    assert response.status_code == 302
    refund = Refund.objects.get()
    assert (refund.amount, refund.reason, refund.actor) == (Decimal("10000"), "Late", superuser)
    paid_invoice.refresh_from_db()
    assert paid_invoice.status == InvoiceStatus.PARTIALLY_REFUNDED


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"refund-scope": "partial", "refund-amount": "40000", "refund-reason": "x"}, "amount"),
        ({"refund-scope": "partial", "refund-amount": "", "refund-reason": "x"}, "amount"),
        ({"refund-scope": "full", "refund-reason": "   "}, "reason"),
        ({"refund-scope": "full", "refund-reason": "x", "refund-payment": "999999"}, "payment"),
    ],
    ids=["too-large", "partial-without-amount", "no-reason", "unknown-payment"],
)
def test_bad_refund_input_is_a_form_error(admin_client_en, paid_invoice, data, field):
    data = {"refund-payment": paid_invoice.payments.get().pk, **data}

    response = admin_client_en.post(action_url(paid_invoice, "refund"), data)

    assert response.status_code == 200
    assert field in response.context["forms"]["refund"].errors
    assert not Refund.objects.exists()
    paid_invoice.refresh_from_db()
    assert paid_invoice.amount_refunded == 0


@pytest.mark.django_db
def test_refund_of_another_invoice_payment_is_refused(admin_client_en, paid_invoice):
    other_payment = PaymentFactory(invoice=InvoiceFactory(status="paid", amount_paid=Decimal("35000")))

    response = admin_client_en.post(
        action_url(paid_invoice, "refund"),
        {"refund-payment": other_payment.pk, "refund-scope": "full", "refund-reason": "x"},
    )

    assert response.status_code == 200
    assert "payment" in response.context["forms"]["refund"].errors
    assert not Refund.objects.exists()


@pytest.mark.django_db
def test_void_an_open_invoice(admin_client_en, superuser, open_invoice):
    response = admin_client_en.post(action_url(open_invoice, "void"), {"void-reason": "Booked twice"})

    open_invoice.refresh_from_db()
    assert response.status_code == 302
    assert open_invoice.status == InvoiceStatus.VOID
    event = open_invoice.events.get(action=InvoiceEvent.Action.VOIDED)
    assert (event.reason, event.actor, event.from_status) == ("Booked twice", superuser, InvoiceStatus.OPEN)


@pytest.mark.django_db
def test_void_without_reason_is_a_form_error(admin_client_en, open_invoice):
    response = admin_client_en.post(action_url(open_invoice, "void"), {"void-reason": "  "})

    open_invoice.refresh_from_db()
    assert response.status_code == 200
    assert "reason" in response.context["forms"]["void"].errors
    assert open_invoice.status == InvoiceStatus.OPEN


@pytest.mark.django_db
def test_voiding_a_paid_invoice_is_refused_with_the_reason(admin_client_en, paid_invoice):
    response = admin_client_en.post(action_url(paid_invoice, "void"), {"void-reason": "Mistake"})

    paid_invoice.refresh_from_db()
    assert response.status_code == 200
    assert in_response_language(response, DEFAULT_MESSAGES["invalid_state"]) in response.content.decode()
    assert paid_invoice.status == InvoiceStatus.PAID
    assert not paid_invoice.events.filter(action=InvoiceEvent.Action.VOIDED).exists()


@pytest.mark.django_db
def test_record_the_tax_document(admin_client_en, paid_invoice):
    response = admin_client_en.post(
        action_url(paid_invoice, "tax_document"), {"tax-document_type": "33", "tax-folio": " 4455 "}
    )

    paid_invoice.refresh_from_db()
    assert response.status_code == 302
    assert (paid_invoice.tax_document_type, paid_invoice.tax_document_folio) == ("33", "4455")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [{"tax-document_type": "41", "tax-folio": ""}, {"tax-document_type": "99", "tax-folio": "1"}],
    ids=["type-without-folio", "unknown-type"],
)
def test_bad_tax_document_is_a_form_error(admin_client_en, paid_invoice, data):
    response = admin_client_en.post(action_url(paid_invoice, "tax_document"), data)

    paid_invoice.refresh_from_db()
    assert response.status_code == 200
    assert response.context["forms"]["tax_document"].errors
    assert paid_invoice.tax_document_folio == ""


def staff_receipts() -> list:
    """The receipts staff sent from the invoice page (notifications carry their row in Mailgun metadata)."""
    return [m for m in mail.outbox if m.attachments and "notification" not in getattr(m, "metadata", {})]


@pytest.mark.django_db
def test_send_the_receipt_again(admin_client_en, superuser, paid_invoice):
    response = admin_client_en.post(action_url(paid_invoice, "send_receipt"), follow=True)

    assert response.redirect_chain[0][0] == detail_url(paid_invoice)
    # The payment itself planned the "payment received" notification (with the receipt attached too), which may go
    # out in the same request: the staff's receipt is the email that is not a notification.
    receipts = staff_receipts()
    assert len(receipts) == 1
    assert receipts[0].to == ["pia@example.com"]
    assert receipts[0].attachments[0][2] == "application/pdf"
    assert "pia@example.com" in response.content.decode()
    assert paid_invoice.events.get(action=InvoiceEvent.Action.RECEIPT_SENT).actor == superuser


@pytest.mark.django_db
def test_send_receipt_without_email_shows_the_reason(admin_client_en, paid_invoice):
    Invoice.objects.filter(pk=paid_invoice.pk).update(billing_email="")

    response = admin_client_en.post(action_url(paid_invoice, "send_receipt"))

    assert response.status_code == 200
    assert "error" in [message.level_tag for message in response.context["messages"]]
    assert staff_receipts() == []  # no receipt


@pytest.mark.django_db
def test_download_the_receipt(admin_client_en, paid_invoice):
    response = admin_client_en.get(reverse("billing_invoices:receipt", args=[paid_invoice.reference]))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f'filename="{paid_invoice.display_number}.pdf"' in response["Content-Disposition"]
    assert response.content.startswith(b"%PDF")


@pytest.mark.django_db
def test_a_draft_has_no_receipt(admin_client_en):
    draft = InvoiceFactory(status="draft", number=None)

    assert admin_client_en.get(reverse("billing_invoices:receipt", args=[draft.reference])).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["record_payment", "refund", "void", "tax_document", "send_receipt"])
def test_actions_are_post_only(admin_client_en, open_invoice, action):
    assert admin_client_en.get(action_url(open_invoice, action)).status_code == 405


@pytest.mark.django_db
def test_billing_menu_lists_invoices_and_discount_codes(admin_client_en):
    html = admin_client_en.get(reverse("wagtailadmin_home")).content.decode()

    assert INDEX_URL in html
    assert "/admin/billing/coupons/" in html


# --- Dashboard ---------------------------------------------------------------------------------------------


def received(amount, at, currency="CLP", status="succeeded"):
    invoice = InvoiceFactory(currency=currency, appointment=False, total=Decimal("1000000"))
    return PaymentFactory(invoice=invoice, amount=Decimal(amount), currency=currency, received_at=at, status=status)


@pytest.mark.django_db
def test_todays_sales_count_the_clinic_day_per_currency(django_assert_max_num_queries):
    received("30000", santiago(2026, 11, 29, 0, 0))  # the first minute of the day
    received("20000", santiago(2026, 11, 29, 23, 30))  # already the 30th in UTC
    received("99000", santiago(2026, 11, 30, 0, 0))  # tomorrow
    received("99000", santiago(2026, 11, 28, 23, 59))  # yesterday
    received("99000", santiago(2026, 11, 29, 12), status="failed")
    received("45.50", santiago(2026, 11, 29, 12), currency="USD")
    refunded = received("10000", santiago(2026, 11, 20, 12))  # paid last week, refunded today
    Refund.objects.create(
        payment=refunded, amount=Decimal("4000"), status="succeeded", created_at=NOW, completed_at=NOW
    )
    Refund.objects.create(payment=refunded, amount=Decimal("6000"), status="pending", created_at=NOW)
    InvoiceFactory(status="open")

    with django_assert_max_num_queries(2):
        sales = todays_sales(now=NOW)

    by_currency = {row["currency"]: row for row in sales["totals"]}
    assert by_currency["CLP"]["received"] == Decimal("50000")
    assert by_currency["CLP"]["refunded"] == Decimal("4000")
    assert by_currency["CLP"]["net"] == Decimal("46000")
    assert by_currency["USD"]["net"] == Decimal("45.50")
    assert sales["open_invoices"] == Invoice.objects.filter(status="open").count()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("moment", "counted"),
    [
        (datetime(2026, 9, 6, 3, 59, tzinfo=UTC), False),  # 23:59 on the 5th (UTC-4)
        (datetime(2026, 9, 6, 4, 0, tzinfo=UTC), True),  # the day starts at 01:00 (UTC-3): midnight is skipped
        (datetime(2026, 9, 7, 2, 59, tzinfo=UTC), True),  # 23:59 on the 6th (UTC-3)
        (datetime(2026, 9, 7, 3, 0, tzinfo=UTC), False),  # the 7th
    ],
    ids=["day-before", "first-instant", "last-minute", "next-day"],
)
def test_todays_sales_on_the_day_clocks_go_forward(moment, counted):
    received("1000", moment)

    sales = todays_sales(now=datetime(2026, 9, 6, 12, 0, tzinfo=SANTIAGO))

    assert bool(sales["totals"]) is counted


@pytest.mark.django_db
def test_dashboard_panel_is_shown_only_to_staff_who_see_invoices(admin_client_en):
    received("30000", santiago(2026, 11, 29, 10))
    catalog_staff = staff_client_with("scheduling.view_service", email="catalog@clinic.example")
    catalog_dashboard = catalog_staff.get(reverse("wagtailadmin_home"))

    html = admin_client_en.get(reverse("wagtailadmin_home")).content.decode()

    assert 'id="todays-sales' in html
    assert "$30,000" in html
    assert catalog_dashboard.status_code == 200
    assert 'id="todays-sales' not in catalog_dashboard.content.decode()


@pytest.mark.django_db
def test_invoice_pages_open_in_the_default_language(superuser_client, paid_invoice):
    for url in (INDEX_URL, detail_url(paid_invoice), reverse("wagtailadmin_home")):
        response = superuser_client.get(url)
        assert response.status_code == 200, url
        assert paid_invoice.display_number in response.content.decode() or url == reverse("wagtailadmin_home")
    assert "$35.000" in superuser_client.get(detail_url(paid_invoice)).content.decode()
