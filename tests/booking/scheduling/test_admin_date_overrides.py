"""Date overrides (one date's own hours) in the "Clinic" menu: add, edit, delete, validation, filters, permissions."""

from datetime import date, time

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from booking.scheduling.models import DateOverride
from tests.booking.scheduling.people import receptionist_user
from tests.factories.scheduling import DateOverrideFactory, LocationFactory, ProfessionalFactory, StaffUserFactory

INDEX_URL = "/admin/clinic/date-overrides/"


def shown(response, message):
    with translation.override(response.wsgi_request.LANGUAGE_CODE):
        return escape(str(message)) in response.content.decode()


def override_data(professional, **overrides):
    data = {"professional": professional.pk, "date": "2026-12-05", "location": "", "start_time": "", "end_time": ""}
    data.update(overrides)
    return data


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def receptionist_client(db):
    """Reception staff through the real Receptionists group, which manages date overrides."""
    user = receptionist_user()
    assert user.has_perm("scheduling.add_dateoverride")
    return logged_in(user)


@pytest.mark.django_db
def test_the_screen_is_in_the_clinic_menu(superuser_client):
    assert reverse("dateoverride:index") == INDEX_URL
    assert INDEX_URL in superuser_client.get("/admin/").content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("times", "closed"),
    [
        ({"start_time": "10:00", "end_time": "14:00"}, False),
        ({}, True),
        ({"start_time": "20:00", "end_time": "00:00"}, False),
    ],
    ids=["extra-hours", "closed", "until-midnight"],
)
def test_receptionist_adds_special_hours_or_a_closed_day(receptionist_client, times, closed):
    professional = ProfessionalFactory()
    location = LocationFactory()

    response = receptionist_client.post(
        reverse("dateoverride:add"), override_data(professional, location=location.pk, **times)
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    override = DateOverride.objects.get()
    assert (override.professional, override.date, override.location) == (professional, date(2026, 12, 5), location)
    assert override.is_closed is closed


@pytest.mark.django_db
def test_receptionist_edits_and_deletes_an_override(receptionist_client):
    override = DateOverrideFactory(start_time=time(9), end_time=time(12))

    edited = receptionist_client.post(
        reverse("dateoverride:edit", args=[override.pk]),
        override_data(override.professional, start_time="15:00", end_time="18:00"),
    )
    deleted = receptionist_client.post(reverse("dateoverride:delete", args=[override.pk]))

    assert edited.status_code == 302
    assert deleted.status_code == 302
    assert not DateOverride.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("times", "field", "code"),
    [
        ({"start_time": "14:00", "end_time": "10:00"}, "end_time", "end_before_start"),
        ({"start_time": "10:00", "end_time": "10:00"}, "end_time", "end_before_start"),
        ({"start_time": "10:00"}, "end_time", "missing_end"),
        ({"end_time": "10:00"}, "start_time", "missing_start"),
        ({"start_time": "25:00", "end_time": "10:00"}, "start_time", "invalid"),
    ],
    ids=["end-before-start", "empty-interval", "no-end", "no-start", "not-a-time"],
)
def test_bad_times_are_refused_with_a_message(superuser_client, times, field, code):
    professional = ProfessionalFactory()

    response = superuser_client.post(reverse("dateoverride:add"), override_data(professional, **times))

    assert response.status_code == 200
    errors = response.context["form"].errors.as_data()
    assert [error.code for error in errors[field]] == [code]
    assert shown(response, errors[field][0].messages[0])
    assert len(errors) == 1  # one clear message, not a cascade
    assert not DateOverride.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "shown_name", "hidden_name"),
    [
        ("professional={ana}", "Ana Pérez", "Bruno Díaz"),
        ("location={location}", "Ana Pérez", "Bruno Díaz"),
        ("location=null", "Bruno Díaz", "Ana Pérez"),
        ("date_from=2026-12-10", "Bruno Díaz", "Ana Pérez"),
        ("date_to=2026-12-09", "Ana Pérez", "Bruno Díaz"),
    ],
    ids=["professional", "location", "online", "from", "until"],
)
def test_list_filters(superuser_client, query, shown_name, hidden_name):
    location = LocationFactory()
    ana = ProfessionalFactory(display_name="Ana Pérez")
    bruno = ProfessionalFactory(display_name="Bruno Díaz")
    DateOverrideFactory(professional=ana, location=location, date=date(2026, 12, 5))
    DateOverrideFactory(
        professional=bruno, location=None, date=date(2026, 12, 12), start_time=time(9), end_time=time(10)
    )

    response = superuser_client.get(INDEX_URL + "?" + query.format(ana=ana.pk, location=location.pk))

    assert response.status_code == 200
    listed = [override.professional.display_name for override in response.context["object_list"]]
    assert listed == [shown_name]
    assert hidden_name not in listed


@pytest.mark.django_db
def test_list_shows_hours_or_closed(superuser_client):
    DateOverrideFactory(start_time=time(9), end_time=time(12, 30))
    DateOverrideFactory(date=date(2026, 12, 2))

    response = superuser_client.get(INDEX_URL)

    assert "09:00–12:30" in response.content.decode()
    with translation.override(response.wsgi_request.LANGUAGE_CODE):
        assert shown(response, translation.gettext("Closed"))


@pytest.mark.django_db
def test_staff_without_schedule_permissions_cannot_see_or_add():
    user = StaffUserFactory()
    user.user_permissions.add(Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin"))
    client = logged_in(user)
    professional = ProfessionalFactory()

    assert client.get(INDEX_URL).status_code in (302, 403)
    assert client.post(reverse("dateoverride:add"), override_data(professional)).status_code in (302, 403)
    assert not DateOverride.objects.exists()


@pytest.mark.django_db
def test_weekly_hours_viewers_may_look_but_not_change():
    user = StaffUserFactory()
    user.user_permissions.add(
        Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin"),
        Permission.objects.get(content_type__app_label="scheduling", codename="view_weeklyavailability"),
    )
    client = logged_in(user)
    override = DateOverrideFactory()

    assert client.get(INDEX_URL).status_code == 200
    assert client.post(reverse("dateoverride:delete", args=[override.pk])).status_code in (302, 403)
    assert DateOverride.objects.filter(pk=override.pk).exists()


@pytest.mark.django_db
def test_list_runs_the_same_number_of_queries_for_3_and_30_rows(superuser_client):
    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            assert superuser_client.get(INDEX_URL).status_code == 200
        return len(queries)

    def add(day):
        DateOverrideFactory(professional=ProfessionalFactory(), location=LocationFactory(), date=date(2026, 12, day))

    for day in range(1, 4):
        add(day)
    few = count_queries()
    for day in range(4, 31):
        add(day)

    assert count_queries() == few
