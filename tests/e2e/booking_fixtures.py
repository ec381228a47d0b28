"""Fixtures and helpers for the booking box's browser tests (``test_booking.py``, the embed test).

The clinic is small and its calendar deterministic: the clock is pinned (ticking) to Friday 20 November 2026,
09:00 in Santiago (``STRIPE_NOW``, the billing tests' moment, so the fake Stripe's clock can follow it), and Ana
Rojas works only on Tuesdays, 09:00-13:00, at Providencia. The first free day is therefore Tuesday 24 November
and its first time 09:00, whatever day the tests run.

Two services: one paid at the clinic (confirmed at once, open invoice) and one paid online at booking (held,
then paid on Stripe's Checkout). The home page carries a booking box listing both.

The live server runs in a thread of the test process and, on SQLite, shares the test's database connection:
a test reads the database only when the browser has finished its requests (after a URL or heading change,
or after ``wait_for_deliveries`` for a webhook), never while a page is loading; Chromium's own favicon requests
are answered in the browser (``without_favicon``) for the same reason.

The clock and Stripe fixtures (``pinned_clock``, ``stripe_server``, ``stripe_live``, ``stripe_clock``) are the
billing tests' own, registered in ``conftest.py`` with these: every flow pays against the same fake Stripe.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client

from booking.scheduling.models import Location, Professional, Service
from portal.accounts.models import Patient
from tests.factories.accounts import PatientFactory
from tests.factories.scheduling import (
    LocationFactory,
    ProfessionalFactory,
    ServiceCategoryFactory,
    ServiceFactory,
    WeeklyAvailabilityFactory,
)

SANTIAGO = ZoneInfo("America/Santiago")
#: The first free time: 09:00 on the Tuesday after the pinned Friday (``STRIPE_NOW``).
FIRST_FREE_TIME = datetime(2026, 11, 24, 9, 0, tzinfo=SANTIAGO)

#: allauth's verification code on a line of its own ("BCDF-GHJK" by default).
CODE_LINE = re.compile(r"^\s*([A-Z0-9]{3,8}(?:-[A-Z0-9]{3,8}){0,2})\s*$", re.MULTILINE)


@dataclass
class BookingClinic:
    """What a booking test needs to know about the clinic it books in."""

    location: Location
    professional: Professional
    at_clinic: Service
    online: Service
    home_url: str


@pytest.fixture
def booking_clinic(db, pinned_clock, home_page) -> BookingClinic:
    """The clinic above, with a booking box (full layout, prices shown) in the home page's body."""
    category = ServiceCategoryFactory(slug="psicologia", name="Psicología")
    common = {
        "category": category,
        "duration_minutes": 50,
        "buffer_before_minutes": 0,
        "buffer_after_minutes": 10,
        "min_notice_minutes": 60,
        "booking_horizon_days": 60,
        "modality": "in_person",
        "currency": "CLP",
    }
    at_clinic = ServiceFactory(
        slug="terapia-individual",
        name="Terapia individual",
        price=Decimal("35000"),
        payment_mode="clinic",
        sort_order=1,
        **common,
    )
    online = ServiceFactory(
        slug="terapia-pago-en-linea",
        name="Terapia con pago en línea",
        price=Decimal("15000"),
        payment_mode="online",
        sort_order=2,
        **common,
    )
    location = LocationFactory(slug="providencia", name="Providencia")
    professional = ProfessionalFactory(
        slug="ana-rojas", display_name="Ana Rojas", services=[at_clinic, online], locations=[location]
    )
    WeeklyAvailabilityFactory(
        professional=professional, location=location, weekday=1, start_time=time(9), end_time=time(13)
    )
    home_page.body = [("booking_box", {"heading": "Agenda tu sesión", "show_prices": True, "layout": "full"})]
    home_page.save()
    return BookingClinic(location, professional, at_clinic, online, "/")


@pytest.fixture
def make_patient(db):
    """``make_patient(email)``: a patient whose email is verified (so allauth lets them in), in Spanish."""

    def make(email: str, first_name: str = "Paciente") -> Patient:
        return PatientFactory(
            user__email=email, user__first_name=first_name, user__last_name="Prueba", user__preferred_language="es-cl"
        )

    return make


@pytest.fixture
def logged_in_context(browser, live_server):
    """``logged_in_context(user)``: a new browser context (es-CL, desktop) already logged in as ``user``.

    ``logged_in_context(user, locale="en-US")`` makes the browser ask for English pages instead.

    The session is made as the test client's ``force_login`` makes it, and its cookie handed to Chromium: the
    login page is tested elsewhere, and going through it would double the race test's length for nothing.
    """
    from .conftest import DEFAULT_TIMEOUT_MS, VIEWPORTS

    contexts = []

    def make(user, locale="es-CL"):
        client = Client()
        client.force_login(user)
        context = browser.new_context(viewport=VIEWPORTS["desktop"], locale=locale, timezone_id="America/Santiago")
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                    "url": live_server.url,
                    "httpOnly": True,
                    "sameSite": "Lax",
                }
            ]
        )
        without_favicon(context)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


def without_favicon(context):
    """Answer Chromium's own ``/favicon.ico`` requests in the browser.

    Chromium asks for it by itself, whenever it likes, and the 404 goes through Wagtail's page lookup: on
    SQLite that request could share the live server's one connection with the test's own reads.
    """
    context.route("**/favicon.ico", lambda route: route.fulfill(status=204, body=""))
    return context


def new_page(context):
    """A page in ``context`` that collects JavaScript errors on ``page.js_errors``, as the ``page`` fixture does."""
    page = context.new_page()
    page.js_errors = []
    page.on("pageerror", lambda error: page.js_errors.append(str(error)))
    return page


def verification_code(email: str) -> str:
    """The code in the last verification email sent to ``email`` (locmem outbox: the server is in-process)."""
    messages = [message for message in mail.outbox if email in message.to]
    assert messages, f"no email to {email}; outbox: {[(m.to, m.subject) for m in mail.outbox]}"
    match = CODE_LINE.search(messages[-1].body)
    assert match, messages[-1].body
    return match.group(1)
