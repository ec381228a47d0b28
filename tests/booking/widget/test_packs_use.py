"""The normal flow with a pack: a patient whose active pack covers the session is offered "use my pack (N left)",
the review shows the credit instead of a price, and confirming books through ``book_from_pack`` (no invoice).

Refusals (another patient's pack, an expired, exhausted or unpaid one, a service or professional it does not cover,
a tampered reference, a pack used up in another tab) say why and write nothing. Clock pinned by conftest.py.
"""

from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest

from booking.billing.models import Invoice
from booking.packs.models import PackCreditEntry, PurchaseStatus
from booking.packs.selectors import balances
from booking.packs.services import book_from_pack
from booking.scheduling.models import Appointment, AppointmentSource, AppointmentStatus
from tests.factories.accounts import PatientFactory
from tests.factories.packs import active_purchase, package_with, purchase_of
from tests.factories.scheduling import ServiceFactory

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
SLOT = {
    "service": "therapy",
    "professional": "ana",
    "location": "providencia",
    "modality": "in_person",
    "start": "2026-12-01T12:00Z",  # Tuesday 09:00 in Santiago
}
CONSENT = {"consent": "on", "note": ""}


def review_url(**params) -> str:
    return f"/booking/review/?{urlencode({**SLOT, **params})}"


@pytest.fixture
def pack(clinic):
    return package_with({clinic.service: 4}, name="Therapy × 4", slug="therapy-4")


@pytest.fixture
def purchase(pack, clinic):
    return active_purchase(pack, patient=clinic.patient)


def nothing_booked():
    return not Appointment.objects.exists() and not PackCreditEntry.objects.exclude(kind="granted").exists()


def test_the_review_offers_the_patients_pack_with_what_is_left(patient_client, purchase):
    html = patient_client.get(review_url(), **EN).content.decode()
    assert 'id="use-my-pack"' in html
    assert "Use my pack “Therapy × 4” (4 left)" in html
    assert f"purchase={purchase.reference}" in html
    assert "$35,000" in html  # paying as usual is still the default


def test_no_offer_without_a_pack_that_covers_the_session(patient_client, clinic):
    other = package_with({ServiceFactory(slug="nutrition"): 4}, name="Nutrition × 4")
    active_purchase(other, patient=clinic.patient)
    html = patient_client.get(review_url(), **EN).content.decode()
    assert 'id="use-my-pack"' not in html


def test_a_pack_limited_to_another_professional_is_not_offered(patient_client, clinic):
    pack = package_with({clinic.service: 4}, name="Bruno only")
    pack.allowed_professionals.add(clinic.bruno)
    pack.save()
    active_purchase(pack, patient=clinic.patient)
    assert 'id="use-my-pack"' not in patient_client.get(review_url(), **EN).content.decode()


def test_the_review_with_the_pack_shows_the_credit_instead_of_a_price(patient_client, purchase):
    response = patient_client.get(review_url(purchase=purchase.reference), **EN)
    assert response.status_code == 200
    html = response.content.decode()
    assert "1 session of your pack “Therapy × 4”: 3 sessions left after this." in html
    assert "$35,000" not in html
    assert 'name="coupon"' not in html  # nothing to discount
    assert 'id="pay-normally"' in html
    assert "Confirm booking" in html


def test_confirming_with_the_pack_books_it_without_an_invoice_and_the_balance_drops(patient_client, purchase, clinic):
    response = patient_client.post(review_url(purchase=purchase.reference.lower()), CONSENT, **EN)
    appointment = Appointment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/booking/done/{appointment.reference}/"
    assert appointment.status == AppointmentStatus.CONFIRMED
    assert appointment.pack_purchase_id == purchase.pk
    assert appointment.source == AppointmentSource.BOOKING_BOX
    assert appointment.start == datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert not Invoice.objects.exists()
    assert balances(purchase).remaining == 3
    done = patient_client.get(response["Location"], **EN).content.decode()
    assert "Booked with your pack “Therapy × 4”: 3 sessions left." in done


def test_confirming_without_the_pack_pays_as_usual(patient_client, purchase):
    response = patient_client.post(review_url(), {**CONSENT, "coupon": ""}, **EN)
    appointment = Appointment.objects.get()
    assert response.status_code == 302
    assert appointment.pack_purchase_id is None
    assert Invoice.objects.filter(lines__appointment=appointment).exists()
    assert balances(purchase).remaining == 4


def test_the_choice_of_pack_travels_through_the_steps(patient_client, purchase):
    query = {key: value for key, value in SLOT.items() if key != "start"}
    html = patient_client.get(f"/booking/date/?{urlencode({**query, 'purchase': purchase.reference})}", **EN)
    assert f"purchase={purchase.reference}" in html.content.decode()


def test_a_logged_out_visitor_with_a_pack_reference_is_sent_to_identify_with_it(client, purchase):
    response = client.get(review_url(purchase=purchase.reference), **EN)
    assert response.status_code == 302
    assert f"purchase={purchase.reference}" in response["Location"]
    assert response["Location"].startswith("/booking/identify/")


# --- refusals: clear message, nothing written --------------------------------------------------------------------


def refused(client, reference: str, message: str) -> None:
    page = client.get(review_url(purchase=reference), **EN)
    assert page.status_code == 200
    assert message in page.content.decode()
    assert 'id="confirm-booking"' not in page.content.decode()
    posted = client.post(review_url(purchase=reference), CONSENT, **EN)
    assert posted.status_code == 409
    html = posted.content.decode()
    assert 'id="pack-error"' in html and message in html
    assert "Book this session without the pack" in html
    assert nothing_booked()


def test_another_patients_pack_is_unknown(patient_client, pack):
    theirs = active_purchase(pack, patient=PatientFactory())
    refused(patient_client, theirs.reference, "That pack was not found among yours.")
    assert balances(theirs).remaining == 4


def test_a_made_up_reference_is_unknown(patient_client, purchase):
    refused(patient_client, "ZZZZZZZZ", "That pack was not found among yours.")


def test_a_malformed_reference_is_an_invalid_link(patient_client, purchase):
    response = patient_client.post(review_url(purchase="../../x"), CONSENT, **EN)
    assert response.status_code == 400
    assert "That pack reference is not valid." in response.content.decode()
    assert nothing_booked()


def test_an_expired_pack_is_refused(patient_client, pack, clinic):
    old = active_purchase(pack, patient=clinic.patient, purchased_at=datetime(2026, 8, 1, 12, tzinfo=UTC))
    refused(patient_client, old.reference, "This pack has expired.")


def test_a_pack_expiring_before_the_session_is_refused(patient_client, clinic):
    short = package_with({clinic.service: 4}, validity_days=29)  # bought 2 Nov: ends 1 Dec 12:00 UTC
    purchase = active_purchase(short, patient=clinic.patient)
    refused(patient_client, purchase.reference, "This pack has expired.")


def test_an_unpaid_pack_is_refused(patient_client, pack, clinic):
    pending = purchase_of(pack, patient=clinic.patient)
    assert pending.status == PurchaseStatus.PENDING_PAYMENT
    refused(patient_client, pending.reference, "This pack is waiting for its payment to be confirmed.")


def test_an_exhausted_pack_is_refused(patient_client, clinic):
    one = package_with({clinic.service: 1}, name="Single")
    purchase = active_purchase(one, patient=clinic.patient)
    book_from_pack(
        purchase=purchase,
        professional=clinic.ana,
        service=clinic.service,
        start=datetime(2026, 12, 2, 12, tzinfo=UTC),
        location=clinic.location,
        modality="in_person",
        source=AppointmentSource.PORTAL,
        actor=clinic.patient.user,
    )
    page = patient_client.post(review_url(purchase=purchase.reference), CONSENT, **EN)
    assert page.status_code == 409
    assert "There are no sessions left in this pack for that service." in page.content.decode()
    assert Appointment.objects.count() == 1
    assert 'id="use-my-pack"' not in patient_client.get(review_url(), **EN).content.decode()


def test_a_service_the_pack_does_not_include_is_refused(patient_client, clinic):
    other = package_with({ServiceFactory(slug="nutrition"): 4}, name="Nutrition × 4")
    purchase = active_purchase(other, patient=clinic.patient)
    refused(patient_client, purchase.reference, "The pack “Nutrition × 4” does not include “Individual therapy”.")


def test_a_professional_the_pack_does_not_allow_is_refused(patient_client, clinic):
    pack = package_with({clinic.service: 4}, name="Bruno only")
    pack.allowed_professionals.add(clinic.bruno)
    pack.save()
    purchase = active_purchase(pack, patient=clinic.patient)
    refused(patient_client, purchase.reference, "This pack cannot be used with that professional.")


def test_a_pack_used_up_in_another_tab_is_refused_at_confirmation(patient_client, clinic, monkeypatch):
    """The review showed a session left; the booking's own locked check finds none and writes nothing."""
    from booking.widget import views

    one = package_with({clinic.service: 1}, name="Single")
    purchase = active_purchase(one, patient=clinic.patient)
    monkeypatch.setattr(
        views, "_pack_to_use", lambda request, form, now: (purchase, balances(purchase).buckets[0], "")
    )
    book_from_pack(
        purchase=purchase,
        professional=clinic.ana,
        service=clinic.service,
        start=datetime(2026, 12, 2, 12, tzinfo=UTC),
        location=clinic.location,
        modality="in_person",
        source=AppointmentSource.PORTAL,
        actor=clinic.patient.user,
    )
    response = patient_client.post(review_url(purchase=purchase.reference), CONSENT, **EN)
    assert response.status_code == 409
    assert "There are no sessions left in this pack for that service." in response.content.decode()
    assert Appointment.objects.count() == 1
