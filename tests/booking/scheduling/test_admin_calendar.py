"""The appointments calendar in the Wagtail admin: a week or a day of sessions, hour by hour."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories.scheduling import (
    AppointmentFactory,
    LocationFactory,
    ProfessionalFactory,
    RoomFactory,
    ServiceFactory,
    WeeklyAvailabilityFactory,
)

SANTIAGO = ZoneInfo("America/Santiago")
# Wednesday 2 December 2026: the default week runs Monday 30 November to Sunday 6 December.
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=SANTIAGO)
CALENDAR_URL = "/admin/clinic/appointments/calendar/"


def santiago(*args):
    return datetime(*args, tzinfo=SANTIAGO)


@pytest.fixture(autouse=True)
def _pinned_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def cell(response, hour_label, column_index):
    """The appointments shown in one cell of the calendar grid."""
    row = next(row for row in response.context["rows"] if row["label"] == hour_label)
    return [card["appointment"] for card in row["cells"][column_index]]


def shown(response):
    return {card["appointment"] for row in response.context["rows"] for cards in row["cells"] for card in cards}


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.mark.django_db
def test_calendar_url_is_registered_and_linked_from_the_list(superuser_client):
    assert reverse("clinic_appointments:calendar") == CALENDAR_URL
    response = superuser_client.get(reverse("clinic_appointments:index"))
    assert f'href="{CALENDAR_URL}"' in response.content.decode()


@pytest.mark.django_db
def test_week_view_is_the_default_and_shows_this_weeks_sessions_in_their_hour(superuser_client):
    tuesday = AppointmentFactory(start=santiago(2026, 12, 1, 9, 0))
    sunday_evening = AppointmentFactory(start=santiago(2026, 12, 6, 19, 30))
    next_week = AppointmentFactory(start=santiago(2026, 12, 7, 9, 0))
    cancelled = AppointmentFactory(start=santiago(2026, 12, 1, 11, 0), status="cancelled")

    response = superuser_client.get(CALENDAR_URL)

    assert response.status_code == 200
    assert response.context["mode"] == "week"
    assert [column["day"] for column in response.context["columns"]] == [
        date(2026, 11, 30),
        *(date(2026, 12, day) for day in range(1, 7)),
    ]
    assert [row["label"] for row in response.context["rows"]][:1] == ["07:00"]
    assert [row["label"] for row in response.context["rows"]][-1] == "20:00"
    assert cell(response, "09:00", 1) == [tuesday]
    assert cell(response, "19:00", 6) == [sunday_evening]
    assert shown(response) == {tuesday, sunday_evening}
    assert next_week not in shown(response) and cancelled not in shown(response)
    page = response.content.decode()
    assert reverse("clinic_appointments:detail", args=[tuesday.reference]) in page
    assert "09:00–09:50" in page
    assert tuesday.professional.display_name in page and tuesday.service.name in page


@pytest.mark.django_db
def test_navigation_links_move_by_a_week_and_keep_the_filters(superuser_client):
    professional = ProfessionalFactory()
    response = superuser_client.get(CALENDAR_URL, {"date": "2026-12-02", "professional": professional.pk})
    assert "date=2026-11-25" in response.context["previous_url"]
    assert "date=2026-12-09" in response.context["next_url"]
    assert f"professional={professional.pk}" in response.context["next_url"]
    assert "date=" not in response.context["today_url"]


@pytest.mark.django_db
def test_day_view_has_one_column_per_professional_working_that_day(superuser_client):
    with_session = ProfessionalFactory(display_name="Ana Rojas")
    with_hours = ProfessionalFactory(display_name="Beatriz Soto")
    other_day = ProfessionalFactory(display_name="Carla Pérez")
    session = AppointmentFactory(professional=with_session, start=santiago(2026, 12, 1, 15, 0))
    WeeklyAvailabilityFactory(professional=with_hours, weekday=1)  # Tuesday
    WeeklyAvailabilityFactory(professional=other_day, weekday=0)  # Monday

    response = superuser_client.get(CALENDAR_URL, {"view": "day", "date": "2026-12-01"})

    assert response.status_code == 200
    assert [column["professional"] for column in response.context["columns"]] == [with_session, with_hours]
    assert cell(response, "15:00", 0) == [session]
    assert cell(response, "15:00", 1) == []
    assert "date=2026-11-30" in response.context["previous_url"]
    assert "date=2026-12-02" in response.context["next_url"]


@pytest.mark.django_db
def test_filters_by_professional_location_and_online(superuser_client):
    sede = LocationFactory()
    first, second = ProfessionalFactory(), ProfessionalFactory()
    online = AppointmentFactory(professional=first, start=santiago(2026, 12, 1, 9, 0))
    in_person = AppointmentFactory(
        professional=second, location=sede, modality="in_person", start=santiago(2026, 12, 2, 9, 0)
    )

    by_professional = superuser_client.get(CALENDAR_URL, {"professional": first.pk})
    by_location = superuser_client.get(CALENDAR_URL, {"location": sede.pk})
    online_only = superuser_client.get(CALENDAR_URL, {"location": "online"})

    assert shown(by_professional) == {online}
    assert shown(by_location) == {in_person}
    assert shown(online_only) == {online}
    page = by_location.content.decode()
    assert f'<option value="{sede.pk}" selected>' in page


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [{"date": "2026-02-31"}, {"date": "yesterday"}, {"professional": "999999"}, {"location": "nowhere"}],
    ids=["impossible-date", "not-a-date", "unknown-professional", "unknown-location"],
)
def test_bad_input_falls_back_with_a_message_never_a_500(superuser_client, params):
    appointment = AppointmentFactory(start=santiago(2026, 12, 1, 9, 0))

    response = superuser_client.get(CALENDAR_URL, params)

    assert response.status_code == 200
    assert response.context["day"] == date(2026, 12, 2)
    assert shown(response) == {appointment}
    assert messages_of(response)


@pytest.mark.django_db
def test_an_unknown_view_falls_back_to_the_week(superuser_client):
    response = superuser_client.get(CALENDAR_URL, {"view": "month"})
    assert response.status_code == 200
    assert response.context["mode"] == "week"


@pytest.mark.django_db
def test_staff_without_view_permission_is_refused(staff_without_permissions_client):
    response = staff_without_permissions_client.get(CALENDAR_URL)
    assert response.status_code in (302, 403)


def count_queries(client, params):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(CALENDAR_URL, params)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.django_db
@pytest.mark.parametrize("view", ["week", "day"], ids=["week", "day"])
def test_queries_do_not_grow_with_the_appointments(superuser_client, view):
    sede = LocationFactory()
    service = ServiceFactory()

    def book(count, first_day):
        for index in range(count):
            AppointmentFactory(
                service=service,
                location=sede if index % 2 else None,
                room=RoomFactory(location=sede) if index % 2 else None,  # one room each: no two share a time
                modality="in_person" if index % 2 else "online",
                start=santiago(2026, 12, first_day, 7 + index % 14, 0),
            )

    book(3, 1)
    WeeklyAvailabilityFactory(weekday=1)
    params = {"view": view, "date": "2026-12-01"}
    few = count_queries(superuser_client, params)
    book(30, 1)
    many = count_queries(superuser_client, params)

    assert many == few
    assert len(shown(superuser_client.get(CALENDAR_URL, params))) == 33


@pytest.mark.django_db
@pytest.mark.parametrize("location", ["santiago", "online"], ids=["in-person", "online"])
def test_session_on_the_dst_sunday_sits_in_its_local_hour(superuser_client, location):
    """Chile moves its clocks forward at midnight on Sunday 6 September 2026; 10:00 must stay 10:00."""
    sede = LocationFactory(time_zone="America/Santiago") if location == "santiago" else None
    appointment = AppointmentFactory(
        location=sede,
        modality="in_person" if sede else "online",
        start=datetime.combine(date(2026, 9, 6), time(10, 0), tzinfo=SANTIAGO),
    )
    with time_machine.travel(datetime(2026, 9, 2, 12, 0, tzinfo=SANTIAGO), tick=False):
        week = superuser_client.get(CALENDAR_URL)
        day = superuser_client.get(CALENDAR_URL, {"view": "day", "date": "2026-09-06"})

    assert cell(week, "10:00", 6) == [appointment]
    assert cell(day, "10:00", 0) == [appointment]
    assert "10:00–10:50" in week.content.decode()


@pytest.mark.django_db
def test_a_card_shows_where_the_session_is_and_in_which_room(superuser_client):
    sede = LocationFactory(name="Sede Ñuñoa")
    in_room = AppointmentFactory(
        location=sede,
        room=RoomFactory(location=sede, name="Box 7"),
        modality="in_person",
        start=santiago(2026, 12, 1, 9),
    )

    response = superuser_client.get(CALENDAR_URL, HTTP_ACCEPT_LANGUAGE="en")

    page = response.content.decode()
    assert in_room in shown(response)
    assert "Sede Ñuñoa · Box 7" in page
