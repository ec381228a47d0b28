"""A missing original image file never fails a page (issue 11, item 6).

After a restore the media folder and the database can disagree. Wagtail's ``{% image %}`` tag then renders a
broken image; the renditions made in Python (Open Graph tags, JSON-LD) used to raise ``SourceImageIOError`` and
turn the page into a 500. Here every image's file is deleted before any rendition exists, and every page type
that shows an image is requested.
"""

from __future__ import annotations

import json

import pytest
from bs4 import BeautifulSoup
from wagtail.images import get_image_model

from tests.factories.images import ImageFactory
from tests.website.test_query_budget import (  # noqa: F401
    _clinic_site_once,
    clinic_site,
    demo_home,
    page_with_a_box,
    pinned_clock,
)
from website.renditions import rendition_url_or_none

pytestmark = pytest.mark.django_db


def delete_every_image_file():
    """The files go, the rows stay: what a database restored without its media folder looks like."""
    images = list(get_image_model().objects.all())
    assert images, "the site under test has images"
    for image in images:
        image.file.storage.delete(image.file.name)
        assert not image.file.storage.exists(image.file.name)


def json_ld(soup) -> list[dict]:
    return [json.loads(script.string) for script in soup.select("script[type='application/ld+json']")]


@pytest.mark.parametrize("kind", ["home", "standard", "service", "professional", "blog-post", "resource"])
def test_every_page_type_renders_when_its_image_files_are_missing(client, clinic_site, kind):  # noqa: F811
    url = page_with_a_box(kind, clinic_site).url
    delete_every_image_file()

    response = client.get(url)

    assert response.status_code == 200


def test_the_home_page_with_its_hero_logo_and_listing_blocks_renders_without_image_files(
    client,
    clinic_site,  # noqa: F811
):
    url = demo_home(clinic_site).url
    delete_every_image_file()

    response = client.get(url)

    assert response.status_code == 200
    soup = BeautifulSoup(response.content, "html.parser")
    assert len(soup.select(".professionals-grid article")) == 6, "the cards are still there, with broken images"
    assert not soup.select("meta[property='og:image']"), "no Open Graph image that does not exist"
    assert all("logo" not in data for data in json_ld(soup))


@pytest.mark.parametrize("index", ["blog-post", "professional"])
def test_a_post_or_profile_leaves_its_missing_image_out_of_open_graph_and_json_ld(client, clinic_site, index):  # noqa: F811
    page = clinic_site.posts[0] if index == "blog-post" else clinic_site.professional_pages[0]
    delete_every_image_file()

    response = client.get(page.url)

    assert response.status_code == 200
    soup = BeautifulSoup(response.content, "html.parser")
    assert not soup.select("meta[property='og:image']")
    assert json_ld(soup), "the page still describes itself"
    assert all("image" not in data for data in json_ld(soup))


@pytest.mark.parametrize("page_kind", ["blog-index", "team-index", "service-index", "blog-category"])
def test_listing_pages_render_without_image_files(client, clinic_site, page_kind):  # noqa: F811
    urls = {
        "blog-index": clinic_site.posts[0].get_parent().url,
        "team-index": clinic_site.professional_pages[0].get_parent().url,
        "service-index": clinic_site.service_pages[0].get_parent().url,
        "blog-category": clinic_site.posts[0].get_parent().url + "category/ansiedad/",
    }
    delete_every_image_file()

    assert client.get(urls[page_kind]).status_code == 200


def test_rendition_url_or_none(db):
    image = ImageFactory()
    assert rendition_url_or_none(image, "max-10x10").endswith(".png")
    assert rendition_url_or_none(None, "max-10x10") is None

    missing = ImageFactory()
    missing.file.storage.delete(missing.file.name)
    assert rendition_url_or_none(missing, "max-10x10") is None
