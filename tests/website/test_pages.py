"""Home and standard pages: where editors may create them, and how they render."""

import pytest
from bs4 import BeautifulSoup
from wagtail.models import Page, Site

from tests.factories.website import StandardPageFactory
from website.models import HomePage, StandardPage

pytestmark = pytest.mark.django_db


def test_fresh_migrate_makes_a_home_page_titled_inicio_the_default_site_root():
    site = Site.objects.get(is_default_site=True)

    assert isinstance(site.root_page.specific, HomePage)
    assert site.root_page.title == "Inicio"
    assert site.root_page.live
    assert not Page.objects.filter(title__startswith="Welcome").exists()


def test_home_page_fixture_is_the_migrated_home(home_page):
    assert home_page.pk == Site.objects.get(is_default_site=True).root_page_id


@pytest.mark.parametrize(
    "child_model",
    [
        "website.StandardPage",
        "clinic.ServiceIndexPage",
        "clinic.ProfessionalIndexPage",
        "blog.BlogIndexPage",
        "resources.ResourceIndexPage",
    ],
    ids=["standard", "services-index", "professionals-index", "blog-index", "resources-index"],
)
def test_home_page_accepts_the_index_pages_and_standard_pages(child_model):
    from django.apps import apps

    assert apps.get_model(child_model) in HomePage.allowed_subpage_models()


def test_home_page_lives_only_at_the_tree_root_and_only_once(home_page):
    assert HomePage.allowed_parent_page_models() == [Page]
    assert not HomePage.can_create_at(Page.get_first_root_node())  # one already exists


def test_standard_pages_go_under_the_home_page_or_other_standard_pages(home_page):
    about = StandardPageFactory(parent=home_page)

    assert StandardPage.can_create_at(home_page)
    assert StandardPage.can_create_at(about)
    assert not StandardPage.can_create_at(Page.get_first_root_node())
    assert StandardPage.allowed_subpage_models() == [StandardPage]


def test_home_page_renders_the_hero_intro_and_every_body_block(client, home_page, full_body, fake_selectors, image):
    home_page.hero_heading = "Cuidamos tu bienestar"
    home_page.hero_subheading = "Psicología y nutrición en Providencia."
    home_page.hero_image = image
    home_page.hero_cta_label = "Reserva una hora"
    home_page.hero_cta_url = "https://reservas.example/"
    home_page.intro = "<p>Bienvenida a la clínica.</p>"
    home_page.body = full_body
    home_page.save()

    response = client.get("/")

    assert response.status_code == 200
    soup = BeautifulSoup(response.content, "html.parser")
    assert soup.find("h1").get_text(strip=True) == "Cuidamos tu bienestar"
    assert soup.find("a", string="Reserva una hora")["href"] == "https://reservas.example/"
    assert "Bienvenida a la clínica." in soup.get_text()
    _assert_every_block_rendered(soup)


def test_standard_page_renders_its_intro_and_every_body_block(client, home_page, full_body, fake_selectors):
    page = StandardPageFactory(parent=home_page, title="Quiénes somos", intro="Somos un equipo.", body=full_body)

    response = client.get(page.url)

    assert response.status_code == 200
    soup = BeautifulSoup(response.content, "html.parser")
    assert soup.find("h1").get_text(strip=True) == "Quiénes somos"
    assert "Somos un equipo." in soup.get_text()
    _assert_every_block_rendered(soup)


def test_listing_blocks_pass_their_filters_to_the_selectors(client, home_page, full_body, fake_selectors):
    StandardPageFactory(parent=home_page, slug="listas", body=full_body)

    client.get("/listas/")

    calls = dict(fake_selectors.calls)
    assert calls["service_listing"]["category"].slug == "psicologia"
    assert calls["service_listing"]["limit"] == 6
    assert calls["professional_listing"]["service"].slug == "psicoterapia"
    assert calls["professional_listing"]["limit"] is None
    assert calls["latest_posts"] == {"limit": 2}


def test_hero_button_needs_a_target(home_page):
    from django.core.exceptions import ValidationError

    home_page.hero_cta_label = "Reservar"

    with pytest.raises(ValidationError) as error:
        home_page.full_clean()
    assert "hero_cta_page" in error.value.message_dict


def test_hero_button_prefers_the_chosen_page_over_the_url(client, home_page):
    services = StandardPageFactory(parent=home_page, slug="servicios")
    home_page.hero_cta_label = "Ver servicios"
    home_page.hero_cta_page = services
    home_page.hero_cta_url = "https://example.com/"
    home_page.save()

    soup = BeautifulSoup(client.get("/").content, "html.parser")

    assert soup.find("a", string="Ver servicios")["href"] == "/servicios/"


def test_home_page_json_ld_includes_the_logo_as_an_absolute_url(rf, home_page, site_settings, image):
    site_settings.logo = image
    site_settings.save()

    data = home_page.get_json_ld(rf.get("/"))

    assert data["logo"].startswith("http://testserver/media/images/")


def test_a_draft_standard_page_is_not_served(client, home_page):
    StandardPageFactory(parent=home_page, slug="borrador", live=False)

    assert client.get("/borrador/").status_code == 404


def _assert_every_block_rendered(soup):
    text = soup.get_text(" ", strip=True)
    assert soup.find("h2", string="Cómo trabajamos")  # heading
    assert soup.find("b", string="cercanía")  # rich text
    figure_image = soup.select_one("figure.block-image img")  # image with caption
    assert figure_image["alt"] == "Sala luminosa con sillones"
    assert "Nuestra sala de espera" in soup.select_one("figure.block-image figcaption").get_text()
    assert "Me sentí escuchada." in soup.select_one("figure.block-quote blockquote").get_text()  # quote
    assert soup.find("a", string="Agendar ahora")["href"] == "/"  # call to action to the home page
    summaries = [summary.get_text(strip=True) for summary in soup.select(".faq details summary")]  # FAQ
    assert summaries == ["¿Cuánto dura una sesión?", "¿Atienden online?"]
    assert soup.select_one(".block-embed iframe")["title"] == "Video de bienvenida"  # embed
    assert soup.find("a", string="Psicoterapia adultos")["href"] == "/servicios/psicoterapia/"  # services list
    assert "$35.000" in text
    assert soup.find("a", string="Ana Pérez")["href"] == "/equipo/ana-perez/"  # professionals grid
    assert "Psicóloga clínica" in text
    assert soup.find("a", string="Dormir mejor")["href"] == "/blog/dormir-mejor/"  # latest posts
