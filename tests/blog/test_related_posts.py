import datetime

import pytest

from tests.factories.blog import BlogCategoryFactory, BlogPageFactory

pytestmark = pytest.mark.django_db


def test_related_posts_share_a_category_or_tag_most_recent_first_at_most_three(blog_index):
    anxiety = BlogCategoryFactory(name="Anxiety")
    nutrition = BlogCategoryFactory(name="Nutrition")
    post = BlogPageFactory(parent=blog_index, categories=[anxiety], tags=["sleep"])

    def dated(title, day, **kwargs):
        return BlogPageFactory(parent=blog_index, title=title, date=datetime.date(2025, 6, day), **kwargs)

    dated("Same category old", 1, categories=[anxiety])
    dated("Same tag", 5, tags=["sleep"])
    dated("Both", 3, categories=[anxiety], tags=["sleep"])
    dated("Same category new", 9, categories=[anxiety])
    dated("Unrelated", 10, categories=[nutrition], tags=["food"])
    draft = dated("Draft related", 11, categories=[anxiety])
    draft.unpublish()

    related = post.get_related_posts()

    assert [p.title for p in related] == ["Same category new", "Same tag", "Both"]


def test_post_without_categories_or_tags_has_no_related_posts(blog_index):
    BlogPageFactory(parent=blog_index, tags=["sleep"])
    post = BlogPageFactory(parent=blog_index)

    assert post.get_related_posts() == []


def test_related_posts_are_shown_on_the_post_page(client, blog_index):
    post = BlogPageFactory(parent=blog_index, tags=["sleep"])
    BlogPageFactory(parent=blog_index, title="Better sleep", tags=["sleep"])

    html = client.get(post.url, HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "Related posts" in html
    assert "Better sleep" in html


def test_related_posts_take_a_bounded_number_of_queries(blog_index, django_assert_max_num_queries):
    category = BlogCategoryFactory()
    post = BlogPageFactory(parent=blog_index, categories=[category], tags=["a", "b"])
    for _ in range(6):
        BlogPageFactory(parent=blog_index, categories=[category], tags=["a"])
    post = type(post).objects.get(pk=post.pk)

    with django_assert_max_num_queries(4):
        assert len(post.get_related_posts()) == 3
