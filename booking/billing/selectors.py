"""Billing reads: the lookups that webhooks, pages and services share, each a bounded number of queries."""

from __future__ import annotations

from django.db.models import F, QuerySet

from booking.scheduling.models import Appointment

from .models import Invoice, InvoiceStatus, Payment, PaymentMethod


def payment_for_checkout(reference: str, *, provider: str) -> Payment | None:
    """The online payment a provider's checkout was opened for (None for an unknown or empty reference)."""
    if not reference:
        return None
    return (
        Payment.objects.select_related("invoice")
        .filter(method=PaymentMethod.ONLINE, provider=provider, provider_reference=reference)
        .first()
    )


def payment_for_provider_payment(reference: str, *, provider: str) -> Payment | None:
    """The online payment a provider's payment (Stripe's PaymentIntent) settled (None for an unknown or empty one)."""
    if not reference:
        return None
    return (
        Payment.objects.select_related("invoice")
        .filter(method=PaymentMethod.ONLINE, provider=provider, provider_payment_reference=reference)
        .first()
    )


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
