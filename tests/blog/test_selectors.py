import datetime

import pytest

from blog.selectors import latest_posts
from tests.factories.blog import BlogPageFactory
from tests.factories.images import ImageFactory

pytestmark = pytest.mark.django_db


def test_latest_posts_are_live_newest_first_and_limited(blog_index):
    for day in (1, 3, 2, 4):
        BlogPageFactory(parent=blog_index, title=f"Day {day}", date=datetime.date(2025, 7, day))
    draft = BlogPageFactory(parent=blog_index, title="Draft", date=datetime.date(2025, 7, 9))
    draft.unpublish()

    assert [post.title for post in latest_posts()] == ["Day 4", "Day 3", "Day 2"]
    assert [post.title for post in latest_posts(limit=1)] == ["Day 4"]


def test_latest_posts_load_the_featured_image_without_a_query_per_post(blog_index, django_assert_num_queries):
    for _ in range(3):
        BlogPageFactory(parent=blog_index, featured_image=ImageFactory())

    # one query for the posts, one for Wagtail's view restrictions (``.public()``)
    with django_assert_num_queries(2):
        posts = latest_posts()
        assert all(post.featured_image.title for post in posts)
