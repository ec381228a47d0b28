"""The booking box block: which services it lists for each of the editor's options, where its links lead, the
editor's preview, and that it renders in bounded queries."""

from decimal import Decimal
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

import pytest
from bs4 import BeautifulSoup
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation

from booking.scheduling.models import ProfessionalService
from booking.widget.blocks import BookingBoxBlock
from tests.factories.scheduling import ProfessionalFactory, ServiceCategoryFactory, ServiceFactory
from website.blocks import BaseStreamBlock
from website.models import SiteSettings

pytestmark = pytest.mark.django_db

BLOCK = BookingBoxBlock()


def box_value(**options):
    """A box as the editor saved it (primary keys, as in the page's JSON), read back the way a page reads it."""
    raw = {}
    for key, option in options.items():
        if key == "professionals":
            raw[key] = [{"type": "item", "value": member.pk, "id": str(uuid4())} for member in option]
        else:
            raw[key] = getattr(option, "pk", option)
    return BLOCK.to_python(raw)


def render_box(*, site_settings=None, language="en", page=None, **options):
    """Render a box as a page does: the page's context already holds the (lazy) site settings."""
    request = RequestFactory().get("/", HTTP_ACCEPT_LANGUAGE="en")
    context = {"request": request, "site_settings": site_settings or SiteSettings(), "page": page}
    with translation.override(language):  # no middleware here to read the request's language
        return BLOCK.render(box_value(**options), context=context)


def link_queries(html: str) -> list[dict]:
    """The query strings of the box's links into the flow, sorted by service."""
    queries = []
    for link in BeautifulSoup(html, "html.parser").select(".booking-box a[href]"):  # not the header's "Book a session"
        url = urlsplit(link["href"])
        if url.path == "/booking/":
            queries.append({key: values[0] for key, values in parse_qs(url.query).items()})
    return sorted(queries, key=lambda query: query["service"])


@pytest.fixture
def nutrition(clinic):
    """A second category and service: Ana offers nutrition at Providencia only (it is never online)."""
    category = ServiceCategoryFactory(slug="nutricion", name="Nutrition")
    service = ServiceFactory(
        slug="nutrition", name="Nutrition", modality="in_person", price=Decimal("30000"), category=category
    )
    ProfessionalService.objects.create(professional=clinic.ana, service=service)
    return service


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, [{"service": "nutrition"}, {"service": "therapy"}]),
        ({"category": "nutricion"}, [{"service": "nutrition", "category": "nutricion"}]),
        ({"category": "therapy-category"}, [{"service": "therapy", "category": "therapy-category"}]),
        (
            {"professionals": ["bruno"]},
            [{"service": "therapy", "professional": "bruno", "team": "bruno"}],
        ),
        (
            {"professionals": ["ana", "bruno"]},
            [{"service": "nutrition", "team": "ana,bruno"}, {"service": "therapy", "team": "ana,bruno"}],
        ),
        (
            {"location": "providencia"},
            [
                {"service": "nutrition", "location": "providencia", "modality": "in_person"},
                {"service": "therapy", "location": "providencia", "modality": "in_person"},
            ],
        ),
        ({"modality": "online"}, [{"service": "therapy", "modality": "online"}]),
        ({"service": "nutrition"}, [{"service": "nutrition"}]),
        ({"service": "nutrition", "allow_changes": False}, [{"service": "nutrition", "lock": "1"}]),
        ({"allow_changes": False}, [{"service": "nutrition"}, {"service": "therapy"}]),  # nothing preselected
        (
            {"service": "therapy", "professionals": ["ana"], "modality": "online", "allow_changes": False},
            [{"service": "therapy", "professional": "ana", "team": "ana", "modality": "online", "lock": "1"}],
        ),
        (
            {"category": "nutricion", "professionals": ["bruno"]},  # Bruno offers no nutrition
            [],
        ),
        (
            {"professionals": ["bruno"], "location": "providencia"},  # Bruno only works online
            [],
        ),
    ],
    ids=[
        "everything",
        "one-category",
        "other-category",
        "one-professional",
        "two-professionals",
        "one-location",
        "online-only",
        "fixed-service",
        "locked",
        "nothing-to-lock",
        "all-filters",
        "category-the-team-does-not-offer",
        "place-the-team-does-not-work-at",
    ],
)
def test_box_lists_the_services_its_filters_allow(clinic, nutrition, options, expected):
    clinic.service.category.slug = "therapy-category"
    clinic.service.category.save()
    objects = {
        "service": {"therapy": clinic.service, "nutrition": nutrition},
        "category": {"nutricion": nutrition.category, "therapy-category": clinic.service.category},
        "location": {"providencia": clinic.location},
    }
    team = {"ana": clinic.ana, "bruno": clinic.bruno}
    value = {}
    for key, option in options.items():
        if key == "professionals":
            value[key] = [team[slug] for slug in option]
        else:
            value[key] = objects[key][option] if key in objects else option
    assert link_queries(render_box(**value)) == expected


def test_fixed_service_shows_a_book_button_with_the_professionals_own_price(clinic):
    ProfessionalService.objects.filter(professional=clinic.ana).update(price_override=Decimal("42000"))
    html = render_box(service=clinic.service, professionals=[clinic.ana], heading="Book with Ana")
    assert "Book with Ana" in html
    assert "Book now" in html
    assert "42,000" in html
    assert "35,000" not in html


def test_a_team_of_several_shows_the_services_list_price(clinic):
    ProfessionalService.objects.filter(professional=clinic.ana).update(price_override=Decimal("42000"))
    html = render_box(professionals=[clinic.ana, clinic.bruno])
    assert "35,000" in html
    assert "42,000" not in html


def test_a_box_whose_professionals_all_left_offers_nothing_rather_than_everybody(clinic):
    clinic.bruno.active = False
    clinic.bruno.save()
    html = render_box(professionals=[clinic.bruno])
    assert link_queries(html) == []
    assert "not available" in html


def test_a_professional_who_left_is_dropped_from_the_team(clinic):
    clinic.bruno.active = False
    clinic.bruno.save()
    assert link_queries(render_box(professionals=[clinic.ana, clinic.bruno])) == [
        {"service": "therapy", "professional": "ana", "team": "ana"}
    ]


def test_professionals_not_accepting_new_patients_are_not_offered(clinic):
    clinic.ana.accepting_new_patients = False
    clinic.ana.save()
    assert link_queries(render_box(professionals=[clinic.ana])) == []
    assert link_queries(render_box()) == [{"service": "therapy"}]  # Bruno still takes new patients


def test_a_closed_location_offers_nothing(clinic):
    clinic.location.active = False
    clinic.location.save()
    assert link_queries(render_box(location=clinic.location)) == []


def test_heading_and_intro_default_to_the_site_settings(clinic):
    site_settings = SiteSettings(booking_heading="Agenda tu hora", booking_intro="Elige un servicio.")
    html = render_box(site_settings=site_settings)
    assert "Agenda tu hora" in html
    assert "Elige un servicio." in html
    own = render_box(site_settings=site_settings, heading="Book with us", intro="Pick a service.")
    assert "Book with us" in own and "Pick a service." in own
    assert "Agenda tu hora" not in own


def test_box_outside_a_page_reads_the_site_settings_of_the_request(clinic):
    request = RequestFactory().get("/", HTTP_ACCEPT_LANGUAGE="en")
    html = BLOCK.render(BLOCK.get_default(), context={"request": request})
    assert link_queries(html) == [{"service": "therapy"}]


@pytest.mark.parametrize("layout", ["full", "compact"])
def test_prices_can_be_hidden(clinic, layout):
    assert "35.000" in render_box(show_prices=True, layout=layout, language="es-cl")
    assert "35.000" not in render_box(show_prices=False, layout=layout, language="es-cl")


def test_compact_layout_is_a_list_and_full_layout_cards(clinic):
    compact = BeautifulSoup(render_box(layout="compact"), "html.parser")
    assert compact.select(".booking-box--compact .list-group a.list-group-item")
    assert not compact.select("article.card")
    full = BeautifulSoup(render_box(layout="full"), "html.parser")
    assert full.select("article.card h3 a.stretched-link")
    assert not full.select(".booking-box--compact")


def test_box_is_a_labelled_region(clinic):
    section = BeautifulSoup(render_box(heading="Book"), "html.parser").find("section")
    assert section.find(id=section["aria-labelledby"]).get_text(strip=True) == "Book"


def test_a_box_with_nothing_bookable_says_so(clinic):
    clinic.service.active = False
    clinic.service.save()
    html = render_box()
    assert link_queries(html) == []
    assert "not available" in html


def test_editor_values_round_trip_through_the_pages_json(clinic):
    """What the editor saves (``get_prep_value``) reads back as the same choices, professionals in order."""
    value = box_value(
        service=clinic.service, professionals=[clinic.bruno, clinic.ana], location=clinic.location, allow_changes=False
    )
    stored = BLOCK.get_prep_value(value)
    assert [item["value"] for item in stored["professionals"]] == [clinic.bruno.pk, clinic.ana.pk]
    again = BLOCK.to_python(stored)
    assert again["service"] == clinic.service
    assert BookingBoxBlock.filters(again) == {
        "location": "providencia",
        "modality": "in_person",
        "team": "bruno,ana",
        "lock": "1",
    }


def test_at_most_twenty_professionals(clinic):
    from django.core.exceptions import ValidationError

    many = ProfessionalFactory.create_batch(21)
    with pytest.raises(ValidationError):
        BLOCK.clean(box_value(professionals=many))
    assert BLOCK.clean(box_value(professionals=many[:20]))["professionals"]


def test_a_new_box_has_no_empty_professional_row():
    """Wagtail's list block starts with one empty row by default; a required empty row would block saving."""
    assert list(BLOCK.get_default()["professionals"]) == []
    assert BLOCK.get_default()["allow_changes"] is True


# --- the editor's preview ------------------------------------------------------------------------------------------


def test_preview_renders_without_a_request_or_page(clinic):
    with translation.override("en"):
        html = BLOCK.render(BLOCK.get_preview_value())
    assert "Agenda tu sesión" in html
    assert link_queries(html) == [{"service": "therapy"}]


def test_the_block_offers_a_preview_in_the_block_picker():
    block = BaseStreamBlock().child_blocks["booking_box"]
    assert block.is_previewable
    assert block.meta.description


def test_admin_block_preview_renders_the_box_with_the_sites_styles(superuser_client, clinic):
    block = BaseStreamBlock().child_blocks["booking_box"]
    response = superuser_client.get(
        reverse("wagtailadmin_block_preview"), {"id": block.definition_prefix}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 200
    soup = BeautifulSoup(response.content, "html.parser")
    assert soup.find("section", class_="booking-box")
    assert soup.find("link", href=lambda href: href and href.endswith("bootstrap.min.css"))
    assert link_queries(response.content.decode()) == [{"service": "therapy"}]


# --- queries -------------------------------------------------------------------------------------------------------


def test_box_renders_in_bounded_queries_whatever_the_number_of_services(clinic, django_assert_max_num_queries):
    def add_services(count):
        for _index in range(count):
            ProfessionalService.objects.create(professional=clinic.ana, service=ServiceFactory())

    add_services(2)
    value = box_value(professionals=[clinic.ana])  # reading the page's JSON is the page's cost, not the box's
    request = RequestFactory().get("/")
    with django_assert_max_num_queries(1):
        assert len(link_queries(BLOCK.render(value, {"request": request, "site_settings": SiteSettings()}))) == 3
    add_services(27)
    request = RequestFactory().get("/")  # another page view: a request reads the box's services once
    with django_assert_max_num_queries(1):
        assert len(link_queries(BLOCK.render(value, {"request": request, "site_settings": SiteSettings()}))) == 30


def test_reading_a_box_with_every_option_costs_one_query_per_kind_of_choice(clinic, django_assert_num_queries):
    """category, service, professionals (all of them at once) and location: one query each, then the services."""
    team = [clinic.ana, clinic.bruno, *ProfessionalFactory.create_batch(5)]
    raw = BLOCK.get_prep_value(
        box_value(
            category=clinic.service.category, service=clinic.service, professionals=team, location=clinic.location
        )
    )
    with django_assert_num_queries(5):
        value = BLOCK.to_python(raw)
        BLOCK.render(value, {"site_settings": SiteSettings()})


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
