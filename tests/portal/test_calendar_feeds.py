"""Private calendar feeds and the per-appointment .ics download: who gets what, and revoking links."""

import datetime

import pytest
import time_machine
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from icalendar import Calendar

from booking.scheduling.models import Appointment
from portal.accounts.models import CalendarFeed
from portal.accounts.roles import EDITORS, RECEPTIONISTS, ensure_role_groups
from tests.factories.accounts import PatientFactory, VerifiedUserFactory, activate_totp, verify_email
from tests.factories.scheduling import (
    AppointmentFactory,
    LocationFactory,
    ProfessionalFactory,
    ServiceFactory,
    StaffUserFactory,
)

UTC = datetime.UTC
NOW = datetime.datetime(2026, 11, 1, 12, tzinfo=UTC)
CALENDAR_URL = reverse("portal:calendar")
# The buttons by their form values, so the tests hold in any language.
CREATE_BUTTON = 'name="action" value="create"'
RESET_BUTTON = 'name="action" value="reset"'


@pytest.fixture(autouse=True)
def _pinned_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def feed_url(token: str) -> str:
    return reverse("portal:calendar_feed", args=[token])


def ics_url(appointment) -> str:
    return reverse("portal:appointment_calendar", args=[appointment.reference])


def event_uids(response) -> set[str]:
    return {str(event["UID"]).split("@")[0] for event in Calendar.from_ical(response.content).walk("VEVENT")}


@pytest.fixture
def professional(db):
    """A professional with a portal login (authenticator app active, as the portal demands)."""
    user = VerifiedUserFactory(email="rosa@clinic.example", first_name="Rosa")
    activate_totp(user)
    return ProfessionalFactory(user=user, display_name="Rosa Díaz")


@pytest.fixture
def other_professional(db):
    return ProfessionalFactory(display_name="Pedro Pérez")


@pytest.fixture
def paula(db):
    return PatientFactory(user=VerifiedUserFactory(email="paula@example.com", first_name="Paula", last_name="Soto"))


@pytest.fixture
def tomas(db):
    return PatientFactory(user=VerifiedUserFactory(email="tomas@example.com", first_name="Tomás", last_name="Vera"))


@pytest.fixture
def paula_client(client, paula):
    client.force_login(paula.user)
    return client


# --- the calendar page ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get(CALENDAR_URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.django_db
def test_home_links_to_the_calendar_page(paula_client):
    response = paula_client.get(reverse("portal:home"))

    assert f'href="{CALENDAR_URL}"' in response.text


@pytest.mark.django_db
def test_creating_a_link_shows_its_absolute_url_and_the_feed_answers_with_a_calendar(paula_client, paula):
    assert CREATE_BUTTON in paula_client.get(CALENDAR_URL).text

    response = paula_client.post(CALENDAR_URL, {"action": "create"}, follow=True)

    feed = CalendarFeed.objects.get(user=paula.user)
    absolute_url = f"http://testserver{feed_url(feed.token)}"
    assert absolute_url in response.text
    assert RESET_BUTTON in response.text
    assert CREATE_BUTTON not in response.text
    feed_response = paula_client.get(feed_url(feed.token))
    assert feed_response.status_code == 200
    assert feed_response["Content-Type"].startswith("text/calendar")
    assert Calendar.from_ical(feed_response.content)["METHOD"] == "PUBLISH"


@pytest.mark.django_db
def test_feed_link_is_https_behind_the_production_proxy(paula_client, paula, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    feed = CalendarFeed.objects.create(user=paula.user)

    response = paula_client.get(CALENDAR_URL, headers={"host": "clinica.example", "x-forwarded-proto": "https"})

    assert f'value="https://clinica.example{feed_url(feed.token)}"' in response.text


@pytest.mark.django_db
def test_creating_twice_keeps_the_same_link(paula_client, paula):
    paula_client.post(CALENDAR_URL, {"action": "create"})
    paula_client.post(CALENDAR_URL, {"action": "create"})

    assert CalendarFeed.objects.filter(user=paula.user).count() == 1


@pytest.mark.django_db
def test_reset_gives_a_new_link_and_the_old_one_stops_working(client, paula_client, paula):
    old = CalendarFeed.objects.create(user=paula.user)

    paula_client.post(CALENDAR_URL, {"action": "reset"})

    new = CalendarFeed.objects.active().get(user=paula.user)
    assert new.token != old.token
    client.logout()
    assert client.get(feed_url(old.token)).status_code == 404
    assert client.get(feed_url(new.token)).status_code == 200


@pytest.mark.django_db
def test_turning_off_makes_the_link_404(client, paula_client, paula):
    feed = CalendarFeed.objects.create(user=paula.user)

    response = paula_client.post(CALENDAR_URL, {"action": "revoke"}, follow=True)

    assert CREATE_BUTTON in response.text
    client.logout()
    assert client.get(feed_url(feed.token)).status_code == 404


@pytest.mark.django_db
def test_unknown_token_is_404(client):
    assert client.get(feed_url("not-a-real-token")).status_code == 404


@pytest.mark.django_db
def test_unknown_action_is_a_bad_request_and_changes_nothing(paula_client, paula):
    response = paula_client.post(CALENDAR_URL, {"action": "delete-everything"})

    assert response.status_code == 400
    assert not CalendarFeed.objects.exists()


@pytest.mark.django_db
def test_a_user_cannot_have_two_active_feeds(paula):
    CalendarFeed.objects.create(user=paula.user)

    with pytest.raises(IntegrityError):
        CalendarFeed.objects.create(user=paula.user)


# --- what a feed contains ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_patient_feed_holds_only_their_own_appointments(client, paula, tomas, professional):
    mine = AppointmentFactory(patient=paula, professional=professional)
    AppointmentFactory(patient=tomas, professional=professional, start=mine.start + datetime.timedelta(hours=2))
    feed = CalendarFeed.objects.create(user=paula.user)

    response = client.get(feed_url(feed.token))

    assert event_uids(response) == {mine.reference}
    assert b"Tom" not in response.content


@pytest.mark.django_db
def test_professional_feed_holds_their_sessions_with_patient_names(
    client, paula, tomas, professional, other_professional
):
    with_paula = AppointmentFactory(patient=paula, professional=professional)
    with_tomas = AppointmentFactory(patient=tomas, professional=professional, start=with_paula.end)
    AppointmentFactory(patient=paula, professional=other_professional)
    feed = CalendarFeed.objects.create(user=professional.user)

    response = client.get(feed_url(feed.token))

    assert event_uids(response) == {with_paula.reference, with_tomas.reference}
    assert "Paula Soto" in response.content.decode()


@pytest.mark.django_db
def test_feed_covers_30_days_back_to_a_year_ahead_and_recent_cancellations(client, paula):
    def at(days):
        return NOW + datetime.timedelta(days=days)

    inside = [AppointmentFactory(patient=paula, start=at(days)) for days in (-29, 1, 364)]
    for days in (-31, 366):
        AppointmentFactory(patient=paula, start=at(days))
    recently_cancelled = AppointmentFactory(patient=paula, start=at(10), status="cancelled")
    with time_machine.travel(at(-40), tick=False):
        AppointmentFactory(patient=paula, start=at(20), status="cancelled")
    feed = CalendarFeed.objects.create(user=paula.user)

    response = client.get(feed_url(feed.token))

    assert event_uids(response) == {a.reference for a in inside} | {recently_cancelled.reference}
    cancelled_event = next(
        e for e in Calendar.from_ical(response.content).walk("VEVENT") if recently_cancelled.reference in e["UID"]
    )
    assert cancelled_event["STATUS"] == "CANCELLED"


def _appointments_for(professional, count):
    """Each with its own patient, service and location, so a missing select_related would show."""
    start = NOW + datetime.timedelta(days=1)
    for index in range(count):
        AppointmentFactory(
            professional=professional,
            service=ServiceFactory(),
            modality="in_person",
            location=LocationFactory(),
            start=start + datetime.timedelta(hours=index),
        )


@pytest.mark.django_db
def test_feed_runs_the_same_number_of_queries_for_3_or_20_appointments(client, professional, other_professional):
    _appointments_for(professional, 3)
    _appointments_for(other_professional, 20)
    small = CalendarFeed.objects.create(user=professional.user)
    large = CalendarFeed.objects.create(user=other_professional.user)

    counts = {}
    for feed, expected_events in ((small, 3), (large, 20)):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(feed_url(feed.token))
        assert len(Calendar.from_ical(response.content).walk("VEVENT")) == expected_events
        counts[expected_events] = len(queries)

    assert counts[3] == counts[20]
    assert counts[20] <= 4


# --- one appointment's .ics ----------------------------------------------------------------------------------


@pytest.fixture
def appointment(paula, professional):
    return AppointmentFactory(patient=paula, professional=professional)


@pytest.mark.django_db
def test_patient_downloads_their_appointment(paula_client, appointment):
    response = paula_client.get(ics_url(appointment))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert response["Content-Disposition"] == f'attachment; filename="{appointment.reference}.ics"'
    assert event_uids(response) == {appointment.reference}


@pytest.mark.django_db
def test_professional_and_reception_download_it_with_the_patients_name(client, appointment, professional):
    """Staff means permission to see every appointment (the Receptionists group), not the ``is_staff`` flag."""
    staff = StaffUserFactory(email="recepcion@clinic.example")
    verify_email(staff)
    staff.groups.add(ensure_role_groups()[RECEPTIONISTS])
    for user in (professional.user, staff):
        client.force_login(user)
        response = client.get(ics_url(appointment))
        assert response.status_code == 200, user
        assert "Paula Soto" in response.content.decode()


@pytest.mark.django_db
def test_staff_without_the_appointment_permission_gets_404(client, appointment):
    editor = StaffUserFactory(email="editor@clinic.example")  # is_staff and admin access, no scheduling rights
    verify_email(editor)
    editor.groups.add(ensure_role_groups()[EDITORS])
    client.force_login(editor)

    assert client.get(ics_url(appointment)).status_code == 404


@pytest.mark.django_db
def test_anyone_else_gets_404(client, appointment, tomas, other_professional):
    verify_email(other_professional.user)  # ProfessionalFactory's user has an authenticator app already
    for user in (tomas.user, other_professional.user):
        client.force_login(user)
        assert client.get(ics_url(appointment)).status_code == 404, user


@pytest.mark.django_db
def test_unknown_reference_is_404(paula_client):
    assert paula_client.get(reverse("portal:appointment_calendar", args=["NOPE000000"])).status_code == 404


@pytest.mark.django_db
def test_anonymous_download_is_sent_to_login(client, appointment):
    response = client.get(ics_url(appointment))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert Appointment.objects.count() == 1
