import datetime
import json
import re
from urllib.parse import urlparse

import pytest
from django.test import RequestFactory
from wagtail.models import Site

from tests.factories.blog import BlogPageFactory
from tests.factories.images import ImageFactory
from tests.factories.scheduling import ProfessionalFactory
from website.models import SiteSettings

pytestmark = pytest.mark.django_db


def test_json_ld_is_a_valid_blog_posting(blog_index, settings):
    settings.WAGTAIL_SITE_NAME = "Clínica Test"
    post = BlogPageFactory(
        parent=blog_index,
        title="Breathing",
        date=datetime.date(2025, 5, 4),
        author=ProfessionalFactory(display_name="Ana Pérez"),
        excerpt="Three exercises for calm.",
        featured_image=ImageFactory(),
    )
    request = RequestFactory().get(post.url)

    data = json.loads(json.dumps(post.get_json_ld(request)))

    assert data["@context"] == "https://schema.org"
    assert data["@type"] == "BlogPosting"
    assert data["headline"] == "Breathing"
    assert data["datePublished"] == "2025-05-04"
    assert data["dateModified"]
    assert data["author"] == {"@type": "Person", "name": "Ana Pérez"}
    assert data["description"] == "Three exercises for calm."
    assert data["mainEntityOfPage"]["@id"].endswith(post.url)
    assert data["mainEntityOfPage"]["@id"].startswith("http")
    assert urlparse(data["image"]).netloc == urlparse(data["url"]).netloc
    assert data["publisher"]["@type"] == "Organization"
    assert data["publisher"]["name"]


def test_json_ld_publisher_is_the_clinic_name_from_site_settings(blog_index):
    site = Site.objects.get(is_default_site=True)
    SiteSettings.objects.update_or_create(site=site, defaults={"clinic_name": "Centro Bienestar"})
    post = BlogPageFactory(parent=blog_index, author=None, author_name="Guest")

    data = post.get_json_ld(RequestFactory().get(post.url))

    assert data["publisher"]["name"] == "Centro Bienestar"
    assert data["author"]["name"] == "Guest"
    assert "image" not in data


def test_post_page_embeds_its_blog_posting_json_ld(client, blog_index):
    post = BlogPageFactory(parent=blog_index, title="Breathing")

    html = client.get(post.url).content.decode()

    scripts = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.DOTALL)
    postings = [data for data in map(json.loads, scripts) if data.get("@type") == "BlogPosting"]
    assert len(postings) == 1
    assert postings[0]["headline"] == "Breathing"


def test_json_ld_publisher_is_the_site_name_when_no_site_answers_the_host(blog_index, settings):
    """Without a Wagtail site for the request there are no site settings: the configured name is used."""
    settings.WAGTAIL_SITE_NAME = "Clínica Configurada"
    post = BlogPageFactory(parent=blog_index, author=None, author_name="")
    Site.objects.all().delete()

    data = post.get_json_ld(RequestFactory().get("/", HTTP_HOST="unknown.example"))

    assert data["publisher"]["name"] == "Clínica Configurada"
    assert data["author"]["name"] == "Clínica Configurada"
