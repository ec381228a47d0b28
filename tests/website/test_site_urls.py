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
