"""Billing's periodic work survives a run cut short: what a killed consumer left half done, the next run finishes.

The run that closes a stale checkout calls Stripe first and records it after; a consumer killed between the two
leaves a session expired at Stripe and a payment still pending here. The next run asks Stripe again (which refuses
to expire it twice and answers with its state) and records it, giving the held time back.
"""

from datetime import timedelta

import pytest
import time_machine

from booking.billing import services, stripe_gateway
from booking.billing.models import InvoiceStatus, PaymentStatus
from booking.billing.tasks import expire_stale_checkouts_task
from booking.scheduling import services as scheduling
from booking.scheduling.models import AppointmentStatus

from .fakes import install_fake_gateway
from .test_services import NOW, checkout, held, invoice_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_gateway(monkeypatch, settings):
    return install_fake_gateway(monkeypatch, settings)


def test_a_checkout_expired_at_stripe_by_a_killed_run_is_recorded_by_the_next(fake_gateway):
    appointment = held(hold_expires_at=NOW + timedelta(minutes=15))
    invoice = invoice_of(appointment)
    payment = checkout(invoice)
    later = NOW + timedelta(minutes=16)

    # The killed run got as far as Stripe.
    stripe_gateway.expire_checkout_session(payment.provider_reference)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING

    scheduling.release_expired_holds(now=later)
    assert services.expire_stale_checkouts(now=later) == 1
    assert services.expire_stale_checkouts(now=later + timedelta(minutes=1)) == 0

    payment.refresh_from_db()
    appointment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert appointment.status == AppointmentStatus.CANCELLED
    assert invoice.status == InvoiceStatus.VOID


def test_invoices_left_open_by_a_run_killed_before_voiding_are_voided_by_the_next(fake_gateway):
    """The task expires checkouts, then voids lapsed invoices: a kill in between loses nothing."""
    invoice = invoice_of(held(hold_expires_at=NOW + timedelta(minutes=15)))
    later = NOW + timedelta(minutes=16)
    scheduling.release_expired_holds(now=later)
    services.expire_stale_checkouts(now=later)  # killed here, before void_lapsed_hold_invoices

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN

    with time_machine.travel(later + timedelta(minutes=1), tick=False):
        expire_stale_checkouts_task.call_local()

    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.VOID
