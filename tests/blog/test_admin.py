import pytest

from tests.factories.accounts import UserFactory, activate_totp
from tests.factories.blog import BlogCategoryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    activate_totp(user)
    client.force_login(user)
    return client


def test_editor_can_open_the_new_post_form(admin_client, blog_index):
    response = admin_client.get(f"/admin/pages/add/blog/blogpage/{blog_index.pk}/")

    assert response.status_code == 200
    html = response.content.decode()
    for field in ("date", "author", "author_name", "excerpt", "featured_image", "categories", "tags"):
        assert f'name="{field}' in html


def test_blog_category_snippets_are_listed_and_searchable(admin_client):
    BlogCategoryFactory(name="Anxiety", slug="anxiety")
    BlogCategoryFactory(name="Nutrition", slug="nutrition")

    html = admin_client.get("/admin/snippets/blog/blogcategory/?q=anx").content.decode()

    assert "Anxiety" in html
    assert "Nutrition" not in html
