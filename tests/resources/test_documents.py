from urllib.parse import quote

import pytest
from django.urls import reverse

from tests.factories.resources import DocumentFactory, ResourcePageFactory

pytestmark = pytest.mark.django_db


def download_url(document):
    return f"/documents/{document.pk}/{document.filename}"


def test_patients_only_document_redirects_anonymous_download_to_login(client, resource_index):
    page = ResourcePageFactory(parent=resource_index, as_document=True, patients_only=True)
    url = download_url(page.document)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next={quote(url)}"


def test_patients_only_document_downloads_for_a_logged_in_user(patient_client, resource_index):
    page = ResourcePageFactory(parent=resource_index, as_document=True, patients_only=True)

    response = patient_client.get(download_url(page.document))

    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")


def test_public_resource_document_downloads_anonymously(client, resource_index):
    page = ResourcePageFactory(parent=resource_index, as_document=True)

    response = client.get(download_url(page.document))

    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"%PDF")


def test_document_of_an_unpublished_patients_only_resource_is_not_guarded_by_it(client, resource_index):
    """Only live pages decide: a draft (or deleted) patients-only resource does not lock a document used elsewhere."""
    page = ResourcePageFactory(parent=resource_index, as_document=True, patients_only=True)
    page.unpublish()

    assert client.get(download_url(page.document)).status_code == 200


def test_unrelated_document_downloads_anonymously(client, resource_index):
    ResourcePageFactory(parent=resource_index, as_document=True, patients_only=True)
    document = DocumentFactory()

    assert client.get(download_url(document)).status_code == 200
