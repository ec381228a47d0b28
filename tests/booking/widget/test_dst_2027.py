"""The booking box, its email, the calendar file, the portal and the staff screens over the 2027 clock changes.

Ana (see conftest.py) also works at Providencia on Saturdays 22:00-24:00 and Sundays 00:00-02:00. The therapy
session lasts 50 minutes on a 30-minute grid.

* Saturday 3 April 2027: the clocks go back at midnight, so 23:00-23:59 happens twice. The box used to list
  22:00, 22:30, 23:00, 23:30, 23:00: two different instants labelled alike.
* Sunday 5 September 2027: the clocks jump from 00:00 to 01:00; nothing is offered in the hour that never happens.

New strings are asserted in English: the Spanish catalogue gets them when the branch is merged.
"""

from datetime import UTC, datetime, time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import time_machine
from bs4 import BeautifulSoup
from django.core import mail
from django.urls import reverse
from icalendar import Calendar

from booking.billing.models import Invoice
from booking.scheduling.models import Appointment, Modality
from tests.factories.scheduling import (
    AppointmentFactory,
    ProfessionalServiceFactory,
    ServiceFactory,
    WeeklyAvailabilityFactory,
)

from .conftest import SANTIAGO

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
BEFORE, AFTER = "(before the clock change)", "(after the clock change)"
APRIL_NOW = datetime(2027, 4, 1, 10, 0, tzinfo=SANTIAGO)
SEPTEMBER_NOW = datetime(2027, 9, 1, 10, 0, tzinfo=SANTIAGO)
AT_PROVIDENCIA = {"service": "therapy", "professional": "ana", "location": "providencia", "modality": "in_person"}
SECOND_23_00 = datetime(2027, 4, 4, 3, 0, tzinfo=UTC)  # Saturday 23:00 in Santiago, after the clocks went back


@pytest.fixture(autouse=True)
def pinned_time(request):
    """Replaces the conftest's clock: two days before the change each test looks at."""
    now = SEPTEMBER_NOW if "september" in request.node.name else APRIL_NOW
    with time_machine.travel(now, tick=False):
        yield


@pytest.fixture
def late_hours(clinic):
    WeeklyAvailabilityFactory(
        professional=clinic.ana, location=clinic.location, weekday=5, start_time=time(22), end_time=time(0)
    )
    WeeklyAvailabilityFactory(
        professional=clinic.ana, location=clinic.location, weekday=6, start_time=time(0), end_time=time(2)
    )
    return clinic


def date_step(client, day: str, **params):
    query = {**AT_PROVIDENCIA, **params, "month": day[:7], "day": day}
    response = client.get(f"/booking/date/?{urlencode(query)}", **EN)
    assert response.status_code == 200
    return BeautifulSoup(response.content, "html.parser")


def offered(page) -> list[tuple[str, str]]:
    """(label, instant) of every time button of the day."""
    return [(node.get_text(" ", strip=True), node["datetime"]) for node in page.select("a.slot-time time")]


def test_the_box_labels_the_two_23_00s_of_the_april_night_apart(client, late_hours):
    times = offered(date_step(client, "2027-04-03"))

    assert times == [
        ("22:00", "2027-04-04T01:00:00+00:00"),
        ("22:30", "2027-04-04T01:30:00+00:00"),
        (f"23:00 {BEFORE}", "2027-04-04T02:00:00+00:00"),
        (f"23:30 {BEFORE}", "2027-04-04T02:30:00+00:00"),
        (f"23:00 {AFTER}", "2027-04-04T03:00:00+00:00"),
    ]
    assert len({label for label, _ in times}) == len(times)


def test_the_box_offers_nothing_in_the_hour_skipped_in_september(client, late_hours):
    saturday = offered(date_step(client, "2027-09-04"))
    sunday = offered(date_step(client, "2027-09-05"))

    assert [label for label, _ in saturday] == ["22:00", "22:30", "23:00"]
    assert sunday == [("01:00", "2027-09-05T04:00:00+00:00")]


def test_the_second_23_00_keeps_its_label_from_the_box_to_the_email_calendar_and_portal(
    client, late_hours, django_capture_on_commit_callbacks
):
    client.force_login(late_hours.patient.user)
    page = date_step(client, "2027-04-03")
    link = next(a for a in page.select("a.slot-time") if a.get_text(" ", strip=True) == f"23:00 {AFTER}")
    review_url = link["href"]
    assert parse_qs(urlsplit(review_url).query)["start"] == ["2027-04-04T03:00Z"]
    expected = f"Saturday 3 April 2027, 23:00 {AFTER}"

    review = client.get(review_url, **EN).content.decode()
    assert expected in review

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(review_url, {"consent": "on", "note": "", "coupon": ""}, **EN)
    appointment = Appointment.objects.get()
    assert response["Location"] == f"/booking/done/{appointment.reference}/"
    assert appointment.start == SECOND_23_00

    assert expected in client.get(response["Location"], **EN).content.decode()
    (message,) = [m for m in mail.outbox if m.to == [appointment.patient.user.email]]
    assert expected in message.body
    assert expected in message.alternatives[0][0]

    ics = client.get(reverse("portal:appointment_calendar", args=[appointment.reference]), **EN)
    (event,) = Calendar.from_ical(ics.content).walk("VEVENT")
    assert str(event["SUMMARY"]) == f"Individual therapy with Ana Rojas · 23:00 {AFTER}"
    assert f"When: {expected} (America/Santiago)" in str(event["DESCRIPTION"])
    assert event.decoded("DTSTART") == SECOND_23_00

    invoice = Invoice.objects.get()
    portal = client.get(reverse("portal:invoice_detail", args=[invoice.reference]), **EN).content.decode()
    assert expected in portal


def test_an_ordinary_calendar_entry_keeps_its_plain_title(client, late_hours):
    """Only a time in the repeated hour needs the note; every other title stays as calendar apps show it."""
    appointment = AppointmentFactory(
        patient=late_hours.patient,
        professional=late_hours.ana,
        service=late_hours.service,
        location=late_hours.location,
        modality="in_person",
        start=datetime(2027, 4, 4, 1, 0, tzinfo=UTC),  # Saturday 22:00
    )
    client.force_login(late_hours.patient.user)

    ics = client.get(reverse("portal:appointment_calendar", args=[appointment.reference]), **EN)

    (event,) = Calendar.from_ical(ics.content).walk("VEVENT")
    assert str(event["SUMMARY"]) == "Individual therapy with Ana Rojas"
    assert "When: Saturday 3 April 2027, 22:00 (America/Santiago)" in str(event["DESCRIPTION"])


def test_staff_screens_label_the_repeated_hour(superuser_client, late_hours):
    first = AppointmentFactory(
        professional=late_hours.ana,
        service=late_hours.service,
        location=late_hours.location,
        modality="in_person",
        start=datetime(2027, 4, 4, 2, 0, tzinfo=UTC),
    )
    second = AppointmentFactory(
        professional=late_hours.ana,
        service=late_hours.service,
        location=late_hours.location,
        modality="in_person",
        start=SECOND_23_00,
    )

    detail = superuser_client.get(reverse("clinic_appointments:detail", args=[second.reference]), **EN)
    listing = superuser_client.get(
        reverse("clinic_appointments:index"), {"date_from": "2027-04-03", "date_to": "2027-04-03"}, **EN
    )
    calendar = superuser_client.get(
        reverse("clinic_appointments:calendar"), {"view": "day", "date": "2027-04-03"}, **EN
    )

    assert f"Saturday 3 April 2027 23:00 {AFTER}" in detail.content.decode()
    assert f"23:50 {AFTER}" in detail.content.decode()
    for page in (listing.content.decode(), calendar.content.decode()):
        assert f"23:00 {BEFORE}" in page, page
        assert f"23:00 {AFTER}" in page
    assert first.reference in calendar.content.decode() and second.reference in calendar.content.decode()


# --- item 13 across the changes: the box never offers online times of an in-person-only service ------------------


@pytest.mark.parametrize("day", ["2027-04-03", "2027-09-05"], ids=["april", "september"])
def test_the_box_offers_no_online_time_of_an_in_person_service_around_the_changes(client, late_hours, day):
    assessment = ServiceFactory(slug="assessment", name="Assessment", modality=Modality.IN_PERSON, duration_minutes=50)
    ProfessionalServiceFactory(professional=late_hours.ana, service=assessment)
    for weekday, start, end in ((5, time(22), time(0)), (6, time(0), time(2))):
        WeeklyAvailabilityFactory(
            professional=late_hours.ana, location=None, weekday=weekday, start_time=start, end_time=end
        )

    html = client.get(
        f"/booking/date/?{urlencode({'service': 'assessment', 'professional': 'ana', 'month': day[:7], 'day': day})}",
        **EN,
    ).content.decode()
    page = BeautifulSoup(html, "html.parser")

    links = page.select("a.slot-time")
    assert links
    assert all(parse_qs(urlsplit(a["href"]).query).get("location") == ["providencia"] for a in links)
    assert "Online (video call)" not in html
