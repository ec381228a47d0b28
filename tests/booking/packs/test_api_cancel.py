"""Cancelling a pack through the JSON API (/api/v1/purchases/<reference>/cancel/): GET says what cancelling would
do, POST does exactly that (``cancel_pack``) and answers with the cancelled purchase, the refund and the sessions
cancelled. Refusals are the pack endpoints' errors (403 cancel_not_allowed, 404 for another patient's pack, 409
once cancelled) with nothing written.

Uses the packs conftest's clinic (psychology loses a late-cancelled session, nutrition gives it back); the clock is
pinned to ``NOW`` (20 November 2026), so the sessions of 1 December are cancelled in time and one on the morning of
21 November is late.
"""

import datetime
import json
from decimal import Decimal

import pytest
import time_machine
from rest_framework.test import APIClient

from booking.billing import services as billing
from booking.billing.models import InvoiceStatus, Refund
from booking.packs.models import CreditKind, PackagePurchase, PurchaseStatus
from booking.packs.services import purchase_pack, reserve_session
from booking.scheduling.models import AppointmentStatus
from tests.factories.accounts import PatientFactory

from .conftest import NOW

pytestmark = pytest.mark.django_db

LATE_START = NOW + datetime.timedelta(hours=20)  # inside the 24-hour window: a late cancellation


@pytest.fixture(autouse=True)
def pinned_time():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def cancellable_pack(per_service_pack):
    """3 psychology + 2 nutrition for $100,000, which the patient may cancel."""
    per_service_pack.patient_may_cancel = True
    per_service_pack.save()
    return per_service_pack


def sold(clinic, package, *, paid=True, patient=None):
    purchase = purchase_pack(
        package=package, patient=patient or clinic.patient, actor=clinic.receptionist, pay_at_clinic=True,
        source="admin", now=NOW,
    )  # fmt: skip
    if paid:
        billing.record_offline_payment(
            invoice=purchase.invoice_line.invoice, method="cash", amount=package.price, actor=clinic.receptionist,
            now=NOW,
        )  # fmt: skip
    purchase.refresh_from_db()
    return purchase


def booked(clinic, purchase, make_session, service, *, start=None):
    session = make_session(service, patient=purchase.patient, start=start)
    reserve_session(purchase=purchase, service=service, appointment=session, actor=clinic.receptionist, now=NOW)
    return session


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


def cancel(client, purchase, body=None):
    return client.post(
        f"/api/v1/purchases/{purchase.reference}/cancel/", json.dumps(body or {}), content_type="application/json"
    )


def quote(client, purchase):
    return client.get(f"/api/v1/purchases/{purchase.reference}/cancel/")


def unchanged(purchase) -> bool:
    purchase.refresh_from_db()
    return (
        purchase.status == PurchaseStatus.ACTIVE
        and not Refund.objects.exists()
        and not purchase.credit_entries.filter(kind=CreditKind.CANCELLED).exists()
    )


def test_the_owner_cancels_and_gets_back_what_the_quote_said(clinic, cancellable_pack, make_session):
    purchase = sold(clinic, cancellable_pack)
    in_time = booked(clinic, purchase, make_session, clinic.psychology)
    late = booked(clinic, purchase, make_session, clinic.psychology, start=LATE_START)
    client = client_for(clinic.patient.user)

    before = quote(client, purchase)
    assert before.status_code == 200
    said = before.json()
    assert (said["sessions_sold"], said["sessions_unused"]) == (5, 4)  # 3 left + the one cancelled in time
    assert Decimal(said["per_session"]) == Decimal("20000")
    assert Decimal(said["refund_amount"]) == Decimal("80000")
    assert said["voids_invoice"] is False
    assert {(row["reference"], row["lost"]) for row in said["upcoming_sessions"]} == {
        (in_time.reference, False),
        (late.reference, True),
    }
    assert PackagePurchase.objects.get(pk=purchase.pk).status == PurchaseStatus.ACTIVE

    response = cancel(client, purchase, {"reason": "Me mudo"})
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["reference"] == purchase.reference and data["status"] == "cancelled"
    assert Decimal(data["refund_amount"]) == Decimal(said["refund_amount"])
    assert data["refund_status"] == "sent"  # cash: given back at the desk at once
    assert data["invoice_voided"] is False
    assert sorted(data["cancelled_sessions"]) == sorted([in_time.reference, late.reference])
    assert data["remaining"] == 0
    assert sum(refund.amount for refund in Refund.objects.all()) == Decimal("80000")
    for session in (in_time, late):
        session.refresh_from_db()
        assert session.status == AppointmentStatus.CANCELLED
    assert purchase.credit_entries.filter(kind=CreditKind.CANCELLED, reason="Me mudo").exists()


def test_without_a_reason_a_default_one_is_kept(clinic, cancellable_pack):
    purchase = sold(clinic, cancellable_pack)
    response = cancel(client_for(clinic.patient.user), purchase)
    assert response.status_code == 200
    assert Decimal(response.json()["refund_amount"]) == Decimal("100000")
    assert all(entry.reason for entry in purchase.credit_entries.filter(kind=CreditKind.CANCELLED))


def test_a_second_cancel_is_a_409_and_refunds_nothing_more(clinic, cancellable_pack):
    purchase = sold(clinic, cancellable_pack)
    client = client_for(clinic.patient.user)
    assert cancel(client, purchase).status_code == 200
    again = cancel(client, purchase)
    assert again.status_code == 409 and again.json()["error"] == "invalid_state"
    assert Refund.objects.count() == 1
    assert quote(client, purchase).status_code == 409


def test_where_the_pack_does_not_allow_it_the_patient_gets_a_403(clinic, per_service_pack):
    purchase = sold(clinic, per_service_pack)
    client = client_for(clinic.patient.user)
    response = cancel(client, purchase, {"reason": "x"})
    assert response.status_code == 403 and response.json()["error"] == "cancel_not_allowed"
    assert quote(client, purchase).json()["error"] == "cancel_not_allowed"
    assert unchanged(purchase)


def test_another_patients_pack_is_not_found(clinic, cancellable_pack):
    purchase = sold(clinic, cancellable_pack)
    other = client_for(PatientFactory().user)
    assert cancel(other, purchase).status_code == 404
    assert quote(other, purchase).status_code == 404
    assert unchanged(purchase)


def test_anonymous_cannot_cancel(clinic, cancellable_pack):
    purchase = sold(clinic, cancellable_pack)
    assert cancel(client_for(), purchase).status_code in (401, 403)
    assert unchanged(purchase)


@pytest.mark.parametrize("body", [{"reason": "x" * 501}, {"reason": ["a"]}])
def test_a_bad_body_is_a_400_and_writes_nothing(clinic, cancellable_pack, body):
    purchase = sold(clinic, cancellable_pack)
    response = cancel(client_for(clinic.patient.user), purchase, body)
    assert response.status_code == 400
    assert unchanged(purchase)


def test_a_pending_unpaid_pack_is_cancelled_with_its_invoice_voided(clinic, cancellable_pack):
    purchase = sold(clinic, cancellable_pack, paid=False)
    PackagePurchase.objects.filter(pk=purchase.pk).update(status=PurchaseStatus.PENDING_PAYMENT)
    client = client_for(clinic.patient.user)
    said = quote(client, purchase).json()
    assert said["voids_invoice"] is True and Decimal(said["refund_amount"]) == 0

    response = cancel(client, purchase)
    assert response.status_code == 200
    data = response.json()
    assert (data["status"], data["invoice_voided"], data["refund_status"]) == ("cancelled", True, "none")
    purchase.refresh_from_db()
    assert purchase.invoice_line.invoice.status == InvoiceStatus.VOID


def test_an_administrator_cancels_any_pack_with_every_session_given_back(clinic, per_service_pack, make_session):
    purchase = sold(clinic, per_service_pack)
    late = booked(clinic, purchase, make_session, clinic.psychology, start=LATE_START)
    client = client_for(clinic.administrator)
    said = quote(client, purchase).json()
    assert [row["lost"] for row in said["upcoming_sessions"]] == [False]
    response = cancel(client, purchase, {"reason": "Acuerdo"})
    assert response.status_code == 200
    assert response.json()["cancelled_sessions"] == [late.reference]
    assert Decimal(response.json()["refund_amount"]) == Decimal("100000")
