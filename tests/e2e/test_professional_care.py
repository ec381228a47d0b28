"""A professional in Chromium, in English: the session note's editor saves the draft by itself and formats it, time
off is refused over a booked session (which the page lists and links) and accepted on a free day, and a patient is
discharged and referred to a colleague, who then finds them among their patients with the referral's note.

The practice is ``professional_fixtures.practice``: the clock runs from Friday 20 November 2026, 09:00 in
Santiago; Ana Rojas works on Tuesdays and her patient Camila has a session today at 08:30 (online) and one on
Tuesday 24 November at 10:00 (Providencia).
"""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from booking.scheduling.models import TimeOff
from portal.records.models import Discharge, Referral, SessionNote

from .booking_fixtures import new_page
from .professional_fixtures import FREE_TUESDAY, practice  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ENGLISH = "en-US"
#: The editor saves 3 seconds after the last keystroke; the answer comes well within this.
AUTOSAVE_TIMEOUT_MS = 10_000
DRAFT_SAVED = re.compile(r"^Draft saved at \d{1,2}:\d{2}")


def test_the_note_editor_saves_the_draft_by_itself_and_the_bold_button_wraps_the_selection(
    live_server,
    practice,  # noqa: F811
    logged_in_context,
    screenshot,
):
    session = practice.online_today
    page = new_page(logged_in_context(practice.professional.user, locale=ENGLISH))
    page.goto(f"{live_server.url}{reverse('portal:pro_session', args=[session.reference])}")
    body = page.locator("#note-body")
    status = page.locator("#note-autosave-status")
    expect(status).to_have_text("")

    body.press_sequentially("Camila llega puntual y con mejor ánimo.", delay=10)
    expect(status).to_have_text(DRAFT_SAVED, timeout=AUTOSAVE_TIMEOUT_MS)
    screenshot(page, "1-autosaved")

    page.reload()
    expect(body).to_have_value("Camila llega puntual y con mejor ánimo.")
    expect(status).to_contain_text("Draft saved on")

    # Select "puntual" and make it bold: the marks go around it, and the change is saved by itself too.
    body.evaluate(
        "(element) => { const start = element.value.indexOf('puntual'); element.setSelectionRange(start, start + 7); }"
    )
    page.get_by_role("button", name="Bold").click()
    expect(body).to_have_value("Camila llega **puntual** y con mejor ánimo.")
    expect(status).to_have_text(DRAFT_SAVED, timeout=AUTOSAVE_TIMEOUT_MS)

    page.reload()
    expect(body).to_have_value("Camila llega **puntual** y con mejor ánimo.")
    note = SessionNote.objects.get(appointment=session)
    assert not note.is_signed
    assert "puntual" not in note.body_encrypted
    assert page.js_errors == []


def test_time_off_over_a_booked_session_is_refused_with_the_session_and_on_a_free_day_it_is_listed(
    live_server,
    practice,  # noqa: F811
    logged_in_context,
    screenshot,
):
    booked = practice.in_person_tuesday
    page = new_page(logged_in_context(practice.professional.user, locale=ENGLISH))
    page.goto(f"{live_server.url}{reverse('portal:pro_availability')}")
    expect(page.locator("#no-time-off")).to_be_visible()

    form = page.locator("#time-off-add")
    form.locator("#id_off-start_date").fill("2026-11-24")
    form.locator("#id_off-end_date").fill("2026-11-24")
    form.locator("#id_off-reason").fill("Congreso de psicología")
    form.get_by_role("button", name="Add").click()

    refusal = page.locator("#refusal")
    expect(refusal).to_contain_text("would leave booked sessions outside your hours")
    session_link = page.locator("#stranded-sessions").get_by_role("link")
    expect(session_link).to_have_count(1)
    expect(session_link).to_contain_text("Tuesday 24 November 2026, 10:00")
    expect(page.locator("#stranded-sessions")).to_contain_text("Camila")
    expect(session_link).to_have_attribute("href", reverse("portal:pro_session", args=[booked.reference]))
    expect(form.locator("#id_off-reason")).to_have_value("Congreso de psicología")  # what was typed stays
    screenshot(page, "1-refused")
    assert not TimeOff.objects.exists()

    session_link.click()
    expect(page).to_have_url(re.compile(re.escape(reverse("portal:pro_session", args=[booked.reference]))))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Camila")

    page.goto(f"{live_server.url}{reverse('portal:pro_availability')}")
    form.locator("#id_off-start_date").fill(FREE_TUESDAY.isoformat())
    form.locator("#id_off-end_date").fill(FREE_TUESDAY.isoformat())
    form.locator("#id_off-reason").fill("Trámite personal")
    form.get_by_role("button", name="Add").click()

    expect(page.get_by_role("alert").filter(has_text="The time off is added")).to_be_visible()
    expect(page.locator("#refusal")).to_have_count(0)
    row = page.locator(".time-off-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("1 Dec 2026")
    expect(row).to_contain_text("Trámite personal")
    screenshot(page, "2-added")
    time_off = TimeOff.objects.get()
    assert time_off.all_day and time_off.professional == practice.professional
    assert page.js_errors == []


def test_the_professional_discharges_and_refers_a_patient_and_the_colleague_finds_them_with_the_note(
    live_server,
    practice,  # noqa: F811
    logged_in_context,
    screenshot,
):
    patient_url = f"{live_server.url}{reverse('portal:pro_patient', args=[practice.patient.pk])}"
    page = new_page(logged_in_context(practice.professional.user, locale=ENGLISH))
    page.goto(patient_url)

    discharge = page.locator("#discharge")
    expect(discharge.get_by_label("Discharge date")).to_have_value("2026-11-20")
    discharge.get_by_label("Summary").fill("Objetivos cumplidos; se sugiere control en tres meses.")
    page.locator("#discharge-submit").click()
    expect(page.get_by_role("alert").filter(has_text="The discharge is recorded")).to_be_visible()
    expect(page.locator("#discharge-summary")).to_contain_text("control en tres meses")

    refer = page.locator("#refer")
    refer.get_by_label("To professional").select_option(label="Tomás Fuentes")
    refer.get_by_label("Note for the professional who receives the patient").fill(
        "Camila prefiere las tardes; trabajar ansiedad ante exámenes."
    )
    page.locator("#refer-submit").click()
    expect(page.get_by_role("alert").filter(has_text="The referral is recorded")).to_be_visible()
    expect(page.locator("#referrals-made")).to_contain_text("Tomás Fuentes")
    screenshot(page, "1-referred")
    assert Discharge.objects.filter(patient=practice.patient, professional=practice.professional).exists()
    assert Referral.objects.get().to_professional == practice.colleague

    colleague = new_page(logged_in_context(practice.colleague.user, locale=ENGLISH))
    colleague.goto(f"{live_server.url}{reverse('portal:pro_patients')}")
    colleague.get_by_role("link", name=re.compile("Camila")).click()
    expect(colleague.get_by_role("heading", level=1)).to_contain_text("Camila")
    received = colleague.locator("#referrals-received")
    expect(received).to_contain_text("By Ana Rojas")
    expect(received).to_contain_text("Camila prefiere las tardes; trabajar ansiedad ante exámenes.")
    screenshot(colleague, "2-received")
    assert page.js_errors == [] and colleague.js_errors == []
