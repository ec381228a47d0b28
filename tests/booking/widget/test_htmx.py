"""The steps as htmx swaps them: a bare frame with the step and its title, the hooks booking.js needs, and markup
a screen reader and a phone can use. The clock and the clinic come from conftest.py (Sunday 29 November 2026).
"""

import re
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from booking.scheduling.models import Appointment
from tests.factories.scheduling import AppointmentFactory

from .conftest import TUESDAY_9

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
HTMX = {**EN, "HTTP_HX_REQUEST": "true"}
SLOT = {
    "service": "therapy",
    "professional": "ana",
    "location": "providencia",
    "modality": "in_person",
    "start": "2026-12-01T12:00Z",
}
ONLINE_DAY = {"service": "therapy", "where": "online", "month": "2026-12", "day": "2026-12-01"}
CONSENT = {"consent": "on", "note": "", "coupon": ""}


def url(path: str, **params) -> str:
    return f"/booking/{path}" + (f"?{urlencode(params)}" if params else "")


def step_urls() -> dict[str, str]:
    return {
        "service": url(""),
        "options": url("", service="therapy"),
        "date": url("date/", service="therapy", professional="ana", where="providencia"),
        "review": url("review/", **SLOT),
    }


def heading(html: str) -> str:
    match = re.search(r'<h1 id="step-heading"[^>]*tabindex="-1"[^>]*>(.*?)</h1>', html, re.S)
    assert match, "every step has h1#step-heading with tabindex=-1"
    return match.group(1).strip()


def response_nonce(html: str) -> str:
    """The CSP nonce htmx's script tag carries (django-htmx's ``{% htmx_script %}``)."""
    return re.search(r'src="/static/django_htmx/htmx-2.min.js" defer nonce="([^"]+)"', html).group(1)


@pytest.mark.parametrize("step", ["service", "options", "date", "review"])
def test_an_htmx_request_gets_the_step_alone_with_its_title(patient_client, clinic, step):
    response = patient_client.get(step_urls()[step], **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("<title>")
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1).strip()
    assert title
    assert 'id="booking-flow"' in html
    assert 'hx-select="#booking-flow"' in html
    assert "site-header" not in html and "site-footer" not in html
    assert "<html" not in html and "htmx-2.min.js" not in html  # the page around it already has both
    assert heading(html)


@pytest.mark.parametrize("step", ["service", "options", "date", "review"])
def test_a_normal_request_gets_the_whole_page_with_the_scripts(patient_client, clinic, step):
    response = patient_client.get(step_urls()[step], **EN)
    html = response.content.decode()
    assert "<html" in html
    assert "site-header" in html and "site-footer" in html
    assert f"'nonce-{response_nonce(html)}'" in response["Content-Security-Policy"]
    assert 'id="booking-flow"' in html
    nonce = response_nonce(html)
    assert f'<script src="/static/django_htmx/htmx-2.min.js" defer nonce="{nonce}"></script>' in html
    assert '<script src="/static/widget/booking.js" defer></script>' in html
    assert '<link rel="stylesheet" href="/static/widget/booking.css">' in html
    assert 'id="booking-announcer"' in html and 'aria-live="polite"' in html
    assert "Something went wrong. Please reload the page and try again." in html


def test_a_history_restore_gets_the_whole_page(patient_client, clinic):
    """htmx asks for a page it has not cached when the visitor goes back: that must be a full page."""
    response = patient_client.get(step_urls()["date"], HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HTMX)
    assert "site-header" in response.content.decode()


def test_the_htmx_frame_runs_no_menu_or_site_settings_queries(client, clinic):
    params = {"service": "therapy", "where": "providencia", "month": "2026-12"}
    client.get(url("date/", **params))  # warm caches

    def tables(**headers) -> str:
        with CaptureQueriesContext(connection) as context:
            assert client.get(url("date/", **params), **headers).status_code == 200
        return " ".join(query["sql"] for query in context.captured_queries).lower()

    full, fragment = tables(**EN), tables(**HTMX)
    assert "website_navigationsettings" in full
    assert "website_navigationsettings" not in fragment
    assert "website_sitesettings" not in fragment


def test_steps_say_which_step_of_five(patient_client, clinic):
    expected = {"service": "Step 1 of 5", "options": "Step 1 of 5", "date": "Step 2 of 5", "review": "Step 4 of 5"}
    for step, label in expected.items():
        html = patient_client.get(step_urls()[step], **EN).content.decode()
        assert f'id="step-label">{label}</p>' in html, step


@pytest.mark.parametrize("step", ["options", "date", "review"])
def test_steps_after_the_first_have_a_labelled_back_link(patient_client, clinic, step):
    html = patient_client.get(step_urls()[step], **EN).content.decode()
    assert re.search(r'<nav class="booking-back[^"]*" aria-label="Booking steps">\s*<a href="/booking/', html)


def test_an_invalid_link_still_answers_400_with_a_step_under_htmx(client, clinic):
    response = client.get(url("", service="nope"), **HTMX)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="booking-flow"' in html
    assert "That service cannot be booked online." in html
    assert heading(html) == "This booking link is not valid"


def test_a_time_just_taken_still_answers_409_with_a_step_under_htmx(patient_client, clinic):
    AppointmentFactory(professional=clinic.ana, service=clinic.service, location=clinic.location, start=TUESDAY_9)
    response = patient_client.post(url("review/", **SLOT), CONSENT, **HTMX)
    assert response.status_code == 409
    html = response.content.decode()
    assert 'id="booking-flow"' in html
    assert re.search(r'<div id="slot-taken" class="[^"]*" role="alert">', html)
    assert "Sorry, that time was just taken. These are the nearest free times:" in html
    assert Appointment.objects.count() == 1


def test_the_confirmation_is_not_boosted_and_has_its_hook(patient_client, clinic):
    html = patient_client.get(step_urls()["review"], **EN).content.decode()
    assert 'novalidate hx-boost="false">' in html
    confirm = '<button id="confirm-booking" class="btn btn-primary btn-lg" type="submit" name="action" value="confirm"'
    assert confirm in html
    # "Apply" (the discount code) alone is posted by htmx, to the review's own address.
    assert 'hx-post="/booking/review/?' in html


def test_online_times_carry_utc_and_the_clinic_zone_for_the_visitors_own_time(client, clinic):
    html = client.get(url("date/", **ONLINE_DAY), **EN).content.decode()
    # Ana online on Tuesdays from 15:00 Santiago = 18:00 UTC; the wording comes translated from the page.
    online_time = (
        '<time datetime="2026-12-01T18:00:00+00:00" class="visitor-time" data-clinic-zone="America/Santiago">'
    )
    assert f"{online_time}15:00</time>" in html
    assert 'data-visitor-time="{time} your time ({zone})"' in html


def test_in_person_times_are_not_converted(client, clinic):
    params = {"service": "therapy", "professional": "ana", "where": "providencia", "day": "2026-12-01"}
    html = client.get(url("date/", **params), **EN).content.decode()
    assert '<time datetime="2026-12-01T12:00:00+00:00">09:00</time>' in html
    assert 'class="visitor-time"' not in html


def test_the_online_review_marks_its_time_for_the_visitor_zone(patient_client, clinic):
    online = {**SLOT, "location": "", "modality": "online", "start": "2026-12-01T18:00Z"}
    html = patient_client.get(url("review/", **online), **EN).content.decode()
    assert (
        '<time datetime="2026-12-01T18:00:00+00:00" class="visitor-time" data-clinic-zone="America/Santiago">'
        "Tuesday 1 December 2026, 15:00</time>" in html
    )


def test_embedded_time_links_open_on_the_clinics_site_without_htmx(client, clinic):
    params = {"service": "therapy", "professional": "ana", "where": "providencia", "day": "2026-12-01"}
    html = client.get(f"/embed/booking/date/?{urlencode(params)}", **EN).content.decode()
    links = re.findall(r'<a class="btn btn-outline-primary slot-time" href="([^"]+)" rel="nofollow"([^>]*)>', html)
    assert links
    for href, attributes in links:
        assert href.startswith("/booking/review/?")
        assert 'target="_top"' in attributes and 'hx-boost="false"' in attributes


def test_time_links_outside_an_embed_stay_boosted(client, clinic):
    params = {"service": "therapy", "professional": "ana", "where": "providencia", "day": "2026-12-01"}
    html = client.get(url("date/", **params), **EN).content.decode()
    assert 'target="_top"' not in html
    assert html.count('class="btn btn-outline-primary slot-time"') == 7  # Tuesday 1: 09:00 to 12:00


def test_the_done_page_links_out_of_the_flow_without_htmx(patient_client, clinic):
    appointment = AppointmentFactory(
        professional=clinic.ana,
        service=clinic.service,
        location=clinic.location,
        start=TUESDAY_9,
        patient=clinic.patient,
    )
    html = patient_client.get(f"/booking/done/{appointment.reference}/", **EN).content.decode()
    assert re.search(r'href="/portal/"[^>]*hx-boost="false"', html)
    assert heading(html)
