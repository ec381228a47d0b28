"""PostgreSQL only: invoice numbers stay gapless and unique when many invoices are issued (or paid) at once."""

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from booking.billing import services
from booking.billing.models import Invoice, InvoiceSeries
from booking.billing.services import invoices as invoices_module
from booking.scheduling.models import AppointmentStatus
from tests.factories.scheduling import AppointmentFactory, ProfessionalFactory, SuperuserFactory

# serialized_rollback: the rows migrations made (content types, the invoice series, the Wagtail site) come back
# after the flush, as the other transactional billing tests expect.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
THREADS = 20
PER_KIND = 6  # holds paid, holds abandoned, bookings confirmed: three kinds of writer at once


def test_twenty_invoices_issued_at_once_take_consecutive_numbers():
    series, _created = InvoiceSeries.objects.get_or_create(
        code="default", defaults={"prefix": "B-", "name": "Boletas"}
    )
    series.next_number = 500
    series.save()
    professional = ProfessionalFactory()
    appointments = [
        AppointmentFactory(professional=professional, start=datetime(2026, 12, 1, 12, tzinfo=UTC) + timedelta(hours=i))
        for i in range(THREADS)
    ]
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def issue(appointment):
        try:
            barrier.wait()
            services.create_invoice_for_appointment(appointment=appointment, actor=None, now=NOW)
        except BaseException as error:  # every failure is reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=issue, args=(appointment,)) for appointment in appointments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == list(range(500, 500 + THREADS))
    series.refresh_from_db()
    assert series.next_number == 500 + THREADS


def test_a_rolled_back_issue_gives_its_number_back(monkeypatch):
    series, _created = InvoiceSeries.objects.get_or_create(
        code="default", defaults={"prefix": "B-", "name": "Boletas"}
    )
    start = series.next_number
    failing, succeeding = AppointmentFactory(), AppointmentFactory(start=datetime(2026, 12, 2, 12, tzinfo=UTC))
    real_log = invoices_module._log

    def log_then_fail(invoice, action, **kwargs):
        if action == "issued" and invoice.lines.filter(appointment=failing).exists():
            raise RuntimeError("crash after the number was taken")
        return real_log(invoice, action, **kwargs)

    monkeypatch.setattr(invoices_module, "_log", log_then_fail)

    with pytest.raises(RuntimeError):
        services.create_invoice_for_appointment(appointment=failing, actor=None, now=NOW)
    invoice = services.create_invoice_for_appointment(appointment=succeeding, actor=None, now=NOW)

    assert invoice.number == start
    assert Invoice.objects.count() == 1


def test_holds_paid_and_bookings_invoiced_at_once_share_one_gapless_series():
    """Holds paid, holds abandoned and confirmed bookings all at once: numbers only for the owed, no holes."""
    series, _created = InvoiceSeries.objects.get_or_create(
        code="default", defaults={"prefix": "B-", "name": "Boletas"}
    )
    series.next_number = 700
    series.save()
    cashier = SuperuserFactory()
    professional = ProfessionalFactory()
    starts = (datetime(2026, 12, 1, 12, tzinfo=UTC) + timedelta(hours=i) for i in range(3 * PER_KIND))
    holds = [
        AppointmentFactory(
            professional=professional,
            start=next(starts),
            status=AppointmentStatus.PENDING_PAYMENT,
            hold_expires_at=NOW + timedelta(minutes=15),
        )
        for _ in range(2 * PER_KIND)
    ]
    hold_invoices = [services.create_invoice_for_appointment(appointment=hold, actor=None, now=NOW) for hold in holds]
    to_pay, to_abandon = hold_invoices[:PER_KIND], hold_invoices[PER_KIND:]
    bookings = [AppointmentFactory(professional=professional, start=next(starts)) for _ in range(PER_KIND)]
    barrier = threading.Barrier(3 * PER_KIND)
    errors: list[BaseException] = []

    def run(work):
        try:
            barrier.wait()
            work()
        except BaseException as error:  # every failure is reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    def pay(invoice):
        return lambda: services.record_offline_payment(
            invoice=invoice, method="cash", amount=Decimal("35000"), actor=cashier, now=NOW
        )

    def abandon(invoice):
        return lambda: services.void_invoice(invoice=invoice, actor=None, reason="checkout abandoned", now=NOW)

    def book(appointment):
        return lambda: services.create_invoice_for_appointment(appointment=appointment, actor=None, now=NOW)

    work = [pay(i) for i in to_pay] + [abandon(i) for i in to_abandon] + [book(a) for a in bookings]
    threads = [threading.Thread(target=run, args=(job,)) for job in work]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    numbered = sorted(Invoice.objects.exclude(number=None).values_list("number", flat=True))
    assert numbered == list(range(700, 700 + 2 * PER_KIND))
    assert not Invoice.objects.filter(pk__in=[i.pk for i in to_abandon]).exclude(number=None).exists()
    series.refresh_from_db()
    assert series.next_number == 700 + 2 * PER_KIND
