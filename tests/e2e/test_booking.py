"""The booking box end to end in Chromium: sign up inside the flow, pay online, lose a race for a time.

Each step is photographed at phone and desktop width (``screenshot``) into tests/e2e/screenshots/, so anyone can
look at the whole flow. Steps may swap in place (htmx), so the tests wait on the address or on the step heading
``h1#step-heading``, never on a page load, and select by ids, names and classes, not by words: the pages are
in Spanish and new strings may not be translated yet. Where words matter they are computed with gettext in the
page's language.

The database is read only once the browser is done with its requests (see ``booking_fixtures``).
"""

import re
from urllib.parse import urlencode

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from booking.billing.models import Invoice, InvoiceStatus
from booking.scheduling.models import Appointment, AppointmentStatus
from booking.widget.forms import format_start
from portal.accounts.models import User

from .booking_fixtures import FIRST_FREE_TIME, new_page, verification_code, without_favicon

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

HEADING = "h1#step-heading"
DONE_URL = re.compile(r"/booking/done/(?P<reference>[A-Za-z0-9-]+)/")
PAY_URL = re.compile(r"/booking/pay/(?P<reference>[A-Za-z0-9-]+)/")
NEXT_FREE_TIME = FIRST_FREE_TIME.replace(hour=10)  # after a 50-minute session at 09:00 and its 10-minute break


def spanish(message: str) -> str:
    """``message`` as a visitor whose browser asks for Chilean Spanish reads it (English while untranslated)."""
    with translation.override("es-cl"):
        return gettext(message)


def choose_the_first_free_time(page, screenshot) -> None:
    """Steps 1 and 2 from the service's step 1: "first available" at the only place, then the first free time.

    Checks on the way that the step is swapped in place, that the month marks the pinned Tuesday as the first
    free day and that its first time is 09:00 in Santiago.
    """
    options = page.locator("form:has(#id_where)")
    expect(options).to_be_visible()
    expect(page.locator(HEADING)).to_be_visible()
    screenshot(page, "2-options")
    page.evaluate("window.sameDocument = true")
    options.locator("[type=submit]").click()

    # htmx swaps the step in place (the same document) and moves the focus to its heading for screen readers.
    page.wait_for_url(re.compile(r"/booking/date/"))
    expect(page.locator(HEADING)).to_be_focused()
    assert page.evaluate("window.sameDocument") is True
    chosen_day = page.locator(".day-free[aria-current=date]")
    expect(chosen_day).to_have_text(str(FIRST_FREE_TIME.day))
    first_time = page.locator(".slot-time").first
    expect(first_time).to_contain_text(f"{FIRST_FREE_TIME:%H:%M}")
    screenshot(page, "3-date")
    first_time.click()


def review_url(clinic) -> str:
    query = {
        "service": clinic.at_clinic.slug,
        "professional": clinic.professional.slug,
        "location": clinic.location.slug,
        "modality": "in_person",
        "start": format_start(FIRST_FREE_TIME),
    }
    return f"{reverse('widget:review')}?{urlencode(query)}"


def confirm(page) -> None:
    """Tick the consent box (asked only of a patient who has not accepted the privacy policy yet) and confirm
    with the keyboard alone, as a visitor without a mouse does."""
    consent = page.locator("#id_consent")
    if consent.count():
        consent.focus()
        page.keyboard.press("Space")
        expect(consent).to_be_checked()
    page.locator("#confirm-booking").focus()
    page.keyboard.press("Enter")


def test_visitor_signs_up_in_the_flow_and_books_a_session_paid_at_the_clinic(
    live_server, page, booking_clinic, screenshot
):
    without_favicon(page.context)
    page.goto(live_server.url + booking_clinic.home_url)
    box = page.locator(".booking-box")
    expect(box).to_be_visible()
    screenshot(page, "1-box")
    box.locator(f"a[href*='service={booking_clinic.at_clinic.slug}']").first.click()
    page.wait_for_url(re.compile(rf"/booking/\?.*service={booking_clinic.at_clinic.slug}"))

    choose_the_first_free_time(page, screenshot)

    # Not logged in: the review sends the visitor to identify themselves, keeping the chosen time.
    page.wait_for_url(re.compile(r"/booking/identify/\?.*start="))
    expect(page.locator(HEADING)).to_be_visible()
    email = "valentina.munoz@example.com"
    page.locator("input[name=first_name]").fill("Valentina")
    page.locator("input[name=last_name]").fill("Muñoz")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=phone]").fill("+56 9 8765 4321")
    page.locator("input[name=accept_privacy]").check()
    page.locator("input[name=accept_terms]").check()
    screenshot(page, "4-identify")
    page.locator("#identify-submit").click()

    # A new email: allauth asks for the code it has just sent.
    code_input = page.locator("input[name=code]")
    expect(code_input).to_be_visible()
    screenshot(page, "5-code")
    assert not Appointment.objects.exists()  # nothing is booked for an address not verified yet
    code_input.fill(verification_code(email))
    code_input.press("Enter")

    page.wait_for_url(re.compile(r"/booking/review/\?.*start="))
    expect(page.locator("#confirm-booking")).to_be_visible()
    # The consent given at sign-up is not asked again, and the sign-up's notes are one message.
    expect(page.locator("#id_consent")).to_have_count(0)
    expect(page.locator(".alert-success")).to_have_count(1)
    screenshot(page, "6-review")
    confirm(page)

    page.wait_for_url(DONE_URL)
    reference = DONE_URL.search(page.url)["reference"]
    expect(page.locator(HEADING)).to_be_visible()
    expect(page.locator("main")).to_contain_text(reference)
    screenshot(page, "7-done")
    assert page.js_errors == []

    visitor = User.objects.get(email=email)
    appointment = Appointment.objects.select_related("patient__user").get(reference=reference)
    assert appointment.patient.user == visitor
    assert (appointment.service, appointment.professional, appointment.location) == (
        booking_clinic.at_clinic,
        booking_clinic.professional,
        booking_clinic.location,
    )
    assert appointment.start == FIRST_FREE_TIME
    assert appointment.status == AppointmentStatus.CONFIRMED
    invoice = Invoice.objects.get(lines__appointment=appointment)
    assert invoice.status == InvoiceStatus.OPEN
    confirmations = [message for message in mail.outbox if reference in message.subject]
    assert [message.to for message in confirmations] == [[email]]


def test_patient_pays_online_on_stripe_and_the_webhook_confirms_the_session(
    live_server, booking_clinic, stripe_live, stripe_clock, make_patient, logged_in_context, screenshot
):
    patient = make_patient("tomas.araya@example.com", "Tomás")
    page = new_page(logged_in_context(patient.user))
    page.goto(f"{live_server.url}{reverse('widget:start')}?service={booking_clinic.online.slug}")

    choose_the_first_free_time(page, screenshot)

    page.wait_for_url(re.compile(r"/booking/review/\?.*start="))
    expect(page.locator("#confirm-booking")).to_be_visible()
    screenshot(page, "4-review")
    confirm(page)

    # The time is held while the patient pays, and the pay step counts the minutes down.
    page.wait_for_url(PAY_URL)
    reference = PAY_URL.search(page.url)["reference"]
    pay_now = page.locator("#pay-now")
    expect(pay_now).to_be_visible()
    clock = page.locator("#hold [data-countdown-clock]")
    expect(clock).to_have_text(re.compile(r"^1[45]:\d\d$"))  # about 15 minutes left
    expect(clock).not_to_have_text(clock.inner_text())  # and it ticks
    screenshot(page, "5-pay")
    held = Appointment.objects.get(reference=reference)
    assert (held.patient, held.status, held.start) == (patient, AppointmentStatus.PENDING_PAYMENT, FIRST_FREE_TIME)
    assert held.hold_expires_at is not None

    pay_now.click()
    page.wait_for_url(f"{stripe_live.url}/checkout/**")
    screenshot(page, "6-stripe")

    # Stripe sends the webhook and the patient back at the same moment. Stripe's answer to "Pay" (the redirect
    # back) is held until the webhook has been answered: so the test sees the webhook confirm the session (the
    # return page would confirm it too, from Stripe's answer), and, on SQLite, the live server's two requests
    # never share its one connection at once. (A redirect's second request cannot be routed, so the hold is on
    # the request to Stripe.)
    seen_before_return = []

    def after_the_webhook(route):
        redirect_back = route.fetch(max_redirects=0)
        stripe_live.wait_for_deliveries("checkout.session.completed")
        stripe_live.wait_idle()
        held.refresh_from_db()
        seen_before_return.append((held.status, Invoice.objects.get(lines__appointment=held).status))
        route.fulfill(response=redirect_back)

    page.route(re.compile(rf"^{re.escape(stripe_live.url)}/checkout/[^/]+/pay$"), after_the_webhook)
    page.locator("#pay").click()  # the test card that pays is chosen by default

    success_url = re.compile(re.escape(reverse("billing:checkout_success")))
    page.wait_for_url(success_url)
    expect(page.get_by_role("heading", level=1)).to_have_text(spanish("Payment received"))
    screenshot(page, "7-paid")
    assert page.js_errors == []
    assert seen_before_return == [(AppointmentStatus.CONFIRMED, InvoiceStatus.PAID)]
    answers = [(delivery["type"], delivery["status"]) for delivery in stripe_live.wait_for_deliveries()]
    assert ("checkout.session.completed", 200) in answers


def test_two_patients_race_for_one_time_and_the_loser_is_offered_the_nearest(
    live_server, booking_clinic, make_patient, logged_in_context, screenshot
):
    first = make_patient("isidora.perez@example.com", "Isidora")
    second = make_patient("matias.gonzalez@example.com", "Matías")
    winner = new_page(logged_in_context(first.user))
    loser = new_page(logged_in_context(second.user))
    url = live_server.url + review_url(booking_clinic)

    for racer in (winner, loser):
        racer.goto(url)
        expect(racer.locator("#confirm-booking")).to_be_visible()
    screenshot(loser, "1-review")

    confirm(winner)
    winner.wait_for_url(DONE_URL)
    reference = DONE_URL.search(winner.url)["reference"]

    confirm(loser)
    taken = loser.locator("#slot-taken")
    expect(taken).to_be_visible()
    alternatives = taken.locator(".slot-time")
    expect(alternatives.first).to_be_visible()
    screenshot(loser, "2-taken")
    taken_start = format_start(FIRST_FREE_TIME)
    for href in alternatives.evaluate_all("links => links.map(link => link.href)"):
        assert taken_start not in href, href

    # The nearest free time is one click away from booking again.
    alternatives.first.click()
    next_start = urlencode({"start": format_start(NEXT_FREE_TIME)})
    loser.wait_for_url(re.compile(rf"/booking/review/\?.*{re.escape(next_start)}"))
    expect(loser.locator("#confirm-booking")).to_be_visible()
    assert winner.js_errors == [] and loser.js_errors == []

    booked = Appointment.objects.filter(start=FIRST_FREE_TIME).exclude(status=AppointmentStatus.CANCELLED)
    assert list(booked.values_list("reference", "patient")) == [(reference, first.pk)]
    assert not Appointment.objects.filter(patient=second).exists()
    assert not Invoice.objects.filter(patient=second).exists()
