"""Fixtures for the billing tests that talk to a fake Stripe (localstripe and our Checkout shim).

- ``stripe_server`` (session): the product's local test Stripe (``booking.billing.devstripe``), started once
  through ``manage.py run_test_stripe`` in a child process on 127.0.0.1 (``stripe_server.py``).
- ``stripe_api``: the settings point the gateway at it (Stripe on, test keys); no webhook is registered.
- ``stripe_live``: ``stripe_api`` plus the server's webhooks sent to pytest-django's live server. Tests using it
  need ``@pytest.mark.django_db(transaction=True, serialized_rollback=True)``: the live server answers in
  another thread, so the data must be committed, and the serialized rollback puts back the rows migrations made
  (the invoice series, Wagtail's site). pytest-django's ``settings`` fixture changes ``django.conf.settings``
  for the whole process, so the live server's thread verifies signatures with the same secret.
- ``pinned_clock`` / ``stripe_clock``: this process's clock (and, for ``stripe_clock``, the server's) runs from
  ``STRIPE_NOW``; ``make_held_invoice`` books a held session a few days later and issues its invoice.

Waiting for a webhook means asking the server for its delivery log (``wait_for_deliveries``), which answers
once Django has responded, i.e. after the handler's transaction committed: no sleeps, and the test thread never
reads the database while the live server writes it (on SQLite they share one in-memory connection).
"""

from datetime import UTC, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from tests.factories.accounts import PatientFactory
from tests.factories.scheduling import (
    LocationFactory,
    ProfessionalFactory,
    ServiceFactory,
    WeeklyAvailabilityFactory,
)
from tests.on_commit import run_commit_hooks_like_a_commit

from .stripe_server import start_stripe_server

SANTIAGO = ZoneInfo("America/Santiago")
# A Friday morning in Santiago's summer time (UTC-3); the session is booked for the Tuesday 11 days later.
STRIPE_NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SESSION_START = datetime(2026, 12, 1, 10, 0, tzinfo=SANTIAGO)


@pytest.fixture(scope="session")
def stripe_server():
    server = start_stripe_server()
    yield server
    server.stop()


@pytest.fixture
def stripe_api(settings, stripe_server):
    """Stripe switched on and pointed at the fake server."""
    settings.STRIPE_ENABLED = True
    settings.STRIPE_SECRET_KEY = stripe_server.secret_key
    settings.STRIPE_PUBLISHABLE_KEY = "pk_test_clinic_localstripe"
    settings.STRIPE_WEBHOOK_SECRET = stripe_server.webhook_secret
    settings.STRIPE_API_BASE = stripe_server.url
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    return stripe_server


@pytest.fixture
def stripe_live(stripe_api, live_server):
    """The fake server's webhooks go to this test's live server; none is left in flight for the next test."""
    stripe_api.clear_webhooks()
    stripe_api.start_test()
    stripe_api.register_webhook(live_server.url + reverse("billing:stripe_webhook"))
    stripe_api.live_url = live_server.url
    yield stripe_api
    stripe_api.clear_webhooks()
    stripe_api.resume_webhooks()
    stripe_api.wait_idle()


@pytest.fixture
def pinned_clock():
    """This process's clock (the live server's thread too) runs from ``STRIPE_NOW``."""
    with time_machine.travel(STRIPE_NOW, tick=True):
        yield STRIPE_NOW


@pytest.fixture
def stripe_clock(pinned_clock, stripe_server):
    """The fake Stripe's clock runs from ``STRIPE_NOW`` as well: its timestamps, signatures and expiry window."""
    stripe_server.set_clock(STRIPE_NOW)
    yield STRIPE_NOW
    stripe_server.reset_clock()


@pytest.fixture
def make_held_invoice(db, pinned_clock):
    """``make_held_invoice(price=, currency=, patient=)``: a held (pending payment) session and its open invoice."""
    from booking.billing import services as billing
    from booking.scheduling import services as scheduling

    def make(*, price=Decimal("15000"), currency="CLP", patient=None, language="en"):
        service = ServiceFactory(price=price, currency=currency, payment_mode="online", buffer_after_minutes=0)
        location = LocationFactory()
        professional = ProfessionalFactory(services=[service], locations=[location])
        WeeklyAvailabilityFactory(
            professional=professional, location=location, weekday=1, start_time=time(9), end_time=time(13)
        )
        if patient is None:
            patient = PatientFactory(user__preferred_language=language)
        appointment = scheduling.hold_slot(
            patient=patient,
            professional=professional,
            service=service,
            start=SESSION_START,
            location=location,
            modality="in_person",
            source="booking_box",
            actor=patient.user,
        )
        return billing.create_invoice_for_appointment(appointment=appointment, actor=patient.user)

    return make


@pytest.fixture(autouse=True)
def _commit_hooks(request, monkeypatch):
    """The services send refunds and close checkouts after their commit: here that commit runs its hooks."""
    run_commit_hooks_like_a_commit(request, monkeypatch)
