"""Billing's refunds and declined payments send their emails: "refund issued" to the patient (once per refund,
in their language) and "payment failed" to the clinic's staff (once per payment). Through billing's services, as
the admin and the webhooks call them."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core import mail

from booking.billing import services
from booking.notifications.dispatch import dispatch_due
from booking.notifications.events import Event
from booking.notifications.models import Notification
from booking.scheduling.models import AppointmentStatus
from tests.factories.accounts import PatientFactory, VerifiedUserFactory
from tests.factories.scheduling import AppointmentFactory, StaffUserFactory

from ..billing.fakes import install_fake_gateway

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def email_settings(settings, home_page):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.ADMINS = [("Desk", "desk@clinic.example")]


@pytest.fixture
def cashier(db):
    user = StaffUserFactory()
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="billing",
            codename__in=["add_invoice", "change_invoice", "add_payment", "add_refund"],
        )
    )
    return get_user_model().objects.get(pk=user.pk)


def patient(language="en"):
    return PatientFactory(
        user=VerifiedUserFactory(email="sofia@example.com", first_name="Sofía", preferred_language=language)
    )


def test_each_refund_tells_the_patient_once_with_its_own_amount(cashier):
    appointment = AppointmentFactory(patient=patient())
    invoice = services.create_invoice_for_appointment(appointment=appointment, actor=None, now=NOW)
    payment = services.record_offline_payment(invoice=invoice, method="cash", amount="35000", actor=cashier, now=NOW)

    services.refund_payment(payment=payment, amount="5000", reason="late start", actor=cashier, now=NOW)
    services.refund_payment(payment=payment, reason="session not held", actor=cashier, now=NOW + timedelta(hours=1))
    assert Notification.objects.filter(event=Event.REFUND_ISSUED).count() == 2

    mail.outbox.clear()
    dispatch_due(now=NOW + timedelta(hours=1, minutes=1))
    refunds = [m.body for m in mail.outbox if m.tags == [Event.REFUND_ISSUED]]
    assert len(refunds) == 2
    assert any("Hi Sofía, we issued a refund of $5,000." in body for body in refunds)
    assert any("we issued a refund of $30,000." in body for body in refunds)
    assert all(m.to == ["sofia@example.com"] for m in mail.outbox if m.tags == [Event.REFUND_ISSUED])


def test_a_refund_rolled_back_plans_nothing(cashier, monkeypatch):
    appointment = AppointmentFactory(patient=patient())
    invoice = services.create_invoice_for_appointment(appointment=appointment, actor=None, now=NOW)
    payment = services.record_offline_payment(invoice=invoice, method="cash", amount="35000", actor=cashier, now=NOW)

    from booking.billing.services import refunds

    def refuse(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(refunds, "_settle", refuse)
    with pytest.raises(RuntimeError):
        services.refund_payment(payment=payment, reason="x", actor=cashier, now=NOW)
    assert not Notification.objects.filter(event=Event.REFUND_ISSUED).exists()


def test_a_declined_payment_alerts_the_staff_once_in_spanish(monkeypatch, settings):
    fake_gateway = install_fake_gateway(monkeypatch, settings)
    assert fake_gateway is not None
    appointment = AppointmentFactory(
        patient=patient(), status=AppointmentStatus.PENDING_PAYMENT, hold_expires_at=NOW + timedelta(minutes=15)
    )
    invoice = services.create_invoice_for_appointment(appointment=appointment, actor=None, now=NOW)
    payment = services.start_checkout(
        invoice=invoice,
        success_url="https://clinic.test/ok/",
        cancel_url="https://clinic.test/back/",
        actor=invoice.patient.user,
        now=NOW,
    )
    services.fail_payment(payment=payment, message="Your card was declined.", now=NOW + timedelta(minutes=1))
    services.fail_payment(payment=payment, message="Your card was declined.", now=NOW + timedelta(minutes=2))

    [row] = Notification.objects.filter(event=Event.STAFF_PAYMENT_FAILED)
    assert (row.email, row.language, row.invoice) == ("desk@clinic.example", "es-cl", invoice)
    dispatch_due(now=NOW + timedelta(minutes=3))
    [alert] = [m for m in mail.outbox if m.tags == [Event.STAFF_PAYMENT_FAILED]]
    assert "un pago falló" in alert.subject and invoice.reference in alert.subject
    assert "Your card was declined." in alert.body
    assert not [m for m in mail.outbox if m.to == ["sofia@example.com"] and m.tags == [Event.STAFF_PAYMENT_FAILED]]
