"""Bookings and cancellations made through the API and the admin carry their invoice with them.

A booking and its invoice are one transaction; a cancellation executes what the policy decided about money.
Time is pinned to Sunday 29 November 2026, 10:00 in Santiago; the session is Tuesday 1 December at 09:00.
"""

import json
from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from booking.billing import services as billing
from booking.billing.errors import PaymentError
from booking.billing.models import Invoice, InvoiceEvent, InvoiceStatus, Refund, RefundStatus
from booking.scheduling import services
from booking.scheduling.models import Appointment
from tests.factories.accounts import PatientFactory, VerifiedUserFactory
from tests.factories.scheduling import (
    LocationFactory,
    ProfessionalFactory,
    ServiceFactory,
    SuperuserFactory,
    WeeklyAvailabilityFactory,
)

SANTIAGO = ZoneInfo("America/Santiago")
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=SANTIAGO)
TUESDAY_9 = datetime(2026, 12, 1, 9, 0, tzinfo=SANTIAGO)
LATE = datetime(2026, 11, 30, 12, 0, tzinfo=SANTIAGO)  # 21 hours before: inside the 24-hour window


@pytest.fixture(autouse=True)
def pinned_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db):
    service = ServiceFactory(
        slug="therapy",
        duration_minutes=50,
        min_notice_minutes=60,
        booking_horizon_days=60,
        cancellation_window_hours=24,
        price=Decimal("35000"),
        payment_mode="later",
    )
    location = LocationFactory(slug="providencia")
    professional = ProfessionalFactory(slug="ana", services=[service], locations=[location])
    for weekday in range(5):
        WeeklyAvailabilityFactory(
            professional=professional, location=location, weekday=weekday, start_time=time(9), end_time=time(13)
        )
    user = VerifiedUserFactory()
    patient = PatientFactory(user=user)

    class World:
        pass

    world = World()
    world.service, world.location, world.professional, world.patient = service, location, professional, patient
    world.api = APIClient()
    world.api.force_login(user)
    return world


def api_book(world):
    body = {"service": "therapy", "professional": "ana", "start": TUESDAY_9.isoformat(), "location": "providencia"}
    return world.api.post("/api/v1/appointments/", json.dumps(body), content_type="application/json")


def api_cancel(world, reference):
    return world.api.post(f"/api/v1/appointments/{reference}/cancel/", "{}", content_type="application/json")


def test_a_booking_through_the_api_issues_its_invoice(world):
    response = api_book(world)

    assert response.status_code == 201, response.content
    appointment = Appointment.objects.get(reference=response.json()["reference"])
    invoice = Invoice.objects.get(lines__appointment=appointment)
    assert invoice.status == InvoiceStatus.OPEN
    assert invoice.number is not None
    assert invoice.total == Decimal("35000")
    assert invoice.patient == world.patient


def test_a_booking_whose_invoice_fails_is_not_kept(world, monkeypatch):
    """The booking and its invoice stand or fall together: no session without its invoice."""

    def refuse(**kwargs):
        raise PaymentError("invalid_request")

    monkeypatch.setattr(billing.invoices, "create_invoice_for_appointment", refuse)

    response = api_book(world)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert not Appointment.objects.exists()
    assert not Invoice.objects.exists()


def test_cancelling_in_time_refunds_what_was_paid(world):
    appointment = Appointment.objects.get(reference=api_book(world).json()["reference"])
    invoice = Invoice.objects.get(lines__appointment=appointment)
    billing.record_offline_payment(
        invoice=invoice, method="cash", amount=invoice.total, actor=SuperuserFactory(), now=NOW
    )

    response = api_cancel(world, appointment.reference)

    assert response.status_code == 200, response.content
    assert response.json()["refund"] == "full_refund"
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.REFUNDED
    assert invoice.amount_refunded == Decimal("35000")
    assert Refund.objects.get().status == RefundStatus.SUCCEEDED


def test_cancelling_an_unpaid_session_in_time_voids_its_invoice(world):
    appointment = Appointment.objects.get(reference=api_book(world).json()["reference"])

    assert api_cancel(world, appointment.reference).status_code == 200

    invoice = Invoice.objects.get(lines__appointment=appointment)
    assert invoice.status == InvoiceStatus.VOID
    assert invoice.balance_due == 0


def test_a_late_cancellation_keeps_the_invoice_owed_and_says_why(world):
    appointment = Appointment.objects.get(reference=api_book(world).json()["reference"])

    with time_machine.travel(LATE, tick=False):
        response = api_cancel(world, appointment.reference)

    assert response.json()["refund"] == "no_refund"
    invoice = Invoice.objects.get(lines__appointment=appointment)
    assert invoice.status == InvoiceStatus.OPEN
    assert invoice.events.filter(action=InvoiceEvent.Action.LATE_CANCELLATION).exists()


def test_staff_booking_in_the_admin_issues_the_invoice_and_cancelling_refunds_it(world):
    client = Client()
    client.force_login(SuperuserFactory())
    response = client.post(
        reverse("clinic_appointments:create"),
        {
            "patient": world.patient.pk,
            "service": world.service.pk,
            "professional": world.professional.pk,
            "location": world.location.pk,
            "date": "2026-12-01",
            "time": "09:00",
            "note": "",
        },
    )
    assert response.status_code == 302, response.content
    appointment = Appointment.objects.get()
    invoice = Invoice.objects.get(lines__appointment=appointment)
    assert invoice.status == InvoiceStatus.OPEN
    billing.record_offline_payment(
        invoice=invoice, method="transfer", amount=invoice.total, actor=SuperuserFactory(), now=NOW
    )

    client.post(reverse("clinic_appointments:cancel", args=[appointment.reference]), {"cancel-reason": "sick"})

    invoice.refresh_from_db()
    assert appointment.__class__.objects.get().status == "cancelled"
    assert invoice.status == InvoiceStatus.REFUNDED


def test_cancelling_a_session_without_an_invoice_changes_no_money(world):
    """Sessions booked before billing existed simply have no invoice to settle."""
    appointment = services.book_appointment(
        patient=world.patient,
        professional=world.professional,
        service=world.service,
        start=TUESDAY_9,
        location=world.location,
        modality="in_person",
        source="admin",
        actor=None,
    )

    assert api_cancel(world, appointment.reference).status_code == 200
    assert not Invoice.objects.exists()
