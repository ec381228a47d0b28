"""The video page of an online session: only its patient and its professional reach it, and the room's address is in
it only from 10 minutes before the start until the end. It opens the room in a new tab, or embeds it (with the
video service allowed in ``frame-src`` on that page only) when ``VIDEO_EMBED`` is on.

The clock is pinned at Tuesday 1 December 2026, 08:00 in Santiago; the session runs 09:00–09:50.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from booking.scheduling.models import Appointment
from portal.accounts.roles import EDITORS, RECEPTIONISTS, ensure_role_groups
from tests.factories.accounts import PatientFactory, VerifiedUserFactory, activate_totp
from tests.factories.scheduling import AppointmentFactory, LocationFactory, ProfessionalFactory

pytestmark = pytest.mark.django_db

SANTIAGO = ZoneInfo("America/Santiago")
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=SANTIAGO)
NINE = datetime(2026, 12, 1, 9, 0, tzinfo=SANTIAGO)
BASE = "https://video.clinica.example"


@pytest.fixture(autouse=True)
def pinned_clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def video_service(settings):
    settings.VIDEO_BASE_URL = BASE
    settings.VIDEO_EMBED = False


def login(user) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


@pytest.fixture
def session(home_page):
    professional_user = VerifiedUserFactory(email="ana.rojas@example.com")
    activate_totp(professional_user)
    return AppointmentFactory(
        patient=PatientFactory(user=VerifiedUserFactory(first_name="Camila", email="camila@example.com")),
        professional=ProfessionalFactory(user=professional_user, display_name="Ana Rojas"),
        start=NINE,
        end=NINE + timedelta(minutes=50),
    )


def video_url(appointment) -> str:
    return reverse("portal:video", args=[appointment.reference])


def room(appointment) -> str:
    return f"{BASE}/{appointment.video_room}"


@pytest.mark.parametrize("who", ["patient", "professional"])
@pytest.mark.parametrize(
    ("minutes_from_start", "shows_room"),
    [(-60, False), (-11, False), (-10, True), (0, True), (49, True), (50, False), (120, False)],
    ids=["an-hour-before", "11-min-before", "10-min-before", "at-the-start", "last-minute", "at-the-end", "later"],
)
def test_the_room_is_in_the_page_only_from_10_minutes_before_until_the_end(
    session, pinned_clock, who, minutes_from_start, shows_room
):
    user = session.patient.user if who == "patient" else session.professional.user
    pinned_clock.move_to(NINE + timedelta(minutes=minutes_from_start))

    response = login(user).get(video_url(session))

    assert response.status_code == 200
    html = response.content.decode()
    assert (room(session) in html) is shows_room
    assert session.video_room not in html or shows_room
    if shows_room:
        assert f'href="{room(session)}" target="_blank" rel="noopener"' in html
        assert "<iframe" not in html
    elif minutes_from_start < 0:
        assert "The video call opens at 08:50 (America/Santiago)" in html
    else:
        assert "This session is over." in html


def test_a_waiting_page_reloads_itself_when_the_call_opens(session, pinned_clock):
    pinned_clock.move_to(NINE - timedelta(minutes=30))

    html = login(session.patient.user).get(video_url(session)).content.decode()

    assert '<meta http-equiv="refresh" content="1201">' in html


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("cancelled", "This session was cancelled."),
        ("completed", "This session is over."),
        ("no_show_patient", "This session is over."),
        ("pending_payment", "This session is not confirmed yet"),
    ],
)
def test_a_session_that_is_not_confirmed_shows_no_room_even_at_its_time(session, pinned_clock, status, message):
    Appointment.objects.filter(pk=session.pk).update(status=status)
    pinned_clock.move_to(NINE)

    html = login(session.patient.user).get(video_url(session)).content.decode()

    assert message in html
    assert session.video_room not in html


def test_a_video_link_set_for_the_session_replaces_the_room(session, pinned_clock):
    Appointment.objects.filter(pk=session.pk).update(video_link="https://zoom.example/j/123")
    pinned_clock.move_to(NINE)

    html = login(session.professional.user).get(video_url(session)).content.decode()

    assert 'href="https://zoom.example/j/123"' in html
    assert session.video_room not in html


def test_with_embedding_on_the_room_is_an_iframe_and_only_this_page_allows_the_video_service(
    session, pinned_clock, settings
):
    settings.VIDEO_EMBED = True
    client = login(session.patient.user)
    pinned_clock.move_to(NINE - timedelta(minutes=5))

    response = client.get(video_url(session))

    html = response.content.decode()
    assert f'<iframe src="{room(session)}"' in html
    assert 'allow="camera; microphone' in html
    frame_src = next(d for d in response["Content-Security-Policy"].split(";") if "frame-src" in d)
    assert BASE in frame_src
    assert BASE not in client.get(reverse("portal:sessions"))["Content-Security-Policy"]
    pinned_clock.move_to(NINE - timedelta(minutes=11))
    early = client.get(video_url(session))
    assert "<iframe" not in early.content.decode() and BASE not in early["Content-Security-Policy"]


def test_with_embedding_off_the_video_service_is_never_a_frame_source(session, pinned_clock):
    pinned_clock.move_to(NINE)

    response = login(session.patient.user).get(video_url(session))

    assert room(session) in response.content.decode()
    assert BASE not in response["Content-Security-Policy"]


def test_an_in_person_session_has_no_video_page(session):
    Appointment.objects.filter(pk=session.pk).update(modality="in_person", location=LocationFactory(), video_room="")

    assert login(session.patient.user).get(video_url(session)).status_code == 404


@pytest.mark.parametrize("who", ["patient", "professional"])
def test_the_join_buttons_lead_to_the_video_page_and_never_carry_the_room(session, pinned_clock, who):
    pinned_clock.move_to(NINE - timedelta(minutes=5))
    client = login(session.patient.user if who == "patient" else session.professional.user)
    pages = (
        [
            reverse("portal:home"),
            reverse("portal:sessions"),
            reverse("portal:session_detail", args=[session.reference]),
        ]
        if who == "patient"
        else [reverse("portal:pro_today"), reverse("portal:pro_session", args=[session.reference])]
    )

    for page in pages:
        html = client.get(page).content.decode()
        assert f'href="{video_url(session)}"' in html, page
        assert session.video_room not in html, page


@pytest.mark.parametrize("who", ["anonymous", "other_patient", "other_professional", "receptionist", "editor"])
def test_nobody_else_reaches_the_page_even_while_the_call_is_open(session, pinned_clock, who):
    groups = ensure_role_groups()
    pinned_clock.move_to(NINE)
    if who == "anonymous":
        client = Client()
    else:
        user = VerifiedUserFactory(is_staff=who == "editor")
        if who == "other_patient":
            PatientFactory(user=user)
            AppointmentFactory(patient=user.patient, professional=session.professional, start=NINE - timedelta(days=7))
        elif who == "other_professional":
            ProfessionalFactory(user=user)
        else:
            user.groups.add(groups[RECEPTIONISTS if who == "receptionist" else EDITORS])
        if who != "other_patient":
            activate_totp(user)
        client = login(user)

    response = client.get(video_url(session))

    assert response.status_code == (302 if who == "anonymous" else 404)
    assert session.video_room not in response.content.decode()


@pytest.mark.parametrize("who", ["patient", "professional"])
def test_before_the_window_the_session_page_links_to_the_video_page_which_says_when(session, pinned_clock, who):
    pinned_clock.move_to(NINE - timedelta(minutes=30))
    client = login(session.patient.user if who == "patient" else session.professional.user)
    name = "portal:session_detail" if who == "patient" else "portal:pro_session"

    html = client.get(reverse(name, args=[session.reference])).content.decode()

    assert f'href="{video_url(session)}" id="session-video-later"' in html
    assert "It opens 10 minutes before the start." in html
