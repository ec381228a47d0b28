"""The patient's own data: everything the clinic holds about them as one export, and closing the account.

``export_data`` is the same dictionary for the JSON download and the readable PDF (``privacy_views``): the
profile, consents, sessions, invoices with payments and refunds, packs, shared documents (their names, not their
files: those download from the documents page) and email preferences. A bounded number of queries whatever the
history's length.

``close_account`` keeps what Chilean law says the clinic must keep and anonymises the rest, in one transaction,
and records the request (``AccountClosure``). It is refused, with the reason, while sessions are still booked or
invoices still owed: the patient cancels or pays first, so nothing is left half done.
"""

from __future__ import annotations

from datetime import datetime

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from booking.billing.models import Invoice, Payment, Refund
from booking.billing.selectors import invoices_for_user
from booking.notifications.models import Notification, State
from booking.notifications.preferences import set_non_essential_email
from booking.notifications.web_models import NotificationPreference
from booking.packs.models import PackagePurchase
from booking.scheduling.models import Appointment
from booking.scheduling.models.appointments import OPEN_STATUSES
from portal.accounts.models import AccountClosure, CalendarFeed, ConsentRecord, User
from portal.records.models import PatientDocument

# What closing keeps, in the record of the request (source language, for the clinic's staff and auditors).
KEPT = (
    "Kept: name, RUT and birth date (they identify the clinical record, which Chilean law (Ley 20.584, Decreto 41) "
    "requires to be kept for at least 15 years), sessions, invoices with their billing data, payments and refunds "
    "(tax law), consent records and shared documents. Anonymised: login email, phones, emergency contact, "
    "preferences, calendar feeds, two-factor devices and open sessions."
)


class ClosureRefused(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def export_data(user: User, *, now: datetime | None = None) -> dict:
    """Everything about ``user`` as a patient, as plain JSON-ready values (ISO times in UTC, amounts as strings)."""
    now = now or timezone.now()
    patient = getattr(user, "patient", None)
    sessions = (
        Appointment.objects.filter(patient__user=user)
        .select_related("service", "professional", "location")
        .order_by("start")
    )
    invoices = (
        Invoice.objects.filter(patient__user=user)
        .prefetch_related(
            Prefetch(
                "payments",
                queryset=Payment.objects.order_by("pk").prefetch_related(
                    Prefetch("refunds", queryset=Refund.objects.order_by("pk"))
                ),
            )
        )
        .order_by("pk")
    )
    preference = NotificationPreference.objects.filter(user=user).first()
    return {
        "exported_at": _iso(now),
        "account": {
            "email": user.email,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "phone": user.phone,
            "preferred_language": user.preferred_language,
            "joined_at": _iso(user.date_joined),
        },
        "patient": None
        if patient is None
        else {
            "rut": patient.rut,
            "birth_date": patient.birth_date.isoformat() if patient.birth_date else None,
            "phone": patient.phone,
            "emergency_contact_name": patient.emergency_contact_name,
            "emergency_contact_phone": patient.emergency_contact_phone,
        },
        "consents": [
            {"document": consent.document, "version": consent.version, "accepted_at": _iso(consent.accepted_at)}
            for consent in ConsentRecord.objects.filter(user=user).order_by("accepted_at")
        ],
        "sessions": [
            {
                "reference": session.reference,
                "start": _iso(session.start),
                "end": _iso(session.end),
                "status": session.status,
                "service": session.service.name,
                "professional": session.professional.display_name,
                "modality": session.modality,
                "place": session.location.name if session.location_id else None,
                "price": str(session.price),
                "currency": session.currency,
            }
            for session in sessions
        ],
        "invoices": [
            {
                "number": invoice.display_number,
                "reference": invoice.reference,
                "status": invoice.status,
                "issued_at": _iso(invoice.issued_at),
                "total": str(invoice.total),
                "currency": invoice.currency,
                "billing_name": invoice.billing_name,
                "billing_email": invoice.billing_email,
                "payments": [
                    {
                        "amount": str(payment.amount),
                        "method": payment.method,
                        "status": payment.status,
                        "at": _iso(payment.created_at),
                        "refunds": [
                            {"amount": str(refund.amount), "status": refund.status, "at": _iso(refund.created_at)}
                            for refund in payment.refunds.all()
                        ],
                    }
                    for payment in invoice.payments.all()
                ],
            }
            for invoice in invoices
        ],
        "packs": [
            {
                "reference": purchase.reference,
                "name": purchase.snapshot_name,
                "status": purchase.status,
                "purchased_at": _iso(purchase.purchased_at),
                "expires_at": _iso(purchase.expires_at),
                "price": str(purchase.price),
                "currency": purchase.currency,
            }
            for purchase in PackagePurchase.objects.filter(patient__user=user).order_by("purchased_at")
        ],
        "documents": [
            {
                "title": document.title,
                "kind": document.kind,
                "file": document.filename,
                "shared_at": _iso(document.shared_at),
            }
            for document in PatientDocument.objects.filter(patient__user=user).order_by("shared_at")
        ],
        "email_preferences": {"non_essential_email": preference.non_essential_email if preference else True},
    }


def closure_blockers(user: User, *, now: datetime) -> list[str]:
    """Why the account cannot be closed yet (empty when it can), in the patient's words."""
    reasons = []
    if Appointment.objects.filter(patient__user=user, status__in=OPEN_STATUSES, end__gt=now).exists():
        reasons.append(_("You still have sessions booked: cancel them first (or let them take place)."))
    if invoices_for_user(user).unpaid().exists():
        reasons.append(_("You still have invoices to pay: pay them first, or contact the clinic."))
    return reasons


def close_account(*, user: User, now: datetime | None = None) -> AccountClosure:
    """Anonymise what the law lets go, keep what it requires, record the request; one transaction, or nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if AccountClosure.objects.filter(user=user).exists():
            raise ClosureRefused(_("This account is already closed."))
        blockers = closure_blockers(user, now=now)
        if blockers:
            raise ClosureRefused(" ".join(blockers))
        closure = AccountClosure.objects.create(user=user, requested_at=now, kept=KEPT)
        set_non_essential_email(user=user, enabled=False, via=NotificationPreference.Via.PROFILE)
        Notification.objects.filter(user=user, state=State.SCHEDULED).update(
            state=State.CANCELLED, error="the patient closed their account", updated_at=now
        )
        CalendarFeed.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=now)
        EmailAddress.objects.filter(user=user).delete()
        Authenticator.objects.filter(user=user).delete()
        user.email = f"closed-{user.pk}@closed.invalid"
        user.phone = ""
        user.is_active = False
        user.set_unusable_password()
        user.save()
        patient = getattr(user, "patient", None)
        if patient is not None:
            patient.phone = patient.emergency_contact_name = patient.emergency_contact_phone = ""
            patient.save(update_fields=["phone", "emergency_contact_name", "emergency_contact_phone", "updated_at"])
    # Every other browser is logged out too: an inactive user is no longer loaded from a session, and the unusable
    # password changes the session's auth hash. The caller logs out the request it answers.
    return closure
