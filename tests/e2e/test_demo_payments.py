"""The demo clinic takes an online payment end to end, as after ``make run``, in Chromium.

The demo is seeded (``seed_demo``) and its online payments go to the local test Stripe started through its
management command (``manage.py run_test_stripe``), configured the way ``make run`` configures the site: the
development settings' test keys and webhook secret, and webhooks sent by the command itself to the site's
``/billing/stripe/webhook/``. A demo patient books a service paid online from the booking box, logs in inside
the flow, pays on the test payment page (a declined test card first, then one that pays) and comes back to the
paid page, once the webhook has confirmed the session.

This test is about the demo, so it reads the demo's content; like every test it pins the clock.
"""

import io
import re

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from booking.billing.models import Invoice, InvoiceStatus
from booking.scheduling.models import Appointment, AppointmentStatus
from tests.booking.billing.conftest import STRIPE_NOW
from tests.booking.billing.stripe_server import start_stripe_server
from website.demo import content
from website.settings import env as envconf

from .booking_fixtures import new_page, without_favicon

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PAY_URL = re.compile(r"/booking/pay/(?P<reference>[A-Za-z0-9-]+)/")
ONLINE_SERVICE = next(service for service in content.SERVICES if service["payment_mode"] == "online")
PATIENT_EMAIL = next(email for email, _first, _last, role in content.ACCOUNTS if role == "patient")


def spanish(message: str) -> str:
    """``message`` as the Chilean Spanish page shows it (English while the catalogue lacks it)."""
    with translation.override("es-cl"):
        return gettext(message)


@pytest.fixture
def demo(pinned_clock):
    """The demo clinic, seeded at the pinned moment."""
    call_command("seed_demo", stdout=io.StringIO())


@pytest.fixture
def demo_stripe(demo, live_server, settings):
    """``make run``'s local test Stripe, through its management command, and the site pointed at it."""
    config = envconf.local_stripe_config({"LOCAL_STRIPE_PORT": "8420"})  # the keys make run's settings use
    webhook_url = live_server.url + reverse("billing:stripe_webhook")
    server = start_stripe_server(
        "--webhook-url",
        webhook_url,
        "--clinic-name",
        content.CLINIC["clinic_name"],
        env={"STRIPE_WEBHOOK_SECRET": config["STRIPE_WEBHOOK_SECRET"]},
    )
    server.webhook_url = webhook_url
    server.set_clock(STRIPE_NOW)
    for name, value in config.items():
        setattr(settings, name, value)
    settings.STRIPE_API_BASE = server.url
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    yield server
    try:
        server.wait_idle()  # a webhook answered after the test's database is flushed would write into the next test's
    finally:
        server.stop()


def test_a_demo_patient_pays_online_on_the_local_test_server_and_the_webhook_confirms(
    live_server, demo_stripe, browser, screenshot
):
    from .conftest import DEFAULT_TIMEOUT_MS, VIEWPORTS

    context = without_favicon(
        browser.new_context(viewport=VIEWPORTS["desktop"], locale="es-CL", timezone_id="America/Santiago")
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = new_page(context)
    failed = []
    page.on("response", lambda response: failed.append(response.url) if response.status == 404 else None)

    # The booking box: a service paid online, the first free time, then "already a patient? log in".
    page.goto(f"{live_server.url}{reverse('widget:start')}")
    page.locator(f"a[href*='service={ONLINE_SERVICE['slug']}']").first.click()
    page.locator("form:has(#id_where) [type=submit]").click()
    page.wait_for_url(re.compile(r"/booking/date/"))
    screenshot(page, "1-date")
    page.locator(".slot-time").first.click()
    page.wait_for_url(re.compile(r"/booking/identify/"))
    page.locator("#identify-login").click()
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.locator("input[name=login]").fill(PATIENT_EMAIL)
    page.locator("input[name=password]").fill(content.DEMO_PASSWORD)
    page.locator("input[name=password]").press("Enter")

    page.wait_for_url(re.compile(r"/booking/review/"))
    screenshot(page, "2-review")
    page.locator("#id_consent").check()
    page.locator("#confirm-booking").click()
    page.wait_for_url(PAY_URL)
    reference = PAY_URL.search(page.url)["reference"]
    screenshot(page, "3-pay")
    page.locator("#pay-now").click()

    # The local server's payment page: the clinic's name and look, and a test payment, said first.
    page.wait_for_url(f"{demo_stripe.url}/checkout/**")
    expect(page.locator("html")).to_have_attribute("lang", "es-cl")
    expect(page.locator("#test-payment-notice")).to_contain_text(spanish("Test payment — no real card is charged"))
    expect(page.locator("header")).to_contain_text(content.CLINIC["clinic_name"])
    assert page.evaluate("getComputedStyle(document.querySelector('#pay')).borderRadius") != "0px"  # the site's CSS
    screenshot(page, "4-test-checkout")

    page.get_by_label(spanish("Card ending in 0341: the bank declines it")).check()
    page.locator("#pay").click()
    expect(page.locator("#card-declined")).to_be_visible()
    screenshot(page, "5-declined")
    held = Appointment.objects.get(reference=reference)
    assert held.status == AppointmentStatus.PENDING_PAYMENT

    # The card that pays. The return to the site waits for the webhook (see test_booking's online test), so the
    # test sees the command's own webhook confirm the session.
    seen_before_return = []

    def after_the_webhook(route):
        redirect_back = route.fetch(max_redirects=0)
        demo_stripe.wait_for_deliveries("checkout.session.completed")
        demo_stripe.wait_idle()
        held.refresh_from_db()
        seen_before_return.append((held.status, Invoice.objects.get(lines__appointment=held).status))
        route.fulfill(response=redirect_back)

    page.route(re.compile(rf"^{re.escape(demo_stripe.url)}/checkout/[^/]+/pay$"), after_the_webhook)
    page.get_by_label(spanish("Visa ending in 4242: the payment goes through")).check()
    page.locator("#pay").click()

    page.wait_for_url(re.compile(re.escape(reverse("billing:checkout_success"))))
    expect(page.get_by_role("heading", level=1)).to_have_text(spanish("Payment received"))
    screenshot(page, "6-paid")
    context.close()

    assert seen_before_return == [(AppointmentStatus.CONFIRMED, InvoiceStatus.PAID)]
    completed = demo_stripe.wait_for_deliveries("checkout.session.completed")
    assert {(d["url"], d["status"]) for d in completed} == {(demo_stripe.webhook_url, 200)}
    assert held.patient.user.email == PATIENT_EMAIL
    assert page.js_errors == []
    assert failed == []
