import datetime

import pytest
import time_machine
from django.test import RequestFactory
from wagtail.models import PageViewRestriction

from blog.models import BlogIndexPage, BlogPage
from tests.factories.blog import BlogCategoryFactory, BlogIndexPageFactory, BlogPageFactory
from tests.factories.images import ImageFactory
from tests.factories.scheduling import ProfessionalFactory
from website.clinic.models import ProfessionalIndexPage, ProfessionalPage
from website.models import HomePage

pytestmark = pytest.mark.django_db


def listed_titles(response):
    return [post.title for post in response.context["posts"]]


@pytest.mark.parametrize(
    ("page_model", "parent_name", "allowed"),
    [
        (BlogIndexPage, "home", True),
        (BlogIndexPage, "blog_index", False),
        (BlogPage, "blog_index", True),
        (BlogPage, "home", False),
        (BlogPage, "post", False),
    ],
    ids=["index-under-home", "index-under-index", "post-under-index", "post-under-home", "post-under-post"],
)
def test_where_blog_pages_can_be_created(home_page, blog_index, page_model, parent_name, allowed):
    parents = {"home": home_page, "blog_index": blog_index, "post": BlogPageFactory(parent=blog_index)}
    assert page_model.can_create_at(parents[parent_name]) is allowed


def test_blog_index_is_only_allowed_under_the_home_page():
    assert BlogIndexPage.allowed_parent_page_models() == [HomePage]
    assert BlogPage.allowed_subpage_models() == []


def test_post_date_defaults_to_the_clinic_s_today_when_created(blog_index):
    # 02:00 UTC on 10 March is still 9 March in Santiago (UTC-3).
    with time_machine.travel(datetime.datetime(2025, 3, 10, 2, 0, tzinfo=datetime.UTC), tick=False):
        post = blog_index.add_child(instance=BlogPage(title="Hello", slug="hello"))
    assert post.date == datetime.date(2025, 3, 9)


def test_index_lists_live_public_posts_newest_first(client, blog_index):
    BlogPageFactory(parent=blog_index, title="Older", date=datetime.date(2025, 1, 1))
    BlogPageFactory(parent=blog_index, title="Newer", date=datetime.date(2025, 2, 1))
    draft = BlogPageFactory(parent=blog_index, title="Draft")
    draft.unpublish()
    private = BlogPageFactory(parent=blog_index, title="Private")
    PageViewRestriction.objects.create(page=private, restriction_type=PageViewRestriction.LOGIN)

    response = client.get(blog_index.url)

    assert response.status_code == 200
    assert listed_titles(response) == ["Newer", "Older"]
    assert "Draft" not in response.content.decode()


def test_index_card_shows_image_date_author_excerpt_and_categories(client, blog_index):
    author = ProfessionalFactory(display_name="Ana Pérez")
    category = BlogCategoryFactory(name="Ansiedad", slug="ansiedad")
    BlogPageFactory(
        parent=blog_index,
        title="Breathing exercises",
        date=datetime.date(2025, 5, 4),
        author=author,
        excerpt="Three exercises for calm.",
        featured_image=ImageFactory(),
        categories=[category],
    )

    html = client.get(blog_index.url, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Breathing exercises" in html
    assert 'datetime="2025-05-04"' in html
    assert "Ana Pérez" in html
    assert "Three exercises for calm." in html
    assert f'href="{blog_index.url}category/ansiedad/"' in html
    assert "<img" in html


def test_index_head_advertises_the_rss_feed(client, blog_index):
    html = client.get(blog_index.url).content.decode()

    assert 'rel="alternate" type="application/rss+xml"' in html
    assert "/blog/feed/rss/" in html


@pytest.mark.parametrize(
    ("query", "expected_page", "expected_count"),
    [("", 1, 10), ("?page=2", 2, 1), ("?page=abc", 1, 10), ("?page=999", 2, 1), ("?page=-1", 2, 1)],
    ids=["default", "second", "not-a-number", "too-large", "negative"],
)
def test_index_pagination_never_fails_on_a_bad_page(client, blog_index, query, expected_page, expected_count):
    for _ in range(11):
        BlogPageFactory(parent=blog_index)

    response = client.get(blog_index.url + query)

    assert response.status_code == 200
    assert response.context["posts"].number == expected_page
    assert len(response.context["posts"]) == expected_count


def test_pagination_nav_is_labelled(client, blog_index):
    for _ in range(11):
        BlogPageFactory(parent=blog_index)

    html = client.get(blog_index.url, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert '<nav class="mt-5" aria-label="' in html
    assert 'aria-current="page"' in html
    assert "?page=2" in html


def test_category_archive_lists_only_that_category(client, blog_index):
    anxiety = BlogCategoryFactory(name="Anxiety", slug="anxiety")
    nutrition = BlogCategoryFactory(name="Nutrition", slug="nutrition")
    BlogPageFactory(parent=blog_index, title="Calm", categories=[anxiety])
    BlogPageFactory(parent=blog_index, title="Food", categories=[nutrition])

    response = client.get(blog_index.url + "category/anxiety/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert listed_titles(response) == ["Calm"]
    assert "Posts in “Anxiety”" in response.content.decode()


def test_tag_archive_lists_only_that_tag(client, blog_index):
    BlogPageFactory(parent=blog_index, title="Sleep", tags=["sleep hygiene"])
    BlogPageFactory(parent=blog_index, title="Other", tags=["stress"])

    response = client.get(blog_index.url + "tag/sleep-hygiene/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert listed_titles(response) == ["Sleep"]
    assert "Posts tagged “sleep hygiene”" in response.content.decode()


@pytest.mark.parametrize("archive", ["category", "tag"], ids=["category", "tag"])
def test_unknown_archive_slug_is_404(client, blog_index, archive):
    BlogPageFactory(parent=blog_index)

    response = client.get(f"{blog_index.url}{archive}/does-not-exist/")

    assert response.status_code == 404


def test_post_renders_header_body_classification_and_author(client, blog_index):
    author = ProfessionalFactory(display_name="Ana Pérez", title="Clinical psychologist")
    category = BlogCategoryFactory(name="Anxiety", slug="anxiety")
    post = BlogPageFactory(
        parent=blog_index,
        title="Breathing",
        date=datetime.date(2025, 5, 4),
        author=author,
        categories=[category],
        tags=["calm"],
        body=[("paragraph", "<p>Inhale slowly.</p>")],
    )

    response = client.get(post.url, HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()

    assert response.status_code == 200
    assert "<h1>Breathing</h1>" in html
    assert 'datetime="2025-05-04"' in html
    assert "Inhale slowly." in html
    assert f'href="{blog_index.url}category/anxiety/"' in html
    assert f'href="{blog_index.url}tag/calm/"' in html
    assert "About the author" in html
    assert "Clinical psychologist" in html


def test_post_falls_back_to_the_author_name_text(client, blog_index):
    post = BlogPageFactory(parent=blog_index, author=None, author_name="Guest Writer")

    assert "Guest Writer" in client.get(post.url).content.decode()


def test_author_box_links_the_professional_s_published_profile(client, home_page, blog_index):
    author = ProfessionalFactory(display_name="Ana Pérez")
    profiles = home_page.add_child(instance=ProfessionalIndexPage(title="Equipo", slug="equipo"))
    profile = profiles.add_child(instance=ProfessionalPage(title="Ana Pérez", slug="ana-perez", professional=author))
    post = BlogPageFactory(parent=blog_index, author=author)

    html = client.get(post.url).content.decode()
    json_ld = BlogPage.objects.get(pk=post.pk).get_json_ld(RequestFactory().get(post.url))

    assert f'<a href="{profile.url}">Ana Pérez</a>' in html
    assert json_ld["author"]["url"].endswith(profile.url)


def test_author_box_shows_the_name_without_a_link_when_there_is_no_profile(client, blog_index):
    """A professional without a published profile page: the post still shows the author, unlinked."""
    post = BlogPageFactory(parent=blog_index, author=ProfessionalFactory(display_name="Ana Pérez"))

    html = client.get(post.url).content.decode()

    assert "Ana Pérez" in html
    assert ">Ana Pérez</a>" not in html
    json_ld = BlogPage.objects.get(pk=post.pk).get_json_ld(RequestFactory().get(post.url))
    assert "url" not in json_ld["author"]


def test_post_uses_the_excerpt_as_meta_description_fallback(blog_index):
    post = BlogPageFactory(parent=blog_index, excerpt="Short summary.", search_description="")
    assert post.get_meta_description() == "Short summary."

    post.search_description = "Written for search engines."
    assert post.get_meta_description() == "Written for search engines."


def test_og_image_is_the_featured_image(blog_index):
    image = ImageFactory()
    post = BlogPageFactory(parent=blog_index, featured_image=image)

    assert post.get_og_image() == image


def test_post_search_finds_excerpt_text(blog_index):
    BlogPageFactory(parent=blog_index, title="One", excerpt="mindfulness for beginners")
    BlogPageFactory(parent=blog_index, title="Two", excerpt="protein at breakfast")

    results = BlogPage.objects.live().search("mindfulness")

    assert [post.title for post in results] == ["One"]


def test_posts_under_another_index_are_not_listed(client, home_page, blog_index):
    other_index = BlogIndexPageFactory(parent=home_page, title="News", slug="news")
    BlogPageFactory(parent=other_index, title="Elsewhere")
    BlogPageFactory(parent=blog_index, title="Here")

    assert listed_titles(client.get(blog_index.url)) == ["Here"]


def test_tag_with_accents_links_to_its_archive(client, blog_index):
    """Spanish tags keep their accents in the slug ("sueño"); the post and the archive must both work."""
    post = BlogPageFactory(parent=blog_index, title="Dormir", tags=["sueño"])

    post_response = client.get(post.url)
    archive_response = client.get(blog_index.url + "tag/sueño/")

    assert post_response.status_code == 200
    assert archive_response.status_code == 200
    assert "Dormir" in archive_response.content.decode()
