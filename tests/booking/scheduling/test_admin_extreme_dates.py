"""Dates at the edges of the calendar typed into the staff admin's schedule screens: a message, never a 500.

Python's dates end at year 9999 and a local time late on 9999-12-31 is already year 10000 in UTC, so saving it,
or taking the day after it, overflowed. Each screen refuses dates outside the range the site accepts
(``booking.scheduling.date_range``) with the same message, and stores nothing.
"""

import pytest
from django.urls import reverse

from booking.scheduling.date_range import out_of_range_message
from booking.scheduling.models import DateOverride, TimeOff, WeeklyAvailability
from tests.booking.scheduling.test_admin_date_overrides import override_data
from tests.booking.scheduling.test_admin_schedules import edit_url, hours_row, professional_data, time_off_data
from tests.factories.scheduling import ProfessionalFactory

pytestmark = pytest.mark.django_db

EDGES = ["9999-12-31", "0001-01-01", "1899-12-31", "2200-01-01"]


def refused(response, form, field):
    assert response.status_code == 200
    assert [error.code for error in form.errors.as_data()[field]] == ["date_out_of_range"]
    assert out_of_range_message() in response.content.decode()
    return True


@pytest.mark.parametrize("day", EDGES)
def test_time_off_at_the_calendars_edges_is_refused(superuser_client, day):
    response = superuser_client.post(
        reverse("timeoff:add"), time_off_data(start=f"{day} 20:00", end=f"{day} 23:59", all_day="")
    )

    assert refused(response, response.context["form"], "start")
    assert not TimeOff.objects.exists()


@pytest.mark.parametrize("day", EDGES)
def test_a_date_override_at_the_calendars_edges_is_refused(superuser_client, day):
    professional = ProfessionalFactory()

    response = superuser_client.post(reverse("dateoverride:add"), override_data(professional, date=day))

    assert refused(response, response.context["form"], "date")
    assert not DateOverride.objects.exists()


@pytest.mark.parametrize("field", ["valid_from", "valid_until"])
def test_weekly_hours_valid_at_the_calendars_edges_are_refused(superuser_client, field):
    professional = ProfessionalFactory()

    response = superuser_client.post(
        edit_url(professional), professional_data(professional, [hours_row(**{field: "9999-12-31"})])
    )

    (row_form,) = response.context["form"].formsets["weekly_availability"].forms
    assert refused(response, row_form, field)
    assert not WeeklyAvailability.objects.exists()


@pytest.mark.parametrize("day", EDGES)
def test_the_time_off_list_filtered_on_a_day_at_the_edges_answers(superuser_client, day):
    response = superuser_client.get(reverse("timeoff:index"), {"date": day})

    assert response.status_code == 200
    assert out_of_range_message() in response.content.decode()
