"""The professional's availability page: their hours, overrides and time off, changed as far as the clinic allows.

A refused change shows the reason and the sessions it would strand, with links; bad input is a message, never a 500;
somebody else's row is a 404. The clock is pinned at Tuesday 1 December 2026, 10:30 in Santiago; Monday 7 December
is an ordinary working day.
"""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from booking.scheduling.models import DateOverride, TimeOff, WeeklyAvailability
from tests.factories.accounts import PatientFactory, VerifiedUserFactory, activate_totp
from tests.factories.scheduling import (
    AppointmentFactory,
    DateOverrideFactory,
    LocationFactory,
    ProfessionalFactory,
    TimeOffFactory,
    WeeklyAvailabilityFactory,
)

pytestmark = pytest.mark.django_db

SANTIAGO = ZoneInfo("America/Santiago")
NOW = datetime(2026, 12, 1, 10, 30, tzinfo=SANTIAGO)
MONDAY = date(2026, 12, 7)


def santiago(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SANTIAGO)


@pytest.fixture(autouse=True)
def pinned_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def place():
    return LocationFactory(name="Providencia")


def professional_with_login(setting="full", **fields):
    user = VerifiedUserFactory(preferred_language="en")
    activate_totp(user)
    return ProfessionalFactory(user=user, availability_self_service=setting, **fields)


@pytest.fixture
def ana(place):
    professional = professional_with_login(locations=[place])
    WeeklyAvailabilityFactory(professional=professional, location=place, weekday=0, start_time=time(9))
    return professional


@pytest.fixture
def monday_row(ana):
    return ana.weekly_availability.get()


@pytest.fixture
def ana_client(client, ana, home_page):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_login(ana.user)
    return client


def page(client) -> str:
    response = client.get(reverse("portal:pro_availability"))
    assert response.status_code == 200
    return response.content.decode()


def post(client, name, data=None, *args):
    return client.post(reverse(f"portal:{name}", args=args), data or {})


def monday_session(professional, place, hour=10):
    patient = PatientFactory(user__first_name="Elena", user__last_name="Soto")
    start = santiago(MONDAY, hour)
    return AppointmentFactory(
        professional=professional,
        patient=patient,
        location=place,
        modality="in_person",
        start=start,
        end=start + timedelta(minutes=50),
    )


# --- the page ----------------------------------------------------------------------------------------------------


def test_the_page_shows_hours_by_weekday_upcoming_overrides_and_time_off(ana_client, ana, place):
    WeeklyAvailabilityFactory(professional=ana, location=None, weekday=5, start_time=time(9), end_time=time(0))
    WeeklyAvailabilityFactory(
        professional=ana, location=None, weekday=2, start_time=time(9), valid_until=date(2026, 11, 30)
    )  # over already
    DateOverrideFactory(professional=ana, date=date(2026, 12, 18), location=place)
    DateOverrideFactory(professional=ana, date=date(2026, 11, 20), location=place)  # past
    TimeOffFactory(
        professional=ana, start=santiago(date(2026, 12, 21), 0), end=santiago(date(2026, 12, 26), 0), all_day=True
    )
    TimeOffFactory(professional=ana, start=santiago(date(2026, 11, 2), 9), end=santiago(date(2026, 11, 2), 12))
    TimeOffFactory(
        professional=professional_with_login(), start=santiago(MONDAY, 9), end=santiago(MONDAY, 12), reason="Other's"
    )

    html = page(ana_client)

    headings = [f'<h3 class="h6 mt-3">{day}</h3>' for day in ("Monday", "Wednesday", "Saturday")]
    assert [heading in html for heading in headings] == [True, False, True]
    assert "09:00–13:00" in html and "Providencia" in html and "09:00–24:00" in html
    assert html.count("override-row") == 1
    assert "Friday 18 December 2026" in html and "Closed" in html
    assert html.count("time-off-row") == 1
    assert "21 Dec 2026 – 25 Dec 2026" in html
    assert "Other's" not in html
    assert 'id="weekly-add"' in html and 'id="override-add"' in html and 'id="time-off-add"' in html


def test_the_nav_and_the_day_page_lead_to_the_page(ana_client):
    html = ana_client.get(reverse("portal:pro_today")).content.decode()

    assert html.count(f'href="{reverse("portal:pro_availability")}"') >= 2  # the nav and the link under the title


@pytest.mark.parametrize(
    ("setting", "forms_shown", "notice"),
    [
        ("none", set(), "read-only"),
        ("time_off", {"override-add", "time-off-add"}, "weekly-read-only"),
        ("full", {"weekly-add", "override-add", "time-off-add"}, None),
    ],
    ids=["none", "time_off", "full"],
)
def test_the_page_offers_only_the_changes_the_clinic_allows(ana_client, ana, setting, forms_shown, notice):
    ana.availability_self_service = setting
    ana.save()

    html = page(ana_client)

    for form in ("weekly-add", "override-add", "time-off-add"):
        assert (f'id="{form}"' in html) == (form in forms_shown), form
    for note in ("read-only", "weekly-read-only"):
        assert (f'id="{note}"' in html) == (note == notice), note


def test_a_post_the_clinic_does_not_allow_changes_nothing_and_says_so(ana_client, ana, monday_row):
    ana.availability_self_service = "none"
    ana.save()

    response = post(ana_client, "pro_weekly_remove", {}, monday_row.pk)
    time_off = post(ana_client, "pro_time_off_add", {"off-start_date": "2026-12-20", "off-end_date": "2026-12-21"})

    assert response.status_code == 200 and time_off.status_code == 200
    assert "The clinic has not enabled you to change this yourself" in response.content.decode()
    assert WeeklyAvailability.objects.filter(pk=monday_row.pk).exists()
    assert not TimeOff.objects.exists()


def test_the_page_runs_the_same_queries_for_few_and_many_rows(ana_client, ana, place):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            page(ana_client)
        return len(captured)

    page(ana_client)  # the first request fills the site's caches
    few = queries()
    for weekday in range(1, 6):
        WeeklyAvailabilityFactory(professional=ana, location=place, weekday=weekday)
        DateOverrideFactory(professional=ana, date=MONDAY + timedelta(days=weekday), location=place)
        TimeOffFactory(
            professional=ana,
            start=santiago(date(2026, 12, 20 + weekday), 0),
            end=santiago(date(2026, 12, 20 + weekday), 12),
        )

    assert queries() == few


# --- changes -----------------------------------------------------------------------------------------------------


def test_weekly_hours_are_added_changed_and_removed(ana_client, ana, place, monday_row):
    added = post(
        ana_client,
        "pro_weekly_add",
        {"weekly-weekday": "2", "weekly-place": "online", "weekly-start_time": "15:00", "weekly-end_time": "19:00"},
    )
    assert added.status_code == 302 and added["Location"] == reverse("portal:pro_availability")
    wednesday = WeeklyAvailability.objects.get(professional=ana, weekday=2)
    assert wednesday.location is None and wednesday.end_time == time(19)

    prefix = f"row-{monday_row.pk}"
    changed = post(
        ana_client,
        "pro_weekly_change",
        {
            f"{prefix}-weekday": "0",
            f"{prefix}-place": str(place.pk),
            f"{prefix}-start_time": "08:00",
            f"{prefix}-end_time": "12:00",
            f"{prefix}-valid_until": "2027-03-31",
        },
        monday_row.pk,
    )
    assert changed.status_code == 302
    monday_row.refresh_from_db()
    assert (monday_row.start_time, monday_row.valid_until) == (time(8), date(2027, 3, 31))

    assert post(ana_client, "pro_weekly_remove", {}, wednesday.pk).status_code == 302
    assert not WeeklyAvailability.objects.filter(pk=wednesday.pk).exists()
    assert "The weekly hours are removed." in page(ana_client)


def test_an_override_and_time_off_are_added_and_removed(ana_client, ana, place):
    override = post(
        ana_client,
        "pro_override_add",
        {
            "override-day": "2026-12-11",
            "override-place": str(place.pk),
            "override-start_time": "15:00",
            "override-end_time": "20:00",
        },
    )
    time_off = post(
        ana_client,
        "pro_time_off_add",
        {"off-start_date": "2026-12-21", "off-end_date": "2026-12-25", "off-reason": "Vacaciones"},
    )

    assert override.status_code == 302 and time_off.status_code == 302
    saved_override = DateOverride.objects.get(professional=ana)
    assert (saved_override.date, saved_override.start_time) == (date(2026, 12, 11), time(15))
    saved = TimeOff.objects.get(professional=ana)
    assert saved.all_day and saved.reason == "Vacaciones"
    assert (saved.start, saved.end) == (santiago(date(2026, 12, 21), 0), santiago(date(2026, 12, 26), 0))

    assert post(ana_client, "pro_override_remove", {}, saved_override.pk).status_code == 302
    assert post(ana_client, "pro_time_off_remove", {}, saved.pk).status_code == 302
    assert not DateOverride.objects.exists() and not TimeOff.objects.exists()


def test_a_change_that_would_strand_sessions_is_refused_with_the_list(ana_client, ana, place, monday_row):
    session = monday_session(ana, place)

    response = post(
        ana_client,
        "pro_time_off_add",
        {
            "off-start_date": "2026-12-07",
            "off-start_time": "08:00",
            "off-end_date": "2026-12-07",
            "off-end_time": "12:00",
        },
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="refusal"' in html and "would leave booked sessions outside your hours" in html
    assert reverse("portal:pro_session", args=[session.reference]) in html
    assert "Monday 7 December 2026" in html and "10:00" in html and "Elena Soto" in html
    assert 'value="08:00"' in html  # what was typed is still there
    assert not TimeOff.objects.exists()

    removal = post(ana_client, "pro_weekly_remove", {}, monday_row.pk)
    assert "Elena Soto" in removal.content.decode()
    assert WeeklyAvailability.objects.filter(pk=monday_row.pk).exists()


def test_a_change_that_strands_nothing_is_accepted(ana_client, ana, place, monday_row):
    monday_session(ana, place)

    response = post(
        ana_client,
        "pro_time_off_add",
        {
            "off-start_date": "2026-12-07",
            "off-start_time": "11:00",
            "off-end_date": "2026-12-07",
            "off-end_time": "13:00",
        },
    )

    assert response.status_code == 302
    assert TimeOff.objects.filter(professional=ana).count() == 1


# --- bad input -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "pro_weekly_add",
            {
                "weekly-weekday": "1",
                "weekly-place": "online",
                "weekly-start_time": "18:00",
                "weekly-end_time": "09:00",
            },
            "The end must be after the start.",
        ),
        (
            "pro_weekly_add",
            {
                "weekly-weekday": "9",
                "weekly-place": "online",
                "weekly-start_time": "09:00",
                "weekly-end_time": "10:00",
            },
            "Select a valid choice.",
        ),
        (
            "pro_weekly_add",
            {"weekly-weekday": "1", "weekly-place": "online", "weekly-start_time": "9am", "weekly-end_time": "10:00"},
            "Enter a valid time.",
        ),
        (
            "pro_override_add",
            {"override-day": "2026-12-11", "override-place": "online", "override-start_time": "15:00"},
            "Give both times, or neither to close that day.",
        ),
        (
            "pro_override_add",
            {"override-day": "2026-11-30", "override-place": "online"},
            "That time has already passed.",
        ),
        (
            "pro_override_add",
            {"override-day": "9999-12-31", "override-place": "online"},
            "Enter a date between 1900-01-01 and 2199-12-31.",
        ),
        (
            "pro_time_off_add",
            {"off-start_date": "2026-12-10", "off-end_date": "2026-12-09"},
            "The end must be after the start.",
        ),
        ("pro_time_off_add", {"off-start_date": "2026-12-10"}, "This field is required."),
    ],
    ids=[
        "weekly-end-before-start",
        "weekly-no-such-day",
        "weekly-bad-time",
        "override-one-time",
        "override-past",
        "override-far-future",
        "time-off-backwards",
        "time-off-no-end",
    ],
)
def test_bad_input_is_a_message_not_an_error(ana_client, ana, name, data, message):
    response = post(ana_client, name, data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert WeeklyAvailability.objects.filter(professional=ana).count() == 1
    assert not DateOverride.objects.exists() and not TimeOff.objects.exists()


def test_a_location_of_somebody_else_is_not_a_choice(ana_client, ana):
    elsewhere = LocationFactory(name="Viña del Mar")

    response = post(
        ana_client,
        "pro_weekly_add",
        {
            "weekly-weekday": "1",
            "weekly-place": str(elsewhere.pk),
            "weekly-start_time": "09:00",
            "weekly-end_time": "13:00",
        },
    )

    assert response.status_code == 200
    assert "Select a valid choice." in response.content.decode()
    assert not WeeklyAvailability.objects.filter(location=elsewhere).exists()


def test_rows_of_somebody_else_are_404(ana_client, place):
    other = professional_with_login(locations=[place])
    row = WeeklyAvailabilityFactory(professional=other, location=place)
    override = DateOverrideFactory(professional=other, date=MONDAY)
    time_off = TimeOffFactory(professional=other, start=santiago(MONDAY, 9), end=santiago(MONDAY, 12))
    closure = TimeOffFactory(professional=None, start=santiago(MONDAY, 9), end=santiago(MONDAY, 12))

    statuses = [
        post(ana_client, "pro_weekly_change", {}, row.pk).status_code,
        post(ana_client, "pro_weekly_remove", {}, row.pk).status_code,
        post(ana_client, "pro_override_remove", {}, override.pk).status_code,
        post(ana_client, "pro_time_off_remove", {}, time_off.pk).status_code,
        post(ana_client, "pro_time_off_remove", {}, closure.pk).status_code,
    ]

    assert statuses == [404] * 5
    assert (
        WeeklyAvailability.objects.filter(pk=row.pk).exists() and DateOverride.objects.filter(pk=override.pk).exists()
    )
    assert TimeOff.objects.count() == 2


def test_the_changes_are_post_only(ana_client, monday_row):
    assert ana_client.get(reverse("portal:pro_weekly_remove", args=[monday_row.pk])).status_code == 405
    assert WeeklyAvailability.objects.filter(pk=monday_row.pk).exists()


def test_a_patient_has_no_availability_page(client, home_page):
    patient = PatientFactory()
    client.force_login(patient.user)

    assert client.get(reverse("portal:pro_availability")).status_code == 404
    assert client.post(reverse("portal:pro_time_off_add"), {}).status_code == 404


# --- daylight saving time ------------------------------------------------------------------------------------------


def test_time_off_on_the_night_santiago_skips_midnight(ana_client, ana):
    """Sunday 6 September 2026 starts at 01:00: a whole day off starts at the jump, and the page shows it."""
    with time_machine.travel(datetime(2026, 9, 1, 12, tzinfo=SANTIAGO), tick=False):
        response = post(
            ana_client,
            "pro_time_off_add",
            {"off-start_date": "2026-09-06", "off-end_date": "2026-09-06", "off-reason": "Fiestas"},
        )
        html = page(ana_client)

    assert response.status_code == 302
    saved = TimeOff.objects.get(professional=ana)
    assert saved.start == santiago(date(2026, 9, 6), 1)
    assert saved.end == santiago(date(2026, 9, 7), 0)
    assert "6 Sep 2026" in html and "Fiestas" in html
