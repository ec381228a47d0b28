"""The box's pack path with the test client: pick a pack, identify, pay online (FakePay's checkout, then its
webhook) or at the clinic where the pack allows it, then book the first session from it.

Only the ways to pay that are possible are offered, and a POST for another one is refused with nothing written.
FakePay is the second provider of tests/booking/billing/providers_fake.py; the clock is pinned by conftest.py.
"""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from booking.billing import providers
from booking.billing.models import Invoice, InvoiceStatus, Payment, PaymentStatus
from booking.packs.models import PackagePurchase, PurchaseStatus
from booking.packs.selectors import balances
from booking.scheduling.models import Appointment
from tests.booking.billing.providers_fake import SIGNATURE_HEADER, FakePayProvider, sign
from tests.factories.accounts import PatientFactory
from tests.factories.packs import active_purchase, package_with

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
FAKEPAY = "tests.booking.billing.providers_fake.FakePayProvider"
PACK_URL = "/booking/packs/therapy-4/"


@pytest.fixture
def fakepay(settings):
    settings.BILLING_PAYMENT_PROVIDERS = [FAKEPAY]
    settings.FAKEPAY_WEBHOOK_SECRET = "fakepay_secret"
    settings.STRIPE_ENABLED = False
    FakePayProvider.reset()
    return providers.get_provider("fakepay")


@pytest.fixture
def no_provider(settings):
    settings.BILLING_PAYMENT_PROVIDERS = [FAKEPAY]
    settings.FAKEPAY_WEBHOOK_SECRET = ""
    settings.STRIPE_ENABLED = False


@pytest.fixture
def pack(clinic):
    return package_with({clinic.service: 4}, name="Therapy × 4", slug="therapy-4")


def allow_pay_at_clinic(package, allowed: bool = True):
    package.pay_at_clinic_allowed = allowed
    package.save()


def paid_webhook(client, reference: str):
    payload = json.dumps({"id": f"evt_{reference}", "type": "checkout.paid", "reference": reference}).encode()
    return client.post(
        reverse("billing:provider_webhook", kwargs={"provider": "fakepay"}),
        data=payload,
        content_type="application/json",
        headers={SIGNATURE_HEADER: sign(payload)},
    )


def nothing_bought():
    return not PackagePurchase.objects.exists() and not Invoice.objects.exists()


# --- the pack's page --------------------------------------------------------------------------------------------


def test_the_pack_page_shows_what_it_includes_and_the_ways_to_pay(client, pack, fakepay):
    allow_pay_at_clinic(pack)
    html = client.get(PACK_URL, **EN).content.decode()
    assert "Therapy × 4" in html
    assert "4 × Individual therapy" in html
    assert "90 days from the purchase" in html
    assert "$100,000" in html
    assert "Online now, by card" in html and "At the clinic, at your first session" in html
    assert 'id="pack-continue"' in html  # a visitor identifies first
    assert 'id="pack-pay-online"' not in html


def test_a_logged_in_patient_sees_only_the_possible_ways(patient_client, pack, fakepay):
    html = patient_client.get(PACK_URL, **EN).content.decode()
    assert 'id="pack-pay-online"' in html
    assert 'id="pack-pay-at-clinic"' not in html  # the pack does not allow it


def test_without_a_provider_a_pack_payable_at_the_clinic_is_still_offered(patient_client, pack, no_provider):
    allow_pay_at_clinic(pack)
    html = patient_client.get(PACK_URL, **EN).content.decode()
    assert 'id="pack-pay-online"' not in html
    assert 'id="pack-pay-at-clinic"' in html


def test_no_way_to_pay_says_so_with_no_dead_end_sign_up(client, pack, no_provider):
    html = client.get(PACK_URL, **EN).content.decode()
    assert "This pack cannot be bought online right now. Please contact the clinic." in html
    assert 'id="pack-continue"' not in html
    identify = client.get(f"{PACK_URL}identify/", **EN)
    assert identify.status_code == 302 and identify["Location"] == PACK_URL


@pytest.mark.parametrize("slug_state", ["private", "inactive", "unknown"])
def test_a_pack_not_offered_is_not_found(client, pack, slug_state):
    if slug_state == "private":
        pack.public = False
    elif slug_state == "inactive":
        pack.active = False
    pack.save()
    url = PACK_URL if slug_state != "unknown" else "/booking/packs/nope/"
    assert client.get(url, **EN).status_code == 404


# --- identify ---------------------------------------------------------------------------------------------------


def test_identify_offers_log_in_and_sign_up_coming_back_to_the_pack(client, pack, fakepay):
    html = client.get(f"{PACK_URL}identify/", **EN).content.decode()
    assert f"/accounts/login/?next={PACK_URL.replace('/', '%2F')}" in html
    assert 'id="identify-submit"' in html


def test_a_logged_out_post_buys_nothing(client, pack, fakepay):
    response = client.post(PACK_URL, {"pay": "online"}, **EN)
    assert response.status_code == 303
    assert response["Location"] == f"{PACK_URL}identify/"
    assert nothing_bought()


# --- paying online ----------------------------------------------------------------------------------------------


def test_buying_online_goes_to_the_checkout_and_the_webhook_activates_the_pack(patient_client, pack, fakepay, clinic):
    response = patient_client.post(PACK_URL, {"pay": "online"}, **EN)
    purchase = PackagePurchase.objects.get()
    assert purchase.patient == clinic.patient
    assert purchase.status == PurchaseStatus.PENDING_PAYMENT
    payment = Payment.objects.get()
    assert response.status_code == 303
    assert response["Location"] == f"https://pay.fakepay.test/{payment.provider_reference}"
    success_url = FakePayProvider.store.calls[0][1]["success_url"]
    assert urlsplit(success_url).path == f"/booking/my-packs/{purchase.reference}/"

    # Back before the webhook, with a checkout still open: the page waits, with a refresh and a way to pay.
    waiting = patient_client.get(f"/booking/my-packs/{purchase.reference}/", **EN).content.decode()
    assert "We are waiting for the confirmation of your payment." in waiting
    assert 'id="pack-refresh"' in waiting and 'id="pack-pay-now"' in waiting

    fakepay.pay(payment.provider_reference)
    assert paid_webhook(patient_client, payment.provider_reference).status_code == 200
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.ACTIVE
    assert purchase.invoice_line.invoice.status == InvoiceStatus.PAID

    page = patient_client.get(f"/booking/my-packs/{purchase.reference}/", **EN).content.decode()
    assert "4 sessions left" in page
    assert "Book your first session" in page
    link = next(part for part in page.split('"') if part.startswith("/booking/?") and "purchase=" in part)
    query = parse_qs(urlsplit(link.replace("&amp;", "&")).query)
    assert query == {"service": ["therapy"], "purchase": [purchase.reference]}


def test_the_return_page_confirms_a_paid_checkout_the_webhook_has_not_told_yet(patient_client, pack, fakepay):
    patient_client.post(PACK_URL, {"pay": "online"}, **EN)
    purchase, payment = PackagePurchase.objects.get(), Payment.objects.get()
    fakepay.pay(payment.provider_reference)
    page = patient_client.get(
        f"/booking/my-packs/{purchase.reference}/?session_id={payment.provider_reference}", **EN
    ).content.decode()
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.ACTIVE
    assert "Book your first session" in page
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED


def test_a_checkout_that_cannot_start_leaves_the_pack_waiting_with_a_retry(patient_client, pack, fakepay):
    FakePayProvider.store.down = True
    response = patient_client.post(PACK_URL, {"pay": "online"}, follow=True, **EN)
    purchase = PackagePurchase.objects.get()
    assert response.redirect_chain[-1][0] == f"/booking/my-packs/{purchase.reference}/"
    html = response.content.decode()
    assert 'id="pack-pay-now"' in html
    FakePayProvider.store.down = False
    retry = patient_client.post(f"/booking/my-packs/{purchase.reference}/", {"action": "pay"}, **EN)
    assert retry.status_code == 303
    assert retry["Location"].startswith("https://pay.fakepay.test/")


def test_paying_online_while_no_provider_is_on_is_refused(patient_client, pack, no_provider):
    allow_pay_at_clinic(pack)
    response = patient_client.post(PACK_URL, {"pay": "online"}, **EN)
    assert response.status_code == 400
    assert "Please choose one of the ways to pay offered." in response.content.decode()
    assert nothing_bought()


# --- paying at the clinic ---------------------------------------------------------------------------------------


def test_paying_at_the_clinic_where_allowed_activates_the_pack_at_once(patient_client, pack, fakepay):
    allow_pay_at_clinic(pack)
    response = patient_client.post(PACK_URL, {"pay": "clinic"}, follow=True, **EN)
    purchase = PackagePurchase.objects.get()
    assert purchase.status == PurchaseStatus.ACTIVE
    assert purchase.invoice_line.invoice.status == InvoiceStatus.OPEN  # paid at the clinic later
    assert not Payment.objects.exists() and FakePayProvider.store.calls == []
    html = response.content.decode()
    assert "Your pack is ready. You pay it at the clinic." in html
    assert "Book your first session" in html


def test_paying_at_the_clinic_where_not_allowed_is_refused(patient_client, pack, fakepay):
    response = patient_client.post(PACK_URL, {"pay": "clinic"}, **EN)
    assert response.status_code == 400
    assert "This pack cannot be paid at the clinic." in response.content.decode()
    assert nothing_bought()


@pytest.mark.parametrize("value", ["", "free", "ONLINE"])
def test_a_tampered_way_to_pay_is_refused(patient_client, pack, fakepay, value):
    response = patient_client.post(PACK_URL, {"pay": value}, **EN)
    assert response.status_code == 400
    assert nothing_bought()


# --- the purchase page ------------------------------------------------------------------------------------------


def test_another_patients_purchase_is_not_found(patient_client, pack):
    theirs = active_purchase(pack, patient=PatientFactory())
    assert patient_client.get(f"/booking/my-packs/{theirs.reference}/", **EN).status_code == 404
    assert patient_client.post(f"/booking/my-packs/{theirs.reference}/", {"action": "pay"}, **EN).status_code == 404


def test_the_purchase_page_needs_a_login(client, pack, clinic):
    mine = active_purchase(pack, patient=clinic.patient)
    response = client.get(f"/booking/my-packs/{mine.reference}/", **EN)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_paying_an_active_pack_again_is_refused(patient_client, pack, clinic, fakepay):
    mine = active_purchase(pack, patient=clinic.patient)
    response = patient_client.post(f"/booking/my-packs/{mine.reference}/", {"action": "pay"}, follow=True, **EN)
    assert "This pack has nothing left to pay online." in response.content.decode()
    assert FakePayProvider.store.calls == []


# --- then the first session -------------------------------------------------------------------------------------


def test_the_first_session_is_booked_from_the_bought_pack(patient_client, pack, fakepay):
    allow_pay_at_clinic(pack)
    patient_client.post(PACK_URL, {"pay": "clinic"}, **EN)
    purchase = PackagePurchase.objects.get()
    slot = (
        "service=therapy&professional=ana&location=providencia&modality=in_person&start=2026-12-01T12:00Z"
        f"&purchase={purchase.reference}"
    )
    review = patient_client.get(f"/booking/review/?{slot}", **EN).content.decode()
    assert "1 session of your pack “Therapy × 4”: 3 sessions left after this." in review
    response = patient_client.post(f"/booking/review/?{slot}", {"consent": "on", "note": ""}, **EN)
    appointment = Appointment.objects.get()
    assert response["Location"] == f"/booking/done/{appointment.reference}/"
    assert appointment.pack_purchase_id == purchase.pk
    assert balances(purchase).remaining == 3
    assert Invoice.objects.count() == 1  # the pack's own: the session has none
