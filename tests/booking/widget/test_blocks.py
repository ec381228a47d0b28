"""The booking box block: which services it lists, where its links lead, and that it renders in bounded queries."""

from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import RequestFactory
from django.utils import translation

from booking.scheduling.models import ProfessionalService
from booking.widget.blocks import BookingBoxBlock
from tests.factories.scheduling import ServiceFactory
from website.models import SiteSettings

pytestmark = pytest.mark.django_db


def render_box(*, site_settings=None, language="en", **value):
    """Render a box as a page does: the page's context already holds the (lazy) site settings."""
    block = BookingBoxBlock()
    request = RequestFactory().get("/", HTTP_ACCEPT_LANGUAGE="en")
    context = {"request": request, "site_settings": site_settings or SiteSettings()}
    with translation.override(language):  # no middleware here to read the request's language
        return block.render(dict(block.get_default()) | value, context=context)


def link_queries(html: str) -> list[dict]:
    """The query strings of the box's links into the flow."""
    queries = []
    for chunk in html.split('href="')[1:]:
        url = chunk.split('"', 1)[0].replace("&amp;", "&")
        if url.startswith("/booking/"):
            queries.append({key: values[0] for key, values in parse_qs(urlsplit(url).query).items()})
    return queries


@pytest.fixture
def nutrition(clinic):
    service = ServiceFactory(slug="nutrition", name="Nutrition", modality="in_person", price=Decimal("30000"))
    ProfessionalService.objects.create(professional=clinic.ana, service=service)
    return service


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, [{"service": "nutrition"}, {"service": "therapy"}]),
        ({"professional": "bruno"}, [{"service": "therapy", "professional": "bruno"}]),
        (
            {"location": "providencia"},
            [
                {"service": "nutrition", "location": "providencia", "modality": "in_person"},
                {"service": "therapy", "location": "providencia", "modality": "in_person"},
            ],
        ),
        ({"modality": "online"}, [{"service": "therapy", "modality": "online"}]),
        ({"service": "nutrition"}, [{"service": "nutrition"}]),
        (
            {"service": "therapy", "professional": "ana", "modality": "online"},
            [{"service": "therapy", "professional": "ana", "modality": "online"}],
        ),
    ],
    ids=["everything", "one-professional", "one-location", "online-only", "fixed-service", "all-filters"],
)
def test_box_lists_the_services_its_filters_allow(clinic, nutrition, filters, expected):
    objects = {
        "service": {"therapy": clinic.service, "nutrition": nutrition},
        "professional": {"ana": clinic.ana, "bruno": clinic.bruno},
        "location": {"providencia": clinic.location},
    }
    value = {key: objects[key][slug] if key in objects else slug for key, slug in filters.items()}
    html = render_box(**value)
    assert sorted(link_queries(html), key=lambda query: query["service"]) == expected


def test_fixed_service_shows_a_book_button_with_the_professionals_own_price(clinic):
    ProfessionalService.objects.filter(professional=clinic.ana).update(price_override=Decimal("42000"))
    html = render_box(service=clinic.service, professional=clinic.ana, heading="Book with Ana")
    assert "Book with Ana" in html
    assert "Book now" in html
    assert "42,000" in html
    assert "35,000" not in html


def test_heading_and_intro_default_to_the_site_settings(clinic):
    site_settings = SiteSettings(booking_heading="Agenda tu hora", booking_intro="Elige un servicio.")
    html = render_box(site_settings=site_settings)
    assert "Agenda tu hora" in html
    assert "Elige un servicio." in html
    own = render_box(site_settings=site_settings, heading="Book with us", intro="Pick a service.")
    assert "Book with us" in own and "Pick a service." in own
    assert "Agenda tu hora" not in own


def test_box_outside_a_page_reads_the_site_settings_of_the_request(clinic):
    block = BookingBoxBlock()
    request = RequestFactory().get("/", HTTP_ACCEPT_LANGUAGE="en")
    html = block.render(block.get_default(), context={"request": request})
    assert link_queries(html) == [{"service": "therapy"}]


def test_prices_can_be_hidden(clinic):
    assert "35.000" in render_box(show_prices=True, language="es-cl")
    assert "35.000" not in render_box(show_prices=False, language="es-cl")


def test_compact_layout_is_a_list(clinic):
    html = render_box(layout="compact")
    assert "list-group-item" in html
    assert link_queries(html) == [{"service": "therapy"}]


def test_a_box_with_nothing_bookable_says_so(clinic):
    clinic.service.active = False
    clinic.service.save()
    html = render_box()
    assert link_queries(html) == []
    assert "not available" in html


def test_box_renders_in_bounded_queries_whatever_the_number_of_services(clinic, django_assert_max_num_queries):
    def add_services(count):
        for _index in range(count):
            ProfessionalService.objects.create(professional=clinic.ana, service=ServiceFactory())

    add_services(2)
    with django_assert_max_num_queries(1):
        assert len(link_queries(render_box(professional=clinic.ana))) == 3
    add_services(27)
    with django_assert_max_num_queries(1):
        assert len(link_queries(render_box(professional=clinic.ana))) == 30


def test_a_page_with_a_booking_box_costs_one_query_more_than_without(client, clinic, home_page):
    """Editors place the box in any page body; the box itself adds one query (its services), whatever their number."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories.website import StandardPageFactory

    plain = StandardPageFactory(parent=home_page, slug="plain", body=[])
    boxed = StandardPageFactory(parent=home_page, slug="agenda", body=[("booking_box", {"heading": "Book now"})])
    client.get(plain.url)  # warm the per-site caches both pages share

    with CaptureQueriesContext(connection) as without_box:
        client.get(plain.url, HTTP_ACCEPT_LANGUAGE="en")
    with CaptureQueriesContext(connection) as with_box:
        response = client.get(boxed.url, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Book now" in html
    assert link_queries(html), "the box links into the booking flow"
    assert len(with_box) - len(without_box) <= 1, [q["sql"] for q in with_box.captured_queries]
