"""ICS renderings of appointments: what a calendar app reads back from the feed and the .ics download."""

import datetime
import zoneinfo

import pytest
from django.utils import translation
from icalendar import Calendar

from booking.scheduling.ics import appointment_event, calendar_for
from booking.scheduling.models import Appointment
from tests.factories.accounts import PatientFactory, VerifiedUserFactory
from tests.factories.scheduling import AppointmentFactory, LocationFactory, ProfessionalFactory, ServiceFactory

UTC = datetime.UTC
SANTIAGO = zoneinfo.ZoneInfo("America/Santiago")
NOW = datetime.datetime(2026, 11, 1, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _site_in_english(settings):
    """English wording, whatever the Spanish catalogue says, and a known host for the UIDs."""
    settings.SITE_URL = "https://clinica.example"
    with translation.override("en"):
        yield


def parse_events(ics: bytes) -> list:
    return list(Calendar.from_ical(ics).walk("VEVENT"))


def only_event(appointment, *, for_professional=False, now=NOW):
    [event] = parse_events(calendar_for([appointment], name="Test", for_professional=for_professional, now=now))
    return event


@pytest.fixture
def appointment(db):
    return AppointmentFactory(
        patient=PatientFactory(user=VerifiedUserFactory(first_name="Paula", last_name="Soto")),
        professional=ProfessionalFactory(display_name="Dra. Rosa Díaz"),
        service=ServiceFactory(name="Psicoterapia individual"),
        patient_note="Me cuesta dormir desde hace meses",
    )


@pytest.mark.django_db
def test_calendar_has_the_headers_subscribing_apps_need(appointment):
    calendar = Calendar.from_ical(calendar_for([appointment], name="Clínica: my appointments", for_professional=False))

    assert calendar["VERSION"] == "2.0"
    assert calendar["PRODID"]
    assert calendar["METHOD"] == "PUBLISH"
    assert calendar["X-WR-CALNAME"] == "Clínica: my appointments"


@pytest.mark.django_db
def test_uid_is_the_reference_at_the_site_host_and_survives_a_reschedule(appointment):
    uid = str(only_event(appointment)["UID"])
    assert uid == f"{appointment.reference}@clinica.example"

    Appointment.objects.filter(pk=appointment.pk).update(
        start=appointment.start + datetime.timedelta(days=2),
        end=appointment.end + datetime.timedelta(days=2),
        reschedule_count=1,
    )
    appointment.refresh_from_db()
    moved = only_event(appointment)

    assert str(moved["UID"]) == uid
    assert moved["SEQUENCE"] == 1
    assert moved.decoded("DTSTART") == datetime.datetime(2026, 12, 3, 13, tzinfo=UTC)


@pytest.mark.django_db
def test_times_are_written_in_utc(appointment):
    ics = calendar_for([appointment], name="Test", for_professional=False).decode()

    assert "DTSTART:20261201T130000Z" in ics
    assert "DTEND:20261201T135000Z" in ics
    event = parse_events(ics.encode())[0]
    assert event.decoded("DTSTART").utcoffset() == datetime.timedelta(0)
    assert event.decoded("DTSTAMP") == appointment.updated_at.astimezone(UTC).replace(microsecond=0)


@pytest.mark.parametrize(
    ("local_start", "expected_utc_start", "expected_utc_end"),
    [
        # Santiago is UTC-4 until Saturday 5 September 2026 at midnight, then UTC-3.
        (datetime.datetime(2026, 9, 4, 10), datetime.datetime(2026, 9, 4, 14), datetime.datetime(2026, 9, 4, 14, 50)),
        (datetime.datetime(2026, 9, 7, 10), datetime.datetime(2026, 9, 7, 13), datetime.datetime(2026, 9, 7, 13, 50)),
        # Starts at 23:30 UTC-4 and ends at 01:20 UTC-3, after the clocks jumped: still exactly 50 minutes.
        (
            datetime.datetime(2026, 9, 5, 23, 30),
            datetime.datetime(2026, 9, 6, 3, 30),
            datetime.datetime(2026, 9, 6, 4, 20),
        ),
    ],
    ids=["before-dst", "after-dst", "across-the-change"],
)
@pytest.mark.django_db
def test_sessions_around_the_september_2026_dst_change_keep_their_utc_time(
    local_start, expected_utc_start, expected_utc_end
):
    appointment = AppointmentFactory(start=local_start.replace(tzinfo=SANTIAGO).astimezone(UTC))

    event = only_event(appointment)

    assert event.decoded("DTSTART") == expected_utc_start.replace(tzinfo=UTC)
    assert event.decoded("DTEND") == expected_utc_end.replace(tzinfo=UTC)


@pytest.mark.django_db
def test_patient_sees_service_professional_reference_and_video_page_but_no_notes(appointment):
    event = only_event(appointment, for_professional=False)

    assert str(event["SUMMARY"]) == "Psicoterapia individual with Dra. Rosa Díaz"
    assert str(event["LOCATION"]) == "Online"
    description = str(event["DESCRIPTION"])
    assert appointment.reference in description
    assert f"https://clinica.example/portal/video/{appointment.reference}/" in description
    assert "dormir" not in calendar_for([appointment], name="Test", for_professional=False).decode()


@pytest.mark.django_db
@pytest.mark.parametrize("for_professional", [False, True], ids=["patient", "professional"])
def test_the_calendar_links_to_the_video_page_and_never_gives_the_room(for_professional):
    """A calendar is easily shared: the page behind the login decides who enters the room, and when."""
    appointment = AppointmentFactory()
    body = calendar_for([appointment], name="Test", for_professional=for_professional).decode()
    unfolded = body.replace("\r\n ", "")

    assert f"/portal/video/{appointment.reference}/" in unfolded
    assert appointment.video_room and appointment.video_room not in unfolded
    assert "meet.jit.si" not in unfolded


@pytest.mark.django_db
def test_professional_sees_the_patients_name(appointment):
    event = only_event(appointment, for_professional=True)

    assert str(event["SUMMARY"]) == "Psicoterapia individual · Paula Soto"
    assert "dormir" not in calendar_for([appointment], name="Test", for_professional=True).decode()


@pytest.mark.django_db
def test_in_person_session_gives_the_full_address_and_no_video_link():
    location = LocationFactory(address="Av. Providencia 1234, oficina 501", city="Santiago", region="RM")
    appointment = AppointmentFactory(modality="in_person", location=location, video_link="https://meet.example/x")

    event = only_event(appointment)

    assert str(event["LOCATION"]) == "Av. Providencia 1234, oficina 501, Santiago, RM"
    assert "meet.example" not in str(event["DESCRIPTION"])


@pytest.mark.parametrize(
    ("status", "hold_expires_at", "expected"),
    [
        ("confirmed", None, "CONFIRMED"),
        ("completed", None, "CONFIRMED"),
        ("pending_payment", NOW + datetime.timedelta(minutes=15), "TENTATIVE"),
        ("pending_payment", NOW - datetime.timedelta(minutes=1), "CANCELLED"),
        ("cancelled", None, "CANCELLED"),
    ],
    ids=["confirmed", "completed", "pending-payment", "expired-hold", "cancelled"],
)
@pytest.mark.django_db
def test_status_tells_the_calendar_whether_the_session_stands(status, hold_expires_at, expected):
    appointment = AppointmentFactory(status=status, hold_expires_at=hold_expires_at)

    event = appointment_event(appointment, for_professional=False, now=NOW)

    assert event["STATUS"] == expected
    assert event["TRANSP"] == ("TRANSPARENT" if expected == "CANCELLED" else "OPAQUE")
