"""The booking box's confirmation email: every detail the patient needs, nothing the site cannot do.

Booked Tuesday 1 December 2026, 09:00 in Santiago (the clinic fixture's clock is pinned to 29 November). New
strings are asserted in English; the Spanish rendering is checked with strings the catalogue already has.
"""

from datetime import datetime
from decimal import Decimal

import pytest
from django.conf import settings
from django.core import mail
from wagtail.models import Site

from booking.billing import services as billing
from booking.scheduling import services as scheduling
from booking.scheduling.models import AppointmentSource
from booking.widget.emails import send_booking_confirmation
from tests.factories.scheduling import SuperuserFactory
from website.models import SiteSettings

from .conftest import NOW, SANTIAGO, TUESDAY_9

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic_settings(clinic):
    row = SiteSettings.for_site(Site.objects.get(is_default_site=True))
    row.clinic_name = "Clínica Aurora"
    row.phone = "+56 2 2345 6789"
    row.email = "hola@aurora.example"
    row.save()
    return row


def book(clinic, *, start=TUESDAY_9, location="default", modality="in_person"):
    location = clinic.location if location == "default" else location
    appointment, invoice = billing.book_with_invoice(
        patient=clinic.patient,
        professional=clinic.ana,
        service=clinic.service,
        start=start,
        location=location,
        modality=modality,
        source=AppointmentSource.BOOKING_BOX,
        actor=clinic.patient.user,
        now=NOW,
    )
    mail.outbox.clear()
    return appointment, invoice


def confirmation(appointment):
    send_booking_confirmation(appointment.pk)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    html = message.alternatives[0][0]
    assert message.alternatives[0][1] == "text/html"
    return message, html


def test_english_email_gives_session_place_reference_price_policy_contact_and_links(clinic, clinic_settings):
    appointment, invoice = book(clinic)
    message, html = confirmation(appointment)
    site = settings.SITE_URL

    assert message.to == [clinic.patient.user.email]
    assert message.from_email == '"Clínica Aurora" <no-reply@clinic.localhost>'
    assert message.subject == f"Your session is booked ({appointment.reference})"
    for body in (message.body, html):
        assert appointment.reference in body
        assert "Individual therapy" in body
        assert "Ana Rojas" in body
        assert "Tuesday 1 December 2026, 09:00 (America/Santiago)" in body
        assert "Providencia, Av. Providencia 1234, Santiago" in body
        assert "$35,000" in body
        assert "Amount due" in body
        assert "You pay it at the clinic on the day of your session." in body
        assert "You can cancel free of charge up to 24 hours before the session." in body
        assert "You can reschedule up to 24 hours before the session" in body
        contact = f"To cancel or change the time, contact the clinic and give your reference, {appointment.reference}."
        assert contact in body
        assert "+56 2 2345 6789" in body
        assert "hola@aurora.example" in body
        assert f"{site}/portal/invoices/{invoice.reference}/" in body
        assert f"{site}/portal/appointments/{appointment.reference}/calendar.ics" in body
        assert f"{site}/booking/done/{appointment.reference}/" in body
        assert f"{site}/portal/" in body
        # The portal cannot reschedule or cancel yet: the email must not say it can.
        assert "reschedule or cancel your sessions in your portal" not in body
        assert "pay it online" not in body  # pay-at-the-clinic service


def test_spanish_is_the_default_when_no_language_is_stored(clinic, clinic_settings):
    user = clinic.patient.user
    user.preferred_language = ""
    user.save()
    appointment, _invoice = book(clinic)
    message, html = confirmation(appointment)

    for body in (message.body, html):
        assert "Referencia" in body
        assert "artes 1 diciembre 2026, 09:00 (America/Santiago)" in body
        assert "$35.000" in body
        assert "Puedes cancelar sin costo hasta 24 horas antes de la sesión." in body
        assert "Tuesday" not in body


def test_online_session_says_how_the_video_link_arrives(clinic, clinic_settings):
    start = datetime(2026, 12, 1, 15, 0, tzinfo=SANTIAGO)
    appointment, _invoice = book(clinic, start=start, location=None, modality="online")
    message, html = confirmation(appointment)

    for body in (message.body, html):
        assert "Online (video call)" in body
        assert "The clinic will send you the link to the video call by email before the session." in body
        assert "Tuesday 1 December 2026, 15:00 (America/Santiago)" in body


def test_a_paid_session_says_paid_and_owes_nothing(clinic, clinic_settings):
    appointment, invoice = book(clinic)
    billing.record_offline_payment(
        invoice=invoice, method="cash", amount=Decimal("35000"), actor=SuperuserFactory(), now=NOW
    )
    message, html = confirmation(appointment)

    for body in (message.body, html):
        assert "$35,000" in body
        assert "Paid. Thank you!" in body
        assert "Amount due" not in body


def test_pay_later_with_online_payment_on_points_to_the_invoice(clinic, clinic_settings, settings):
    settings.STRIPE_ENABLED = True
    settings.STRIPE_SECRET_KEY = "sk_test_emails"
    clinic.service.payment_mode = "later"
    clinic.service.save()
    appointment, _invoice = book(clinic)
    message, _html = confirmation(appointment)

    assert "You can pay it online from your invoice in your portal, or at the clinic on the day of your session." in (
        message.body
    )


def test_the_policy_follows_the_service_windows(clinic, clinic_settings):
    clinic.service.cancellation_window_hours = 48
    clinic.service.reschedule_window_hours = 12
    clinic.service.max_reschedules = 1
    clinic.service.save()
    appointment, _invoice = book(clinic)
    message, _html = confirmation(appointment)

    assert "You can cancel free of charge up to 48 hours before the session." in message.body
    assert "You can reschedule up to 12 hours before the session (at most 1 time per booking)." in message.body


def test_confirming_a_box_booking_sends_the_email_on_commit(
    clinic, clinic_settings, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        appointment, _invoice = billing.book_with_invoice(
            patient=clinic.patient,
            professional=clinic.ana,
            service=clinic.service,
            start=TUESDAY_9,
            location=clinic.location,
            modality="in_person",
            source=AppointmentSource.BOOKING_BOX,
            actor=clinic.patient.user,
            now=NOW,
        )
    assert [message.subject for message in mail.outbox] == [f"Your session is booked ({appointment.reference})"]
    assert "$35,000" in mail.outbox[0].body


def test_a_session_cancelled_before_the_email_goes_out_gets_no_booked_email(clinic, clinic_settings):
    appointment, _invoice = book(clinic)
    scheduling.cancel_appointment(appointment=appointment, actor=clinic.patient.user, now=NOW)

    send_booking_confirmation(appointment.pk)

    assert mail.outbox == []
