"""Every online session has its own video room: unguessable, given at booking, kept when it moves, never shared."""

import importlib
import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction

from booking.scheduling import services, video
from booking.scheduling.models import Appointment, Modality
from tests.factories.accounts import PatientFactory
from tests.factories.scheduling import (
    AppointmentFactory,
    LocationFactory,
    ProfessionalFactory,
    ServiceFactory,
    WeeklyAvailabilityFactory,
)
from website.settings.env import video_base_url

SANTIAGO = ZoneInfo("America/Santiago")
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=SANTIAGO)
SATURDAY = datetime(2026, 12, 5, tzinfo=SANTIAGO).date()
ROOM_NAME = re.compile(r"[a-z2-7]{32}")  # 32 base-32 characters: 160 bits


@pytest.fixture
def world(db):
    service = ServiceFactory(
        modality=Modality.BOTH,
        duration_minutes=60,
        buffer_before_minutes=0,
        buffer_after_minutes=0,
        min_notice_minutes=0,
    )
    location = LocationFactory()
    professional = ProfessionalFactory(services=[service], locations=[location])
    for weekday in (0, 5):
        WeeklyAvailabilityFactory(
            professional=professional, location=None, weekday=weekday, start_time=time(11), end_time=time(13)
        )
        WeeklyAvailabilityFactory(
            professional=professional, location=location, weekday=weekday, start_time=time(9), end_time=time(10)
        )
    return service, location, professional


def book(world, *, hour, online=True, hold=False, day=SATURDAY):
    service, location, professional = world
    patient = PatientFactory()
    return (services.hold_slot if hold else services.book_appointment)(
        patient=patient,
        professional=professional,
        service=service,
        start=datetime.combine(day, time(hour), SANTIAGO),
        location=None if online else location,
        modality="online" if online else "in_person",
        now=NOW,
        source="booking_box",
        actor=patient.user,
    )


def test_a_room_name_is_160_random_bits_in_lower_case_url_safe_characters():
    names = {video.new_room_name() for _ in range(2000)}

    assert len(names) == 2000
    assert all(ROOM_NAME.fullmatch(name) for name in names)
    # Every one of the 32 characters is used in every position: nothing fixed, nothing guessable.
    assert all(len({name[position] for name in names}) == 32 for position in range(32))


@pytest.mark.parametrize("hold", [False, True], ids=["booked", "held"])
def test_an_online_booking_gets_its_own_room_on_the_video_service(world, hold, settings):
    settings.VIDEO_BASE_URL = "https://video.clinica.example"

    first = book(world, hour=11, hold=hold)
    second = book(world, hour=12, hold=hold)

    assert ROOM_NAME.fullmatch(first.video_room) and ROOM_NAME.fullmatch(second.video_room)
    assert first.video_room != second.video_room
    assert Appointment.objects.get(pk=first.pk).video_room == first.video_room
    assert video.room_url(first) == f"https://video.clinica.example/{first.video_room}"


def test_an_in_person_booking_has_no_room(world):
    appointment = book(world, hour=9, online=False)

    assert appointment.video_room == ""
    assert video.room_url(appointment) == ""
    assert video.video_page_url(appointment) == ""


def test_a_session_keeps_its_room_when_it_moves(world):
    appointment = book(world, hour=11)
    room = appointment.video_room
    monday = SATURDAY + timedelta(days=2)

    moved = services.reschedule_appointment(
        appointment=appointment,
        start=datetime.combine(monday, time(11), SANTIAGO),
        actor=appointment.patient.user,
        now=NOW,
    )

    assert moved.start.date() == monday and moved.video_room == room


def test_a_video_link_set_for_one_session_replaces_its_room(db):
    appointment = AppointmentFactory(video_link="https://zoom.example/j/123")

    assert video.room_url(appointment) == "https://zoom.example/j/123"


def test_two_sessions_can_never_share_a_room(db):
    first = AppointmentFactory()
    AppointmentFactory(modality="in_person", video_room="")  # empty rooms do not collide

    with pytest.raises(IntegrityError), transaction.atomic():
        AppointmentFactory(video_room=first.video_room)


def test_the_migration_gives_every_open_online_session_a_room_and_only_those(db):
    migration = importlib.import_module("booking.scheduling.migrations.0012_appointment_video_room")
    confirmed = AppointmentFactory(video_room="")
    held = AppointmentFactory(video_room="", status="pending_payment")
    cancelled = AppointmentFactory(video_room="", status="cancelled")
    completed = AppointmentFactory(video_room="", status="completed")
    in_person = AppointmentFactory(video_room="", modality="in_person")
    already = AppointmentFactory()

    migration.give_open_online_sessions_a_room(apps, None)

    rooms = dict(Appointment.objects.values_list("pk", "video_room"))
    assert ROOM_NAME.fullmatch(rooms[confirmed.pk]) and ROOM_NAME.fullmatch(rooms[held.pk])
    assert rooms[confirmed.pk] != rooms[held.pk]
    assert rooms[cancelled.pk] == rooms[completed.pk] == rooms[in_person.pk] == ""
    assert rooms[already.pk] == already.video_room


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "https://meet.jit.si"),
        ("", "https://meet.jit.si"),
        ("https://video.clinica.example/", "https://video.clinica.example"),
        ("https://video.clinica.example/meet", "https://video.clinica.example/meet"),
    ],
    ids=["unset", "empty", "trailing-slash", "with-a-path"],
)
def test_the_video_service_address_comes_from_the_environment(value, expected):
    env = {} if value is None else {"VIDEO_BASE_URL": value}

    assert video_base_url(env) == expected


@pytest.mark.parametrize("value", ["meet.jit.si", "/video", "ftp://meet.example", "https://meet.example/?room=1"])
def test_a_video_service_address_that_is_not_an_http_address_refuses_to_start(value):
    with pytest.raises(ImproperlyConfigured, match="VIDEO_BASE_URL"):
        video_base_url({"VIDEO_BASE_URL": value})
