"""A small clinic for the public page tests: two areas, three services, professionals with profiles."""

from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.cache import cache

from tests.factories.clinic import (
    ProfessionalIndexPageFactory,
    ProfessionalPageFactory,
    ServiceIndexPageFactory,
    ServicePageFactory,
)
from tests.factories.images import ImageFactory
from tests.factories.scheduling import (
    LocationFactory,
    ProfessionalDegreeFactory,
    ProfessionalExperienceFactory,
    ProfessionalFactory,
    ProfessionalServiceFactory,
    ServiceCategoryFactory,
    ServiceFactory,
)


@pytest.fixture(autouse=True)
def _empty_cache():
    """Cached renditions and remembered embed failures of one test never reach another."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def service_index(home_page):
    return ServiceIndexPageFactory(parent=home_page, title="Servicios", slug="servicios")


@pytest.fixture
def professional_index(home_page):
    return ProfessionalIndexPageFactory(parent=home_page, title="Equipo", slug="equipo")


@pytest.fixture
def clinic(service_index, professional_index):
    """Psychology and nutrition, with Ana (psychology, own price), Bruno (nutrition) and Carla (inactive)."""
    psychology = ServiceCategoryFactory(name="Psicología", slug="psicologia", sort_order=1)
    nutrition = ServiceCategoryFactory(name="Nutrición", slug="nutricion", sort_order=2)
    therapy = ServiceFactory(
        name="Psicoterapia adultos",
        slug="psicoterapia-adultos",
        category=psychology,
        price=Decimal("35000"),
        duration_minutes=50,
        description="Sesiones individuales para adultos.",
    )
    couples = ServiceFactory(
        name="Terapia de pareja", slug="terapia-pareja", category=psychology, price=Decimal("45000")
    )
    diet = ServiceFactory(name="Evaluación nutricional", slug="evaluacion-nutricional", category=nutrition)
    providencia = LocationFactory(name="Sede Providencia", address="Av. Providencia 1234", city="Santiago")

    ana = ProfessionalFactory(
        display_name="Ana Pérez",
        slug="ana-perez",
        title="Psicóloga clínica",
        bio="Acompaño a adultos en procesos de ansiedad.",
        photo=ImageFactory(title="IMG_0001"),
        locations=[providencia],
    )
    ProfessionalServiceFactory(professional=ana, service=therapy, price_override=Decimal("30000"))
    ProfessionalServiceFactory(professional=ana, service=couples)
    ProfessionalDegreeFactory(professional=ana, title="Magíster en Psicología Clínica", sort_order=0)
    ProfessionalDegreeFactory(professional=ana, title="Diplomado en Terapia Breve", sort_order=1)
    ProfessionalExperienceFactory(professional=ana, role="Psicóloga", organisation="Hospital del Salvador")

    bruno = ProfessionalFactory(display_name="Bruno Díaz", slug="bruno-diaz", title="Nutricionista")
    ProfessionalServiceFactory(professional=bruno, service=diet)
    carla = ProfessionalFactory(display_name="Carla Inactiva", slug="carla-inactiva", active=False)
    ProfessionalServiceFactory(professional=carla, service=therapy)

    return SimpleNamespace(
        psychology=psychology,
        nutrition=nutrition,
        therapy=therapy,
        couples=couples,
        diet=diet,
        providencia=providencia,
        ana=ana,
        bruno=bruno,
        carla=carla,
        therapy_page=ServicePageFactory(parent=service_index, service=therapy, slug="psicoterapia-adultos"),
        couples_page=ServicePageFactory(parent=service_index, service=couples, slug="terapia-pareja"),
        diet_page=ServicePageFactory(parent=service_index, service=diet, slug="evaluacion-nutricional"),
        ana_page=ProfessionalPageFactory(parent=professional_index, professional=ana, slug="ana-perez"),
        bruno_page=ProfessionalPageFactory(parent=professional_index, professional=bruno, slug="bruno-diaz"),
        carla_page=ProfessionalPageFactory(parent=professional_index, professional=carla, slug="carla-inactiva"),
    )
