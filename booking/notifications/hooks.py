"""The packs' and billing's facts plan their emails: the pack signals (sent after the commit) and billing's
``invoice_paid`` (sent INSIDE billing's transaction, so the receipt's row is written in it and rolls back with it).

Each message is scheduled at the time of the fact as the pack or invoice recorded it (``purchased_at``,
``cancelled_at``, ``expiry_notified_at``, ``paid_at``), never the receiver's clock: a signal delivered twice plans
the same (event, object, recipient, time) and the outbox's unique constraint drops the second.

Billing's ``refund_succeeded`` plans "refund issued" to the patient and ``payment_failed`` the staff's alert, in
billing's transaction too. The records' ``document_shared`` plans the nutrition evaluation email (inside the
sharing transaction) and ``document_withdrawn`` cancels it if it has not gone out; ``referral_made`` plans the
referred patient's email with the booking link (inside the referral's transaction).
"""

from __future__ import annotations

from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from booking.billing.models import Invoice
from booking.billing.signals import invoice_paid, payment_failed, refund_succeeded
from booking.packs.models import PackagePurchase
from booking.packs.signals import pack_cancelled, pack_expiring, pack_purchased
from portal.records.models import PatientDocument, Referral
from portal.records.signals import document_shared, document_withdrawn, referral_made

from . import services
from .tasks import dispatch_soon


def _at(moment):
    return moment or timezone.now()


@receiver(pack_purchased, sender=PackagePurchase, dispatch_uid="notifications.pack_purchased")
def plan_pack_purchased(sender, purchase: PackagePurchase, **kwargs) -> None:
    services.plan_pack_purchased(purchase, at=_at(purchase.purchased_at))
    dispatch_soon()


@receiver(pack_cancelled, sender=PackagePurchase, dispatch_uid="notifications.pack_cancelled")
def plan_pack_cancelled(sender, purchase: PackagePurchase, paid: bool = True, **kwargs) -> None:
    """A pack never paid (its checkout lapsed) was never announced: nobody is told it is cancelled."""
    if not paid:
        return
    services.plan_pack_cancelled(purchase, at=_at(purchase.cancelled_at))
    dispatch_soon()


@receiver(pack_expiring, sender=PackagePurchase, dispatch_uid="notifications.pack_expiring")
def plan_pack_expiring(sender, purchase: PackagePurchase, **kwargs) -> None:
    services.plan_pack_expiring(purchase, at=_at(purchase.expiry_notified_at))
    dispatch_soon()


@receiver(invoice_paid, sender=Invoice, dispatch_uid="notifications.invoice_paid")
def plan_payment_received(sender, invoice: Invoice, now=None, **kwargs) -> None:
    services.plan_payment_received(invoice, at=invoice.paid_at or now or timezone.now())
    transaction.on_commit(dispatch_soon, robust=True)


@receiver(refund_succeeded, sender=Invoice, dispatch_uid="notifications.refund_succeeded")
def plan_refund_issued(sender, invoice: Invoice, refund, now=None, **kwargs) -> None:
    services.plan_refund_issued(invoice, refund, at=refund.completed_at or now or timezone.now())
    transaction.on_commit(dispatch_soon, robust=True)


@receiver(payment_failed, sender=Invoice, dispatch_uid="notifications.payment_failed")
def plan_payment_failed(sender, invoice: Invoice, payment, now=None, **kwargs) -> None:
    services.plan_payment_failed(invoice, payment, at=now or timezone.now())
    transaction.on_commit(dispatch_soon, robust=True)


@receiver(document_shared, sender=PatientDocument, dispatch_uid="notifications.document_shared")
def plan_document_shared(sender, document: PatientDocument, now=None, **kwargs) -> None:
    services.plan_document_shared(document, at=document.shared_at or now or timezone.now())
    transaction.on_commit(dispatch_soon, robust=True)


@receiver(document_withdrawn, sender=PatientDocument, dispatch_uid="notifications.document_withdrawn")
def cancel_document_email(sender, document: PatientDocument, **kwargs) -> None:
    services.plan_document_withdrawn(document)


@receiver(referral_made, sender=Referral, dispatch_uid="notifications.referral_made")
def plan_referral(sender, referral: Referral, now=None, **kwargs) -> None:
    services.plan_referral(referral, at=referral.created_at or now or timezone.now())
    transaction.on_commit(dispatch_soon, robust=True)
