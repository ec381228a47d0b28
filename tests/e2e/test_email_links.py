"""A patient acts on the signed links of a real email in Chromium, without logging in: the link shows the session
and a button, only the click acts, a second visit says it is done, and a damaged link explains itself.

The email is the real "confirm you will come" request the dispatcher sends two days before an in-person session;
its links are read from the message. The clock (this process, the live server's thread too) runs from Saturday
28 November 2026, 10:00 in Santiago; the session is Tuesday 1 December at 09:00.
"""

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from playwright.sync_api import expect

from booking.notifications.dispatch import dispatch_due
from booking.notifications.events import Event
from booking.notifications.services import plan_for_appointment_change
from booking.notifications.web_models import AttendanceConfirmation
from booking.scheduling.models import Appointment, AppointmentEvent, AppointmentStatus
from tests.factories.accounts import PatientFactory
from tests.factories.scheduling import AppointmentFactory, LocationFactory, ServiceFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SANTIAGO = ZoneInfo("America/Santiago")
SATURDAY_10 = datetime(2026, 11, 28, 10, 0, tzinfo=SANTIAGO)
TUESDAY_9 = datetime(2026, 12, 1, 9, 0, tzinfo=SANTIAGO)


@pytest.fixture
def attendance_email(live_server, settings, home_page):
    """The patient's attendance request, sent for real, with its links pointing at the live server."""
    settings.SITE_URL = live_server.url
    with time_machine.travel(SATURDAY_10, tick=True):
        patient = PatientFactory(user__first_name="Camila", user__preferred_language="en")
        appointment = AppointmentFactory(
            patient=patient,
            service=ServiceFactory(cancellation_window_hours=24),
            location=LocationFactory(name="Sede Providencia", address="Av. Providencia 1234"),
            modality="in_person",
            start=TUESDAY_9.astimezone(UTC),
            end=(TUESDAY_9 + timedelta(minutes=50)).astimezone(UTC),
        )
        AppointmentEvent.objects.create(
            appointment=appointment, action=AppointmentEvent.Action.CONFIRMED, at=SATURDAY_10
        )
        plan_for_appointment_change(appointment.pk, AppointmentEvent.Action.CONFIRMED, now=SATURDAY_10)
        mail.outbox.clear()
        dispatch_due(now=TUESDAY_9 - timedelta(hours=48) + timedelta(minutes=1))
        yield appointment, mail.outbox[-1]


def link(message, purpose: str) -> str:
    match = re.search(rf"https?://\S+/notifications/{purpose}/[^/\s]+/", message.body)
    assert match, f"no {purpose} link in: {message.body}"
    return match.group(0)


def test_the_patient_confirms_from_the_email_and_the_link_then_says_it_is_done(page, attendance_email, screenshot):
    appointment, message = attendance_email
    assert message.tags == [Event.ATTENDANCE_REQUEST]
    url = link(message, "confirm")
    with time_machine.travel(SATURDAY_10 + timedelta(minutes=5), tick=True):
        page.goto(url)
        expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your session")
        expect(page.get_by_text("Tuesday 1 December 2026")).to_be_visible()
        assert not AttendanceConfirmation.objects.exists()  # opening the link did nothing
        screenshot(page, "confirm-link")

        page.get_by_role("button", name="Yes, I will come").click()
        expect(page.locator("#attendance-confirmed")).to_be_visible()
        assert AttendanceConfirmation.objects.filter(appointment=appointment).count() == 1

        page.goto(url)  # the same link again
        expect(page.locator("#attendance-confirmed")).to_be_visible()
        expect(page.get_by_role("button", name="Yes, I will come")).to_have_count(0)
        assert AttendanceConfirmation.objects.count() == 1
    assert page.js_errors == []


def test_the_patient_cancels_from_the_email_after_reading_what_the_policy_decides(page, attendance_email):
    appointment, message = attendance_email
    with time_machine.travel(SATURDAY_10 + timedelta(minutes=5), tick=True):
        page.goto(link(message, "cancel"))
        expect(page.get_by_text("You can cancel free of charge.")).to_be_visible()
        assert Appointment.objects.get(pk=appointment.pk).status == AppointmentStatus.CONFIRMED

        page.get_by_role("button", name="Cancel this session").click()
        expect(page.locator("#link-closed")).to_contain_text("This session is cancelled.")
        assert Appointment.objects.get(pk=appointment.pk).status == AppointmentStatus.CANCELLED

        page.goto(link(message, "confirm"))  # the other link of the same email, now pointless
        expect(page.locator("#link-closed")).to_contain_text("cancelled")
        expect(page.get_by_role("button", name="Yes, I will come")).to_have_count(0)
    assert page.js_errors == []


def test_a_damaged_link_explains_itself_and_acts_on_nothing(page, attendance_email):
    appointment, message = attendance_email
    with time_machine.travel(SATURDAY_10 + timedelta(minutes=5), tick=True):
        response = page.goto(link(message, "cancel")[:-6] + "XXXXX/")
        assert response is not None and response.status == 400
        # nothing in a damaged link says whose it is: the page speaks the browser's language (es-CL here)
        expect(page.get_by_role("heading", level=1)).to_have_text("Este enlace no es válido")
        expect(page.get_by_role("link", name="Ir a mi portal")).to_be_visible()
    assert Appointment.objects.get(pk=appointment.pk).status == AppointmentStatus.CONFIRMED


def test_an_old_link_says_it_has_expired(page, attendance_email):
    appointment, message = attendance_email
    with time_machine.travel(SATURDAY_10 + timedelta(days=60), tick=True):
        response = page.goto(link(message, "confirm"))
        assert response is not None and response.status == 410
        expect(page.get_by_role("heading", level=1)).to_have_text("Este enlace expiró")
    assert not AttendanceConfirmation.objects.exists()
