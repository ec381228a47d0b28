"""The main pages fit a phone: no sideways scroll at 375 px, and the invoice list keeps its status and action.

375 px is the narrowest phone still common (iPhone SE/mini). Selectors are classes and ids, not words: the pages
are in Spanish and new strings may not be translated yet.
"""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from .booking_fixtures import new_page, without_favicon
from .public_site_fixtures import make_held_invoice, public_site  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PHONE = {"width": 375, "height": 812}


def sideways_overflow(page) -> int:
    """How many pixels the document is wider than the window (0 when nothing scrolls sideways)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def test_no_main_page_scrolls_sideways_on_a_phone(live_server, page, public_site, screenshot):  # noqa: F811
    without_favicon(page.context)
    page.set_viewport_size(PHONE)
    overflowing = {}
    for name, path in public_site.pages.items():
        response = page.goto(live_server.url + path)
        assert response is not None and response.status == 200, (name, path)
        if overflow := sideways_overflow(page):
            overflowing[name] = overflow
            screenshot(page, f"overflow-{name}")
        elif name in ("home", "service", "profile"):
            screenshot(page, name)
            page.set_viewport_size(PHONE)

    assert overflowing == {}


def test_the_booking_button_shows_in_the_header_on_a_phone(live_server, page, public_site):  # noqa: F811
    without_favicon(page.context)
    page.set_viewport_size(PHONE)
    page.goto(live_server.url + "/")

    book = page.locator("header a.header-book")
    expect(book).to_be_visible()  # the menu is collapsed: the button is outside it
    expect(page.locator("#site-nav")).to_be_hidden()
    box = book.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    expect(page.locator(".hero a.hero-book")).to_be_visible()


def test_the_invoice_list_fits_a_phone_with_its_status_and_action(
    live_server,
    public_site,  # noqa: F811
    logged_in_context,
    screenshot,
):
    context = without_favicon(logged_in_context(public_site.patient.user))
    page = new_page(context)
    page.set_viewport_size(PHONE)
    detail = reverse("portal:invoice_detail", args=[public_site.invoice.reference])
    for path in [*public_site.portal_pages.values(), detail]:
        page.goto(live_server.url + path)
        assert sideways_overflow(page) == 0, path

    page.goto(live_server.url + public_site.portal_pages["invoices"])
    row = page.locator("#invoice-list tbody tr").first
    expect(row).to_be_visible()
    screenshot(page, "invoices")
    page.set_viewport_size(PHONE)
    for element in (row.locator(".badge"), row.locator("a.btn")):
        expect(element).to_be_visible()
        box = element.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    assert row.locator("a.btn").get_attribute("href").endswith(f"/{public_site.invoice.reference}/")
    assert page.js_errors == []
