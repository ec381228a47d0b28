"""The layout every page shares (base.html): header, footer, language switcher, SEO tags, JSON-LD."""

import json

import pytest
from bs4 import BeautifulSoup
from django.contrib.messages import constants
from django.contrib.messages.storage.base import Message
from django.db import connection
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from wagtail.models import Site

from tests.factories.accounts import UserFactory
from tests.factories.website import StandardPageFactory
from website.models import FooterLink, HeaderLink, NavigationSettings

pytestmark = pytest.mark.django_db


def soup_of(response):
    assert response.status_code == 200
    return BeautifulSoup(response.content, "html.parser")


def meta_content(soup, **attrs):
    tag = soup.find("meta", attrs=attrs)
    return tag["content"] if tag else None


def navigation():
    return NavigationSettings.for_site(Site.objects.get(is_default_site=True))


def test_footer_shows_the_clinics_contact_details_from_site_settings(client, site_settings):
    footer = soup_of(client.get("/")).find("footer")

    text = footer.get_text(" ", strip=True)
    assert "Clínica Aurora" in text
    assert "Av. Providencia 1234" in text
    assert "Lunes a viernes, 9:00 a 20:00" in text
    assert footer.find("a", href="tel:+56223456789")
    assert footer.find("a", href="https://wa.me/56987654321")
    assert footer.find("a", href="mailto:hola@aurora.example")
    assert footer.find("a", href="https://instagram.com/aurora").get_text() == "Instagram"
    assert not footer.find("a", string="Facebook")  # not configured, not shown


def test_footer_leaves_out_empty_sections(client, home_page):
    footer = soup_of(client.get("/", HTTP_ACCEPT_LANGUAGE="en")).find("footer")

    headings = [heading.get_text(strip=True) for heading in footer.find_all("h2")]
    assert "Contact" not in headings
    assert "Information" not in headings


def test_footer_links_to_the_published_privacy_and_terms_pages(client, home_page, site_settings):
    site_settings.privacy_policy_page = StandardPageFactory(parent=home_page, slug="privacidad")
    site_settings.terms_page = StandardPageFactory(parent=home_page, slug="terminos", live=False)
    site_settings.save()

    footer = soup_of(client.get("/")).find("footer")

    assert footer.find("a", href="/privacidad/")
    assert not footer.find("a", href="/terminos/")  # a draft is never linked


def test_legal_pages_already_in_the_footer_menu_are_linked_once(client, home_page, site_settings):
    privacy = StandardPageFactory(parent=home_page, title="Política de privacidad", slug="privacidad")
    site_settings.privacy_policy_page = privacy
    site_settings.save()
    nav = navigation()
    nav.footer_links = [FooterLink(link_page=privacy)]
    nav.save()

    footer = soup_of(client.get("/")).find("footer")

    assert [a.get_text() for a in footer.find_all("a", href="/privacidad/")] == ["Política de privacidad"]


def test_clinic_name_falls_back_to_the_wagtail_site_name(client, home_page, settings):
    settings.WAGTAIL_SITE_NAME = "Clínica de prueba"

    soup = soup_of(client.get("/"))

    assert soup.find(class_="site-name").get_text(strip=True) == "Clínica de prueba"
    assert soup.title.get_text() == "Inicio | Clínica de prueba"


def test_header_shows_the_configured_links_in_order_and_skips_drafts(client, home_page):
    team = StandardPageFactory(parent=home_page, title="Equipo", slug="equipo")
    draft = StandardPageFactory(parent=home_page, title="Borrador", slug="borrador", live=False)
    nav = navigation()
    nav.header_links = [
        HeaderLink(link_url="https://reservas.example/", label="Reservar", sort_order=2),
        HeaderLink(link_page=team, sort_order=1),
        HeaderLink(link_page=draft, sort_order=3),
    ]
    nav.save()

    header = soup_of(client.get("/equipo/")).find("header")

    links = [(a.get_text(strip=True), a["href"]) for a in header.select(".navbar-nav a.nav-link")]
    assert links == [("Equipo", "/equipo/"), ("Reservar", "https://reservas.example/")]
    assert header.find("a", string="Equipo")["aria-current"] == "page"


def test_header_falls_back_to_the_home_pages_children_shown_in_menus(client, home_page):
    StandardPageFactory(parent=home_page, title="Nosotros", slug="nosotros", show_in_menus=True)
    StandardPageFactory(parent=home_page, title="Oculta", slug="oculta", show_in_menus=False)
    StandardPageFactory(parent=home_page, title="Borrador", slug="borrador", show_in_menus=True, live=False)

    header = soup_of(client.get("/")).find("header")

    assert [a.get_text(strip=True) for a in header.select(".navbar-nav a.nav-link")] == ["Nosotros"]


def test_footer_shows_the_configured_footer_links(client, home_page):
    faq = StandardPageFactory(parent=home_page, title="Preguntas frecuentes", slug="faq")
    nav = navigation()
    nav.footer_links = [
        FooterLink(link_page=faq, label="FAQ"),
        FooterLink(link_url="https://blog.example/", label="Blog"),
    ]
    nav.save()

    footer = soup_of(client.get("/")).find("footer")

    assert footer.find("a", string="FAQ")["href"] == "/faq/"
    assert footer.find("a", string="Blog")["href"] == "https://blog.example/"


def test_navigation_link_needs_exactly_one_target():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        HeaderLink(label="Nada").clean()
    with pytest.raises(ValidationError):
        HeaderLink(link_url="https://example.com/").clean()  # external links need a label


def test_language_switcher_posts_each_language_and_marks_the_current_one(client, home_page):
    form = soup_of(client.get("/")).find("form", action="/i18n/setlang/")

    assert form["method"] == "post"
    assert form.find("input", attrs={"name": "csrfmiddlewaretoken"})
    assert form.find("input", attrs={"name": "next"})["value"] == "/"
    spanish = form.find("button", attrs={"name": "language", "value": "es-cl"})
    english = form.find("button", attrs={"name": "language", "value": "en"})
    assert (spanish.get_text(), spanish["aria-pressed"]) == ("Español", "true")
    assert (english.get_text(), english["aria-pressed"]) == ("English", "false")


def test_choosing_english_switches_the_site_language(client, home_page):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert response.status_code == 302

    soup = soup_of(client.get("/"))

    assert soup.html["lang"] == "en"
    assert soup.find("button", attrs={"value": "en"})["aria-pressed"] == "true"
    assert soup.find("a", class_="skip-link").get_text() == "Skip to main content"


def test_header_offers_login_to_visitors_and_portal_and_logout_to_users(client, home_page):
    visitor_header = soup_of(client.get("/")).find("header")
    assert visitor_header.find("a", href="/accounts/login/")

    client.force_login(UserFactory())
    user_header = soup_of(client.get("/")).find("header")

    assert user_header.find("a", href="/portal/")
    logout = user_header.find("form", action="/accounts/logout/")
    assert logout["method"] == "post"
    assert logout.find("input", attrs={"name": "csrfmiddlewaretoken"})
    assert not user_header.find("a", href="/accounts/login/")


def test_every_page_has_a_skip_link_to_the_main_landmark(client, home_page):
    soup = soup_of(client.get("/"))

    skip = soup.find("a", class_="skip-link")
    assert skip["href"] == "#main"
    assert soup.find("main", id="main")
    assert soup.find("script", src="/static/js/theme.js")


def test_seo_tags_use_the_seo_title_and_search_description(client, home_page, site_settings):
    page = StandardPageFactory(
        parent=home_page, title="Quiénes somos", slug="quienes-somos", seo_title="Nuestro equipo clínico"
    )
    page.search_description = "Psicólogas y nutricionistas en Providencia."
    page.save()

    soup = soup_of(client.get("/quienes-somos/"))

    assert soup.title.get_text() == "Nuestro equipo clínico | Clínica Aurora"
    assert meta_content(soup, name="description") == "Psicólogas y nutricionistas en Providencia."
    assert soup.find("link", rel="canonical")["href"] == "http://localhost/quienes-somos/"
    assert meta_content(soup, property="og:title") == "Nuestro equipo clínico"
    assert meta_content(soup, property="og:description") == "Psicólogas y nutricionistas en Providencia."
    assert meta_content(soup, property="og:url") == "http://localhost/quienes-somos/"
    assert meta_content(soup, property="og:type") == "website"
    assert meta_content(soup, property="og:image") is None  # a standard page has no share image
    assert meta_content(soup, name="twitter:card") == "summary"


def test_meta_description_falls_back_to_the_intro(client, home_page):
    StandardPageFactory(parent=home_page, slug="sin-descripcion", intro="Un texto de introducción.")

    soup = soup_of(client.get("/sin-descripcion/"))

    assert meta_content(soup, name="description") == "Un texto de introducción."


def test_home_page_shares_its_hero_image_as_an_absolute_og_image(client, home_page, image):
    home_page.hero_image = image
    home_page.save()

    soup = soup_of(client.get("/"))

    og_image = meta_content(soup, property="og:image")
    assert og_image.startswith("http://testserver/media/images/")
    assert "fill-1200x630" in og_image
    assert meta_content(soup, name="twitter:card") == "summary_large_image"


def test_home_page_json_ld_describes_the_clinic(client, home_page, site_settings):
    soup = soup_of(client.get("/"))

    scripts = soup.find_all("script", type="application/ld+json")
    assert len(scripts) == 1
    data = json.loads(scripts[0].string)
    assert data["@type"] == "MedicalClinic"
    assert data["name"] == "Clínica Aurora"
    assert data["url"] == "http://localhost/"
    assert data["telephone"] == "+56 2 2345 6789"
    assert data["email"] == "hola@aurora.example"
    assert data["address"]["streetAddress"] == "Av. Providencia 1234 Providencia, Santiago"
    assert data["sameAs"] == ["https://instagram.com/aurora", "https://www.linkedin.com/company/aurora"]


def test_json_ld_cannot_close_its_script_element(client, home_page, site_settings):
    site_settings.clinic_name = "Aurora</script><script>alert(1)</script>"
    site_settings.save()

    response = client.get("/")

    assert b"<script>alert(1)" not in response.content
    data = json.loads(BeautifulSoup(response.content, "html.parser").find("script", type="application/ld+json").string)
    assert data["name"] == "Aurora</script><script>alert(1)</script>"


def test_pages_without_json_ld_render_none(client, home_page):
    StandardPageFactory(parent=home_page, slug="simple")

    soup = soup_of(client.get("/simple/"))

    assert not soup.find("script", type="application/ld+json")


def test_messages_render_as_bootstrap_alerts():
    html = render_to_string(
        "includes/messages.html",
        {"messages": [Message(constants.ERROR, "No se pudo guardar."), Message(constants.SUCCESS, "Listo.")]},
    )

    soup = BeautifulSoup(html, "html.parser")
    assert [alert["class"][1] for alert in soup.select(".alert")] == ["alert-danger", "alert-success"]
    assert "No se pudo guardar." in soup.get_text()


def test_home_page_query_count_is_bounded(
    client, home_page, full_body, fake_selectors, site_settings, image, django_assert_max_num_queries
):
    home_page.body = full_body
    home_page.hero_image = image
    home_page.save()
    client.get("/")  # warm the site-root-paths cache and renditions, as in production

    with django_assert_max_num_queries(20):
        assert client.get("/").status_code == 200


def test_header_links_do_not_add_a_query_each(client, home_page):
    pages = [StandardPageFactory(parent=home_page, slug=f"seccion-{n}") for n in range(6)]
    nav = navigation()
    nav.header_links = [HeaderLink(link_page=pages[0])]
    nav.footer_links = [FooterLink(link_page=pages[1])]
    nav.save()
    client.get("/")
    with CaptureQueriesContext(connection) as one_link:
        client.get("/")

    nav.header_links = [HeaderLink(link_page=page) for page in pages]
    nav.footer_links = [FooterLink(link_page=page) for page in pages]
    nav.save()
    with CaptureQueriesContext(connection) as six_links:
        client.get("/")

    assert len(six_links) == len(one_link)


def test_header_and_hero_offer_to_book_a_session(client, home_page):
    soup = soup_of(client.get("/", HTTP_ACCEPT_LANGUAGE="en"))

    header_book = soup.find("header").find("a", string="Book a session")
    hero_book = soup.select_one(".hero").find("a", string="Book a session")
    assert header_book["href"] == hero_book["href"] == "/booking/"
    # Outside the collapsing menu: it shows at phone width without opening the menu.
    assert header_book.find_parent(id="site-nav") is None


def test_the_heros_own_button_stays_beside_the_booking_button(client, home_page):
    home_page.hero_cta_label = "Ver servicios"
    home_page.hero_cta_url = "https://example.com/servicios/"
    home_page.save()

    hero = soup_of(client.get("/", HTTP_ACCEPT_LANGUAGE="en")).select_one(".hero")
    links = [link.get_text(strip=True) for link in hero.select("a")]

    assert links == ["Book a session", "Ver servicios"]


def test_the_language_switcher_groups_its_buttons_in_a_div_not_the_form(client, home_page):
    form = soup_of(client.get("/")).find("form", action="/i18n/setlang/")

    assert form.get("role") is None  # a form may not take role="group" (axe: aria-allowed-role)
    assert form.find("div", role="group").find_all("button")


def test_the_patients_only_badge_uses_an_svg_icon_not_an_emoji(client, home_page):
    from tests.factories.accounts import PatientFactory
    from tests.factories.resources import ResourceIndexPageFactory, ResourcePageFactory

    index = ResourceIndexPageFactory(parent=home_page, slug="recursos")
    resource = ResourcePageFactory(parent=index, slug="privado", patients_only=True)
    client.force_login(PatientFactory().user)

    for url in (index.url, resource.url):
        soup = soup_of(client.get(url, HTTP_ACCEPT_LANGUAGE="en"))
        [badge] = [tag for tag in soup.select(".badge") if "Patients only" in tag.get_text()]
        assert badge.find("svg")["aria-hidden"] == "true"
        assert "\U0001f512" not in badge.get_text()
