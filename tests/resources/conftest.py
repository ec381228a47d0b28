import pytest

from tests.factories.accounts import UserFactory
from tests.factories.resources import ResourceIndexPageFactory


@pytest.fixture
def resource_index(home_page):
    return ResourceIndexPageFactory(parent=home_page, title="Resources", slug="resources")


@pytest.fixture
def patient_client(client):
    client.force_login(UserFactory())
    return client
