"""Where visitors meet packs: the booking box's pack option, the list of packs, and the "Also in a pack" section of
service and professional pages, in a number of queries that does not grow with the number of packs."""

from decimal import Decimal

import pytest
from bs4 import BeautifulSoup
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from booking.widget.blocks import BookingBoxBlock
from tests.factories.clinic import (
    ProfessionalIndexPageFactory,
    ProfessionalPageFactory,
    ServiceIndexPageFactory,
    ServicePageFactory,
)
from tests.factories.packs import package_with
from tests.factories.scheduling import ProfessionalFactory, ServiceFactory
from website.models import SiteSettings

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
BLOCK = BookingBoxBlock()


@pytest.fixture
def catalog(clinic):
    """Therapy (Ana, Bruno) and nutrition (Ana): a therapy pack, a pool of both, one only with Bruno, a hidden one."""
    nutrition = ServiceFactory(slug="nutrition", name="Nutrition control", price=Decimal("20000"))
    clinic.ana.offered_services.create(service=nutrition)
    therapy_pack = package_with(
        {clinic.service: 8}, name="Therapy × 8", slug="therapy-8", price=Decimal("250000"), sort_order=1
    )
    pool = package_with(
        {clinic.service: None, nutrition: None}, pool=9, name="Wellbeing", slug="wellbeing", sort_order=2
    )
    bruno_only = package_with({clinic.service: 4}, name="With Bruno", slug="with-bruno", sort_order=3)
    bruno_only.allowed_professionals.add(clinic.bruno)
    bruno_only.save()
    package_with({clinic.service: 4}, name="Staff only", slug="staff-only", public=False)
    package_with({clinic.service: 4}, name="Old pack", slug="old-pack", active=False)
    return {"nutrition": nutrition, "therapy": therapy_pack, "pool": pool, "bruno": bruno_only}


def pack_names(html: str) -> list[str]:
    return [
        card.select_one(".card-title").get_text(strip=True)
        for card in BeautifulSoup(html, "html.parser").select(".pack-card")
    ]


def render_box(page=None, **raw):
    request = RequestFactory().get("/", HTTP_ACCEPT_LANGUAGE="en")
    context = {"request": request, "site_settings": SiteSettings(), "page": page}
    with translation.override("en"):
        return BLOCK.render(BLOCK.to_python(raw), context=context)


# --- the booking box ---------------------------------------------------------------------------------------------


def test_a_box_saved_before_packs_offers_none(catalog):
    html = render_box(layout="full")
    assert "pack-card" not in html


def test_a_box_offering_the_public_packs_lists_them_with_what_they_include(catalog):
    html = render_box(offer_packs="public")
    assert pack_names(html) == ["Therapy × 8", "Wellbeing", "With Bruno"]
    soup = BeautifulSoup(html, "html.parser")
    card = soup.select_one('[data-pack="therapy-8"]')
    assert card.select_one("a")["href"] == "/booking/packs/therapy-8/"
    assert "8 × Individual therapy" in card.get_text()
    assert "Valid for 90 days" in card.get_text()
    assert "$250,000" in card.get_text()
    wellbeing = soup.select_one('[data-pack="wellbeing"]').get_text()
    assert "9 sessions to share among: Individual therapy, Nutrition control" in wellbeing


def test_a_box_with_a_service_offers_only_the_packs_that_include_it(catalog):
    html = render_box(offer_packs="public", service=catalog["nutrition"].pk)
    assert pack_names(html) == ["Wellbeing"]


def test_a_box_offering_one_pack_shows_only_that_one(catalog):
    assert pack_names(render_box(offer_packs="one", pack=catalog["pool"].pk)) == ["Wellbeing"]


def test_a_box_naming_a_pack_that_is_no_longer_public_offers_nothing(catalog):
    catalog["pool"].public = False
    catalog["pool"].save()
    assert pack_names(render_box(offer_packs="one", pack=catalog["pool"].pk)) == []


def test_the_box_reads_the_packs_in_two_queries_whatever_their_number(catalog, clinic):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            render_box(offer_packs="public", service=clinic.service.pk)
        return len(queries)

    few = count()
    for number in range(20):
        package_with({clinic.service: 2}, name=f"Extra {number}", slug=f"extra-{number}")
    assert count() == few


# --- the list of packs in the flow ------------------------------------------------------------------------------


def test_the_list_of_packs_shows_the_public_ones(client, catalog):
    html = client.get("/booking/packs/", **EN).content.decode()
    assert pack_names(html) == ["Therapy × 8", "Wellbeing", "With Bruno"]


def test_the_list_of_packs_of_one_service(client, catalog):
    html = client.get("/booking/packs/?service=nutrition", **EN).content.decode()
    assert pack_names(html) == ["Wellbeing"]
    assert client.get("/booking/packs/?service=unknown", **EN).status_code == 404


# --- service and professional pages -----------------------------------------------------------------------------


@pytest.fixture
def pages(home_page, clinic, catalog):
    services = ServiceIndexPageFactory(parent=home_page, title="Services", slug="services")
    team = ProfessionalIndexPageFactory(parent=home_page, title="Team", slug="team")
    return {
        "therapy": ServicePageFactory(parent=services, service=clinic.service, slug="therapy"),
        "nutrition": ServicePageFactory(parent=services, service=catalog["nutrition"], slug="nutrition"),
        "ana": ProfessionalPageFactory(parent=team, professional=clinic.ana, slug="ana"),
        "bruno": ProfessionalPageFactory(parent=team, professional=clinic.bruno, slug="bruno"),
    }


def section(html: str) -> list[str]:
    found = BeautifulSoup(html, "html.parser").select_one("#also-in-a-pack")
    return pack_names(str(found)) if found is not None else []


def test_a_service_page_lists_the_public_packs_that_include_it(client, pages):
    html = client.get(pages["therapy"].url, **EN).content.decode()
    assert "Also in a pack" in html
    assert section(html) == ["Therapy × 8", "Wellbeing", "With Bruno"]
    assert section(client.get(pages["nutrition"].url, **EN).content.decode()) == ["Wellbeing"]


def test_a_service_page_without_packs_has_no_section(client, pages, catalog):
    for package in catalog.values():
        if hasattr(package, "public"):
            package.public = False
            package.save()
    html = client.get(pages["nutrition"].url, **EN).content.decode()
    assert 'id="also-in-a-pack"' not in html


def test_a_professional_page_lists_the_packs_they_can_give(client, pages):
    """Ana offers therapy and nutrition but is not allowed in "With Bruno"; Bruno offers therapy only."""
    assert section(client.get(pages["ana"].url, **EN).content.decode()) == ["Therapy × 8", "Wellbeing"]
    assert section(client.get(pages["bruno"].url, **EN).content.decode()) == ["Therapy × 8", "Wellbeing", "With Bruno"]


def test_a_pack_with_a_service_nobody_there_offers_is_not_on_the_professional_page(client, pages, clinic):
    other = ServiceFactory(slug="other", name="Other")
    ProfessionalFactory(services=[other])
    package_with({other: 3}, name="Other pack", slug="other-pack")
    assert "Other pack" not in section(client.get(pages["ana"].url, **EN).content.decode())


@pytest.mark.parametrize("page", ["therapy", "ana"])
def test_the_section_costs_the_same_queries_for_3_or_30_packs(client, pages, clinic, page):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(pages[page].url, **EN)
        assert response.status_code == 200
        return len(queries)

    client.get(pages[page].url, **EN)  # warm the per-process caches (site, settings)
    few = count()
    for number in range(27):
        package_with({clinic.service: 2}, name=f"Extra {number:02}", slug=f"extra-{number}", sort_order=10 + number)
    many = count()
    assert len(section(client.get(pages[page].url, **EN).content.decode())) >= 29
    assert many == few


def test_editors_choose_the_boxs_pack_in_a_searchable_modal(superuser_client, catalog):
    response = superuser_client.get(reverse("packs_package_chooser:choose"), {"q": "Wellbeing"})
    assert response.status_code == 200
    assert "Wellbeing" in response.content.decode()
