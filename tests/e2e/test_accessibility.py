"""axe-core over the main pages, the patient's portal and every booking step: no serious or critical violation.

axe-core's script ships inside the ``axe-playwright-python`` package (pinned in requirements-dev.txt) and is injected
into each page: nothing is fetched from the internet. Minor and moderate findings are left to people's judgement;
serious and critical ones (contrast, names of controls, ARIA misuse) fail the test, each listed with its page,
rule and elements.

The professional's pages are audited with their forms showing: the day with a notice and sessions, the agenda's
week and month, the availability page with every form (full self-service), a patient's page with the discharge and
referral forms, a session with the note editor, the move page's calendar and the open video page.

The booking steps are reached through their own addresses and ids (``/booking/``, ``date/``, ``identify/``,
``review/``, ``pay/<reference>/``, ``done/<reference>/``), not through their wording, which may change.
"""

import re
from urllib.parse import urlencode

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.urls import reverse
from playwright.sync_api import expect

from booking.widget.forms import format_start

from .booking_fixtures import FIRST_FREE_TIME, new_page, without_favicon
from .professional_fixtures import practice  # noqa: F401  (a fixture)
from .public_site_fixtures import make_held_invoice, public_site  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

FAILING_IMPACTS = {"serious", "critical"}
HEADING = "h1#step-heading"
DONE_URL = re.compile(r"/booking/done/(?P<reference>[A-Za-z0-9-]+)/")

_axe = Axe()


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now, one line per rule."""
    results = _axe.run(page, options={"resultTypes": ["violations"]})
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} — "
        + ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
        for violation in results.response["violations"]
        if violation["impact"] in FAILING_IMPACTS
    ]


def audit(page, url: str, found: dict[str, list[str]], name: str) -> None:
    response = page.goto(url)
    assert response is not None and response.status == 200, (name, url, response and response.status)
    if violations := serious_violations(page):
        found[name] = violations


def report(found: dict[str, list[str]]) -> str:
    return "\n".join(f"{name}:\n  " + "\n  ".join(lines) for name, lines in found.items())


def booking_query(clinic, service) -> dict[str, str]:
    return {
        "service": service.slug,
        "professional": clinic.professional.slug,
        "location": clinic.location.slug,
        "modality": "in_person",
    }


def test_main_pages_have_no_serious_accessibility_violations(live_server, page, public_site):  # noqa: F811
    without_favicon(page.context)
    found: dict[str, list[str]] = {}

    for name, path in public_site.pages.items():
        audit(page, live_server.url + path, found, name)

    assert not found, report(found)


def test_the_patients_portal_has_no_serious_accessibility_violations(
    live_server,
    public_site,  # noqa: F811
    logged_in_context,
):
    page = new_page(logged_in_context(public_site.patient.user))
    found: dict[str, list[str]] = {}

    for name, path in public_site.portal_pages.items():
        audit(page, live_server.url + path, found, name)
    audit(
        page,
        live_server.url + reverse("portal:invoice_detail", args=[public_site.invoice.reference]),
        found,
        "invoice",
    )

    assert not found, report(found)


def test_every_booking_step_has_no_serious_accessibility_violations(
    live_server,
    page,
    booking_clinic,
    public_site,  # noqa: F811
    logged_in_context,
):
    clinic = booking_clinic
    held = public_site.invoice.lines.select_related("appointment").get().appointment
    query = booking_query(clinic, clinic.at_clinic)
    review_query = urlencode({**query, "start": format_start(FIRST_FREE_TIME)})
    found: dict[str, list[str]] = {}

    # A visitor: the first steps, and "who are you" when they choose a time.
    without_favicon(page.context)
    audit(page, f"{live_server.url}{reverse('widget:start')}", found, "service")
    audit(page, f"{live_server.url}{reverse('widget:start')}?service={clinic.at_clinic.slug}", found, "options")
    audit(page, f"{live_server.url}{reverse('widget:date')}?{urlencode(query)}", found, "date")
    page.goto(f"{live_server.url}{reverse('widget:review')}?{review_query}")
    page.wait_for_url(re.compile(r"/booking/identify/"))
    if violations := serious_violations(page):
        found["identify"] = violations

    # A patient: review, the held session's pay step, and the confirmation of a session booked here.
    patient_page = new_page(logged_in_context(public_site.patient.user))
    audit(patient_page, f"{live_server.url}{reverse('widget:review')}?{review_query}", found, "review")
    audit(patient_page, f"{live_server.url}{reverse('widget:pay', args=[held.reference])}", found, "pay")
    patient_page.goto(f"{live_server.url}{reverse('widget:review')}?{review_query}")
    patient_page.locator("#id_consent").check()
    patient_page.locator("#confirm-booking").click()
    patient_page.wait_for_url(DONE_URL)
    expect(patient_page.locator(HEADING)).to_be_visible()
    if violations := serious_violations(patient_page):
        found["done"] = violations

    assert not found, report(found)


def test_the_professionals_portal_has_no_serious_accessibility_violations(
    live_server,
    practice,  # noqa: F811
    logged_in_context,
):
    page = new_page(logged_in_context(practice.professional.user))
    online, in_person = practice.online_today, practice.in_person_tuesday
    pages = {
        "today": reverse("portal:pro_today"),
        "agenda week": reverse("portal:pro_agenda"),
        "agenda month": f"{reverse('portal:pro_agenda')}?month=2026-11",
        "availability": reverse("portal:pro_availability"),
        "patients": reverse("portal:pro_patients"),
        "patient": reverse("portal:pro_patient", args=[practice.patient.pk]),
        "session": reverse("portal:pro_session", args=[online.reference]),
        "move": reverse("portal:pro_move", args=[in_person.reference]),
        "video": reverse("portal:video", args=[online.reference]),
    }
    found: dict[str, list[str]] = {}

    for name, path in pages.items():
        audit(page, live_server.url + path, found, name)
        if name == "today":
            expect(page.locator("#pro-news")).to_contain_text("ascensor")
            expect(page.locator("#day-sessions")).to_contain_text("Camila")
        elif name == "availability":
            expect(page.locator("#time-off-add")).to_be_visible()
            expect(page.locator("#weekly-add")).to_be_visible()
        elif name == "patient":
            expect(page.locator("#discharge form")).to_be_visible()
            expect(page.locator("#refer form")).to_be_visible()
        elif name == "session":
            expect(page.locator("#note-body")).to_be_visible()
        elif name == "move":
            expect(page.locator("#new-times")).to_be_visible()
        elif name == "video":
            expect(page.locator("#video-join")).to_be_visible()

    assert not found, report(found)
