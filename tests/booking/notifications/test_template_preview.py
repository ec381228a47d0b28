"""Editors preview an email template beside the editor, with made-up data, before publishing it; a template that
would fail shows the error and the default that would go instead."""

import pytest
from django.urls import reverse

from booking.notifications.models import NotificationTemplate

pytestmark = pytest.mark.django_db


def preview(client, **fields):
    """Post the edit form to Wagtail's preview view, then read the preview, as the editor's side panel does."""
    data = {
        "event": "appointment_confirmed",
        "audience": "patient",
        "language": "en",
        "subject": "{{ clinic_name }}: see you {{ date }}",
        "body_html": "<p>Hi {{ patient_first_name }}, {{ when }} at {{ place }}</p>",
        "body_text": "Hi {{ patient_first_name }}, {{ when }}",
        **fields,
    }
    url = reverse("wagtailsnippets_notifications_notificationtemplate:preview_on_add")
    posted = client.post(url, data)
    assert posted.json() == {"is_valid": True, "is_available": True}
    return client.get(url)


def test_the_preview_shows_the_editors_words_with_sample_data(admin_client):
    response = preview(admin_client)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Hi Camila, Tuesday 9 March 2027, 16:00 (America/Santiago)" in html
    assert "Av. Providencia 1234" in html  # inside the HTML version's srcdoc
    assert 'role="alert"' not in html


def test_a_broken_template_previews_with_its_error_and_the_default(admin_client):
    response = preview(admin_client, body_text="Hi {% if %}")
    html = response.content.decode()
    assert 'role="alert"' in html  # "this template cannot be sent as it is", in the editor's language
    assert "TemplateSyntaxError" in html
    assert NotificationTemplate.objects.count() == 0  # a preview saves nothing


def test_the_preview_reveals_nothing_of_real_patients(admin_client, clinic):
    html = preview(admin_client).content.decode()
    assert clinic.patient.user.email not in html
    assert clinic.patient.user.get_full_name() not in html  # the sample patient is a Camila too, not this one
