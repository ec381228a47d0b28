"""A professional in Chromium: opens today's online session from the day view, joins its video page (the room's
link opens in a new tab; the test does not follow it: no internet here), writes and signs the note, adds an
amendment, and marks that the patient did not come.

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
FRIDAY_830 = datetime(2026, 11, 20, 8, 30, tzinfo=SANTIAGO)  # started half an hour before the clock, still on


def spanish(message: str) -> str:
    with translation.override("es-cl"):
        return gettext(message)


def test_the_professional_joins_the_video_writes_signs_and_amends_the_note_and_marks_a_no_show(
    live_server, booking_clinic, make_patient, logged_in_context, screenshot, settings
):
    professional = booking_clinic.professional
    professional.user = VerifiedUserFactory(email="ana.rojas@clinic.example", first_name="Ana")
    professional.save()
    activate_totp(professional.user)
    patient = make_patient("camila.soto@example.com", "Camila")
    session = AppointmentFactory(
        patient=patient,
        professional=professional,
        service=booking_clinic.online,
        modality="online",
        location=None,
        start=FRIDAY_830,
        end=FRIDAY_830 + timedelta(minutes=50),
    )

    page = new_page(logged_in_context(professional.user))
    page.goto(f"{live_server.url}{reverse('portal:pro_today')}")
    expect(page.locator("#day-sessions")).to_contain_text("Camila")
    screenshot(page, "1-today")
    page.locator("#day-sessions").get_by_role("link", name=re.compile("Camila")).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Camila")

    page.locator("#session-video").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(spanish("Video call"))
    join = page.locator("#video-join")
    expect(join).to_have_text(spanish("Join the video call"))
    expect(join).to_have_attribute("href", f"{settings.VIDEO_BASE_URL}/{session.video_room}")
    expect(join).to_have_attribute("target", "_blank")
    expect(join).to_have_attribute("rel", "noopener")
    assert session.video_room
    screenshot(page, "2-video")
    page.get_by_role("link", name=session.reference).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Camila")

    page.locator("#note-body").fill("Paciente no se presentó; se intentó llamar dos veces.")
    page.get_by_role("button", name=spanish("Save and sign")).click()
    expect(page.locator("#note-signed")).to_be_visible()
    expect(page.locator("#note-text")).to_contain_text("se intentó llamar")
    page.locator("#amend-reason").fill("Hora del segundo llamado")
    page.locator("#amend-text").fill("Segundo llamado a las 08:40, sin respuesta.")
    page.get_by_role("button", name=spanish("Add the amendment")).click()
    expect(page.locator(".note-amendment")).to_contain_text("08:40")
    screenshot(page, "3-note")

    page.get_by_role("button", name=spanish("Patient did not attend")).click()
    expect(page.locator("#pro-session-status")).to_contain_text(spanish("Patient did not attend"))
    assert Appointment.objects.get(pk=session.pk).status == AppointmentStatus.NO_SHOW_PATIENT
    note = SessionNote.objects.get(appointment=session)
    assert note.is_signed and note.amendments.count() == 1
    assert "llamar" not in note.body_encrypted
    assert set(NoteAccess.objects.values_list("action", flat=True)) == {"write", "sign", "amend", "read"}
    assert page.js_errors == []
