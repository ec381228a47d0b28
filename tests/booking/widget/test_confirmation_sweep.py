"""The confirmation email survives a lost task: the database says what is owed, a sweep sends it, once.

Booked at the clinic fixture's pinned clock (Sunday 29 November 2026, 10:00 in Santiago) for Tuesday 09:00, paid
at the clinic, so the booking itself confirms the session. pytest-django drops on-commit callbacks unless asked,
so after ``book`` no task has run: exactly the state a consumer killed before (or during) the task leaves.
"""

from datetime import timedelta

import pytest
from django.core import mail
from django.core.mail import EmailMultiAlternatives

from booking.billing import services as billing
from booking.scheduling import services as scheduling
from booking.scheduling.models import Appointment, AppointmentSource
from booking.widget import tasks
from booking.widget.emails import (
    claim_booking_confirmation,
    deliver_booking_confirmation,
    send_due_booking_confirmations,
)

from .conftest import NOW, TUESDAY_9

pytestmark = pytest.mark.django_db

LEASE = timedelta(minutes=10)


@pytest.fixture(autouse=True)
def outbox_timing(settings):
    settings.OUTBOX_CLAIM_LEASE_SECONDS = int(LEASE.total_seconds())
    settings.OUTBOX_SWEEP_GRACE_SECONDS = 120


def book(clinic, *, source=AppointmentSource.BOOKING_BOX, start=TUESDAY_9):
    appointment, _invoice = billing.book_with_invoice(
        patient=clinic.patient,
        professional=clinic.ana,
        service=clinic.service,
        start=start,
        location=clinic.location,
        modality="in_person",
        source=source,
        actor=clinic.patient.user,
        now=NOW,
    )
    mail.outbox.clear()
    return appointment


def confirmation_emails(appointment):
    return [message for message in mail.outbox if appointment.reference in message.subject]


def test_the_sweep_sends_an_owed_confirmation_exactly_once(clinic):
    appointment = book(clinic)
    assert appointment.status == "confirmed"

    assert send_due_booking_confirmations(now=NOW + timedelta(minutes=3)) == 1
    assert send_due_booking_confirmations(now=NOW + timedelta(minutes=4)) == 0
    assert send_due_booking_confirmations(now=NOW + LEASE + timedelta(minutes=5)) == 0

    assert len(confirmation_emails(appointment)) == 1
    assert mail.outbox[0].to == [clinic.patient.user.email]
    appointment.refresh_from_db()
    assert appointment.confirmation_sent_at is not None


def test_the_sweep_leaves_a_fresh_confirmation_to_its_task(clinic):
    book(clinic)

    assert send_due_booking_confirmations(now=NOW + timedelta(minutes=1)) == 0
    assert mail.outbox == []


def test_the_task_sends_on_commit_and_the_sweep_then_skips_it(clinic, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        appointment = billing.book_with_invoice(
            patient=clinic.patient,
            professional=clinic.ana,
            service=clinic.service,
            start=TUESDAY_9,
            location=clinic.location,
            modality="in_person",
            source=AppointmentSource.BOOKING_BOX,
            actor=clinic.patient.user,
            now=NOW,
        )[0]
    assert len(confirmation_emails(appointment)) == 1

    # A duplicate run of the task (huey re-delivering it) and every later sweep send nothing more.
    tasks.send_booking_confirmation_task(appointment.pk)
    assert send_due_booking_confirmations(now=NOW + timedelta(minutes=3)) == 0
    assert send_due_booking_confirmations(now=NOW + LEASE + timedelta(minutes=5)) == 0
    assert len(confirmation_emails(appointment)) == 1


def test_the_sweep_skips_a_cancelled_session(clinic):
    appointment = book(clinic)
    scheduling.cancel_appointment(appointment=appointment, actor=clinic.patient.user, now=NOW + timedelta(minutes=1))

    assert send_due_booking_confirmations(now=NOW + timedelta(minutes=3)) == 0
    assert mail.outbox == []


def test_the_sweep_skips_sessions_not_booked_in_the_box(clinic):
    book(clinic, source=AppointmentSource.ADMIN)

    assert send_due_booking_confirmations(now=NOW + timedelta(minutes=3)) == 0
    assert mail.outbox == []


def test_the_sweep_gives_up_on_a_confirmation_owed_for_more_than_a_day(clinic):
    book(clinic)

    assert send_due_booking_confirmations(now=NOW + timedelta(hours=25)) == 0
    assert mail.outbox == []


def test_a_claim_held_by_a_live_worker_is_left_alone_and_a_lapsed_one_is_taken_again(clinic):
    """A worker killed mid-send leaves its claim: nobody sends while it may still be working, the sweep does after."""
    appointment = book(clinic)
    assert claim_booking_confirmation(appointment.pk, now=NOW + timedelta(minutes=1))  # then the worker dies

    assert send_due_booking_confirmations(now=NOW + timedelta(minutes=5)) == 0
    assert mail.outbox == []

    assert send_due_booking_confirmations(now=NOW + timedelta(minutes=1) + LEASE) == 1
    assert len(confirmation_emails(appointment)) == 1


def test_two_workers_cannot_both_claim_one_confirmation(clinic):
    appointment = book(clinic)

    assert claim_booking_confirmation(appointment.pk, now=NOW + timedelta(minutes=3))
    assert not claim_booking_confirmation(appointment.pk, now=NOW + timedelta(minutes=3))
    assert deliver_booking_confirmation(appointment.pk, now=NOW + timedelta(minutes=4)) is False
    assert mail.outbox == []


def test_a_failed_send_is_retried_by_the_sweep_once_its_claim_lapses(clinic, monkeypatch):
    appointment = book(clinic)
    other = book(clinic, start=TUESDAY_9 + timedelta(hours=1))
    real_send = EmailMultiAlternatives.send

    def provider_down_for_the_first(message, *args, **kwargs):
        if appointment.reference in message.subject:
            raise OSError("connection refused")
        return real_send(message, *args, **kwargs)

    monkeypatch.setattr(EmailMultiAlternatives, "send", provider_down_for_the_first)
    # The failure is logged; the other owed confirmation still goes out.
    assert send_due_booking_confirmations(now=NOW + timedelta(minutes=3)) == 1
    assert len(confirmation_emails(other)) == 1
    assert Appointment.objects.get(pk=appointment.pk).confirmation_sent_at is None

    monkeypatch.setattr(EmailMultiAlternatives, "send", real_send)
    assert send_due_booking_confirmations(now=NOW + timedelta(minutes=4)) == 0  # its claim has not lapsed yet
    assert send_due_booking_confirmations(now=NOW + timedelta(minutes=3) + LEASE) == 1
    assert len(confirmation_emails(appointment)) == 1
    assert len(mail.outbox) == 2
