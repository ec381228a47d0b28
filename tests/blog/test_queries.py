import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories.blog import BlogCategoryFactory, BlogPageFactory
from tests.factories.images import ImageFactory
from tests.factories.scheduling import ProfessionalFactory

pytestmark = pytest.mark.django_db

# the listing's own queries (about 15) plus the site header and footer's settings and menus
MAX_INDEX_QUERIES = 30


def add_posts(blog_index, count):
    category = BlogCategoryFactory(name="Anxiety")
    for n in range(count):
        BlogPageFactory(
            parent=blog_index,
            author=ProfessionalFactory(),
            featured_image=ImageFactory(),
            categories=[category],
            tags=[f"tag {n}", "common"],
        )


def count_index_queries(client, url):
    client.get(url)  # the first visit creates the image renditions; count a steady-state visit
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.parametrize("route", ["", "category/anxiety/", "tag/common/"], ids=["index", "category", "tag"])
def test_blog_listing_query_count_does_not_grow_with_posts(client, blog_index, route, django_assert_max_num_queries):
    url = blog_index.url + route
    add_posts(blog_index, 3)
    with_three = count_index_queries(client, url)

    add_posts(blog_index, 12)
    with_fifteen = count_index_queries(client, url)

    assert with_three == with_fifteen
    with django_assert_max_num_queries(MAX_INDEX_QUERIES):
        client.get(url)
