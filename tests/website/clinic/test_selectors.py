"""The listing selectors (also called by the services-list and professionals-grid blocks) and query counts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories.clinic import ProfessionalPageFactory, ServicePageFactory
from tests.factories.images import ImageFactory
from tests.factories.scheduling import (
    LocationFactory,
    ProfessionalFactory,
    ProfessionalServiceFactory,
    ServiceFactory,
)
from website.clinic.selectors import professional_listing, service_listing


def names(pages):
    return [page.title for page in pages]


# --- service_listing -------------------------------------------------------------------------


@pytest.mark.django_db
def test_service_listing_lists_live_pages_of_active_services_in_catalog_order(clinic):
    ServiceFactory(name="Sin página")

    assert names(service_listing()) == ["Psicoterapia adultos", "Terapia de pareja", "Evaluación nutricional"]


@pytest.mark.django_db
@pytest.mark.parametrize("as_slug", [True, False], ids=["slug", "instance"])
def test_service_listing_by_category(clinic, as_slug):
    category = "nutricion" if as_slug else clinic.nutrition

    assert names(service_listing(category=category)) == ["Evaluación nutricional"]


@pytest.mark.django_db
def test_service_listing_skips_inactive_services_and_drafts(clinic):
    clinic.couples.active = False
    clinic.couples.save()
    clinic.diet_page.unpublish()

    assert names(service_listing()) == ["Psicoterapia adultos"]


@pytest.mark.django_db
def test_service_listing_limit_and_unknown_category(clinic):
    assert names(service_listing(limit=1)) == ["Psicoterapia adultos"]
    assert service_listing(category="no-existe") == []


@pytest.mark.django_db
def test_service_listing_reads_service_and_category_without_more_queries(clinic, django_assert_num_queries):
    with django_assert_num_queries(1):  # the pages with their service and category, view restrictions checked inside
        pages = service_listing()
        [(page.service.price, page.service.category.name) for page in pages]


# --- professional_listing --------------------------------------------------------------------


@pytest.mark.django_db
def test_professional_listing_lists_live_profiles_of_active_professionals(clinic):
    assert names(professional_listing()) == ["Ana Pérez", "Bruno Díaz"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("service", "category", "expected"),
    [
        ("psicoterapia-adultos", None, ["Ana Pérez"]),
        ("therapy", None, ["Ana Pérez"]),
        (None, "nutricion", ["Bruno Díaz"]),
        (None, "psychology", ["Ana Pérez"]),
        ("couples", "psychology", ["Ana Pérez"]),
        ("no-existe", None, []),
        (None, "no-existe", []),
    ],
    ids=["service-slug", "service", "category-slug", "category", "both", "unknown-service", "unknown-category"],
)
def test_professional_listing_filters(clinic, service, category, expected):
    service = getattr(clinic, service, service) if service else None
    category = getattr(clinic, category, category) if category else None

    assert names(professional_listing(service=service, category=category)) == expected


@pytest.mark.django_db
def test_professional_listing_limit(clinic):
    assert names(professional_listing(limit=1)) == ["Ana Pérez"]


# --- Query counts as rows grow ---------------------------------------------------------------


def add_professionals(professional_index, service, location, count):
    for _ in range(count):
        professional = ProfessionalFactory(photo=ImageFactory(), locations=[location])
        ProfessionalServiceFactory(professional=professional, service=service)
        ProfessionalServiceFactory(professional=professional)
        ProfessionalPageFactory(parent=professional_index, professional=professional)


def add_services(service_index, count):
    for _ in range(count):
        ServicePageFactory(parent=service_index)


def count_queries(client, url):
    client.get(url)  # the first view creates image renditions and warms caches
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries), response


@pytest.mark.django_db
def test_selectors_run_the_same_queries_for_3_or_30_rows(service_index, professional_index):
    service, location = ServiceFactory(), LocationFactory()

    def run():
        with CaptureQueriesContext(connection) as captured:
            for page in professional_listing(service=service):
                page.professional.photo.title, [o.service.name for o in page.professional.offered_services.all()]
            [page.service.category.name for page in service_listing()]
        return len(captured.captured_queries)

    add_professionals(professional_index, service, location, 3)
    add_services(service_index, 3)
    few = run()
    add_professionals(professional_index, service, location, 27)
    add_services(service_index, 27)

    assert run() == few


@pytest.mark.django_db
@pytest.mark.parametrize("page_name", ["service_index", "professional_index", "service_page"])
def test_listing_pages_run_the_same_queries_for_3_or_30_rows(client, service_index, professional_index, page_name):
    service, location = ServiceFactory(), LocationFactory()
    url = {
        "service_index": service_index.url,
        "professional_index": professional_index.url,
        "service_page": ServicePageFactory(parent=service_index, service=service).url,
    }[page_name]

    add_professionals(professional_index, service, location, 3)
    add_services(service_index, 3)
    few, response = count_queries(client, url)
    add_professionals(professional_index, service, location, 27)
    add_services(service_index, 27)
    many, response = count_queries(client, url)

    assert many == few
    if page_name != "service_index":
        listed = response.context["providers" if page_name == "service_page" else "professional_pages"]
        assert len(listed) == 30


@pytest.mark.django_db
def test_team_page_filtered_by_category_runs_the_same_queries_for_3_or_30_rows(client, professional_index):
    service, location = ServiceFactory(), LocationFactory()
    url = f"{professional_index.url}?category={service.category.slug}"

    add_professionals(professional_index, service, location, 3)
    few, _response = count_queries(client, url)
    add_professionals(professional_index, service, location, 27)
    many, response = count_queries(client, url)

    assert many == few
    assert len(response.context["professional_pages"]) == 30


@pytest.mark.django_db
def test_profile_page_queries_do_not_grow_with_degrees_and_services(client, clinic):
    from tests.factories.scheduling import ProfessionalDegreeFactory, ProfessionalExperienceFactory

    few, _response = count_queries(client, clinic.ana_page.url)
    for _ in range(10):
        ProfessionalDegreeFactory(professional=clinic.ana)
        ProfessionalExperienceFactory(professional=clinic.ana)
        ProfessionalServiceFactory(professional=clinic.ana)
    many, _response = count_queries(client, clinic.ana_page.url)

    assert many == few
