"""A demo patient buys a pack from the home page's booking box and books its first session, in Chromium.

The demo is seeded (``seed_demo``: the home page's box offers the public packs) and online payments go to the local
test Stripe (``manage.py run_test_stripe``), as in ``test_demo_payments.py``: the patient picks "4 nutrition
controls", logs in inside the flow, pays on the test payment page and comes back to the pack's page once the
server's own webhook has activated the pack. From there "book your first session" leads through the normal slot
flow; the review shows one session of the pack instead of a price, and the done page the balance gone down.
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
from booking.packs.models import PackagePurchase, PurchaseStatus
from booking.packs.selectors import balances
from booking.scheduling.models import Appointment, AppointmentStatus
from tests.booking.billing.conftest import STRIPE_NOW
from tests.booking.billing.stripe_server import start_stripe_server
from website.demo import content
from website.demo.packs import PACKS
from website.settings import env as envconf

from .booking_fixtures import new_page, without_favicon
from .test_accessibility import serious_violations

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PURCHASE_URL = re.compile(r"/booking/my-packs/(?P<reference>[A-Za-z0-9]+)/")
PACK = next(pack for pack in PACKS if pack["slug"] == "pack-controles-nutricionales-4")
# Not the demo's first patient, who may already have a pack of their own.
PATIENT_EMAIL = [email for email, _first, _last, role in content.ACCOUNTS if role == "patient"][2]


def spanish(message: str) -> str:
    with translation.override("es-cl"):
        return gettext(message)


@pytest.fixture
def demo(pinned_clock):
    call_command("seed_demo", stdout=io.StringIO())


@pytest.fixture
def demo_stripe(demo, live_server, settings):
    """``make run``'s local test Stripe, with its webhooks sent to the live server (as in test_demo_payments)."""
    config = envconf.local_stripe_config({"LOCAL_STRIPE_PORT": "8421"})
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
        server.wait_idle()
    finally:
        server.stop()


def test_a_demo_patient_buys_a_pack_online_and_books_the_first_session_from_it(
    live_server, demo_stripe, browser, screenshot
):
    from .conftest import DEFAULT_TIMEOUT_MS, VIEWPORTS

    context = without_favicon(
        browser.new_context(viewport=VIEWPORTS["desktop"], locale="es-CL", timezone_id="America/Santiago")
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = new_page(context)
    violations = {}  # axe-core's serious or critical findings on each pack step
    failed = []
    page.on("response", lambda response: failed.append(response.url) if response.status == 404 else None)

    # The home page's box offers the packs; the pack's page says what it includes and how it can be paid.
    page.goto(f"{live_server.url}/")
    expect(page.locator(".booking-box .pack-card")).to_have_count(len(PACKS))
    page.locator(".booking-box-packs").scroll_into_view_if_needed()
    screenshot(page, "0-home")
    violations["0-home"] = serious_violations(page)
    page.locator(f".booking-box [data-pack='{PACK['slug']}'] a").click()
    page.wait_for_url(re.compile(rf"/booking/packs/{PACK['slug']}/"))
    expect(page.locator("#step-heading")).to_have_text(PACK["name"])
    expect(page.locator("#pack-price")).to_contain_text("79.000")
    screenshot(page, "1-pack")
    violations["1-pack"] = serious_violations(page)
    page.locator("#pack-continue").click()
    page.wait_for_url(re.compile(r"/identify/"))
    page.locator("#identify-login").click()
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.locator("input[name=login]").fill(PATIENT_EMAIL)
    page.locator("input[name=password]").fill(content.DEMO_PASSWORD)
    page.locator("input[name=password]").press("Enter")

    # Back on the pack, logged in: pay it online.
    page.wait_for_url(re.compile(rf"/booking/packs/{PACK['slug']}/"))
    page.locator("#pack-pay-online").click()
    page.wait_for_url(f"{demo_stripe.url}/checkout/**")
    expect(page.locator("#test-payment-notice")).to_contain_text(spanish("Test payment — no real card is charged"))
    purchase = PackagePurchase.objects.get(patient__user__email=PATIENT_EMAIL, package__slug=PACK["slug"])
    assert purchase.status == PurchaseStatus.PENDING_PAYMENT
    screenshot(page, "2-checkout")

    seen_before_return = []

    def after_the_webhook(route):
        redirect_back = route.fetch(max_redirects=0)
        demo_stripe.wait_for_deliveries("checkout.session.completed")
        demo_stripe.wait_idle()
        purchase.refresh_from_db()
        seen_before_return.append((purchase.status, purchase.invoice_line.invoice.status))
        route.fulfill(response=redirect_back)

    page.route(re.compile(rf"^{re.escape(demo_stripe.url)}/checkout/[^/]+/pay$"), after_the_webhook)
    page.get_by_label(spanish("Visa ending in 4242: the payment goes through")).check()
    page.locator("#pay").click()

    # The return page: the pack is active, 4 sessions left, and the way to book the first one.
    page.wait_for_url(PURCHASE_URL)
    assert PURCHASE_URL.search(page.url)["reference"] == purchase.reference
    expect(page.locator("#pack-status")).to_have_text(spanish("Active"))
    expect(page.locator("#pack-balances .pack-remaining")).to_have_attribute("data-remaining", "4")
    screenshot(page, "3-active")
    violations["3-active"] = serious_violations(page)
    page.locator(".pack-book").first.click()

    # The normal slot flow, carrying the pack.
    page.wait_for_url(re.compile(r"/booking/\?.*purchase="))
    page.locator("form:has(#id_where) [type=submit]").click()
    page.wait_for_url(re.compile(r"/booking/date/"))
    page.locator(".slot-time").first.click()
    page.wait_for_url(re.compile(r"/booking/review/"))
    expect(page.locator("#review-pack-credit")).to_be_visible()
    expect(page.locator("#review-pack-credit")).to_contain_text(PACK["name"])
    screenshot(page, "4-review")
    violations["4-review"] = serious_violations(page)
    if page.locator("#id_consent").count():
        page.locator("#id_consent").check()
    page.locator("#confirm-booking").click()

    page.wait_for_url(re.compile(r"/booking/done/"))
    expect(page.locator("#pack-balance")).to_have_attribute("data-remaining", "3")
    screenshot(page, "5-done")
    violations["5-done"] = serious_violations(page)
    context.close()

    assert seen_before_return == [(PurchaseStatus.ACTIVE, InvoiceStatus.PAID)]
    appointment = Appointment.objects.get(pack_purchase=purchase)
    assert appointment.status == AppointmentStatus.CONFIRMED
    assert not Invoice.objects.filter(lines__appointment=appointment).exists()
    assert balances(purchase).remaining == 3
    assert page.js_errors == []
    assert failed == []
    assert all(not found for found in violations.values()), violations
