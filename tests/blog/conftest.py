import pytest

from tests.factories.blog import BlogIndexPageFactory


@pytest.fixture
def blog_index(home_page):
    return BlogIndexPageFactory(parent=home_page, title="Blog", slug="blog")
