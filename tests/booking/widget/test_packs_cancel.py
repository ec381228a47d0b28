"""The patient cancels their own pack in the booking box: "Cancel this pack" only where the pack allows it, a page
that shows what cancelling does (the same figures ``cancel_pack`` then applies), and the POST with its message.

The clock is pinned by conftest.py (Sunday 29 November 2026, 10:00 in Santiago); the therapy service's free
cancellation window is 24 hours and a late cancellation loses the pack's session. Messages are compared by level
and amounts, not by their (Spanish) text.
"""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from bs4 import BeautifulSoup
from django.contrib.messages import constants
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from booking.billing import providers
from booking.billing import services as billing
from booking.billing.models import InvoiceStatus, Payment, Refund, RefundStatus
from booking.packs.models import CreditKind, PackagePurchase, PurchaseStatus
from booking.packs.services import purchase_pack, reserve_session
from booking.scheduling.models import AppointmentStatus
from tests.booking.billing.providers_fake import FakePayProvider
from tests.booking.scheduling.people import receptionist_user
from tests.factories.accounts import PatientFactory
from tests.factories.packs import active_purchase, package_with
from tests.factories.scheduling import AppointmentFactory

from .conftest import SANTIAGO

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
FAKEPAY = "tests.booking.billing.providers_fake.FakePayProvider"
FREE_START = datetime(2026, 12, 2, 10, 0, tzinfo=SANTIAGO)  # 3 days ahead: cancelled for free
LATE_START = datetime(2026, 11, 30, 8, 0, tzinfo=SANTIAGO)  # 22 hours ahead: late, the session is lost


@pytest.fixture
def fakepay(settings):
    settings.BILLING_PAYMENT_PROVIDERS = [FAKEPAY]
    settings.FAKEPAY_WEBHOOK_SECRET = "fakepay_secret"
    settings.STRIPE_ENABLED = False
    FakePayProvider.reset()
    return providers.get_provider("fakepay")


@pytest.fixture
def pack(clinic):
    """4 therapy sessions for $100,000 ($25,000 each), which the patient may cancel."""
    return package_with(
        {clinic.service: 4}, name="Therapy × 4", slug="therapy-4", price=Decimal("100000"), patient_may_cancel=True
    )


@pytest.fixture
def receptionist(db):
    return receptionist_user()


def sold(clinic, package, receptionist, *, paid=True):
    """``package`` sold to the patient at the desk, paid in cash when ``paid``."""
    purchase = purchase_pack(
        package=package, patient=clinic.patient, actor=receptionist, pay_at_clinic=True, source="admin",
        now=timezone.now(),
    )  # fmt: skip
    if paid:
        billing.record_offline_payment(
            invoice=purchase.invoice_line.invoice, method="cash", amount=package.price, actor=receptionist
        )
    purchase.refresh_from_db()
    return purchase


def booked(clinic, purchase, receptionist, start):
    session = AppointmentFactory(patient=clinic.patient, professional=clinic.ana, service=clinic.service, start=start)
    reserve_session(purchase=purchase, service=clinic.service, appointment=session, actor=receptionist)
    return session


def cancel_url(purchase) -> str:
    return f"/booking/my-packs/{purchase.reference}/cancel/"


def page_url(purchase) -> str:
    return f"/booking/my-packs/{purchase.reference}/"


def levels(response) -> list[int]:
    return [message.level for message in response.context["messages"]]


def test_the_pack_page_offers_cancelling_only_where_the_pack_allows_it(patient_client, clinic, pack, receptionist):
    mine = sold(clinic, pack, receptionist)
    html = patient_client.get(page_url(mine), **EN).content.decode()
    assert 'id="pack-cancel"' in html and cancel_url(mine) in html

    other = package_with({clinic.service: 2}, name="No cancel", slug="no-cancel", patient_may_cancel=False)
    kept = sold(clinic, other, receptionist)
    assert 'id="pack-cancel"' not in patient_client.get(page_url(kept), **EN).content.decode()


def test_the_quote_shown_is_what_cancelling_applies(patient_client, clinic, pack, receptionist):
    purchase = sold(clinic, pack, receptionist)
    free = booked(clinic, purchase, receptionist, FREE_START)
    late = booked(clinic, purchase, receptionist, LATE_START)

    response = patient_client.get(cancel_url(purchase), **EN)
    assert response.status_code == 200
    soup = BeautifulSoup(response.content, "html.parser")
    unused = soup.select_one("#cancel-unused")
    assert (unused["data-unused"], unused["data-sold"]) == ("3", "4")  # 2 left + the one cancelled in time
    assert Decimal(soup.select_one("#cancel-per-session")["data-amount"]) == Decimal("25000")
    shown = Decimal(soup.select_one("#cancel-refund-amount")["data-amount"])
    assert shown == Decimal("75000")
    assert soup.select_one("#cancel-refund-destination") is not None  # paid in cash: given back at the clinic
    sessions = {item["data-reference"]: item["data-lost"] for item in soup.select(".cancel-session")}
    assert sessions == {free.reference: "0", late.reference: "1"}
    assert PackagePurchase.objects.get(pk=purchase.pk).status == PurchaseStatus.ACTIVE  # looking changes nothing

    response = patient_client.post(cancel_url(purchase), {"reason": "Me cambio de ciudad"}, follow=True, **EN)
    assert response.redirect_chain == [(page_url(purchase), 303)]
    assert levels(response) == [constants.SUCCESS]
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.CANCELLED
    assert sum(refund.amount for refund in Refund.objects.all()) == shown
    free.refresh_from_db()
    late.refresh_from_db()
    assert free.status == late.status == AppointmentStatus.CANCELLED
    written_off = purchase.credit_entries.get(kind=CreditKind.CANCELLED)
    assert (written_off.quantity, written_off.reason) == (3, "Me cambio de ciudad")
    assert 'id="pack-cancel"' not in response.content.decode()


def test_without_a_reason_the_cancellation_keeps_a_default_one(patient_client, clinic, pack, receptionist):
    purchase = sold(clinic, pack, receptionist)
    response = patient_client.post(cancel_url(purchase), {"reason": "  "}, **EN)
    assert response.status_code == 303
    entry = purchase.credit_entries.get(kind=CreditKind.CANCELLED)
    assert entry.quantity == 4 and entry.reason
    assert Refund.objects.get().amount == Decimal("100000")


def test_a_double_post_says_already_cancelled_and_refunds_once(patient_client, clinic, pack, receptionist):
    purchase = sold(clinic, pack, receptionist)
    first = patient_client.post(cancel_url(purchase), {}, follow=True, **EN)
    assert levels(first) == [constants.SUCCESS]
    again = patient_client.post(cancel_url(purchase), {}, follow=True, **EN)
    assert again.redirect_chain == [(page_url(purchase), 303)]
    assert levels(again) == [constants.INFO]
    assert Refund.objects.count() == 1
    assert patient_client.get(cancel_url(purchase), **EN).status_code == 303  # no quote for a cancelled pack


def test_where_the_pack_does_not_allow_it_nothing_changes(patient_client, clinic, receptionist):
    package = package_with({clinic.service: 2}, name="No cancel", slug="no-cancel", patient_may_cancel=False)
    purchase = sold(clinic, package, receptionist)
    shown = patient_client.get(cancel_url(purchase), follow=True, **EN)
    assert shown.redirect_chain == [(page_url(purchase), 303)] and levels(shown) == [constants.ERROR]
    posted = patient_client.post(cancel_url(purchase), {"reason": "x"}, follow=True, **EN)
    assert levels(posted) == [constants.ERROR]
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.ACTIVE
    assert not Refund.objects.exists() and not purchase.credit_entries.filter(kind=CreditKind.CANCELLED).exists()


def test_the_snapshot_decides_not_the_package_as_edited_since(patient_client, clinic, pack, receptionist):
    purchase = sold(clinic, pack, receptionist)
    pack.patient_may_cancel = False
    pack.save()
    assert patient_client.get(cancel_url(purchase), **EN).status_code == 200


def test_another_patients_pack_is_not_found(patient_client, pack):
    theirs = active_purchase(pack, patient=PatientFactory())
    assert patient_client.get(cancel_url(theirs), **EN).status_code == 404
    assert patient_client.post(cancel_url(theirs), {}, **EN).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == PurchaseStatus.ACTIVE


def test_cancelling_needs_a_login(client, pack, clinic):
    purchase = active_purchase(pack, patient=clinic.patient)
    response = client.post(cancel_url(purchase), {}, **EN)
    assert response.status_code == 302 and "/login/" in response["Location"]
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.ACTIVE


def test_a_pending_unpaid_pack_is_cancelled_with_its_invoice_voided(patient_client, clinic, pack, fakepay):
    patient_client.post("/booking/packs/therapy-4/", {"pay": "online"}, **EN)
    purchase = PackagePurchase.objects.get()
    assert purchase.status == PurchaseStatus.PENDING_PAYMENT
    assert 'id="pack-cancel"' in patient_client.get(page_url(purchase), **EN).content.decode()

    soup = BeautifulSoup(patient_client.get(cancel_url(purchase), **EN).content, "html.parser")
    assert soup.select_one("#cancel-voids-invoice") is not None
    assert Decimal(soup.select_one("#cancel-refund-amount")["data-amount"]) == 0

    response = patient_client.post(cancel_url(purchase), {}, follow=True, **EN)
    assert levels(response) == [constants.SUCCESS]
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.CANCELLED
    assert purchase.invoice_line.invoice.status == InvoiceStatus.VOID
    assert not Refund.objects.exists()


def test_a_reason_too_long_is_refused_with_the_page_again(patient_client, clinic, pack, receptionist):
    purchase = sold(clinic, pack, receptionist)
    response = patient_client.post(cancel_url(purchase), {"reason": "x" * 501}, **EN)
    assert response.status_code == 400
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.ACTIVE


def test_the_quote_is_in_the_patients_local_time(patient_client, clinic, pack, receptionist):
    purchase = sold(clinic, pack, receptionist)
    booked(clinic, purchase, receptionist, FREE_START + timedelta(hours=1))
    html = patient_client.get(cancel_url(purchase), **EN).content.decode()
    assert "11:00" in html or "11 a.m." in html


def test_a_pack_paid_online_is_refunded_to_the_card_pending_until_sent(patient_client, clinic, pack, fakepay):
    patient_client.post("/booking/packs/therapy-4/", {"pay": "online"}, **EN)
    purchase, payment = PackagePurchase.objects.get(), Payment.objects.get()
    fakepay.pay(payment.provider_reference)
    patient_client.get(f"{page_url(purchase)}?session_id={payment.provider_reference}", **EN)
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.ACTIVE

    soup = BeautifulSoup(patient_client.get(cancel_url(purchase), **EN).content, "html.parser")
    assert Decimal(soup.select_one("#cancel-refund-amount")["data-amount"]) == Decimal("100000")
    assert "card" in soup.select_one("#cancel-refund-destination").get_text()

    response = patient_client.post(cancel_url(purchase), {}, follow=True, **EN)
    assert levels(response) == [constants.SUCCESS]
    refund = Refund.objects.get()
    assert (refund.payment_id, refund.amount, refund.status) == (payment.pk, Decimal("100000"), RefundStatus.PENDING)


def test_the_quote_page_takes_the_same_queries_for_1_and_4_sessions(patient_client, clinic, pack, receptionist):
    patient_client.get(page_url(sold(clinic, pack, receptionist)), **EN)  # warm the per-process caches
    counts = []
    for sessions in (1, 4):
        purchase = sold(clinic, pack, receptionist)
        for day in range(sessions):
            booked(clinic, purchase, receptionist, FREE_START + timedelta(days=day, hours=sessions))
        with CaptureQueriesContext(connection) as queries:
            response = patient_client.get(cancel_url(purchase), **EN)
        assert len(BeautifulSoup(response.content, "html.parser").select(".cancel-session")) == sessions
        counts.append(len(queries))
    assert counts[0] == counts[1] and counts[0] <= 25
