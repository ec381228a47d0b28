"""A patient in the portal, in Chromium: moves a session to another time, cancels another and reads the refund
before confirming, and pays an open invoice on Stripe's Checkout (the local fake Stripe with our Checkout shim).

The clinic is ``booking_clinic``'s: the clock runs from Friday 20 November 2026, 09:00 in Santiago; Ana Rojas works
on Tuesdays 09:00-13:00 at Providencia; "Terapia individual" (35.000 CLP) is paid at the clinic.
"""

import re
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from booking.billing import services as billing
from booking.billing.models import Invoice, InvoiceStatus, Refund
from booking.scheduling import services as scheduling
from booking.scheduling.models import Appointment, AppointmentStatus
from portal.accounts.models import User

from .booking_fixtures import new_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SANTIAGO = ZoneInfo("America/Santiago")
TUESDAY_24_9 = datetime(2026, 11, 24, 9, 0, tzinfo=SANTIAGO)
TUESDAY_1_9 = datetime(2026, 12, 1, 9, 0, tzinfo=SANTIAGO)


def spanish(message: str) -> str:
    with translation.override("es-cl"):
        return gettext(message)


@pytest.fixture
def two_sessions(booking_clinic, make_patient):
    """A patient with two sessions of the at-clinic service: the first owed, the second paid in cash at the desk."""
    patient = make_patient("camila.soto@example.com", "Camila")
    desk = User.objects.create_superuser(email="recepcion@example.com", password="x")
    sessions = []
    for start in (TUESDAY_24_9, TUESDAY_1_9):
        appointment = scheduling.book_appointment(
            patient=patient,
            professional=booking_clinic.professional,
            service=booking_clinic.at_clinic,
            start=start,
            location=booking_clinic.location,
            modality="in_person",
            source="portal",
            actor=patient.user,
        )
        billing.create_invoice_for_appointment(appointment=appointment, actor=patient.user)
        sessions.append(appointment)
    paid_invoice = Invoice.objects.get(lines__appointment=sessions[1])
    billing.record_offline_payment(invoice=paid_invoice, method="cash", amount=paid_invoice.total, actor=desk)
    return patient, sessions


def test_the_patient_moves_one_session_and_cancels_the_other_seeing_the_refund_first(
    live_server, two_sessions, logged_in_context, screenshot
):
    patient, (owed, paid) = two_sessions
    page = new_page(logged_in_context(patient.user))
    page.goto(f"{live_server.url}{reverse('portal:home')}")
    page.get_by_role("link", name=spanish("Sessions"), exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(spanish("My sessions"))
    screenshot(page, "1-sessions")

    # move the first session to 10:00 the same Tuesday
    page.locator("#upcoming-sessions li").first.get_by_role("link", name=re.compile(spanish("Details"))).click()
    page.get_by_role("link", name=spanish("Change the time")).click()
    expect(page.locator("#new-times")).to_be_visible()
    screenshot(page, "2-reschedule")
    page.get_by_role("button", name="10:00", exact=True).click()
    expect(page.locator(".alert-success, .alert.alert-success").first).to_contain_text("10:00")
    moved = Appointment.objects.get(pk=owed.pk)
    assert (moved.start, moved.reschedule_count) == (TUESDAY_24_9 + timedelta(hours=1), 1)

    # cancel the paid one: the page says the refund before the button
    page.goto(f"{live_server.url}{reverse('portal:session_detail', args=[paid.reference])}")
    page.get_by_role("link", name=spanish("Cancel"), exact=True).click()
    outcome = page.locator("#cancel-outcome")
    expect(outcome).to_contain_text("35.000")
    screenshot(page, "3-cancel")
    assert Appointment.objects.get(pk=paid.pk).status == AppointmentStatus.CONFIRMED
    page.get_by_role("button", name=spanish("Cancel this session")).click()
    expect(page.locator("#session-status")).to_contain_text(spanish("Cancelled"))
    assert Appointment.objects.get(pk=paid.pk).status == AppointmentStatus.CANCELLED
    assert [refund.amount for refund in Refund.objects.all()] == [Decimal("35000")]
    assert page.js_errors == []


def test_the_patient_pays_an_open_invoice_from_the_session_on_stripe(
    live_server, two_sessions, stripe_live, stripe_clock, logged_in_context, screenshot
):
    patient, (owed, _paid) = two_sessions
    page = new_page(logged_in_context(patient.user))
    page.goto(f"{live_server.url}{reverse('portal:session_detail', args=[owed.reference])}")
    page.locator("#session-actions").get_by_role("link", name=spanish("Pay"), exact=True).click()
    page.get_by_role("button", name=spanish("Pay online")).click()
    page.wait_for_url(f"{stripe_live.url}/checkout/**")
    screenshot(page, "4-stripe")

    def after_the_webhook(route):  # see test_booking: the patient comes back once the webhook was answered
        redirect_back = route.fetch(max_redirects=0)
        stripe_live.wait_for_deliveries("checkout.session.completed")
        stripe_live.wait_idle()
        route.fulfill(response=redirect_back)

    page.route(re.compile(rf"^{re.escape(stripe_live.url)}/checkout/[^/]+/pay$"), after_the_webhook)
    page.locator("#pay").click()
    page.wait_for_url(re.compile(re.escape(reverse("billing:checkout_success"))))
    expect(page.get_by_role("heading", level=1)).to_have_text(spanish("Payment received"))
    assert Invoice.objects.get(lines__appointment=owed).status == InvoiceStatus.PAID
    assert page.js_errors == []
