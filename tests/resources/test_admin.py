import pytest
from wagtail.test.utils.form_data import nested_form_data, streamfield

from resources.models import ResourcePage
from tests.factories.accounts import UserFactory, activate_totp
from tests.factories.resources import ResourceCategoryFactory

pytestmark = pytest.mark.django_db

PUBLISH = {"action-publish": "action-publish"}


@pytest.fixture
def admin_client(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    activate_totp(user)
    client.force_login(user)
    return client


def resource_form(**fields):
    data = {
        "title": "Meal plan",
        "slug": "meal-plan",
        "kind": "document",
        "summary": "",
        "audience": "patients",
        "body": streamfield([]),
    }
    data.update(fields)
    return nested_form_data(data)


def test_editor_sees_the_kind_specific_error_when_publishing(admin_client, resource_index):
    url = f"/admin/pages/add/resources/resourcepage/{resource_index.pk}/"

    response = admin_client.post(url, resource_form(**PUBLISH), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert "Choose the document to share for a document resource." in response.content.decode()
    assert not ResourcePage.objects.exists()


def test_editor_publishes_a_link_resource(admin_client, resource_index):
    url = f"/admin/pages/add/resources/resourcepage/{resource_index.pk}/"

    response = admin_client.post(url, resource_form(kind="link", external_url="https://example.org", **PUBLISH))

    assert response.status_code == 302
    assert ResourcePage.objects.live().get().external_url == "https://example.org"


def test_resource_category_snippets_are_listed_and_searchable(admin_client):
    ResourceCategoryFactory(name="Recipes", slug="recipes")
    ResourceCategoryFactory(name="Guides", slug="guides")

    html = admin_client.get("/admin/snippets/resources/resourcecategory/?q=reci").content.decode()

    assert "Recipes" in html
    assert "Guides" not in html
