"""What a first visitor met in the box (issue "First use"): empty place choices, dead ends after sign-up when
online payment is off, and the step defects. Driven with the test client at the widget conftest's pinned clock.

Assertions on new wording run in English (``HTTP_ACCEPT_LANGUAGE``): the Spanish catalogue is merged later.
"""

import re
from datetime import time
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.core import mail
from wagtail.models import Site

from booking.billing.models import Invoice, InvoiceStatus, Payment
from booking.scheduling.models import Appointment, AppointmentStatus, ProfessionalService
from portal.accounts.models import ConsentRecord
from tests.booking.billing.fakes import install_fake_gateway
from tests.factories.accounts import PatientFactory
from tests.factories.billing import CouponFactory
from tests.factories.scheduling import LocationFactory, ServiceFactory, WeeklyAvailabilityFactory
from website.models import SiteSettings

from .conftest import NOW

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
HTMX = {**EN, "HTTP_HX_REQUEST": "true"}
TUESDAY_9_UTC = "2026-12-01T12:00Z"  # 09:00 in Santiago (UTC-3)
SLOT = {"service": "therapy", "professional": "ana", "location": "providencia", "modality": "in_person"}


def url(path: str, **params) -> str:
    return f"/booking/{path}?{urlencode(params)}" if params else f"/booking/{path}"


def review_url(**overrides) -> str:
    return url("review/", **({**SLOT, "start": TUESDAY_9_UTC} | overrides))


def slot_times(html: str) -> list[str]:
    return re.findall(r'class="btn btn-outline-primary slot-time"', html)


def clinic_settings(**values) -> SiteSettings:
    row = SiteSettings.for_site(Site.objects.get(is_default_site=True))
    for name, value in values.items():
        setattr(row, name, value)
    row.save()
    return row


@pytest.fixture
def in_person_only(clinic):
    """A service only in person, offered by Ana (at Providencia) and Bruno (no location, yet weekly hours there)."""
    service = ServiceFactory(
        slug="assessment",
        name="Assessment",
        modality="in_person",
        payment_mode="clinic",
        min_notice_minutes=60,
        booking_horizon_days=60,
    )
    for professional in (clinic.ana, clinic.bruno):
        ProfessionalService.objects.create(professional=professional, service=service)
    # Bruno's hours at Providencia although he is not linked to it: the box must not offer them.
    WeeklyAvailabilityFactory(
        professional=clinic.bruno, location=clinic.location, weekday=1, start_time=time(9), end_time=time(13)
    )
    return service


# --- A. step 1 never offers an empty choice ----------------------------------------------------------------------


def test_a_professional_without_places_gets_a_clear_message_not_an_empty_select(client, in_person_only):
    clinic_settings(phone="+56 2 2345 6789")
    response = client.get(url("", service="assessment", professional="bruno"), **EN)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="no-place"' in html
    assert "Bruno Soto has no place where this service can be booked online right now." in html
    assert "+56 2 2345 6789" in html  # the clinic's contact instead
    assert 'name="where"' not in html
    assert "See available dates" not in html


def test_first_available_lists_only_professionals_and_places_that_are_possible(client, in_person_only):
    html = client.get(url("", service="assessment"), **EN).content.decode()

    assert "Ana Rojas" in html
    assert "Bruno Soto" not in html  # no place where he sees this service
    assert re.search(r'<option value="providencia" data-professionals="ana"', html)
    assert 'value="online"' not in html  # the service is not offered online
    assert "Any place" not in html  # one place only: no empty choice
    assert '<option value=""' in html  # but "first available" is still a choice of professional


def test_each_place_names_who_works_there(client, clinic):
    vina = LocationFactory(slug="vina", name="Viña")
    clinic.bruno.locations.add(vina)
    clinic.bruno.save()

    html = client.get(url("", service="therapy"), **EN).content.decode()

    assert re.search(r'<option value="providencia" data-professionals="ana"', html)
    assert re.search(r'<option value="vina" data-professionals="bruno"', html)
    assert '<option value="online"' in html


@pytest.mark.parametrize(
    "params",
    [
        {"service": "assessment", "professional": "bruno"},
        {"service": "assessment", "professional": "bruno", "where": ""},
        {"service": "assessment", "professional": "bruno", "modality": "in_person"},
    ],
    ids=["no-place", "empty-where", "in-person-anywhere"],
)
def test_an_empty_place_with_nothing_possible_is_a_400_without_times(client, in_person_only, params):
    response = client.get(url("date/", **params), **EN)

    assert response.status_code == 400
    html = response.content.decode()
    assert "This service cannot be booked online with the chosen professional right now." in html
    assert slot_times(html) == []


@pytest.mark.parametrize(
    "params",
    [
        {"service": "assessment", "professional": "bruno", "where": "providencia"},
        {"service": "assessment", "professional": "bruno", "location": "providencia"},
        {"service": "assessment", "where": "online"},
    ],
    ids=["where-not-his", "location-not-his", "online-for-in-person-service"],
)
def test_an_impossible_place_is_a_400_that_shows_step_one_again(client, in_person_only, params):
    response = client.get(url("date/", **params), **EN)

    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="place-error"' in html
    assert "Step 1 of 5" in html
    assert slot_times(html) == []


def test_htmx_gets_the_refused_place_as_a_step(client, in_person_only):
    response = client.get(url("date/", service="assessment", professional="bruno", where="providencia"), **HTMX)

    assert response.status_code == 400  # booking.js swaps 400s: a step to show
    assert 'id="booking-flow"' in response.content.decode()


def test_any_place_lists_no_time_at_a_place_the_professional_is_not_linked_to(client, in_person_only):
    response = client.get(url("date/", service="assessment", month="2026-12", day="2026-12-01"), **EN)

    assert response.status_code == 200
    html = response.content.decode()
    assert slot_times(html)  # Ana's Tuesday at Providencia
    assert "Bruno Soto" not in html


def test_review_refuses_a_place_the_professional_does_not_work_at(patient_client, in_person_only):
    response = patient_client.get(review_url(service="assessment", professional="bruno"), **EN)

    assert response.status_code == 400
    assert "That place is not available for this service with the chosen professional." in response.content.decode()


# --- B. online payment is never a dead end -----------------------------------------------------------------------


@pytest.fixture
def pays_online(clinic):
    clinic.service.payment_mode = "online"
    clinic.service.save()
    return clinic.service


def test_pay_at_clinic_fallback_is_said_at_step_one(client, pays_online):
    service_list = client.get(url(""), **EN).content.decode()
    assert "Paid at the clinic for now (online payment is not available)." in service_list

    options = client.get(url("", service="therapy"), **EN).content.decode()
    assert 'id="pay-at-clinic-notice"' in options
    assert "you can book this session now and pay at the clinic" in options
    assert 'name="where"' in options  # the visitor goes on


def test_an_empty_fallback_setting_means_paying_at_the_clinic(client, pays_online):
    clinic_settings(online_payment_fallback="")

    assert 'id="pay-at-clinic-notice"' in client.get(url("", service="therapy"), **EN).content.decode()


def test_pay_at_clinic_fallback_books_with_an_open_invoice_and_no_checkout(patient_client, pays_online):
    review = patient_client.get(review_url(), **EN).content.decode()
    assert "Paid at the clinic (online payment is not available right now)" in review
    assert "Confirm and pay" not in review
    assert "Confirm booking" in review

    response = patient_client.post(review_url(), {"consent": "on", "note": "", "coupon": ""}, **EN)

    appointment = Appointment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/booking/done/{appointment.reference}/"
    assert appointment.status == AppointmentStatus.CONFIRMED  # not held for a payment that cannot happen
    invoice = Invoice.objects.get(lines__appointment=appointment)
    assert invoice.status == InvoiceStatus.OPEN
    assert invoice.total == Decimal("35000")
    assert Payment.objects.count() == 0


def test_not_bookable_setting_stops_at_step_one_with_the_clinics_contact(client, pays_online):
    clinic_settings(online_payment_fallback="not_bookable", email="hola@clinic.test")

    service_list = client.get(url(""), **EN).content.decode()
    assert "Cannot be booked online right now: contact the clinic." in service_list

    options = client.get(url("", service="therapy"), **EN)
    html = options.content.decode()
    assert options.status_code == 200
    assert 'id="not-bookable"' in html
    assert "hola@clinic.test" in html
    assert 'name="where"' not in html and "See available dates" not in html


@pytest.mark.parametrize("step", ["date/", "identify/"])
def test_not_bookable_setting_lets_nobody_on_to_the_sign_up(client, pays_online, step):
    clinic_settings(online_payment_fallback="not_bookable")
    params = {**SLOT, "start": TUESDAY_9_UTC} if step == "identify/" else SLOT

    response = client.get(url(step, **params), **EN)

    assert response.status_code == 400
    html = response.content.decode()
    assert "this service cannot be booked online" in html
    assert 'name="email"' not in html
    assert slot_times(html) == []
    response = client.post(url("identify/", **SLOT, start=TUESDAY_9_UTC), {"email": "x@example.com"}, **EN)
    assert response.status_code == 400
    assert mail.outbox == []


def test_not_bookable_setting_books_nothing_at_review(patient_client, pays_online):
    clinic_settings(online_payment_fallback="not_bookable")

    review = patient_client.get(review_url(), **EN).content.decode()
    assert 'id="not-bookable"' in review and 'id="confirm-booking"' not in review
    patient_client.post(review_url(), {"consent": "on", "note": "", "coupon": ""}, **EN)
    assert Appointment.objects.count() == 0
    assert Invoice.objects.count() == 0


def test_with_stripe_on_the_service_is_paid_online_as_before(patient_client, pays_online, monkeypatch, settings):
    install_fake_gateway(monkeypatch, settings)
    clinic_settings(online_payment_fallback="not_bookable")  # irrelevant while online payment works

    assert 'id="pay-at-clinic-notice"' not in patient_client.get(url("", service="therapy"), **EN).content.decode()
    response = patient_client.post(review_url(), {"consent": "on", "note": "", "coupon": ""}, **EN)

    assert response.status_code == 303
    assert Appointment.objects.get().status == AppointmentStatus.PENDING_PAYMENT


@pytest.mark.parametrize(("key", "notice"), [("sk_test_abc", True), ("sk_live_abc", False)], ids=["test", "live"])
def test_the_pay_step_says_when_no_real_card_is_charged(
    patient_client, pays_online, monkeypatch, settings, key, notice
):
    install_fake_gateway(monkeypatch, settings)
    settings.STRIPE_SECRET_KEY = key
    patient_client.post(review_url(), {"consent": "on", "note": "", "coupon": ""}, **EN)
    appointment = Appointment.objects.get()

    html = patient_client.get(f"/booking/pay/{appointment.reference}/", **EN).content.decode()

    assert ('id="stripe-test-mode"' in html) is notice
    assert ("Test mode: no real card is charged." in html) is notice


# --- C. the steps' defects ---------------------------------------------------------------------------------------


def test_the_place_is_said_once_above_the_times(client, clinic):
    html = client.get(url("date/", **{**SLOT, "month": "2026-12", "day": "2026-12-01"}), **EN).content.decode()

    times = html[html.index('class="booking-times"') : html.index("</section>", html.index('class="booking-times"'))]
    assert len(slot_times(times)) > 1
    assert times.count(clinic.location.address) == 1
    assert "· Providencia</a>" not in times
    assert re.search(r'<h3 class="h6 booking-place[^"]*"[^>]*>Providencia', times)
    assert 'class="booking-time-grid list-unstyled"' in times


def test_any_place_groups_the_times_by_place(client, clinic):
    html = client.get(url("date/", service="therapy", professional="ana", day="2026-12-01"), **EN).content.decode()

    times = html[html.index('class="booking-times"') :]
    headings = re.findall(r'<h3 class="h6 booking-place[^>]*>([^<]+)', times)
    assert [heading.strip() for heading in headings] == ["Providencia", "Online (video call)"]
    assert times.count("· Providencia") == 0 and times.count("· Online") == 0


def test_first_available_shows_the_professional_on_each_time(client, clinic):
    html = client.get(url("date/", service="therapy", day="2026-12-01"), **EN).content.decode()
    times = html[html.index('class="booking-times"') :]
    assert len(slot_times(times)) == times.count('<span class="slot-professional">Ana Rojas</span>')

    chosen = client.get(url("date/", service="therapy", professional="ana", day="2026-12-01"), **EN)
    assert "slot-professional" not in chosen.content.decode()


def test_the_cancellation_policy_is_printed_once(patient_client, clinic):
    clinic_settings(booking_policy_text="Cancel up to a day before.")
    html = patient_client.get(review_url(), **EN).content.decode()

    assert html.count(clinic.service.cancellation_policy) == 1
    assert "Cancel up to a day before." not in html


# --- the discount code's "Apply" ---------------------------------------------------------------------------------


def test_apply_shows_the_discounted_price_and_redeems_nothing(patient_client, clinic):
    CouponFactory(code="WELCOME", value=Decimal("20"))

    response = patient_client.post(review_url(), {"action": "apply", "coupon": "welcome", "note": "Hi"}, **EN)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<del>$35,000</del> <strong>$28,000</strong>" in html
    assert "Code WELCOME: $7,000 off. You pay $28,000; the code is used when you confirm." in html
    assert 'value="welcome"' in html and "Hi</textarea>" in html  # what was typed stays
    assert "Please accept the privacy policy" not in html  # not a confirmation yet
    assert Appointment.objects.count() == 0 and Invoice.objects.count() == 0


def test_apply_through_htmx_swaps_the_step(patient_client, clinic):
    CouponFactory(code="WELCOME", value=Decimal("20"))

    response = patient_client.post(review_url(), {"action": "apply", "coupon": "WELCOME"}, **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and 'id="booking-flow"' in html
    assert "<strong>$28,000</strong>" in html


@pytest.mark.parametrize(
    ("coupon", "message"),
    [
        ({"code": "OTHER"}, "That discount code does not exist."),
        ({"code": "OLD", "valid_until": NOW}, "That discount code has expired."),
        ({"code": "OFF", "active": False}, "That discount code is no longer active."),
        ({"code": "FULL", "max_redemptions": 0}, "That discount code has been used as many times as allowed."),
    ],
    ids=["unknown", "expired", "inactive", "used-up"],
)
def test_apply_explains_a_code_that_does_not_work(patient_client, clinic, coupon, message):
    if coupon["code"] != "OTHER":
        CouponFactory(**coupon)
    response = patient_client.post(review_url(), {"action": "apply", "coupon": coupon["code"].lower()}, **EN)

    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert re.search(r'aria-describedby="[^"]*id_coupon_error', html)
    assert "<del>" not in html


def test_the_applied_code_is_redeemed_at_the_confirmation(patient_client, clinic):
    CouponFactory(code="WELCOME", value=Decimal("20"))

    patient_client.post(review_url(), {"consent": "on", "coupon": "WELCOME", "note": "", "action": "confirm"}, **EN)

    assert Invoice.objects.get().total == Decimal("28000")


# --- consent: asked once, and recorded ----------------------------------------------------------------------------


def test_a_patient_who_never_consented_is_asked_and_the_consent_is_recorded(patient_client, clinic):
    user = clinic.patient.user
    assert not ConsentRecord.objects.filter(user=user).exists()  # e.g. created by staff
    review = patient_client.get(review_url(), **EN).content.decode()
    assert 'name="consent"' in review

    refused = patient_client.post(review_url(), {"note": "", "coupon": ""}, **EN)
    assert "Please accept the privacy policy to book." in refused.content.decode()
    assert Appointment.objects.count() == 0

    patient_client.post(review_url(), {"consent": "on", "note": "", "coupon": ""}, **EN)

    assert Appointment.objects.count() == 1
    record = ConsentRecord.objects.get(user=user)
    assert record.document == ConsentRecord.Document.PRIVACY
    assert record.version == "unversioned"  # no privacy page chosen in the settings
    assert record.accepted_at is not None


def test_a_refused_booking_records_no_consent_either(patient_client, clinic):
    """Consent, session, invoice and code in one transaction: a code refused at the confirmation writes nothing."""
    response = patient_client.post(review_url(), {"consent": "on", "note": "", "coupon": "NOPE"}, **EN)

    assert "That discount code does not exist." in response.content.decode()
    assert Appointment.objects.count() == 0
    assert not ConsentRecord.objects.filter(user=clinic.patient.user).exists()


def test_a_patient_who_consented_is_not_asked_again(client, clinic):
    patient = PatientFactory()
    ConsentRecord.objects.create(user=patient.user, document="privacy", version="unversioned")
    client.force_login(patient.user)

    review = client.get(review_url(), **EN).content.decode()
    assert 'name="consent"' not in review
    client.post(review_url(), {"note": "", "coupon": ""}, **EN)

    assert Appointment.objects.count() == 1
    assert ConsentRecord.objects.filter(user=patient.user).count() == 1


def test_a_new_privacy_policy_version_is_asked_again(client, clinic, home_page):
    policy = home_page.add_child(instance=home_page.__class__(title="Privacy", slug="privacy"))
    policy.save_revision().publish()
    policy.refresh_from_db()
    clinic_settings(privacy_policy_page=policy)
    patient = PatientFactory()
    ConsentRecord.objects.create(user=patient.user, document="privacy", version="an-older-revision")
    client.force_login(patient.user)

    review = client.get(review_url(), **EN).content.decode()
    assert 'name="consent"' in review
    assert f'href="{policy.url}"' in review
    client.post(review_url(), {"consent": "on", "note": "", "coupon": ""}, **EN)

    assert ConsentRecord.objects.filter(user=patient.user, version=str(policy.live_revision_id)).count() == 1


def test_after_sign_up_the_review_shows_one_message_and_no_second_consent(client, clinic):
    from .test_identify import CODE_URL, IDENTIFY_URL, REVIEW_URL, signup_data, verification_code

    client.post(IDENTIFY_URL, signup_data(), **EN)
    right = client.post(CODE_URL, {"code": verification_code(mail.outbox[0])}, **EN)
    assert right["Location"] == REVIEW_URL

    html = client.get(REVIEW_URL, **EN).content.decode()

    assert html.count("alert-success") == 1
    assert "You are logged in. Check the details below and confirm your booking." in html
    assert 'name="consent"' not in html
    client.post(REVIEW_URL, {"note": "", "coupon": ""}, **EN)
    assert Appointment.objects.count() == 1
    assert ConsentRecord.objects.filter(document="privacy").count() == 1  # the sign-up's, not a second one


def test_the_site_header_is_outside_the_box(client, clinic):
    """The 44px rule is scoped to the box (#booking-flow), never to every .btn of a booking page."""
    from pathlib import Path

    from django.conf import settings

    css = (Path(settings.BASE_DIR) / "website/static/widget/booking.css").read_text()
    assert ".page-booking .btn" not in css
    assert "#booking-flow .btn" in css


# --- the pay step when the gateway is down -----------------------------------------------------------------------


def held(patient_client) -> tuple[Appointment, str]:
    patient_client.post(review_url(), {"consent": "on", "note": "", "coupon": ""}, **EN)
    appointment = Appointment.objects.get()
    assert appointment.status == AppointmentStatus.PENDING_PAYMENT
    return appointment, f"/booking/pay/{appointment.reference}/"


def test_a_gateway_down_at_the_pay_step_offers_paying_at_the_clinic(
    patient_client, pays_online, monkeypatch, settings
):
    gateway = install_fake_gateway(monkeypatch, settings)
    appointment, pay_url = held(patient_client)
    assert 'id="pay-at-clinic"' not in patient_client.get(pay_url, **EN).content.decode()  # Stripe works
    gateway.fail_on("create_checkout_session")

    failed = patient_client.post(pay_url, {"action": "pay"}, **EN)

    html = failed.content.decode()
    assert "The payment provider could not be reached." in html
    assert 'id="pay-at-clinic"' in html
    booked = patient_client.post(pay_url, {"action": "pay_at_clinic"}, **EN)
    assert booked.status_code == 303
    assert booked["Location"] == f"/booking/done/{appointment.reference}/"
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED
    assert appointment.hold_expires_at is None
    invoice = Invoice.objects.get(lines__appointment=appointment)
    assert invoice.status == InvoiceStatus.OPEN  # to be paid at the clinic
    assert not Payment.objects.filter(invoice=invoice, status="pending").exists()


def test_stripe_switched_off_while_held_offers_paying_at_the_clinic(
    patient_client, pays_online, monkeypatch, settings
):
    install_fake_gateway(monkeypatch, settings)
    appointment, pay_url = held(patient_client)
    settings.STRIPE_ENABLED = False

    assert 'id="pay-at-clinic"' in patient_client.get(pay_url, **EN).content.decode()


@pytest.mark.parametrize("case", ["gateway-works", "clinic-refuses"])
def test_paying_at_the_clinic_instead_is_refused_otherwise(patient_client, pays_online, monkeypatch, settings, case):
    gateway = install_fake_gateway(monkeypatch, settings)
    appointment, pay_url = held(patient_client)
    if case == "clinic-refuses":
        clinic_settings(online_payment_fallback="not_bookable")
        gateway.fail_on("create_checkout_session")
        failed = patient_client.post(pay_url, {"action": "pay"}, **EN).content.decode()
        assert 'id="pay-at-clinic"' not in failed

    response = patient_client.post(pay_url, {"action": "pay_at_clinic"}, **EN)

    assert response.status_code == 400
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.PENDING_PAYMENT
