"""sitemap.xml, robots.txt and the site search."""

import xml.etree.ElementTree as ET

import pytest
from bs4 import BeautifulSoup

from tests.factories.website import StandardPageFactory

pytestmark = pytest.mark.django_db

SITEMAP_NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def test_sitemap_is_valid_xml_listing_live_pages_but_not_drafts(client, home_page):
    StandardPageFactory(parent=home_page, slug="publicada")
    StandardPageFactory(parent=home_page, slug="borrador", live=False)

    response = client.get("/sitemap.xml")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    locations = [loc.text for loc in ET.fromstring(response.content).findall("sm:url/sm:loc", SITEMAP_NS)]
    assert "http://localhost/" in locations
    assert "http://localhost/publicada/" in locations
    assert "http://localhost/borrador/" not in locations


def test_robots_txt_keeps_crawlers_out_of_private_areas_and_names_the_sitemap(client):
    response = client.get("/robots.txt")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    lines = response.content.decode().splitlines()
    assert "User-agent: *" in lines
    for private_path in ("/admin/", "/portal/", "/accounts/"):
        assert f"Disallow: {private_path}" in lines
    assert "Sitemap: http://testserver/sitemap.xml" in lines


def result_titles(response):
    soup = BeautifulSoup(response.content, "html.parser")
    return [link.get_text(strip=True) for link in soup.select(".search-results h2 a")]


def test_search_finds_live_pages_and_not_drafts(client, home_page):
    StandardPageFactory(parent=home_page, title="Terapia de pareja", slug="pareja", intro="Sesiones de pareja.")
    StandardPageFactory(parent=home_page, title="Pareja en borrador", slug="pareja-borrador", live=False)
    StandardPageFactory(parent=home_page, title="Nutrición", slug="nutricion", intro="Alimentación saludable.")

    response = client.get("/search/", {"q": "pareja"})

    assert response.status_code == 200
    assert result_titles(response) == ["Terapia de pareja"]


def test_search_results_are_paginated(client, home_page):
    for number in range(12):
        StandardPageFactory(parent=home_page, title=f"Taller de mindfulness {number}", slug=f"taller-{number}")

    first = client.get("/search/", {"q": "mindfulness"})
    second = client.get("/search/", {"q": "mindfulness", "page": "2"})

    assert len(result_titles(first)) == 10
    assert len(result_titles(second)) == 2
    assert not set(result_titles(first)) & set(result_titles(second))


@pytest.mark.parametrize(
    "page_param", ["abc", "999", "-1", "0", ""], ids=["text", "too-big", "negative", "zero", "empty"]
)
def test_search_with_a_bad_page_number_still_shows_results(client, home_page, page_param):
    StandardPageFactory(parent=home_page, title="Psicología infantil", slug="infantil")

    response = client.get("/search/", {"q": "infantil", "page": page_param})

    assert response.status_code == 200
    assert result_titles(response) == ["Psicología infantil"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "Type one or more words to search the site."),
        ("   ", "Type one or more words to search the site."),
        ("x" * 201, "Your search is too long. Use at most 200 characters."),
        ("zzzinexistente", "No pages match “zzzinexistente”. Try other words."),
    ],
    ids=["empty", "blank", "too-long", "no-match"],
)
def test_search_explains_empty_long_and_unmatched_queries(client, home_page, query, message):
    response = client.get("/search/", {"q": query}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert message in BeautifulSoup(response.content, "html.parser").get_text()
    assert result_titles(response) == []


@pytest.mark.parametrize(
    "query",
    ['"', 'terapia "pareja', "*", "AND OR NOT", "(", "pareja)", "'; DROP TABLE x;--", "a:b", "nul\x00byte", "\\"],
    ids=["quote", "open-quote", "star", "operators", "paren", "close-paren", "sql", "colon", "nul", "backslash"],
)
def test_search_syntax_characters_never_cause_an_error(client, home_page, query):
    assert client.get("/search/", {"q": query}).status_code == 200


def test_search_query_count_does_not_grow_with_results(client, home_page, django_assert_max_num_queries):
    for number in range(10):
        StandardPageFactory(parent=home_page, title=f"Ansiedad {number}", slug=f"ansiedad-{number}")
    client.get("/search/", {"q": "ansiedad"})

    with django_assert_max_num_queries(12):
        response = client.get("/search/", {"q": "ansiedad"})
    assert len(result_titles(response)) == 10


def test_search_rejects_post(client):
    assert client.post("/search/", {"q": "x"}).status_code == 405


# --- search results: what each result is, and a snippet that ends on a whole word -----------------------------------


def results(response) -> list[dict]:
    soup = BeautifulSoup(response.content, "html.parser")
    return [
        {
            "title": item.select_one("h2 a").get_text(strip=True),
            "kind": item.select_one(".search-result-kind").get_text(strip=True),
            "snippet": item.select_one(".search-result-snippet").get_text(strip=True)
            if item.select_one(".search-result-snippet")
            else "",
        }
        for item in soup.select(".search-results li")
    ]


def test_search_results_say_what_kind_of_page_each_is(client, home_page):
    from tests.factories.blog import BlogIndexPageFactory, BlogPageFactory
    from tests.factories.clinic import (
        ProfessionalIndexPageFactory,
        ProfessionalPageFactory,
        ServiceIndexPageFactory,
        ServicePageFactory,
    )
    from tests.factories.resources import ResourceIndexPageFactory, ResourcePageFactory
    from tests.factories.scheduling import ProfessionalFactory, ServiceFactory

    ServicePageFactory(
        parent=ServiceIndexPageFactory(parent=home_page, slug="servicios"),
        title="Duelo acompañado",
        service=ServiceFactory(description="Acompañamiento en duelo."),
    )
    ProfessionalPageFactory(
        parent=ProfessionalIndexPageFactory(parent=home_page, slug="equipo"),
        title="Ana Duelo",
        professional=ProfessionalFactory(display_name="Ana Duelo", title="Psicóloga", bio="Acompaño procesos."),
    )
    BlogPageFactory(parent=BlogIndexPageFactory(parent=home_page, slug="blog"), title="Duelo en Navidad")
    ResourcePageFactory(parent=ResourceIndexPageFactory(parent=home_page, slug="recursos"), title="Guía de duelo")
    StandardPageFactory(parent=home_page, title="Duelo: preguntas frecuentes", slug="duelo")

    response = client.get("/search/", {"q": "duelo"}, HTTP_ACCEPT_LANGUAGE="en")

    kinds = {result["title"]: result["kind"] for result in results(response)}
    assert kinds == {
        "Duelo acompañado": "Service",
        "Ana Duelo": "Professional",
        "Duelo en Navidad": "Article",
        "Guía de duelo": "Resource",
        "Duelo: preguntas frecuentes": "Page",
    }
    snippets = {result["title"]: result["snippet"] for result in results(response)}
    assert snippets["Duelo acompañado"] == "Acompañamiento en duelo."  # the catalog's text when the page has no intro
    assert snippets["Ana Duelo"] == "Psicóloga — Acompaño procesos."


def test_a_long_snippet_ends_on_a_whole_word_with_an_ellipsis(client, home_page):
    intro = "Psicoterapia " * 30 + "final"
    StandardPageFactory(parent=home_page, title="Psicoterapia larga", slug="larga", intro=intro)

    [result] = results(client.get("/search/", {"q": "larga"}))

    assert result["snippet"].endswith("Psicoterapia…")
    assert len(result["snippet"]) <= 201
    assert all(word == "Psicoterapia" for word in result["snippet"].rstrip("…").split())


@pytest.mark.parametrize(
    ("text", "length", "expected"),
    [
        ("Corto y claro.", 20, "Corto y claro."),
        ("<p>Texto con <b>marcas</b> &amp; entidades</p>", 40, "Texto con marcas & entidades"),
        ("uno dos tres cuatro", 10, "uno dos…"),
        ("uno dos tres", 7, "uno dos…"),
        ("uno dos, tres", 10, "uno dos…"),
        ("https://ejemplo.cl/una-direccion-larga", 9, "https://e…"),
    ],
    ids=["short", "markup", "word-boundary", "exact-word-end", "trailing-comma", "one-long-word"],
)
def test_cut_at_word(text, length, expected):
    from website.views import cut_at_word

    assert cut_at_word(text, length=length) == expected


def test_results_of_several_kinds_run_a_bounded_number_of_queries(client, home_page, django_assert_max_num_queries):
    from tests.factories.clinic import ServiceIndexPageFactory, ServicePageFactory
    from tests.factories.scheduling import ServiceFactory

    index = ServiceIndexPageFactory(parent=home_page, slug="servicios")
    for number in range(5):
        ServicePageFactory(parent=index, title=f"Ansiedad {number}", service=ServiceFactory(description="Texto."))
        StandardPageFactory(parent=home_page, title=f"Ansiedad página {number}", slug=f"ansiedad-{number}")
    client.get("/search/", {"q": "ansiedad"})

    with django_assert_max_num_queries(14):
        response = client.get("/search/", {"q": "ansiedad"})
    assert [result["snippet"] for result in results(response)].count("Texto.") == 5


# --- favicon --------------------------------------------------------------------------------------------------------


def test_favicon_ico_redirects_permanently_to_the_static_icon(client):
    from django.contrib.staticfiles import finders

    response = client.get("/favicon.ico")

    assert response.status_code == 301
    assert response["Location"].endswith("/icons/favicon.ico")
    assert finders.find("icons/favicon.ico")
    with open(finders.find("icons/favicon.ico"), "rb") as icon:
        assert icon.read(4) == b"\x00\x00\x01\x00"  # an ICO file's header


def test_every_page_links_an_svg_favicon(client, home_page):
    from django.contrib.staticfiles import finders

    soup = BeautifulSoup(client.get("/").content, "html.parser")

    icon = soup.find("link", rel="icon", type="image/svg+xml")
    assert icon["href"].endswith("/icons/favicon.svg")
    assert finders.find("icons/favicon.svg")
