"""The next free time on service and profile pages, from the availability engine, in the clinic's zone.

The clock is pinned to Monday 30 November 2026, 08:00 in Santiago (UTC-3). Ana works online on Thursdays, 10:00-13:00,
so her first free time is Thursday 3 December at 10:00 (13:00 UTC).
"""

from datetime import UTC, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from bs4 import BeautifulSoup
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from booking.scheduling.models import AppointmentStatus, WeeklyAvailability
from tests.factories.scheduling import AppointmentFactory, ProfessionalServiceFactory, WeeklyAvailabilityFactory
from website.clinic.selectors import NEXT_FREE_TIME_CACHE_SECONDS, next_free_time_of_service

pytestmark = pytest.mark.django_db

MONDAY_MORNING = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)  # 08:00 in Santiago
THURSDAY_TEN = datetime(2026, 12, 3, 13, 0, tzinfo=UTC)  # 10:00 in Santiago


@pytest.fixture
def clock():
    with time_machine.travel(MONDAY_MORNING, tick=False) as traveller:
        yield traveller


@pytest.fixture
def bookable(clinic, clock):
    """Ana online on Thursdays 10-13, for both her services: no notice needed, a 60-day horizon."""
    for service in (clinic.therapy, clinic.couples):
        service.min_notice_minutes = 0
        service.booking_horizon_days = 60
        service.buffer_before_minutes = service.buffer_after_minutes = 0
        service.modality = "both"
        service.save()
    WeeklyAvailabilityFactory(
        professional=clinic.ana, location=None, weekday=3, start_time=time(10), end_time=time(13)
    )
    return clinic


def in_english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def next_free_time(client, page):
    response = client.get(page.url)
    assert response.status_code == 200
    return BeautifulSoup(response.content, "html.parser").select_one(".next-free-time")


def query_of(link) -> dict:
    parts = urlsplit(link["href"])
    return {"path": parts.path, **{key: values[0] for key, values in parse_qs(parts.query).items()}}


def test_service_page_shows_the_first_free_time_in_the_clinics_zone_and_links_to_that_day(client, bookable):
    shown = next_free_time(in_english(client), bookable.therapy_page)

    link = shown.find("a")
    assert link.get_text(strip=True) == "Next available time: Thursday 10:00"  # 13:00 UTC
    assert query_of(link) == {
        "path": "/booking/date/",
        "service": "psicoterapia-adultos",
        "month": "2026-12",
        "day": "2026-12-03",
    }
    assert shown.find("svg")["aria-hidden"] == "true"


def test_the_link_opens_the_booking_box_on_that_day_with_that_time(client, bookable):
    link = next_free_time(client, bookable.therapy_page).find("a")

    response = client.get(link["href"])

    assert response.status_code == 200
    soup = BeautifulSoup(response.content, "html.parser")
    assert soup.select_one('[aria-current="date"]').get_text(strip=True) == "3"
    assert "10:00" in soup.get_text()


def test_profile_shows_the_earliest_time_over_all_the_professionals_services(client, bookable):
    # Her first service needs four days' notice: on Thursday only the couples' therapy can still be booked.
    bookable.therapy.min_notice_minutes = 4 * 24 * 60
    bookable.therapy.save()

    shown = next_free_time(in_english(client), bookable.ana_page)

    assert shown.get_text(" ", strip=True) == "Next available time: Thursday 10:00 (Terapia de pareja)"
    assert query_of(shown.find("a")) == {
        "path": "/booking/date/",
        "service": "terapia-pareja",
        "professional": "ana-perez",
        "month": "2026-12",
        "day": "2026-12-03",
    }


def test_profile_follows_the_professionals_own_session_length(client, bookable):
    """Her couples' sessions last four hours: they never fit her three-hour Thursdays, so only therapy is offered."""
    offer = bookable.ana.offered_services.get(service=bookable.couples)
    offer.duration_override_minutes = 240
    offer.save()
    bookable.therapy.min_notice_minutes = 4 * 24 * 60  # the following Thursday, 10 December, for therapy
    bookable.therapy.save()

    shown = next_free_time(in_english(client), bookable.ana_page)

    assert shown.get_text(" ", strip=True) == "Next available time: Thursday December 10, 10:00 (Psicoterapia adultos)"
    assert query_of(shown.find("a"))["day"] == "2026-12-10"


def test_a_booked_time_is_not_offered_and_a_found_time_is_reused_for_a_short_while(client, bookable, clock):
    assert "Thursday 10:00" in next_free_time(in_english(client), bookable.therapy_page).get_text()
    AppointmentFactory(
        professional=bookable.ana,
        service=bookable.therapy,
        start=THURSDAY_TEN,
        status=AppointmentStatus.CONFIRMED,
    )

    assert "Thursday 10:00" in next_free_time(client, bookable.therapy_page).get_text()  # still the stored time

    clock.shift(timedelta(seconds=NEXT_FREE_TIME_CACHE_SECONDS + 1))
    assert "Thursday 11:00" in next_free_time(client, bookable.therapy_page).get_text()


def test_nothing_free_in_the_weeks_looked_at_says_so(client, bookable):
    WeeklyAvailability.objects.filter(professional=bookable.ana).delete()

    for page in (bookable.therapy_page, bookable.ana_page):
        shown = next_free_time(in_english(client), page)
        assert shown.get_text(strip=True) == "No free times in the next 4 weeks."
        assert shown.find("a") is None


def test_a_professional_not_accepting_new_patients_shows_no_next_time(client, bookable):
    bookable.ana.accepting_new_patients = False
    bookable.ana.save()

    assert next_free_time(client, bookable.ana_page) is None


def test_the_selector_reads_the_availability_once_per_cache_period(bookable):
    with CaptureQueriesContext(connection) as cold:
        first = next_free_time_of_service(bookable.therapy, now=MONDAY_MORNING)
    with CaptureQueriesContext(connection) as warm:
        again = next_free_time_of_service(bookable.therapy, now=MONDAY_MORNING + timedelta(seconds=30))

    assert first.start == again.start == THURSDAY_TEN
    assert 0 < len(cold.captured_queries) <= 6
    assert len(warm.captured_queries) == 0


def test_another_professional_with_the_same_service_adds_no_query(client, bookable):
    """The cold render (availability read included) does not grow with the number of professionals."""
    url = bookable.therapy_page.url
    client.get(url)

    def cold_queries():
        from django.core.cache import cache

        cache.delete(f"clinic:next-free-time:service:{bookable.therapy.pk}")
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        return len(queries.captured_queries)

    before = cold_queries()
    ProfessionalServiceFactory(professional=bookable.bruno, service=bookable.therapy)
    WeeklyAvailabilityFactory(
        professional=bookable.bruno, location=None, weekday=2, start_time=time(9), end_time=time(12)
    )
    after = cold_queries()

    assert after == before
    assert "Wednesday 09:00" in next_free_time(in_english(client), bookable.therapy_page).get_text()
