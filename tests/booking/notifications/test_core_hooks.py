"""The packs' signals and billing's ``invoice_paid`` plan their emails (``booking.notifications.hooks``).

Signals are sent the way the packs and billing send them (after the commit for packs, inside billing's
transaction for ``invoice_paid``); a repeated signal plans nothing new, and a payment rolled back leaves no row.
"""

from datetime import UTC, datetime

import pytest
from django.db import transaction

from booking.billing.models import Invoice
from booking.billing.signals import invoice_paid
from booking.notifications.events import Event
from booking.notifications.models import Notification
from booking.packs.models import PackagePurchase
from booking.packs.signals import pack_cancelled, pack_expiring, pack_purchased
from tests.factories.accounts import PatientFactory
from tests.factories.billing import InvoiceFactory
from tests.factories.packs import package_with, purchase_of
from tests.factories.scheduling import ServiceFactory

pytestmark = pytest.mark.django_db

PAID_AT = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)


@pytest.fixture
def purchase():
    patient = PatientFactory(user__preferred_language="en")
    return purchase_of(package_with({ServiceFactory(): 4}), patient=patient, status="active", purchased_at=PAID_AT)


def rows(event):
    return list(Notification.objects.filter(event=event))


def test_a_pack_purchase_tells_the_patient_once_in_their_language(purchase):
    pack_purchased.send(sender=PackagePurchase, purchase=purchase, actor=None)
    pack_purchased.send(sender=PackagePurchase, purchase=purchase, actor=None)  # delivered twice

    [row] = rows(Event.PACK_PURCHASED)
    assert (row.user, row.email, row.language) == (purchase.patient.user, purchase.patient.user.email, "en")
    assert row.scheduled_for == purchase.purchased_at
    assert row.pack_purchase == purchase


def test_a_cancelled_pack_is_announced_but_a_lapsed_unpaid_reservation_is_not(purchase):
    purchase.cancelled_at = PAID_AT
    purchase.save()
    pack_cancelled.send(sender=PackagePurchase, purchase=purchase, actor=None, refund_amount=0, paid=False)
    assert rows(Event.PACK_CANCELLED) == []

    pack_cancelled.send(sender=PackagePurchase, purchase=purchase, actor=None, refund_amount=0, paid=True)
    [row] = rows(Event.PACK_CANCELLED)
    assert row.scheduled_for == PAID_AT


def test_an_expiring_pack_warns_the_patient(purchase):
    purchase.expiry_notified_at = PAID_AT
    purchase.save()
    pack_expiring.send(sender=PackagePurchase, purchase=purchase, remaining=2, expires_at=purchase.expires_at)
    [row] = rows(Event.PACK_EXPIRING)
    assert row.email == purchase.patient.user.email


def test_a_paid_invoice_plans_the_receipt_in_billings_transaction():
    invoice = InvoiceFactory(patient=PatientFactory(), paid_at=PAID_AT)
    with transaction.atomic():
        invoice_paid.send(sender=Invoice, invoice=invoice, now=PAID_AT)
        invoice_paid.send(sender=Invoice, invoice=invoice, now=PAID_AT)
    [row] = rows(Event.PAYMENT_RECEIVED)
    assert (row.invoice, row.email, row.scheduled_for) == (invoice, invoice.patient.user.email, PAID_AT)


def test_a_payment_rolled_back_leaves_no_receipt():
    invoice = InvoiceFactory(patient=PatientFactory(), paid_at=PAID_AT)

    class Refused(Exception):
        pass

    with pytest.raises(Refused), transaction.atomic():
        invoice_paid.send(sender=Invoice, invoice=invoice, now=PAID_AT)
        raise Refused

    assert rows(Event.PAYMENT_RECEIVED) == []


def test_the_pack_and_receipt_emails_go_out_discreetly_in_the_patients_language(purchase):
    from django.core import mail

    from booking.notifications.dispatch import dispatch_due

    pack_purchased.send(sender=PackagePurchase, purchase=purchase, actor=None)
    invoice = InvoiceFactory(patient=purchase.patient, paid_at=PAID_AT)
    with transaction.atomic():
        invoice_paid.send(sender=Invoice, invoice=invoice, now=PAID_AT)
    mail.outbox.clear()

    dispatch_due(now=datetime(2027, 3, 1, 15, 1, tzinfo=UTC))

    to_patient = [m for m in mail.outbox if m.to == [purchase.patient.user.email]]
    assert len(to_patient) == 2, list(Notification.objects.values_list("event", "state", "error", "scheduled_for"))
    service_name = purchase.package.items.first().service.name
    for message in to_patient:
        assert service_name not in message.subject
        assert service_name not in message.body.splitlines()[0]
    states = set(
        Notification.objects.filter(event__in=[Event.PACK_PURCHASED, Event.PAYMENT_RECEIVED]).values_list(
            "state", flat=True
        )
    )
    assert states == {"sent"}


def test_the_payment_received_email_carries_the_receipt_pdf_in_the_patients_language():
    from django.core import mail

    from booking.notifications.dispatch import dispatch_due

    patient = PatientFactory(user__preferred_language="en")
    invoice = InvoiceFactory(patient=patient, paid_at=PAID_AT, status="paid")
    with transaction.atomic():
        invoice_paid.send(sender=Invoice, invoice=invoice, now=PAID_AT)
    mail.outbox.clear()

    dispatch_due(now=datetime(2027, 3, 1, 15, 1, tzinfo=UTC))

    [message] = mail.outbox
    [(filename, content, mimetype)] = message.attachments
    assert (filename, mimetype) == (f"{invoice.display_number}.pdf", "application/pdf")
    assert content.startswith(b"%PDF")
    assert "attached" in message.body
