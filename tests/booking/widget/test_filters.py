"""The box's own limits in the steps: a category, a team of professionals and "no changes" (``lock``).

They travel in the query string from the box to every step, so each step validates them again: a service outside the
category or a professional outside the team is refused with a message, never booked.
"""

from datetime import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from bs4 import BeautifulSoup
from django.db import connection
from django.test.utils import CaptureQueriesContext

from booking.scheduling.models import ProfessionalService
from tests.factories.scheduling import (
    ProfessionalFactory,
    ServiceCategoryFactory,
    ServiceFactory,
    WeeklyAvailabilityFactory,
)

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
WEDNESDAY = {"month": "2026-12", "day": "2026-12-02"}  # Ana at Providencia 09-13, Bruno online 15-17


def url(path: str = "", **params) -> str:
    return f"/booking/{path}?{urlencode(params)}"


def links(html: str, path: str, selector: str = "a[href]") -> list[dict]:
    """The query strings of the links to ``path`` (e.g. ``/booking/review/``) in ``html``."""
    found = []
    for link in BeautifulSoup(html, "html.parser").select(selector):
        target = urlsplit(link["href"])
        if target.path == path:
            found.append({key: values[0] for key, values in parse_qs(target.query).items()})
    return found


@pytest.fixture
def carla(clinic):
    """A third professional offering therapy online on Wednesdays too, and couples therapy that only she offers."""
    carla = ProfessionalFactory(slug="carla", display_name="Carla Díaz", services=[clinic.service])
    WeeklyAvailabilityFactory(professional=carla, location=None, weekday=2, start_time=time(18), end_time=time(20))
    couples = ServiceFactory(slug="couples", name="Couples therapy", category=clinic.service.category)
    ProfessionalService.objects.create(professional=carla, service=couples)
    return carla


@pytest.fixture
def nutrition(clinic):
    category = ServiceCategoryFactory(slug="nutricion", name="Nutrition")
    service = ServiceFactory(slug="nutrition", name="Nutrition", modality="in_person", category=category)
    ProfessionalService.objects.create(professional=clinic.ana, service=service)
    return service


# --- step 1: the service list and the professional choice ----------------------------------------------------------


def test_service_list_shows_only_the_category(client, clinic, nutrition):
    html = client.get(url(category="nutricion"), **EN).content.decode()
    assert links(html, "/booking/") == [{"service": "nutrition", "category": "nutricion"}]


def test_service_list_shows_only_what_the_team_offers(client, clinic, carla):
    everyone = client.get(url(), **EN).content.decode()
    assert {query["service"] for query in links(everyone, "/booking/")} == {"therapy", "couples"}
    team = client.get(url(team="ana,bruno", lock="1"), **EN).content.decode()
    assert links(team, "/booking/") == [{"service": "therapy", "team": "ana,bruno", "lock": "1"}]


def test_professional_choice_lists_only_the_team(client, clinic, carla):
    response = client.get(url(service="therapy", team="bruno,carla"), **EN)
    assert response.status_code == 200
    options = [
        option["value"] for option in BeautifulSoup(response.content, "html.parser").select("#id_professional option")
    ]
    assert options == ["", "bruno", "carla"]  # "first available" among them, then each one
    assert response.context["carried_filters"] == [("team", "bruno,carla")]


def test_step_one_form_carries_the_box_limits_to_the_dates(client, clinic, nutrition):
    response = client.get(url(service="nutrition", category="nutricion", team="ana", lock="1"), **EN)
    assert response.context["carried_filters"] == [("category", "nutricion"), ("team", "ana"), ("lock", "1")]
    assert response.context["date_url"] == "/booking/date/"


def test_embedded_step_one_form_stays_in_the_embed(client, clinic):
    response = client.get("/embed/booking/?" + urlencode({"service": "therapy"}), **EN)
    assert response.status_code == 200
    assert response.context["date_url"] == "/embed/booking/date/"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"service": "therapy", "category": "nutricion"}, "That service cannot be booked from this booking box."),
        ({"category": "no-such-category"}, "That group of services is not available."),
        ({"service": "therapy", "team": "ana", "professional": "bruno"}, "That professional cannot be booked from"),
        ({"service": "therapy", "team": "ana,ghost"}, "These professionals cannot be booked online: ghost."),
        ({"service": "therapy", "team": "retired"}, "These professionals cannot be booked online: retired."),
        ({"service": "couples", "team": "ana,bruno"}, "No professional of this booking box offers that service."),
        ({"team": ",".join(f"p{n}" for n in range(21))}, "A booking box can name at most 20 professionals."),
    ],
    ids=[
        "service-outside-category",
        "unknown-category",
        "professional-outside-team",
        "unknown-team-member",
        "inactive-team-member",
        "service-the-team-does-not-offer",
        "team-too-large",
    ],
)
@pytest.mark.parametrize("step", ["", "date/"], ids=["choose", "date"])
def test_tampered_box_limits_are_refused_with_a_message(client, clinic, carla, nutrition, params, message, step):
    ProfessionalFactory(slug="retired", active=False, services=[clinic.service])
    response = client.get(url(step, **params), **EN)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_review_refuses_a_professional_outside_the_team(patient_client, clinic):
    params = {
        "service": "therapy",
        "professional": "ana",
        "location": "providencia",
        "modality": "in_person",
        "start": "2026-12-02T12:00Z",
        "team": "bruno",
    }
    response = patient_client.get(url("review/", **params), **EN)
    assert response.status_code == 400
    assert "That professional cannot be booked from this booking box." in response.content.decode()


def test_a_duplicated_team_member_counts_once(client, clinic):
    response = client.get(url("date/", service="therapy", team="bruno,bruno", **WEDNESDAY), **EN)
    assert response.status_code == 200
    assert {query["team"] for query in links(response.content.decode(), "/booking/review/")} == {"bruno"}


# --- step 2: "first available" among the team ----------------------------------------------------------------------


def professionals_of_times(client, **params) -> set[str]:
    response = client.get(url("date/", service="therapy", **WEDNESDAY, **params), **EN)
    assert response.status_code == 200
    return {query["professional"] for query in links(response.content.decode(), "/booking/review/", "a.slot-time")}


def test_first_available_looks_only_at_the_team(client, clinic, carla):
    assert professionals_of_times(client) == {"ana", "bruno", "carla"}
    assert professionals_of_times(client, team="bruno") == {"bruno"}
    assert professionals_of_times(client, team="ana,carla") == {"ana", "carla"}


def test_times_and_days_carry_the_box_limits(client, clinic):
    html = client.get(url("date/", service="therapy", team="ana,bruno", lock="1", **WEDNESDAY), **EN).content.decode()
    times = links(html, "/booking/review/", "a.slot-time")
    days = links(html, "/booking/date/", "a.day-free")
    assert times and days
    assert all(query["team"] == "ana,bruno" and query["lock"] == "1" for query in times + days)


# --- lock: no "change" links ----------------------------------------------------------------------------------------


def test_locked_box_offers_no_way_back_to_other_services(client, clinic):
    unlocked = client.get(url(service="therapy", team="ana,bruno"), **EN).content.decode()
    assert links(unlocked, "/booking/") == [{"team": "ana,bruno"}]  # back to the services of the team
    locked = client.get(url(service="therapy", team="ana,bruno", lock="1"), **EN).content.decode()
    assert links(locked, "/booking/") == []


def test_locked_box_offers_no_change_of_professional_on_the_dates(client, clinic):
    unlocked = client.get(url("date/", service="therapy", team="ana", **WEDNESDAY), **EN).content.decode()
    assert {"service": "therapy", "team": "ana"} in links(unlocked, "/booking/")
    locked = client.get(url("date/", service="therapy", team="ana", lock="1", **WEDNESDAY), **EN).content.decode()
    assert links(locked, "/booking/") == []


# --- queries: none per professional or service ---------------------------------------------------------------------


def grow_team(clinic, count: int) -> list[str]:
    """``count`` more professionals offering therapy online on Wednesdays, each with their own services."""
    slugs = []
    for _index in range(count):
        member = ProfessionalFactory(services=[clinic.service, ServiceFactory()])
        WeeklyAvailabilityFactory(professional=member, location=None, weekday=2, start_time=time(8), end_time=time(9))
        slugs.append(member.slug)
    return slugs


@pytest.mark.parametrize("step", ["choose-service", "choose-options", "date"])
def test_steps_read_a_large_team_in_as_many_queries_as_a_small_one(client, clinic, step):
    params = {
        "choose-service": ("", {}),
        "choose-options": ("", {"service": "therapy"}),
        "date": ("date/", {"service": "therapy", **WEDNESDAY}),
    }
    path, extra = params[step]
    small = ["ana", "bruno", *grow_team(clinic, 1)]
    client.get(url(path, team=",".join(small), **extra))  # warm the site's caches
    with CaptureQueriesContext(connection) as small_team:
        assert client.get(url(path, team=",".join(small), **extra)).status_code == 200
    large = small + grow_team(clinic, 12)
    with CaptureQueriesContext(connection) as large_team:
        assert client.get(url(path, team=",".join(large), **extra)).status_code == 200
    assert len(large_team) == len(small_team), [query["sql"][:120] for query in large_team.captured_queries]
