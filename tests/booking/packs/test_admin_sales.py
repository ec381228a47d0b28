"""The staff workflow "use a pack" (Book appointment → patient → two groups → assign → the purchase's page) and
"Cancel pack" (confirmation with the amount, then POST) through the Django test client; bad input as messages."""

from decimal import Decimal

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from booking.billing import services as billing
from booking.billing.models import InvoiceStatus
from booking.packs.models import PackagePurchase, PurchaseStatus
from booking.packs.services import purchase_pack, reserve_session
from tests.factories.accounts import PatientFactory
from tests.factories.packs import package_with
from tests.on_commit import run_commit_hooks_like_a_commit

from .conftest import NOW, SESSION_START

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clock_and_commit_hooks(request, monkeypatch):
    run_commit_hooks_like_a_commit(request, monkeypatch)
    with time_machine.travel(NOW, tick=False):
        yield


def client_for(user) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(user)
    return client


def texts(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


USE = reverse("packs_purchases:use")


def test_book_appointment_offers_use_a_pack(clinic):
    page = client_for(clinic.receptionist).get(reverse("clinic_appointments:create"))

    assert page.status_code == 200
    assert f'href="{USE}"' in page.content.decode()


def test_the_two_groups_for_a_patient(clinic, per_service_pack, pool_pack, buy):
    mine = purchase_pack(
        package=per_service_pack, patient=clinic.patient, actor=clinic.receptionist, pay_at_clinic=True,
        source="admin", now=NOW,
    )  # fmt: skip
    package_with({clinic.psychology: 1}, name="Retirado", active=False)
    client = client_for(clinic.receptionist)

    chooser = client.get(USE)
    page = client.get(USE, {"patient": clinic.patient.pk})

    assert chooser.status_code == 200 and "assigned" not in chooser.context
    assigned = [row["purchase"] for row in page.context["assigned"]]
    offered = [row["package"] for row in page.context["offered"]]
    assert assigned == [mine]
    assert offered == [pool_pack]  # active, not the patient's; the inactive one is not offered
    html = page.content.decode()
    assert "Bienestar" in html
    assert "$100.000" in html or "$100,000" in html


def test_assign_paid_at_the_clinic_leads_to_the_purchase_page(clinic, per_service_pack):
    client = client_for(clinic.receptionist)

    response = client.post(
        USE, {"patient": clinic.patient.pk, "package": per_service_pack.pk, "payment": "clinic"}, follow=True
    )

    purchase = PackagePurchase.objects.get()
    assert response.redirect_chain[-1][0] == reverse("packs_purchases:detail", args=[purchase.reference])
    assert purchase.status == PurchaseStatus.ACTIVE and purchase.created_by == clinic.receptionist
    html = response.content.decode()
    assert 'id="purchase-actions"' in html
    assert 'id="purchase-payment-link"' not in html
    assert "to be paid at the clinic" in " ".join(texts(response))


def test_assign_with_the_online_link_shows_the_link_to_send(clinic, per_service_pack):
    client = client_for(clinic.receptionist)

    response = client.post(
        USE, {"patient": clinic.patient.pk, "package": per_service_pack.pk, "payment": "online"}, follow=True
    )

    purchase = PackagePurchase.objects.get()
    invoice = purchase.invoice_line.invoice
    assert purchase.status == PurchaseStatus.PENDING_PAYMENT
    assert response.context["payment_link"] == f"http://testserver/portal/invoices/{invoice.reference}/"
    assert 'id="purchase-payment-link"' in response.content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"package": "999999"}, "That pack does not exist. Please choose one from the list."),
        ({"package": "abc"}, "That pack does not exist. Please choose one from the list."),
        ({"payment": "free"}, "Select a valid choice. free is not one of the available choices."),
    ],
)
def test_tampered_forms_get_a_message_and_write_nothing(clinic, per_service_pack, data, message):
    form = {"patient": clinic.patient.pk, "package": per_service_pack.pk, "payment": "clinic", **data}

    response = client_for(clinic.receptionist).post(USE, form)

    assert response.status_code == 200
    assert message in texts(response)
    assert not PackagePurchase.objects.exists()


def test_an_inactive_pack_is_refused_with_a_message(clinic, per_service_pack):
    per_service_pack.active = False
    per_service_pack.save()

    response = client_for(clinic.receptionist).post(
        USE, {"patient": clinic.patient.pk, "package": per_service_pack.pk, "payment": "clinic"}
    )

    assert response.status_code == 200
    assert "This pack is no longer sold." in texts(response)
    assert not PackagePurchase.objects.exists()


def test_an_unknown_patient_is_a_form_error(clinic):
    response = client_for(clinic.receptionist).get(USE, {"patient": "424242"})

    assert response.status_code == 200
    assert response.context["choose_form"].errors["patient"]


def test_who_may_use_the_sales_pages(clinic, per_service_pack):
    patient_client = client_for(clinic.patient.user)

    assert patient_client.get(USE).status_code in (302, 403)
    assert patient_client.post(USE, {"patient": clinic.patient.pk, "package": per_service_pack.pk}).status_code in (
        302,
        403,
    )
    assert not PackagePurchase.objects.exists()


@pytest.mark.parametrize("count", [3, 30])
def test_the_use_page_runs_bounded_queries(clinic, count, django_assert_max_num_queries):
    for index in range(count):
        package = package_with({clinic.psychology: 2, clinic.nutrition: 1}, name=f"Pack {index}")
        if index % 2:
            purchase_pack(
                package=package, patient=clinic.patient, actor=clinic.receptionist, pay_at_clinic=True,
                source="admin", now=NOW,
            )  # fmt: skip
    client = client_for(clinic.receptionist)
    client.get(USE, {"patient": clinic.patient.pk})  # warm the session and permission caches

    with django_assert_max_num_queries(16):
        response = client.get(USE, {"patient": clinic.patient.pk})

    assert len(response.context["assigned"]) + len(response.context["offered"]) == count


# ------------------------------------------------------------------------------------------------ cancel


def paid_pack(clinic, package):
    purchase = purchase_pack(
        package=package, patient=clinic.patient, actor=clinic.receptionist, pay_at_clinic=True, source="admin",
        now=NOW,
    )  # fmt: skip
    billing.record_offline_payment(
        invoice=purchase.invoice_line.invoice, method="cash", amount=package.price, actor=clinic.receptionist, now=NOW
    )
    return purchase


def test_cancel_shows_the_refund_then_cancels_on_post(clinic, per_service_pack, make_session):
    purchase = paid_pack(clinic, per_service_pack)
    session = make_session(clinic.psychology, start=SESSION_START)
    reserve_session(purchase=purchase, service=clinic.psychology, appointment=session, actor=clinic.receptionist)
    client = client_for(clinic.administrator)
    detail = client.get(reverse("packs_purchases:detail", args=[purchase.reference]))
    url = reverse("packs_purchases:cancel", args=[purchase.reference])

    confirmation = client.get(url)

    assert f'href="{url}"' in detail.content.decode()
    assert confirmation.status_code == 200
    assert confirmation.context["quote"].amount == Decimal("100000")  # the upcoming session is counted unused
    html = confirmation.content.decode()
    assert 'id="cancel-refund-amount"' in html and ("$100.000" in html or "$100,000" in html)
    assert 'id="cancel-upcoming"' in html
    assert reverse("clinic_appointments:detail", args=[session.reference]) in html

    empty = client.post(url, {"reason": ""})
    assert empty.status_code == 200 and empty.context["form"].errors["reason"]
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.ACTIVE

    done = client.post(url, {"reason": "Se cambia de ciudad"}, follow=True)

    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.CANCELLED
    assert "is being refunded" in " ".join(texts(done))
    assert purchase.invoice_line.invoice.status == InvoiceStatus.REFUNDED
    again = client.get(url, follow=True)
    assert "This pack can no longer be changed this way." in texts(again)


def test_reception_may_not_cancel_a_pack(clinic, per_service_pack):
    purchase = paid_pack(clinic, per_service_pack)
    client = client_for(clinic.receptionist)

    detail = client.get(reverse("packs_purchases:detail", args=[purchase.reference]))
    response = client.post(reverse("packs_purchases:cancel", args=[purchase.reference]), {"reason": "x"})

    assert 'id="purchase-cancel-link"' not in detail.content.decode()
    assert response.status_code in (302, 403)  # Wagtail sends a refused admin user back to the dashboard
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.ACTIVE


def test_the_detail_page_shows_invoice_and_payments(clinic, per_service_pack):
    purchase = paid_pack(clinic, per_service_pack)
    other = purchase_pack(
        package=per_service_pack, patient=PatientFactory(), actor=clinic.receptionist, pay_at_clinic=False,
        source="admin", now=NOW,
    )  # fmt: skip
    client = client_for(clinic.administrator)

    page = client.get(reverse("packs_purchases:detail", args=[purchase.reference]))
    pending = client.get(reverse("packs_purchases:detail", args=[other.reference]))

    html = page.content.decode()
    invoice = purchase.invoice_line.invoice
    assert reverse("billing_invoices:detail", args=[invoice.reference]) in html
    assert [row["payment"].amount for row in page.context["payments"]] == [Decimal("100000")]
    assert 'id="purchase-payments-table"' in html
    assert pending.context["payment_link"].endswith(f"/portal/invoices/{other.invoice_line.invoice.reference}/")


def detail_queries(clinic, make_session, count: int) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    package = package_with({clinic.psychology: 30}, name=f"Pack de {count}")
    purchase = purchase_pack(
        package=package, patient=PatientFactory(), actor=clinic.receptionist, pay_at_clinic=True, source="admin",
        now=NOW,
    )  # fmt: skip
    for _ in range(count):
        session = make_session(clinic.psychology, patient=purchase.patient)
        reserve_session(purchase=purchase, service=clinic.psychology, appointment=session, actor=clinic.receptionist)
        billing.record_offline_payment(
            invoice=purchase.invoice_line.invoice, method="cash", amount=Decimal("1000"), actor=clinic.receptionist,
            now=NOW,
        )  # fmt: skip
    client = client_for(clinic.administrator)
    url = reverse("packs_purchases:detail", args=[purchase.reference])
    client.get(url)  # warm the session and permission caches
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert len(response.context["payments"]) == len(response.context["sessions"]) == count
    return len(captured)


def test_the_purchase_page_runs_the_same_queries_for_3_or_30_sessions_and_payments(clinic, make_session):
    assert detail_queries(clinic, make_session, 3) == detail_queries(clinic, make_session, 30)
