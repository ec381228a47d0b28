"""The public service and professional pages, as a visitor and an editor see them."""

import json
import re

import pytest
from django.test import RequestFactory
from django.urls import reverse
from wagtail.embeds.embeds import get_embed_hash
from wagtail.embeds.exceptions import EmbedNotFoundException
from wagtail.embeds.models import Embed
from wagtail.models import Page

from website.clinic.models import ProfessionalIndexPage, ProfessionalPage, ServiceIndexPage, ServicePage
from website.models import HomePage, StandardPage

VIDEO_URL = "https://www.youtube.com/watch?v=ana-presenta"


def text(response):
    """The page's visible text with whitespace collapsed, for readable assertions."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def json_ld_blocks(response):
    html = response.content.decode()
    return [
        json.loads(block) for block in re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    ]


# --- Where pages may be created --------------------------------------------------------------


@pytest.mark.parametrize(
    ("page_class", "parent_class", "allowed"),
    [
        (ServiceIndexPage, HomePage, True),
        (ServiceIndexPage, StandardPage, False),
        (ServicePage, ServiceIndexPage, True),
        (ServicePage, HomePage, False),
        (ServicePage, ProfessionalIndexPage, False),
        (ProfessionalIndexPage, HomePage, True),
        (ProfessionalIndexPage, ServiceIndexPage, False),
        (ProfessionalPage, ProfessionalIndexPage, True),
        (ProfessionalPage, HomePage, False),
        (ProfessionalPage, ServiceIndexPage, False),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else str(value),
)
def test_page_type_rules(page_class, parent_class, allowed):
    assert page_class.is_creatable
    assert (parent_class in page_class.allowed_parent_page_models()) is allowed
    assert (page_class in parent_class.allowed_subpage_models()) is allowed


@pytest.mark.django_db
def test_only_one_service_index_and_one_team_page(service_index, professional_index, home_page):
    assert not ServiceIndexPage.can_create_at(home_page)
    assert not ProfessionalIndexPage.can_create_at(home_page)


@pytest.mark.django_db
def test_editor_creates_a_service_page_in_the_admin(superuser_client, service_index, clinic):
    add_url = reverse("wagtailadmin_pages:add", args=("clinic", "servicepage", service_index.pk))
    data = {
        "title": "Evaluación nutricional",
        "slug": "evaluacion",
        "service": clinic.diet.pk,
        "intro": json.dumps({"blocks": [], "entityMap": {}}),
        "body-count": "0",
        "action-publish": "publish",
    }

    form = superuser_client.get(add_url)
    response = superuser_client.post(add_url, data)

    assert form.status_code == 200
    assert response.status_code == 302
    page = ServicePage.objects.get(slug="evaluacion")
    assert page.live
    assert page.service == clinic.diet


@pytest.mark.django_db
def test_a_second_profile_for_the_same_professional_is_refused(superuser_client, professional_index, clinic):
    add_url = reverse("wagtailadmin_pages:add", args=("clinic", "professionalpage", professional_index.pk))
    data = {"title": "Ana otra vez", "slug": "ana-otra", "professional": clinic.ana.pk, "body-count": "0"}

    response = superuser_client.post(add_url, data)

    assert response.status_code == 200
    assert "professional" in response.context["form"].errors
    assert not ProfessionalPage.objects.filter(slug="ana-otra").exists()


@pytest.mark.django_db
def test_copying_a_profile_is_refused_with_a_message(superuser_client, clinic):
    response = superuser_client.get(reverse("wagtailadmin_pages:copy", args=(clinic.ana_page.pk,)), follow=True)

    assert response.status_code == 200
    assert ProfessionalPage.objects.filter(professional=clinic.ana).count() == 1
    assert any(message.level_tag == "error" for message in response.context["messages"])


# --- Service pages ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_service_index_groups_live_services_by_category(client, clinic):
    clinic.couples.active = False
    clinic.couples.save()
    ServicePage.objects.get(pk=clinic.diet_page.pk).unpublish()

    response = client.get(clinic.therapy_page.get_parent().url)

    assert response.status_code == 200
    page_text = text(response)
    assert "Psicología" in page_text
    assert "Psicoterapia adultos" in page_text
    assert "$35.000" in page_text
    assert "Terapia de pareja" not in page_text
    assert "Evaluación nutricional" not in page_text
    assert "Nutrición" not in page_text  # a category with nothing to show gets no heading


@pytest.mark.django_db
def test_service_index_orders_categories_by_their_order(client, clinic):
    clinic.nutrition.sort_order = 0
    clinic.nutrition.save()

    page_text = text(client.get(clinic.therapy_page.get_parent().url))

    assert page_text.index("Nutrición") < page_text.index("Psicología")


@pytest.mark.django_db
def test_service_page_shows_the_catalog_facts_and_who_offers_it(client, clinic):
    response = client.get(clinic.therapy_page.url)

    assert response.status_code == 200
    page_text = text(response)
    assert "Sesiones individuales para adultos." in page_text
    assert "$35.000" in page_text
    assert "50" in page_text
    assert str(clinic.therapy.get_modality_display()) in page_text
    assert str(clinic.therapy.get_payment_mode_display()) in page_text
    assert clinic.therapy.cancellation_policy in page_text
    assert "Ana Pérez" in page_text
    assert "$30.000" in page_text  # Ana's own price
    assert "Carla Inactiva" not in page_text
    assert "Bruno Díaz" not in page_text
    assert f'href="{clinic.ana_page.url}"' in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "intro",
    ["<p>Sesiones individuales para adultos.</p>", "<p>Sesiones  individuales\npara adultos. </p>"],
    ids=["same-text", "same-words"],
)
def test_service_page_says_an_introduction_equal_to_the_catalogs_description_once(client, clinic, intro):
    clinic.therapy_page.intro = intro
    clinic.therapy_page.save_revision().publish()

    page_text = " ".join(text(client.get(clinic.therapy_page.url)).split())

    assert page_text.count("Sesiones individuales para adultos.") == 1


@pytest.mark.django_db
def test_service_page_shows_both_an_introduction_and_a_different_description(client, clinic):
    clinic.therapy_page.intro = "<p>Un espacio para ti.</p>"
    clinic.therapy_page.save_revision().publish()

    page_text = text(client.get(clinic.therapy_page.url))

    assert "Un espacio para ti." in page_text
    assert "Sesiones individuales para adultos." in page_text


@pytest.mark.django_db
def test_service_page_does_not_repeat_a_price_equal_to_the_list_price(client, clinic):
    response = client.get(clinic.couples_page.url)

    page_text = text(response)
    assert "Ana Pérez" in page_text
    assert page_text.count("$45.000") == 1


@pytest.mark.django_db
def test_service_page_of_an_inactive_service_says_so_and_lists_nobody(client, clinic):
    clinic.therapy.active = False
    clinic.therapy.save()

    response = client.get(clinic.therapy_page.url)

    assert response.status_code == 200
    assert "Ana Pérez" not in text(response)
    assert response.context["providers"] == []


@pytest.mark.django_db
def test_service_page_json_ld_is_a_service_with_its_offer(client, clinic):
    response = client.get(clinic.therapy_page.url)

    services = [block for block in json_ld_blocks(response) if block.get("@type") == "Service"]
    assert len(services) == 1
    assert services[0]["name"] == "Psicoterapia adultos"
    assert services[0]["offers"] == {"@type": "Offer", "price": "35000", "priceCurrency": "CLP"}


# --- The team page ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_team_page_lists_active_professionals_only(client, clinic):
    response = client.get(clinic.ana_page.get_parent().url)

    assert response.status_code == 200
    page_text = text(response)
    assert "Ana Pérez" in page_text
    assert "Bruno Díaz" in page_text
    assert "Carla Inactiva" not in page_text


@pytest.mark.django_db
def test_team_page_hides_unpublished_profiles(client, clinic):
    ProfessionalPage.objects.get(pk=clinic.bruno_page.pk).unpublish()

    page_text = text(client.get(clinic.ana_page.get_parent().url))

    assert "Ana Pérez" in page_text
    assert "Bruno Díaz" not in page_text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "shown", "hidden"),
    [
        ("service=psicoterapia-adultos", ["Ana Pérez"], ["Bruno Díaz", "Carla Inactiva"]),
        ("service=evaluacion-nutricional", ["Bruno Díaz"], ["Ana Pérez"]),
        ("category=psicologia", ["Ana Pérez"], ["Bruno Díaz", "Carla Inactiva"]),
        ("category=nutricion", ["Bruno Díaz"], ["Ana Pérez"]),
        ("service=psicoterapia-adultos&category=nutricion", [], ["Ana Pérez", "Bruno Díaz"]),
        ("service=&category=", ["Ana Pérez", "Bruno Díaz"], ["Carla Inactiva"]),
    ],
    ids=["service", "other-service", "category", "other-category", "contradictory", "empty-values"],
)
def test_team_page_filters_by_service_and_category(client, clinic, query, shown, hidden):
    response = client.get(f"{clinic.ana_page.get_parent().url}?{query}")

    assert response.status_code == 200
    cards = [page.professional.display_name for page in response.context["professional_pages"]]
    assert cards == shown
    page_text = text(response)
    for name in hidden:
        assert name not in page_text


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    ["service=no-existe", "category=no-existe", "service=psicoterapia-adultos&category=%00%27"],
    ids=["unknown-service", "unknown-category", "garbage"],
)
def test_team_page_with_unknown_filter_shows_a_message_and_nobody(client, clinic, query):
    response = client.get(f"{clinic.ana_page.get_parent().url}?{query}")

    assert response.status_code == 200
    assert response.context["professional_pages"] == []
    form = response.context["filter_form"]
    assert form.errors
    html = response.content.decode()
    assert 'role="alert"' in html
    for errors in form.errors.values():
        for message in errors:
            assert str(message) in text(response)
    assert "Ana Pérez" not in text(response)


@pytest.mark.django_db
def test_team_page_filter_of_an_inactive_service_finds_nobody(client, clinic):
    clinic.diet.active = False
    clinic.diet.save()

    response = client.get(f"{clinic.ana_page.get_parent().url}?service=evaluacion-nutricional")

    assert response.status_code == 200
    assert response.context["professional_pages"] == []


# --- Profiles --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_profile_shows_photo_bio_degrees_experience_services_and_places(client, clinic):
    response = client.get(clinic.ana_page.url)

    assert response.status_code == 200
    html = response.content.decode()
    page_text = text(response)
    assert re.search(r'<img[^>]+alt="Ana Pérez"', html)
    assert "Psicóloga clínica" in page_text
    assert "Acompaño a adultos en procesos de ansiedad." in page_text
    assert page_text.index("Magíster en Psicología Clínica") < page_text.index("Diplomado en Terapia Breve")
    assert "Hospital del Salvador" in page_text
    assert "Psicoterapia adultos" in page_text
    assert "$30.000" in page_text
    assert "$45.000" in page_text
    assert "Av. Providencia 1234, Santiago" in page_text
    assert "Sede Providencia" in page_text
    assert "text-bg-success" in html  # the "accepting new patients" badge
    assert f'<a href="{clinic.therapy_page.url}">Psicoterapia adultos</a>' in html


@pytest.mark.django_db
def test_profile_says_when_the_professional_is_not_accepting_new_patients(client, clinic):
    clinic.ana.accepting_new_patients = False
    clinic.ana.save()

    response = client.get(clinic.ana_page.url)

    assert "text-bg-success" not in response.content.decode()
    assert "text-bg-secondary" in response.content.decode()


@pytest.mark.django_db
def test_profile_of_an_inactive_professional_is_not_found(client, clinic):
    response = client.get(clinic.carla_page.url)

    assert response.status_code == 404


@pytest.mark.django_db
def test_profile_embeds_the_presentation_video(client, clinic):
    Embed.objects.create(
        url=VIDEO_URL,
        hash=get_embed_hash(VIDEO_URL),
        type="video",
        html='<iframe title="Ana se presenta" src="https://www.youtube-nocookie.com/embed/x"></iframe>',
        provider_name="YouTube",
    )
    clinic.ana.video_url = VIDEO_URL
    clinic.ana.save()

    response = client.get(clinic.ana_page.url)

    assert '<iframe title="Ana se presenta"' in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "failure",
    [EmbedNotFoundException("gone"), OSError("network unreachable")],
    ids=["provider-says-no", "network-error"],
)
def test_profile_links_to_the_video_when_it_cannot_be_embedded(client, clinic, monkeypatch, failure):
    def failing_get_embed(url, *args, **kwargs):
        raise failure

    monkeypatch.setattr("wagtail.embeds.embeds.get_embed", failing_get_embed)
    clinic.ana.video_url = VIDEO_URL
    clinic.ana.save()

    response = client.get(clinic.ana_page.url)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<iframe" not in html
    assert f'href="{VIDEO_URL}"' in html


@pytest.mark.django_db
def test_a_failed_video_embed_is_not_retried_for_every_visitor(client, clinic, monkeypatch):
    attempts = []

    def failing_get_embed(url, *args, **kwargs):
        attempts.append(url)
        raise EmbedNotFoundException("gone")

    monkeypatch.setattr("wagtail.embeds.embeds.get_embed", failing_get_embed)
    clinic.ana.video_url = VIDEO_URL
    clinic.ana.save()

    first = client.get(clinic.ana_page.url)
    second = client.get(clinic.ana_page.url)

    assert first.status_code == second.status_code == 200
    assert f'href="{VIDEO_URL}"' in second.content.decode()
    assert attempts == [VIDEO_URL]


@pytest.mark.django_db
def test_profile_json_ld_is_a_physician(client, clinic):
    response = client.get(clinic.ana_page.url)

    physicians = [block for block in json_ld_blocks(response) if block.get("@type") == "Physician"]
    assert len(physicians) == 1
    data = physicians[0]
    assert data["@context"] == "https://schema.org"
    assert data["name"] == "Ana Pérez"
    assert data["url"] == clinic.ana_page.get_full_url()
    assert data["image"].startswith("http")
    assert data["address"] == [
        {
            "@type": "PostalAddress",
            "name": "Sede Providencia",
            "streetAddress": "Av. Providencia 1234",
            "addressLocality": "Santiago",
        }
    ]
    assert data["worksFor"]["@type"] == "MedicalClinic"
    assert data["worksFor"]["name"]
    assert [service["name"] for service in data["availableService"]] == ["Psicoterapia adultos", "Terapia de pareja"]


@pytest.mark.django_db
def test_physician_json_ld_names_a_specialty_only_where_schema_org_has_one(clinic):
    request = RequestFactory().get("/", SERVER_NAME="localhost")

    ana = ProfessionalPage.objects.get(pk=clinic.ana_page.pk).get_json_ld(request)
    bruno = ProfessionalPage.objects.get(pk=clinic.bruno_page.pk).get_json_ld(request)

    assert "medicalSpecialty" not in ana  # psychology is not in schema.org's list
    assert bruno["medicalSpecialty"] == ["DietNutrition"]
    assert json.loads(json.dumps(bruno)) == bruno


@pytest.mark.django_db
def test_profile_og_image_is_the_photo(clinic):
    page = ProfessionalPage.objects.get(pk=clinic.ana_page.pk)

    assert page.get_og_image() == clinic.ana.photo


# --- Search ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_wagtail_search_finds_service_and_profile_pages(clinic):
    ServicePage.objects.get(pk=clinic.therapy_page.pk).save_revision().publish()
    ProfessionalPage.objects.get(pk=clinic.ana_page.pk).save_revision().publish()

    found = {page.specific_class for page in Page.objects.live().search("Psicoterapia")}
    found_ana = list(Page.objects.live().search("Ana"))

    assert ServicePage in found
    assert clinic.ana_page.page_ptr in found_ana or clinic.ana_page in found_ana
