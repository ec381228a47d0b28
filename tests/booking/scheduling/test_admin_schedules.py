"""Weekly hours inline on the professional's admin form, and time off in the "Clinic" menu."""

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape
from wagtail.test.utils.form_data import inline_formset, nested_form_data

from booking.scheduling.models import TimeOff, WeeklyAvailability
from tests.factories.scheduling import LocationFactory, ProfessionalFactory, TimeOffFactory, WeeklyAvailabilityFactory

SANTIAGO = ZoneInfo("America/Santiago")


def shown(response, message):
    with translation.override(response.wsgi_request.LANGUAGE_CODE):
        return escape(str(message)) in response.content.decode()


def professional_data(professional, hours, initial=0):
    return nested_form_data(
        {
            "display_name": professional.display_name,
            "slug": professional.slug,
            "title": professional.title,
            "rut": "",
            "bio": "",
            "video_url": "",
            "active": "on",
            "availability_self_service": professional.availability_self_service,
            "sort_order": "0",
            "offered_services": inline_formset([]),
            "degrees": inline_formset([]),
            "experience": inline_formset([]),
            "weekly_availability": inline_formset(hours, initial=initial),
        }
    )


def hours_row(**overrides):
    row = {
        "weekday": "1",
        "location": "",
        "start_time": "09:00",
        "end_time": "13:00",
        "valid_from": "",
        "valid_until": "",
    }
    row.update(overrides)
    return row


def edit_url(professional):
    return reverse("professional:edit", args=[professional.pk])


@pytest.mark.django_db
def test_weekly_hours_are_edited_on_the_professional_form(superuser_client):
    professional = ProfessionalFactory()
    location = LocationFactory()

    response = superuser_client.post(
        edit_url(professional),
        professional_data(
            professional,
            [hours_row(location=location.pk), hours_row(weekday="5", start_time="10:00", end_time="00:00")],
        ),
    )

    assert response.status_code == 302
    rows = sorted(WeeklyAvailability.objects.filter(professional=professional), key=lambda row: row.weekday)
    assert [(row.weekday, row.location_id, row.start_time, row.end_time) for row in rows] == [
        (1, location.pk, time(9), time(13)),
        (5, None, time(10), time(0)),  # 00:00: until midnight
    ]


@pytest.mark.django_db
def test_existing_hours_can_be_removed(superuser_client):
    professional = ProfessionalFactory()
    row = WeeklyAvailabilityFactory(professional=professional)

    response = superuser_client.post(
        edit_url(professional),
        professional_data(professional, [{**hours_row(), "id": row.pk, "DELETE": "on"}], initial=1),
    )

    assert response.status_code == 302
    assert not WeeklyAvailability.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        (hours_row(start_time="13:00", end_time="09:00"), "end_time", "The end time must be later"),
        (hours_row(start_time="09:00", end_time="09:00"), "end_time", "The end time must be later"),
        (hours_row(valid_from="2026-12-31", valid_until="2026-12-01"), "valid_until", "cannot be before"),
    ],
    ids=["end-before-start", "empty-interval", "validity-reversed"],
)
def test_bad_hours_are_refused_with_a_message(superuser_client, row, field, message):
    professional = ProfessionalFactory()

    response = superuser_client.post(edit_url(professional), professional_data(professional, [row]))

    assert response.status_code == 200
    (row_form,) = response.context["form"].formsets["weekly_availability"].forms
    errors = row_form.errors.as_data()[field]
    assert all(shown(response, text) for error in errors for text in error.messages)
    with translation.override("en"):
        assert message in str(errors[0].messages[0])
    assert not WeeklyAvailability.objects.exists()


# --- Time off ----------------------------------------------------------------------------------------------


def time_off_data(**overrides):
    data = {
        "professional": "",
        "location": "",
        "start": "2026-12-25 00:00",
        "end": "2026-12-26 00:00",
        "all_day": "on",
        "reason": "Navidad",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_clinic_wide_time_off_can_be_added(superuser_client):
    response = superuser_client.post(reverse("timeoff:add"), time_off_data())

    assert response.status_code == 302
    time_off = TimeOff.objects.get()
    assert time_off.professional is None
    assert time_off.start == datetime(2026, 12, 25, tzinfo=SANTIAGO)


@pytest.mark.django_db
def test_time_off_ending_before_it_starts_is_refused_with_a_message(superuser_client):
    professional = ProfessionalFactory()

    response = superuser_client.post(
        reverse("timeoff:add"),
        time_off_data(professional=professional.pk, start="2026-12-25 12:00", end="2026-12-25 09:00"),
    )

    assert response.status_code == 200
    errors = response.context["form"].errors.as_data()["end"]
    assert [error.code for error in errors] == ["end_before_start"]
    assert shown(response, errors[0].messages[0])
    assert not TimeOff.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "shown_reason", "hidden_reason"),
    [
        ("professional={professional}", "Congreso", "Navidad"),
        ("professional=null", "Navidad", "Congreso"),
        ("date=2026-12-25", "Navidad", "Congreso"),
        ("date=2026-12-10", "Congreso", "Navidad"),
    ],
    ids=["professional", "whole-clinic", "date-christmas", "date-congress"],
)
def test_time_off_list_filters(superuser_client, query, shown_reason, hidden_reason):
    professional = ProfessionalFactory(display_name="Ana Pérez")
    TimeOffFactory(
        professional=professional,
        start=datetime(2026, 12, 9, 9, tzinfo=SANTIAGO),
        end=datetime(2026, 12, 11, 18, tzinfo=SANTIAGO),
        reason="Congreso",
    )
    TimeOffFactory(
        professional=None,
        start=datetime(2026, 12, 25, tzinfo=SANTIAGO),
        end=datetime(2026, 12, 26, tzinfo=SANTIAGO),
        reason="Navidad",
    )

    response = superuser_client.get(reverse("timeoff:index") + "?" + query.format(professional=professional.pk))

    html = response.content.decode()
    assert response.status_code == 200
    assert shown_reason in html
    assert hidden_reason not in html


@pytest.mark.django_db
def test_time_off_list_runs_the_same_number_of_queries_for_2_and_20_rows(superuser_client):
    def add_time_off(day):
        TimeOffFactory(
            professional=ProfessionalFactory(),
            location=LocationFactory(),
            start=datetime(2026, 12, day, 9, tzinfo=SANTIAGO),
            end=datetime(2026, 12, day, 13, tzinfo=SANTIAGO),
        )

    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            assert superuser_client.get(reverse("timeoff:index")).status_code == 200
        return len(queries)

    for day in (1, 2):
        add_time_off(day)
    few_queries = count_queries()
    for day in range(3, 21):
        add_time_off(day)

    assert count_queries() == few_queries
