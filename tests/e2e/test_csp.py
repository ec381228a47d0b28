"""The Content-Security-Policy in Chromium: the pages the site serves run under it without one refusal.

The header tests (tests/website/test_csp.py) say what the policy is; only a browser says whether the pages pass
it. Every frame of every page reports each refusal as a ``securitypolicyviolation`` event (caught by a script the
browser injects itself, which the policy does not govern) and Chromium also logs it to the console; both are
collected, and none may occur: on the main pages, the portal, the booking steps while htmx swaps them, the
embed inside a partner's page, and Wagtail's admin.
"""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.factories.scheduling import SuperuserFactory

from .booking_fixtures import new_page, without_favicon
from .public_site_fixtures import make_held_invoice, public_site  # noqa: F401  (fixtures)
from .test_embed import allow_origins, partner_site, script_tag  # noqa: F401  (partner_site is a fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

HEADING = "h1#step-heading"
MARK = "csp-violation:"
#: Runs in every frame before the page's own scripts; injected by the browser, so the policy does not apply to it.
LISTENER = f"""
document.addEventListener("securitypolicyviolation", (event) => {{
  console.error("{MARK} " + [event.violatedDirective, event.blockedURI, event.sourceFile,
                                event.lineNumber, event.sample].join(" | "));
}});
"""


def watch(page) -> list[str]:
    """Collect the page's (and its frames') policy refusals on the returned list."""
    refusals: list[str] = []
    page.context.add_init_script(LISTENER)

    def on_console(message):
        text = message.text
        if MARK in text or "Content Security Policy" in text:
            refusals.append(f"{page.url}: {text}")

    page.on("console", on_console)
    return refusals


def visit(page, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)
    assert "content-security-policy" in response.headers, url  # Playwright lowercases the names
    page.wait_for_load_state("load")


def test_the_main_pages_and_the_portal_run_under_the_policy(
    live_server,
    page,
    public_site,  # noqa: F811
    logged_in_context,
):
    without_favicon(page.context)
    refusals = watch(page)
    for path in public_site.pages.values():
        visit(page, live_server.url + path)

    patient_page = new_page(logged_in_context(public_site.patient.user))
    patient_refusals = watch(patient_page)
    for path in public_site.portal_pages.values():
        visit(patient_page, live_server.url + path)
    visit(patient_page, live_server.url + reverse("portal:invoice_detail", args=[public_site.invoice.reference]))

    assert refusals == [] and patient_refusals == []
    assert page.js_errors == [] and patient_page.js_errors == []

    # The watch sees a refusal when there is one: an image from elsewhere, added the way an injection would.
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<img src=\"https://tracker.invalid/p.png\">')")
    page.wait_for_timeout(500)
    assert any("img-src" in refusal and "tracker.invalid" in refusal for refusal in refusals), refusals


def test_the_booking_steps_swap_with_htmx_under_the_policy(live_server, page, booking_clinic):
    without_favicon(page.context)
    refusals = watch(page)
    visit(page, live_server.url + booking_clinic.home_url)
    page.locator(".booking-box").locator(f"a[href*='service={booking_clinic.at_clinic.slug}']").first.click()
    page.wait_for_url(re.compile(rf"/booking/\?.*service={booking_clinic.at_clinic.slug}"))
    options = page.locator("form:has(#id_where)")
    expect(options).to_be_visible()

    # htmx (loaded with the nonce) swaps the step in place: the same document, the focus on the new heading.
    page.evaluate("window.sameDocument = true")
    options.locator("[type=submit]").click()
    page.wait_for_url(re.compile(r"/booking/date/"))
    expect(page.locator(HEADING)).to_be_focused()
    assert page.evaluate("window.sameDocument") is True
    assert page.evaluate("htmx.config.inlineStyleNonce") != "", "htmx's indicator style carries the nonce"
    page.locator(".slot-time").first.click()
    page.wait_for_url(re.compile(r"/booking/identify/"))
    expect(page.locator(HEADING)).to_be_visible()

    assert refusals == []
    assert page.js_errors == []


def test_the_embed_runs_under_the_policy_inside_an_allowed_partners_page(
    live_server,
    page,
    booking_clinic,
    partner_site,  # noqa: F811
):
    refusals = watch(page)
    allow_origins(partner_site.origin)
    page.goto(partner_site.publish("/reservas.html", script_tag(live_server)))
    box = page.frame_locator("iframe.clinic-booking-frame")
    service_link = box.locator("a[href*='service=terapia-individual']")
    expect(service_link).to_be_visible()  # frame-ancestors lets the partner show it

    service_link.click()
    expect(box.locator("#id_where")).to_be_visible()

    assert refusals == []
    assert page.js_errors == []


def test_wagtails_admin_runs_under_its_policy(live_server, page, home_page, logged_in_context):
    without_favicon(page.context)
    refusals = watch(page)
    response = page.goto(live_server.url + "/admin/login/")  # sent on to the site's own login page
    assert response is not None and response.status == 200
    expect(page.locator("input[name=login]")).to_be_visible()

    admin_page = new_page(logged_in_context(SuperuserFactory(email="editora@clinic.example")))
    admin_refusals = watch(admin_page)
    for path in ("/admin/", "/admin/pages/", "/admin/images/"):
        visit(admin_page, live_server.url + path)
    expect(admin_page.locator("#wagtail-sidebar")).to_be_attached()
    # An editor on the public site gets Wagtail's user bar (its scripts are the site's own) under the strict policy.
    visit(admin_page, live_server.url + "/")
    expect(admin_page.locator("wagtail-userbar")).to_be_attached()
    admin_page.locator("wagtail-userbar").locator("[data-wagtail-userbar-trigger]").click()

    assert refusals == [] and admin_refusals == []
    assert page.js_errors == [] and admin_page.js_errors == []
