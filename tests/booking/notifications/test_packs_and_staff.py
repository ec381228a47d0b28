"""Pack and staff planners: ready for the packs signals (not on main yet) to call, one line each."""

from datetime import timedelta

import pytest
from django.core import mail

from booking.notifications import dispatch, services
from booking.notifications.events import Event
from booking.notifications.models import Notification, State
from tests.factories.packs import package_with, purchase_of

from .conftest import NOW

pytestmark = pytest.mark.django_db


@pytest.fixture
def purchase(clinic):
    package = package_with({clinic.service: 4}, name="Plan 4 sesiones")
    package.allowed_professionals.add(clinic.professional)
    return purchase_of(package, patient=clinic.patient, purchased_at=NOW)


def test_a_pack_purchase_tells_the_patient_and_its_professionals_once(purchase, settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    services.plan_pack_purchased(purchase, at=NOW)
    services.plan_pack_purchased(purchase, at=NOW)  # the signal again
    rows = dict(Notification.objects.values_list("event", "email"))
    assert rows == {Event.PACK_PURCHASED: "camila@example.com", Event.PRO_PACK_PURCHASED: "ana@clinic.example"}
    assert dispatch.dispatch_due(now=NOW)["sent"] == 2
    patient = next(m for m in mail.outbox if m.to == ["camila@example.com"])
    assert purchase.reference in patient.subject
    assert "Plan 4 sesiones" in patient.body and "Plan 4 sesiones" not in patient.subject


def test_a_pack_expiring_warns_only_the_patient(purchase):
    services.plan_pack_expiring(purchase, at=NOW)
    assert list(Notification.objects.values_list("event", "email")) == [(Event.PACK_EXPIRING, "camila@example.com")]


def test_a_pack_cancelled_tells_both(purchase):
    services.plan_pack_cancelled(purchase, at=NOW + timedelta(days=1))
    assert set(Notification.objects.values_list("event", flat=True)) == {
        Event.PACK_CANCELLED,
        Event.PRO_PACK_CANCELLED,
    }


def test_a_staff_alert_goes_once_to_the_clinic_address(db, home_page, settings):
    settings.ADMINS = [("Desk", "desk@clinic.example")]
    services.plan_staff_alert(Event.STAFF_PAYMENT_FAILED, about="invoice:7", at=NOW, data={"detail": "card declined"})
    services.plan_staff_alert(Event.STAFF_PAYMENT_FAILED, about="invoice:7", at=NOW, data={"detail": "card declined"})
    row = Notification.objects.get()
    assert (row.email, row.state, row.audience) == ("desk@clinic.example", State.SCHEDULED, "staff")
    dispatch.dispatch_due(now=NOW)
    assert "card declined" in mail.outbox[0].body
