"""Billing reads: the lookups that webhooks, pages and services share, each a bounded number of queries."""

from __future__ import annotations

from django.db.models import F, QuerySet

from booking.scheduling.models import Appointment

from .models import Invoice, InvoiceStatus, Payment


def payment_for_checkout_session(session_id: str) -> Payment | None:
    """The payment a Stripe Checkout Session was opened for (None for an unknown or empty id)."""
    if not session_id:
        return None
    return Payment.objects.select_related("invoice").filter(stripe_checkout_session_id=session_id).first()


def payment_for_payment_intent(payment_intent_id: str) -> Payment | None:
    """The payment a Stripe PaymentIntent settled (None for an unknown or empty id)."""
    if not payment_intent_id:
        return None
    return Payment.objects.select_related("invoice").filter(stripe_payment_intent_id=payment_intent_id).first()


def invoice_for_appointment(appointment: Appointment) -> Invoice | None:
    """The appointment's current invoice: the newest one that has a line for it and is not void."""
    return (
        Invoice.objects.filter(lines__appointment=appointment)
        .exclude(status=InvoiceStatus.VOID)
        .select_related("series")
        .order_by("-pk")
        .first()
    )


def invoices_for_user(user) -> QuerySet[Invoice]:
    """A patient's invoices, newest first: the open ones of held sessions (not numbered yet) come first; drafts are
    the clinic's work in progress, never shown."""
    if user is None or not getattr(user, "is_authenticated", False):
        return Invoice.objects.none()
    return (
        Invoice.objects.for_patient(user)
        .exclude(status=InvoiceStatus.DRAFT)
        .select_related("series", "patient__user")
        .order_by(F("issued_at").desc(nulls_first=True), "-pk")
    )
