"""A professional in Chromium: opens today's session from the day view, writes and signs the note, adds an
amendment, and marks that the patient did not come. (The video room per appointment is not built yet.)

The clinic is ``booking_clinic``'s: the clock runs from Friday 20 November 2026, 09:00 in Santiago.
"""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import expect

from booking.scheduling.models import Appointment, AppointmentStatus
from portal.records.models import NoteAccess, SessionNote
from tests.factories.accounts import VerifiedUserFactory, activate_totp
from tests.factories.scheduling import AppointmentFactory

from .booking_fixtures import new_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SANTIAGO = ZoneInfo("America/Santiago")
FRIDAY_8 = datetime(2026, 11, 20, 8, 0, tzinfo=SANTIAGO)  # started an hour before the pinned clock


def spanish(message: str) -> str:
    with translation.override("es-cl"):
        return gettext(message)


def test_the_professional_writes_signs_and_amends_the_note_and_marks_a_no_show(
    live_server, booking_clinic, make_patient, logged_in_context, screenshot
):
    professional = booking_clinic.professional
    professional.user = VerifiedUserFactory(email="ana.rojas@clinic.example", first_name="Ana")
    professional.save()
    activate_totp(professional.user)
    patient = make_patient("camila.soto@example.com", "Camila")
    session = AppointmentFactory(
        patient=patient,
        professional=professional,
        service=booking_clinic.at_clinic,
        location=booking_clinic.location,
        start=FRIDAY_8,
        end=FRIDAY_8 + timedelta(minutes=50),
    )

    page = new_page(logged_in_context(professional.user))
    page.goto(f"{live_server.url}{reverse('portal:pro_today')}")
    expect(page.locator("#day-sessions")).to_contain_text("Camila")
    screenshot(page, "1-today")
    page.locator("#day-sessions").get_by_role("link", name=re.compile("Camila")).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Camila")

    page.locator("#note-body").fill("Paciente no se presentó; se intentó llamar dos veces.")
    page.get_by_role("button", name=spanish("Save and sign")).click()
    expect(page.locator("#note-signed")).to_be_visible()
    expect(page.locator("#note-text")).to_contain_text("se intentó llamar")
    page.locator("#amend-reason").fill("Hora del segundo llamado")
    page.locator("#amend-text").fill("Segundo llamado a las 08:20, sin respuesta.")
    page.get_by_role("button", name=spanish("Add the amendment")).click()
    expect(page.locator(".note-amendment")).to_contain_text("08:20")
    screenshot(page, "2-note")

    page.get_by_role("button", name=spanish("Patient did not attend")).click()
    expect(page.locator("#pro-session-status")).to_contain_text(spanish("Patient did not attend"))
    assert Appointment.objects.get(pk=session.pk).status == AppointmentStatus.NO_SHOW_PATIENT
    note = SessionNote.objects.get(appointment=session)
    assert note.is_signed and note.amendments.count() == 1
    assert "llamar" not in note.body_encrypted
    assert set(NoteAccess.objects.values_list("action", flat=True)) == {"write", "sign", "amend", "read"}
    assert page.js_errors == []
