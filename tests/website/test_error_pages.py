"""The 404 and 500 pages."""

import pytest
from bs4 import BeautifulSoup
from django.test import RequestFactory

from website.views import server_error


@pytest.mark.django_db
def test_404_page_offers_a_search_box_and_a_way_home(client, home_page):
    response = client.get("/no-existe/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 404
    soup = BeautifulSoup(response.content, "html.parser")
    assert soup.find("h1").get_text(strip=True) == "Page not found"
    search = soup.find("main").find("form", role="search")
    assert search["action"] == "/search/"
    assert search.find("input", attrs={"name": "q"})
    assert soup.find("main").find("a", href="/")
    assert soup.find("footer")  # the full layout, with the clinic's contact details


def test_500_page_renders_without_the_database():
    """No ``db`` fixture: pytest-django fails this test if the error page runs a single query."""
    response = server_error(RequestFactory().get("/"))

    assert response.status_code == 500
    soup = BeautifulSoup(response.content, "html.parser")
    assert soup.find("h1").get_text(strip=True)
    assert soup.find("a", href="/")
    assert not soup.find("link", rel="stylesheet")  # no static files needed either
