from unittest import mock
from urllib.parse import quote

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from wagtail.embeds.exceptions import EmbedNotFoundException

from resources.models import ResourceIndexPage, ResourceKind, ResourcePage
from tests.factories.resources import DocumentFactory, ResourceCategoryFactory, ResourcePageFactory
from website.models import HomePage

pytestmark = pytest.mark.django_db

# the listing's own queries (about 10) plus the site header and footer's settings and menus
MAX_INDEX_QUERIES = 25


def login_redirect_for(url):
    return f"{reverse('account_login')}?next={quote(url)}"


def listed_titles(response):
    return [resource.title for resource in response.context["resources"]]


@pytest.mark.parametrize(
    ("page_model", "parent_name", "allowed"),
    [
        (ResourceIndexPage, "home", True),
        (ResourceIndexPage, "index", False),
        (ResourcePage, "index", True),
        (ResourcePage, "home", False),
        (ResourcePage, "resource", False),
    ],
    ids=[
        "index-under-home",
        "index-under-index",
        "resource-under-index",
        "resource-under-home",
        "resource-under-resource",
    ],
)
def test_where_resource_pages_can_be_created(home_page, resource_index, page_model, parent_name, allowed):
    parents = {"home": home_page, "index": resource_index, "resource": ResourcePageFactory(parent=resource_index)}
    assert page_model.can_create_at(parents[parent_name]) is allowed


def test_resource_index_is_only_allowed_under_the_home_page():
    assert ResourceIndexPage.allowed_parent_page_models() == [HomePage]
    assert ResourcePage.allowed_subpage_models() == []


@pytest.mark.parametrize(
    ("kind", "fields", "error_field"),
    [
        (ResourceKind.DOCUMENT, {}, "document"),
        (ResourceKind.DOCUMENT, {"external_url": "https://example.org"}, "document"),
        (ResourceKind.DOCUMENT, {"document": "a document"}, None),
        (ResourceKind.VIDEO, {}, "video_url"),
        (ResourceKind.VIDEO, {"video_url": "https://vimeo.com/1"}, None),
        (ResourceKind.LINK, {}, "external_url"),
        (ResourceKind.LINK, {"external_url": "https://example.org"}, None),
    ],
    ids=[
        "document-missing",
        "document-with-only-a-link",
        "document-ok",
        "video-missing",
        "video-ok",
        "link-missing",
        "link-ok",
    ],
)
def test_resource_requires_the_field_matching_its_kind(resource_index, kind, fields, error_field):
    if fields.get("document"):
        fields["document"] = DocumentFactory()
    page = ResourcePage(title="Guide", slug="guide", kind=kind, **fields)

    if error_field is None:
        page.clean()
    else:
        with pytest.raises(ValidationError) as excinfo:
            page.clean()
        assert list(excinfo.value.message_dict) == [error_field]


def test_index_lists_live_resources_with_filters(client, resource_index):
    guides = ResourceCategoryFactory(name="Guides", slug="guides")
    recipes = ResourceCategoryFactory(name="Recipes", slug="recipes")
    ResourcePageFactory(parent=resource_index, title="Sleep guide", category=guides)
    ResourcePageFactory(parent=resource_index, title="Calm video", category=guides, as_video=True)
    ResourcePageFactory(parent=resource_index, title="Salad", category=recipes, as_document=True)
    draft = ResourcePageFactory(parent=resource_index, title="Draft")
    draft.unpublish()

    assert listed_titles(client.get(resource_index.url)) == ["Sleep guide", "Calm video", "Salad"]
    assert listed_titles(client.get(resource_index.url + "?category=guides")) == ["Sleep guide", "Calm video"]
    assert listed_titles(client.get(resource_index.url + "?kind=document")) == ["Salad"]
    assert listed_titles(client.get(resource_index.url + "?category=guides&kind=video")) == ["Calm video"]


@pytest.mark.parametrize("query", ["?category=nope", "?kind=podcast"], ids=["unknown-category", "unknown-kind"])
def test_index_ignores_unknown_filters_and_says_so(client, resource_index, query):
    ResourcePageFactory(parent=resource_index, title="Sleep guide")

    response = client.get(resource_index.url + query, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert listed_titles(response) == ["Sleep guide"]
    assert "does not match any category or type" in response.content.decode()


def test_index_marks_patients_only_resources_for_anonymous_visitors(client, resource_index):
    private = ResourcePageFactory(parent=resource_index, title="Meal plan", patients_only=True)

    html = client.get(resource_index.url, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Meal plan" in html
    assert "Patients only" in html
    assert "Log in to access" in html
    assert f"{reverse('account_login')}?next={quote(private.url)}" in html


def test_index_does_not_ask_a_logged_in_user_to_log_in(patient_client, resource_index):
    ResourcePageFactory(parent=resource_index, title="Meal plan", patients_only=True)

    html = patient_client.get(resource_index.url, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Patients only" in html
    assert "Log in to access" not in html


def test_index_query_count_does_not_grow_with_resources(client, resource_index, django_assert_max_num_queries):
    category = ResourceCategoryFactory()
    for _ in range(3):
        ResourcePageFactory(parent=resource_index, category=category, as_document=True)
    client.get(resource_index.url)
    with django_assert_max_num_queries(MAX_INDEX_QUERIES) as few:
        client.get(resource_index.url)

    for _ in range(9):
        ResourcePageFactory(parent=resource_index, category=category, as_document=True)
    client.get(resource_index.url)
    with django_assert_max_num_queries(MAX_INDEX_QUERIES) as many:
        client.get(resource_index.url)

    assert len(few.captured_queries) == len(many.captured_queries)


def test_patients_only_resource_redirects_anonymous_visitors_to_login(client, resource_index):
    page = ResourcePageFactory(parent=resource_index, patients_only=True)

    response = client.get(page.url)

    assert response.status_code == 302
    assert response["Location"] == login_redirect_for(page.url)


def test_patients_only_resource_renders_for_a_logged_in_user(patient_client, resource_index):
    page = ResourcePageFactory(parent=resource_index, title="Meal plan", patients_only=True)

    response = patient_client.get(page.url)

    assert response.status_code == 200
    assert "Meal plan" in response.content.decode()
    assert "private" in response["Cache-Control"]


def test_public_link_resource_renders_with_its_link(client, resource_index):
    page = ResourcePageFactory(parent=resource_index, title="Guide", external_url="https://example.org/guide")

    response = client.get(page.url)

    assert response.status_code == 200
    assert 'href="https://example.org/guide"' in response.content.decode()


def test_document_resource_links_its_download(client, resource_index):
    page = ResourcePageFactory(parent=resource_index, as_document=True)

    html = client.get(page.url).content.decode()

    assert f'href="{page.document.url}"' in html


def test_video_resource_shows_the_embedded_player(client, resource_index):
    page = ResourcePageFactory(parent=resource_index, as_video=True)
    embed = mock.Mock(html='<iframe title="player" src="https://www.youtube.com/embed/abc123"></iframe>')

    with mock.patch("wagtail.embeds.embeds.get_embed", return_value=embed) as get_embed:
        html = client.get(page.url).content.decode()

    get_embed.assert_called_once_with(page.video_url)
    assert '<iframe title="player"' in html
    assert f'href="{page.video_url}"' in html


@pytest.mark.parametrize(
    "failure", [EmbedNotFoundException, ConnectionError], ids=["provider-refuses", "unexpected-error"]
)
def test_video_resource_falls_back_to_a_link_when_the_embed_fails(client, resource_index, failure):
    page = ResourcePageFactory(parent=resource_index, as_video=True)

    with mock.patch("wagtail.embeds.embeds.get_embed", side_effect=failure):
        response = client.get(page.url, HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()

    assert response.status_code == 200
    assert "<iframe" not in html
    assert f'href="{page.video_url}"' in html
    assert "Watch the video on its website" in html


def test_patients_only_resources_stay_out_of_the_sitemap(resource_index):
    public = ResourcePageFactory(parent=resource_index)
    private = ResourcePageFactory(parent=resource_index, patients_only=True)

    assert [entry["location"] for entry in public.get_sitemap_urls()] == [public.full_url]
    assert private.get_sitemap_urls() == []
