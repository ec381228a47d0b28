"""The booking box's confirmation is the notifications' ``appointment_confirmed`` email, as for every other source.

Booked Tuesday 1 December 2026, 09:00 in Santiago (the clinic fixture's clock is pinned to 29 November). The email
is planned on the confirming commit and sent by the dispatcher; these tests run both explicitly.
"""

from datetime import datetime

import pytest
from django.conf import settings
from django.core import mail
from wagtail.models import Site

from booking.billing import services as billing
from booking.notifications.dispatch import dispatch_due
from booking.notifications.events import Event
from booking.notifications.models import Notification
from booking.notifications.services import plan_appointment_confirmed
from booking.scheduling import services as scheduling
from booking.scheduling.models import AppointmentSource
from website.models import SiteSettings

from .conftest import NOW, SANTIAGO, TUESDAY_9


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
    plan_appointment_confirmed(appointment_id=appointment.pk, now=NOW)
    dispatch_due(now=NOW)
    to_patient = [m for m in mail.outbox if m.to == [appointment.patient.user.email]]
    assert len(to_patient) == 1, [m.subject for m in mail.outbox]
    message = to_patient[0]
    html = message.alternatives[0][0]
    assert message.alternatives[0][1] == "text/html"
    return message, html


def test_english_email_gives_session_place_reference_price_policy_contact_and_links(clinic, clinic_settings):
    appointment, _invoice = book(clinic)
    message, html = confirmation(appointment)
    site = settings.SITE_URL

    assert message.to == [clinic.patient.user.email]
    assert message.from_email == '"Clínica Aurora" <no-reply@clinic.localhost>'
    assert message.subject == "Clínica Aurora: your session is booked for Tuesday 1 December 2026, 09:00"
    for body in (message.body, html):
        assert appointment.reference in body
        assert "Individual therapy" in body
        assert "Ana Rojas" in body
        assert "Tuesday 1 December 2026, 09:00 (America/Santiago)" in body
        assert "Providencia, Av. Providencia 1234, Santiago" in body
        assert "$35,000" in body
        assert "You can cancel free of charge up to 24 hours before the session." in body
        assert "+56 2 2345 6789" in body
        assert "hola@aurora.example" in body
        assert f"{site}/portal/appointments/{appointment.reference}/calendar.ics" in body
        assert f"{site}/portal/" in body
        assert f"{site}/notifications/appointment/" in body  # the signed cancel link
    assert message.attachments[0][0] == "session.ics"


def test_spanish_is_the_default_when_no_language_is_stored(clinic, clinic_settings):
    user = clinic.patient.user
    user.preferred_language = ""
    user.save()
    appointment, _invoice = book(clinic)
    message, html = confirmation(appointment)

    assert message.subject == "Clínica Aurora: tu hora quedó reservada para el Martes 1 de diciembre de 2026, 09:00"
    for body in (message.body, html):
        assert "Referencia" in body
        assert "artes 1 de diciembre de 2026, 09:00 (America/Santiago)" in body
        assert "$35.000" in body
        assert "Puedes cancelar sin costo hasta 24 horas antes de la sesión." in body
        assert "Tuesday" not in body


def test_online_session_says_it_is_online(clinic, clinic_settings):
    start = datetime(2026, 12, 1, 15, 0, tzinfo=SANTIAGO)
    appointment, _invoice = book(clinic, start=start, location=None, modality="online")
    message, html = confirmation(appointment)

    for body in (message.body, html):
        assert "Place: Online" in body
        assert "Tuesday 1 December 2026, 15:00 (America/Santiago)" in body


def test_the_policy_follows_the_service_windows(clinic, clinic_settings):
    clinic.service.cancellation_window_hours = 48
    clinic.service.reschedule_window_hours = 12
    clinic.service.max_reschedules = 1
    clinic.service.save()
    appointment, _invoice = book(clinic)
    message, _html = confirmation(appointment)

    assert "You can cancel free of charge up to 48 hours before the session." in message.body
    assert "You can reschedule up to 12 hours before the session (at most 1 time per booking)." in message.body


def test_confirming_a_box_booking_plans_and_sends_the_email_on_commit(
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
    to_patient = [m for m in mail.outbox if m.to == [clinic.patient.user.email]]
    assert [m.subject for m in to_patient] == [
        "Clínica Aurora: your session is booked for Tuesday 1 December 2026, 09:00"
    ]
    assert "$35,000" in to_patient[0].body
    row = Notification.objects.get(event=Event.APPOINTMENT_CONFIRMED, object_id=appointment.pk)
    assert row.state == Notification.State.SENT


def test_a_session_cancelled_before_the_email_goes_out_gets_no_booked_email(clinic, clinic_settings):
    appointment, _invoice = book(clinic)
    plan_appointment_confirmed(appointment_id=appointment.pk, now=NOW)
    scheduling.cancel_appointment(appointment=appointment, actor=clinic.patient.user, now=NOW)

    dispatch_due(now=NOW)

    assert not [m for m in mail.outbox if "booked" in m.subject]
