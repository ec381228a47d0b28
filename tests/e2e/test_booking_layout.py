"""The booking steps' layout in Chromium: measured, not looked at (issue "First use").

- The box's 44px target size stays inside the box: the site header's buttons on a booking page are as tall as on
  any other page, and a small button inside the box ("Next month") keeps its text in the middle.
- On a phone (375px) a day's many times sit in a grid of three or four a row, not one long column.

The clinic is ``booking_fixtures``'s (Ana at Providencia on Tuesdays), with a longer Tuesday so the day has many
times. Selectors are ids and classes: the pages are in Spanish.
"""

import re
from datetime import time
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.factories.scheduling import WeeklyAvailabilityFactory

from .booking_fixtures import FIRST_FREE_TIME, without_favicon

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

PHONE = {"width": 375, "height": 812}


def date_step_url(live_server, clinic, **extra) -> str:
    query = {
        "service": clinic.at_clinic.slug,
        "professional": clinic.professional.slug,
        "location": clinic.location.slug,
        "modality": "in_person",
        "day": f"{FIRST_FREE_TIME:%Y-%m-%d}",
        **extra,
    }
    return f"{live_server.url}{reverse('widget:date')}?{urlencode(query)}"


def header_button_heights(page) -> list[float]:
    """The header's own buttons (its "Book a session" link is left out: the booking steps hide it on purpose)."""
    return page.eval_on_selector_all(
        "header .btn:not(.header-book)", "buttons => buttons.map(button => button.getBoundingClientRect().height)"
    )


def test_the_box_button_rule_stays_in_the_box_and_centres_small_buttons(live_server, page, booking_clinic, screenshot):
    without_favicon(page.context)
    page.goto(live_server.url + booking_clinic.home_url)
    expect(page.locator("header .btn").first).to_be_visible()
    elsewhere = header_button_heights(page)

    page.goto(date_step_url(live_server, booking_clinic))
    expect(page.locator("h1#step-heading")).to_be_visible()
    screenshot(page, "date")

    on_booking_page = header_button_heights(page)
    assert on_booking_page == elsewhere  # the header is not the box: no 44px there
    assert all(height < 44 for height in on_booking_page if height), on_booking_page
    next_month = page.locator(".booking-month a.btn-sm").last
    expect(next_month).to_be_visible()
    box, text = next_month.evaluate(
        """link => {
            const range = document.createRange();
            range.selectNodeContents(link);
            const b = link.getBoundingClientRect(), t = range.getBoundingClientRect();
            return [[b.top, b.bottom], [t.top, t.bottom]];
        }"""
    )
    assert box[1] - box[0] >= 43.5  # still a finger-sized target inside the box
    above, below = text[0] - box[0], box[1] - text[1]
    assert abs(above - below) <= 2, (above, below)  # the text in the middle, not stuck to the top edge
    assert page.js_errors == []


def test_a_phone_shows_the_times_in_a_grid(live_server, page, booking_clinic, screenshot):
    WeeklyAvailabilityFactory(
        professional=booking_clinic.professional,
        location=booking_clinic.location,
        weekday=1,
        start_time=time(13),
        end_time=time(21),
    )
    without_favicon(page.context)
    page.set_viewport_size(PHONE)
    page.goto(date_step_url(live_server, booking_clinic))
    times = page.locator(".booking-time-grid .slot-time")
    expect(times.first).to_be_visible()
    screenshot(page, "times")  # at 390px and 1280px; measured below at 375px
    page.set_viewport_size(PHONE)

    boxes = times.evaluate_all("links => links.map(link => link.getBoundingClientRect().toJSON())")
    assert len(boxes) >= 8, len(boxes)
    columns = sorted({round(box["x"]) for box in boxes})
    assert 3 <= len(columns) <= 4, columns
    first_row = [box for box in boxes if abs(box["y"] - boxes[0]["y"]) < 1]
    assert len(first_row) == len(columns)
    assert all(box["x"] + box["width"] <= PHONE["width"] for box in boxes)  # nothing off the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert all(box["height"] >= 43.5 for box in boxes)  # each still a finger-sized target
    # The place is said once, above the times, not on every button.
    expect(page.locator(".booking-place")).to_have_count(1)
    assert not any(re.search(r"·", text) for text in times.all_inner_texts())
    assert page.js_errors == []


def test_picking_a_professional_leaves_only_the_places_where_they_work(live_server, page, booking_clinic):
    from tests.factories.scheduling import LocationFactory, ProfessionalFactory

    vina = LocationFactory(slug="vina-del-mar", name="Viña del Mar")
    ProfessionalFactory(
        slug="bruno-soto", display_name="Bruno Soto", services=[booking_clinic.at_clinic], locations=[vina]
    )
    without_favicon(page.context)
    page.goto(f"{live_server.url}{reverse('widget:start')}?service={booking_clinic.at_clinic.slug}")
    where = page.locator("#id_where")
    expect(where).to_be_visible()

    def enabled_places() -> list[str]:
        return where.evaluate("select => [...select.options].filter(o => !o.disabled).map(o => o.value)")

    assert enabled_places() == ["", "providencia", "vina-del-mar"]  # "first available": any of them
    where.select_option("vina-del-mar")
    page.locator("#id_professional").select_option("ana-rojas")
    assert enabled_places() == ["", "providencia"]
    expect(where).to_have_value("")  # Ana does not work at Viña: the choice went back to "any place"
    page.locator("#id_professional").select_option("bruno-soto")
    assert enabled_places() == ["", "vina-del-mar"]
    assert page.js_errors == []


def test_apply_shows_the_discounted_price_in_place(live_server, booking_clinic, make_patient, logged_in_context):
    from decimal import Decimal

    from booking.widget.forms import format_start
    from tests.factories.billing import CouponFactory

    from .booking_fixtures import new_page

    CouponFactory(code="BIENVENIDA", value=Decimal("20"))
    patient = make_patient("rosa.diaz@example.com", "Rosa")
    page = new_page(logged_in_context(patient.user))
    query = {
        "service": booking_clinic.at_clinic.slug,
        "professional": booking_clinic.professional.slug,
        "location": booking_clinic.location.slug,
        "modality": "in_person",
        "start": format_start(FIRST_FREE_TIME),
    }
    page.goto(f"{live_server.url}{reverse('widget:review')}?{urlencode(query)}")
    expect(page.locator("#confirm-booking")).to_be_visible()
    page.evaluate("window.sameDocument = true")

    page.locator("#id_coupon").fill("bienvenida")
    page.locator("#apply-coupon").click()

    expect(page.locator("#review-price del")).to_have_text("$35.000")
    expect(page.locator("#review-price strong")).to_have_text("$28.000")
    expect(page.locator("#coupon-applied")).to_be_visible()
    assert page.evaluate("window.sameDocument") is True  # htmx swapped the step; no page load
    expect(page.locator("#id_coupon")).to_have_value("bienvenida")
    assert page.js_errors == []
