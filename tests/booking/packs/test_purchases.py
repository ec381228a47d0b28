"""Selling a pack (``purchase_pack``): paid at the clinic or online, activated by the payment (webhook or desk),
refusals that write nothing, the limit per patient, and online purchases that lapse unpaid."""

import datetime
import json
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from booking.billing import providers
from booking.billing import services as billing
from booking.billing.errors import PaymentError
from booking.billing.models import Invoice, InvoiceLine, InvoiceStatus, PaymentStatus
from booking.packs.errors import PackError
from booking.packs.models import CreditKind, PackagePurchase, PackCreditEntry, PurchaseStatus
from booking.packs.services import (
    PENDING_PURCHASE_LIFETIME,
    lapse_pending_purchases,
    purchase_pack,
)
from booking.packs.signals import pack_cancelled, pack_purchased
from tests.booking.billing.providers_fake import SIGNATURE_HEADER, FakePayProvider, sign
from tests.factories.accounts import PatientFactory
from tests.on_commit import run_commit_hooks_like_a_commit

from .conftest import NOW

FAKEPAY = "tests.booking.billing.providers_fake.FakePayProvider"
STRIPE = "booking.billing.providers.stripe.StripeProvider"


@pytest.fixture(autouse=True)
def _commit_hooks(request, monkeypatch):
    run_commit_hooks_like_a_commit(request, monkeypatch)


@pytest.fixture
def fakepay(db, settings):
    settings.BILLING_PAYMENT_PROVIDERS = [FAKEPAY, STRIPE]
    settings.FAKEPAY_WEBHOOK_SECRET = "fakepay_secret"
    settings.STRIPE_ENABLED = False
    FakePayProvider.reset()
    return providers.get_provider("fakepay")


@pytest.fixture
def received():
    """The pack signals sent (after commit), as (name, purchase pk, kwargs)."""
    calls = []

    def receiver(signal_name):
        def receive(sender, purchase, **kwargs):
            kwargs.pop("signal", None)
            calls.append((signal_name, purchase.pk, kwargs))

        return receive

    receivers = {"purchased": receiver("purchased"), "cancelled": receiver("cancelled")}
    pack_purchased.connect(receivers["purchased"])
    pack_cancelled.connect(receivers["cancelled"])
    yield calls
    pack_purchased.disconnect(receivers["purchased"])
    pack_cancelled.disconnect(receivers["cancelled"])


def sell(package, patient, actor, *, pay_at_clinic=False, source="admin", now=NOW):
    return purchase_pack(
        package=package, patient=patient, actor=actor, pay_at_clinic=pay_at_clinic, source=source, now=now
    )


def start(invoice, actor, now=NOW):
    return billing.start_checkout(
        invoice=invoice,
        success_url="https://clinic.test/billing/checkout/success/?session_id={CHECKOUT_REFERENCE}",
        cancel_url="https://clinic.test/cancel/",
        actor=actor,
        now=now,
    )


def webhook(body: dict):
    payload = json.dumps(body).encode()
    return Client().post(
        reverse("billing:provider_webhook", kwargs={"provider": "fakepay"}),
        data=payload,
        content_type="application/json",
        headers={SIGNATURE_HEADER: sign(payload)},
    )


def kinds(purchase):
    return sorted(purchase.credit_entries.values_list("kind", "quantity"))


# ----------------------------------------------------------------------------------------------- paid at the clinic


def test_staff_assign_a_pack_paid_at_the_clinic_active_at_once_invoice_numbered_and_owed(
    clinic, per_service_pack, received
):
    purchase = sell(per_service_pack, clinic.patient, clinic.receptionist, pay_at_clinic=True)

    purchase.refresh_from_db()
    invoice = purchase.invoice_line.invoice
    assert purchase.status == PurchaseStatus.ACTIVE
    assert (purchase.purchased_at, purchase.expires_at) == (NOW, NOW + datetime.timedelta(days=90))
    assert purchase.snapshot["package"]["id"] == per_service_pack.pk
    assert (purchase.price, purchase.source, purchase.created_by) == (Decimal("100000"), "admin", clinic.receptionist)
    assert kinds(purchase) == [(CreditKind.GRANTED, 2), (CreditKind.GRANTED, 3)]
    assert invoice.status == InvoiceStatus.OPEN and invoice.number is not None
    assert (invoice.total, invoice.balance_due, invoice.patient) == (
        Decimal("100000"),
        Decimal("100000"),
        clinic.patient,
    )
    (line,) = invoice.lines.all()
    assert (line.kind, line.description, line.appointment) == (InvoiceLine.Kind.PACK, "Psico y nutri", None)
    assert received == [("purchased", purchase.pk, {"actor": clinic.receptionist})]


def test_the_default_location_is_kept_on_the_purchase(clinic, per_service_pack):
    from tests.factories.scheduling import LocationFactory

    per_service_pack.default_location = LocationFactory()
    per_service_pack.save()

    purchase = sell(per_service_pack, clinic.patient, clinic.receptionist, pay_at_clinic=True)

    assert purchase.default_location_id == per_service_pack.default_location_id


def test_a_patient_pays_at_the_clinic_only_where_the_pack_allows_it(clinic, per_service_pack):
    with pytest.raises(PackError) as refused:
        sell(per_service_pack, clinic.patient, clinic.patient.user, pay_at_clinic=True, source="booking_box")

    assert refused.value.code == "pay_at_clinic_not_allowed"
    assert not PackagePurchase.objects.exists() and not Invoice.objects.exists()

    per_service_pack.pay_at_clinic_allowed = True
    per_service_pack.save()
    purchase = sell(per_service_pack, clinic.patient, clinic.patient.user, pay_at_clinic=True, source="booking_box")

    assert purchase.status == PurchaseStatus.ACTIVE


def test_a_free_pack_is_active_at_once_and_its_invoice_paid(clinic, per_service_pack):
    per_service_pack.price = Decimal(0)
    per_service_pack.save()

    purchase = sell(per_service_pack, clinic.patient, clinic.patient.user, source="booking_box")

    invoice = purchase.invoice_line.invoice
    assert purchase.status == PurchaseStatus.ACTIVE
    assert invoice.status == InvoiceStatus.PAID and invoice.number is not None


# ----------------------------------------------------------------------------------------------- online


def test_online_purchase_waits_for_its_payment_with_an_unnumbered_invoice(clinic, per_service_pack, received):
    purchase = sell(per_service_pack, clinic.patient, clinic.patient.user, source="booking_box")

    invoice = purchase.invoice_line.invoice
    assert purchase.status == PurchaseStatus.PENDING_PAYMENT
    assert not purchase.credit_entries.exists()
    assert (invoice.status, invoice.number, invoice.is_payable) == (InvoiceStatus.OPEN, None, True)
    assert received == []


def test_the_webhook_payment_activates_the_pack_once_and_numbers_the_invoice(
    clinic, per_service_pack, fakepay, received
):
    purchase = sell(per_service_pack, clinic.patient, clinic.patient.user, source="booking_box")
    payment = start(purchase.invoice_line.invoice, clinic.patient.user)
    fakepay.pay(payment.provider_reference)

    first = webhook({"id": "fp_evt_1", "type": "checkout.paid", "reference": payment.provider_reference})
    again = webhook({"id": "fp_evt_2", "type": "checkout.paid", "reference": payment.provider_reference})

    assert (first.status_code, again.status_code) == (200, 200)
    purchase.refresh_from_db()
    invoice = purchase.invoice_line.invoice
    assert purchase.status == PurchaseStatus.ACTIVE
    assert kinds(purchase) == [(CreditKind.GRANTED, 2), (CreditKind.GRANTED, 3)]
    assert invoice.status == InvoiceStatus.PAID and invoice.number is not None
    assert received == [("purchased", purchase.pk, {"actor": None})]


def test_confirming_the_same_payment_twice_grants_once(clinic, per_service_pack, fakepay):
    purchase = sell(per_service_pack, clinic.patient, clinic.patient.user, source="booking_box")
    payment = start(purchase.invoice_line.invoice, clinic.patient.user)

    billing.confirm_payment(payment=payment, payment_reference="fp_pay_1", now=NOW)
    billing.confirm_payment(payment=payment, payment_reference="fp_pay_1", now=NOW)

    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.ACTIVE
    assert PackCreditEntry.objects.filter(purchase=purchase, kind=CreditKind.GRANTED).count() == 2


def test_a_payment_at_the_desk_activates_an_online_purchase(clinic, per_service_pack):
    purchase = sell(per_service_pack, clinic.patient, clinic.receptionist)
    assert purchase.status == PurchaseStatus.PENDING_PAYMENT

    billing.record_offline_payment(
        invoice=purchase.invoice_line.invoice,
        method="cash",
        amount=Decimal("100000"),
        actor=clinic.receptionist,
        now=NOW,
    )

    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.ACTIVE
    assert purchase.invoice_line.invoice.number is not None


def test_a_partial_payment_leaves_the_pack_pending(clinic, per_service_pack):
    purchase = sell(per_service_pack, clinic.patient, clinic.receptionist)

    billing.record_offline_payment(
        invoice=purchase.invoice_line.invoice,
        method="cash",
        amount=Decimal("40000"),
        actor=clinic.receptionist,
        now=NOW,
    )

    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.PENDING_PAYMENT


def test_a_lapsed_checkout_cancels_the_pending_purchase_and_frees_the_limit(
    clinic, per_service_pack, fakepay, received
):
    per_service_pack.max_purchases_per_patient = 1
    per_service_pack.save()
    purchase = sell(per_service_pack, clinic.patient, clinic.patient.user, source="booking_box")
    payment = start(purchase.invoice_line.invoice, clinic.patient.user)

    billing.expire_checkout(payment=payment, now=NOW + datetime.timedelta(minutes=20))

    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.CANCELLED
    assert purchase.invoice_line.invoice.status == InvoiceStatus.VOID
    assert received == [("cancelled", purchase.pk, {"actor": None, "refund_amount": Decimal(0), "paid": False})]
    again = sell(per_service_pack, clinic.patient, clinic.patient.user, source="booking_box")
    assert again.status == PurchaseStatus.PENDING_PAYMENT


def test_a_pay_at_clinic_invoice_is_not_voided_when_an_online_checkout_of_it_lapses(clinic, per_service_pack, fakepay):
    purchase = sell(per_service_pack, clinic.patient, clinic.receptionist, pay_at_clinic=True)
    payment = start(purchase.invoice_line.invoice, clinic.patient.user)

    billing.expire_checkout(payment=payment, now=NOW + datetime.timedelta(minutes=20))

    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.ACTIVE
    assert purchase.invoice_line.invoice.status == InvoiceStatus.OPEN


def test_voiding_the_invoice_of_a_pending_purchase_cancels_it(clinic, per_service_pack, administrator):
    purchase = sell(per_service_pack, clinic.patient, clinic.patient.user, source="booking_box")

    billing.void_invoice(invoice=purchase.invoice_line.invoice, actor=administrator, reason="duplicado", now=NOW)

    purchase.refresh_from_db()
    assert (purchase.status, purchase.cancelled_at) == (PurchaseStatus.CANCELLED, NOW)


def test_voiding_the_invoice_of_a_pack_in_use_is_refused(clinic, per_service_pack, administrator):
    purchase = sell(per_service_pack, clinic.patient, clinic.receptionist, pay_at_clinic=True)

    with pytest.raises(PaymentError) as refused:
        billing.void_invoice(invoice=purchase.invoice_line.invoice, actor=administrator, reason="x", now=NOW)

    assert "cancel the pack" in refused.value.message
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.ACTIVE
    assert purchase.invoice_line.invoice.status == InvoiceStatus.OPEN


def test_online_purchases_never_taken_to_a_checkout_lapse_after_their_lifetime(clinic, per_service_pack, fakepay):
    forgotten = sell(per_service_pack, clinic.patient, clinic.patient.user, source="booking_box")
    paying = sell(per_service_pack, PatientFactory(), clinic.receptionist)
    start(paying.invoice_line.invoice, clinic.receptionist, now=NOW + PENDING_PURCHASE_LIFETIME)
    recent = sell(per_service_pack, PatientFactory(), clinic.receptionist, now=NOW + datetime.timedelta(days=2))
    later = NOW + PENDING_PURCHASE_LIFETIME + datetime.timedelta(minutes=1)

    assert lapse_pending_purchases(now=later) == 1
    assert lapse_pending_purchases(now=later) == 0

    statuses = dict(PackagePurchase.objects.values_list("pk", "status"))
    assert statuses == {
        forgotten.pk: PurchaseStatus.CANCELLED,
        paying.pk: PurchaseStatus.PENDING_PAYMENT,
        recent.pk: PurchaseStatus.PENDING_PAYMENT,
    }


def test_a_payment_arriving_for_a_lapsed_purchase_is_refunded_not_granted(clinic, per_service_pack, fakepay):
    purchase = sell(per_service_pack, clinic.patient, clinic.patient.user, source="booking_box")
    payment = start(purchase.invoice_line.invoice, clinic.patient.user)
    billing.void_invoice(invoice=purchase.invoice_line.invoice, actor=None, reason="lapsed", now=NOW)

    billing.confirm_payment(payment=payment, payment_reference="fp_pay_late", now=NOW)

    purchase.refresh_from_db()
    payment.refresh_from_db()
    assert purchase.status == PurchaseStatus.CANCELLED
    assert not purchase.credit_entries.exists()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.refunds.count() == 1


# ----------------------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("change", "actor", "code"),
    [
        ({"active": False}, "patient", "package_inactive"),
        ({"active": False}, "receptionist", "package_inactive"),
        ({"public": False}, "patient", "package_not_offered"),
    ],
)
def test_refusals_write_nothing(clinic, per_service_pack, change, actor, code):
    for field, value in change.items():
        setattr(per_service_pack, field, value)
    per_service_pack.save()
    user = clinic.patient.user if actor == "patient" else clinic.receptionist

    with pytest.raises(PackError) as refused:
        sell(per_service_pack, clinic.patient, user, source="booking_box")

    assert refused.value.code == code
    assert not PackagePurchase.objects.exists()
    assert not Invoice.objects.exists()


def test_staff_may_assign_a_pack_not_offered_to_patients(clinic, per_service_pack):
    per_service_pack.public = False
    per_service_pack.save()

    assert sell(per_service_pack, clinic.patient, clinic.receptionist).status == PurchaseStatus.PENDING_PAYMENT


def test_a_patient_buys_for_themselves_only_and_nobody_anonymous(clinic, per_service_pack):
    other = PatientFactory()

    for actor in (other.user, None):
        with pytest.raises(PackError) as refused:
            sell(per_service_pack, clinic.patient, actor, source="booking_box")
        assert refused.value.code == "not_allowed"
    assert not PackagePurchase.objects.exists() and not Invoice.objects.exists()


def test_staff_without_the_invoice_permission_cannot_sell(clinic, per_service_pack):
    from django.contrib.auth.models import Permission

    from tests.factories.accounts import VerifiedUserFactory

    booker = VerifiedUserFactory()
    booker.user_permissions.add(Permission.objects.get(codename="change_appointment"))

    with pytest.raises(PackError) as refused:
        sell(per_service_pack, clinic.patient, booker)

    assert refused.value.code == "not_allowed"


@pytest.mark.parametrize("source", ["", "website", None])
def test_a_bad_source_or_argument_is_invalid(clinic, per_service_pack, source):
    with pytest.raises(PackError) as refused:
        sell(per_service_pack, clinic.patient, clinic.receptionist, source=source)

    assert refused.value.code == "invalid_request"


def test_a_pack_without_items_cannot_be_sold(clinic):
    from tests.factories.packs import PackageFactory

    with pytest.raises(PackError) as refused:
        sell(PackageFactory(), clinic.patient, clinic.receptionist)

    assert refused.value.code == "invalid_request"
    assert not Invoice.objects.exists()


def test_the_limit_per_patient_counts_every_purchase_not_cancelled(clinic, per_service_pack, administrator):
    per_service_pack.max_purchases_per_patient = 2
    per_service_pack.save()
    first = sell(per_service_pack, clinic.patient, clinic.receptionist, pay_at_clinic=True)
    pending = sell(per_service_pack, clinic.patient, clinic.patient.user, source="booking_box")

    with pytest.raises(PackError) as refused:
        sell(per_service_pack, clinic.patient, clinic.receptionist, pay_at_clinic=True)

    assert refused.value.code == "limit_reached"
    assert refused.value.message == "This pack can be bought only 2 times per patient."
    assert PackagePurchase.objects.count() == 2
    assert sell(per_service_pack, PatientFactory(), clinic.receptionist).pk  # another patient is not limited

    billing.void_invoice(invoice=pending.invoice_line.invoice, actor=administrator, reason="no pagó", now=NOW)
    assert sell(per_service_pack, clinic.patient, clinic.receptionist).pk
    assert first.pk
