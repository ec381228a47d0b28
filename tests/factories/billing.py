"""Billing factories. Invoices made here skip the services: use them for pages and lists, not for money rules."""

import datetime
from decimal import Decimal

import factory
from django.db.models import F

from booking.billing.models import Coupon, Invoice, InvoiceLine, InvoiceSeries, Payment

from .accounts import PatientFactory
from .scheduling import AppointmentFactory


def default_series() -> InvoiceSeries:
    return InvoiceSeries.objects.get_or_create(code="default", defaults={"prefix": "B-", "name": "Boletas"})[0]


def take_number(series: InvoiceSeries) -> int:
    """The series' next number, taken as the services take it, so a factory invoice and one the services issue
    in the same test never share a number (a counter of the factory's own collided, depending on test order)."""
    InvoiceSeries.objects.filter(pk=series.pk).update(next_number=F("next_number") + 1)
    return InvoiceSeries.objects.values_list("next_number", flat=True).get(pk=series.pk) - 1


class InvoiceFactory(factory.django.DjangoModelFactory):
    """An open CLP invoice of 35.000 with one session line (pass ``appointment`` to choose it)."""

    class Meta:
        model = Invoice
        skip_postgeneration_save = True

    series = factory.LazyFunction(default_series)
    number = factory.LazyAttribute(lambda invoice: take_number(invoice.series))
    patient = factory.SubFactory(PatientFactory)
    billing_name = factory.LazyAttribute(lambda o: o.patient.user.get_full_name() or o.patient.user.email)
    billing_email = factory.LazyAttribute(lambda o: o.patient.user.email)
    status = "open"
    currency = "CLP"
    issued_at = datetime.datetime(2026, 11, 20, 12, tzinfo=datetime.UTC)
    subtotal = Decimal("35000")
    total = Decimal("35000")

    @factory.post_generation
    def appointment(obj, create, extracted, **kwargs):
        """One session line for ``appointment`` (a new one of the invoice's patient if not given)."""
        if not create or extracted is False:
            return
        appointment = extracted or AppointmentFactory(patient=obj.patient, **kwargs)
        InvoiceLine.objects.create(
            invoice=obj,
            kind=InvoiceLine.Kind.APPOINTMENT,
            description=str(appointment.service),
            unit_price=obj.subtotal,
            total=obj.total,
            appointment=appointment,
            service=appointment.service,
        )


class PaymentFactory(factory.django.DjangoModelFactory):
    """A succeeded cash payment of the whole invoice."""

    class Meta:
        model = Payment

    invoice = factory.SubFactory(InvoiceFactory)
    method = "cash"
    amount = factory.LazyAttribute(lambda o: o.invoice.total)
    currency = factory.LazyAttribute(lambda o: o.invoice.currency)
    status = "succeeded"
    received_at = datetime.datetime(2026, 11, 20, 12, 30, tzinfo=datetime.UTC)


class CouponFactory(factory.django.DjangoModelFactory):
    """A 10 % code valid for every service, with no limits."""

    class Meta:
        model = Coupon

    code = factory.Sequence(lambda n: f"PROMO{n}")
    kind = "percent"
    value = Decimal("10")
