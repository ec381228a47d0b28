"""The staff appointment screens show what staff read: money formatted, names and local times in the history.

Requests are made as a member of the real Receptionists group. New texts are asserted in English (the page is
asked for in English); texts the catalogue already translates are asserted in es-CL too.
"""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from booking.scheduling import services
from booking.scheduling.models import AppointmentEvent, AppointmentStatus
from booking.scheduling.money import format_money
from tests.booking.scheduling.people import receptionist_user
from tests.factories.accounts import PatientFactory
from tests.factories.scheduling import (
    AppointmentFactory,
    LocationFactory,
    ProfessionalFactory,
    RoomFactory,
    ServiceFactory,
    WeeklyAvailabilityFactory,
)

SANTIAGO = ZoneInfo("America/Santiago")
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=SANTIAGO)
FRIDAY_10 = datetime(2026, 12, 4, 10, 0, tzinfo=SANTIAGO)


@pytest.fixture(autouse=True)
def _pinned_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def receptionist_client(db):
    user = receptionist_user()
    assert user.has_perm("scheduling.view_appointment") and not user.is_superuser
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world(db):
    service = ServiceFactory(
        name="Psicoterapia adultos", duration_minutes=50, booking_horizon_days=60, price=Decimal("40000")
    )
    providencia = LocationFactory(name="Providencia")
    las_condes = LocationFactory(name="Las Condes")
    professional = ProfessionalFactory(
        display_name="Ana Pérez", services=[service], locations=[providencia, las_condes]
    )
    for weekday in range(5):
        WeeklyAvailabilityFactory(
            professional=professional, location=providencia, weekday=weekday, start_time=time(9), end_time=time(13)
        )
    patient = PatientFactory(user__first_name="Pía", user__last_name="Rojas")

    class World:
        pass

    world = World()
    world.service, world.professional, world.patient = service, professional, patient
    world.providencia, world.las_condes = providencia, las_condes
    return world


def book(world, start=FRIDAY_10):
    return services.book_appointment(
        patient=world.patient,
        professional=world.professional,
        service=world.service,
        start=start,
        location=world.providencia,
        modality="in_person",
        source="admin",
        actor=None,
    )


def detail(client, appointment, language="en"):
    response = client.get(
        reverse("clinic_appointments:detail", args=[appointment.reference]), HTTP_ACCEPT_LANGUAGE=language
    )
    assert response.status_code == 200
    assert language == response.wsgi_request.LANGUAGE_CODE
    return response


def history_section(response) -> str:
    html = response.content.decode()
    section = html[html.index('id="appointment-history-list"') :]
    return section[: section.index("</table>")]


def add_event(appointment, *, before, after, action=AppointmentEvent.Action.RESCHEDULED, minutes=1):
    return AppointmentEvent.objects.create(
        appointment=appointment, action=action, at=NOW + timedelta(minutes=minutes), before=before, after=after
    )


@pytest.mark.django_db
def test_price_is_shown_as_money(receptionist_client, world):
    response = detail(receptionist_client, book(world))

    html = response.content.decode()
    with translation.override("en"):
        assert f"<dd>{format_money(Decimal('40000'), 'CLP')}</dd>" in html  # $40,000
    assert "40000.00" not in html and "40000,00" not in html


@pytest.mark.django_db
def test_rescheduling_shows_local_times_not_utc(receptionist_client, world):
    appointment = book(world)
    services.reschedule_appointment(
        appointment=appointment, start=FRIDAY_10 + timedelta(hours=1), actor=receptionist_user("other@clinic.example")
    )

    section = history_section(detail(receptionist_client, appointment))

    assert "Start: Fri 4 Dec 2026, 10:00 → 11:00" in section
    assert "End: Fri 4 Dec 2026, 10:50 → 11:50" in section
    assert "+00:00" not in section and "T13:00" not in section and "start:" not in section


@pytest.mark.django_db
def test_a_creation_lists_the_values_it_set_by_name(receptionist_client, world):
    section = history_section(detail(receptionist_client, book(world)))

    assert "Professional: Ana Pérez" in section
    assert "Location: Providencia" in section
    assert "Status: Confirmed" in section
    assert "Start: Fri 4 Dec 2026, 10:00" in section
    assert "professional_id" not in section and "location_id" not in section


@pytest.mark.django_db
def test_a_change_of_location_room_and_status_names_both_sides(receptionist_client, world):
    appointment = book(world)
    room = RoomFactory(location=world.las_condes, name="Box Azul")
    add_event(
        appointment,
        before={"location_id": world.providencia.pk, "room_id": None, "status": AppointmentStatus.PENDING_PAYMENT},
        after={"location_id": world.las_condes.pk, "room_id": room.pk, "status": AppointmentStatus.CONFIRMED},
    )

    section = history_section(detail(receptionist_client, appointment))

    assert "Location: Providencia → Las Condes" in section
    assert "Room: — → Box Azul" in section
    assert "Status: Pending payment → Confirmed" in section


@pytest.mark.django_db
def test_labels_already_in_the_catalogue_are_shown_in_spanish(receptionist_client, world):
    appointment = book(world)
    add_event(
        appointment,
        before={"location_id": world.providencia.pk, "status": AppointmentStatus.PENDING_PAYMENT},
        after={"location_id": world.las_condes.pk, "status": AppointmentStatus.CONFIRMED},
    )

    section = history_section(detail(receptionist_client, appointment, language="es-cl"))

    with translation.override("es-cl"):
        location, status = translation.gettext("Location"), translation.gettext("Status")
        pending, confirmed = AppointmentStatus.PENDING_PAYMENT.label, AppointmentStatus.CONFIRMED.label
        assert f"{location}: Providencia → Las Condes" in section
        assert f"{status}: {pending} → {confirmed}" in section
    assert location == "Sede"


@pytest.mark.django_db
def test_a_move_to_online_and_a_time_in_another_zone(receptionist_client, world):
    """Online reads as such; times are read in the zone of the location they belong to."""
    appointment = book(world)
    bogota = LocationFactory(name="Bogotá", time_zone="America/Bogota")
    moved = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)  # 10:00 in Bogotá, 12:00 in Santiago
    add_event(
        appointment,
        before={"location_id": world.providencia.pk, "start": FRIDAY_10.isoformat()},
        after={"location_id": bogota.pk, "start": moved.isoformat()},
    )
    add_event(appointment, before={"location_id": bogota.pk}, after={"location_id": None}, minutes=2)

    section = history_section(detail(receptionist_client, appointment))

    assert "Start: Fri 4 Dec 2026, 10:00 → Mon 7 Dec 2026, 10:00" in section
    assert "Location: Bogotá → Online" in section


@pytest.mark.django_db
def test_a_deleted_row_shows_as_deleted_not_a_500(receptionist_client, world):
    appointment = book(world)
    gone = LocationFactory(name="Sede cerrada")
    gone_room = RoomFactory(location=gone, name="Box viejo")
    gone_pk, gone_room_pk = gone.pk, gone_room.pk
    gone.delete()  # the room goes with its location
    add_event(
        appointment,
        before={"location_id": gone_pk, "room_id": gone_room_pk, "professional_id": 987654},
        after={"location_id": world.providencia.pk, "room_id": None, "professional_id": world.professional.pk},
    )

    section = history_section(detail(receptionist_client, appointment))

    assert f"Location: (deleted #{gone_pk}) → Providencia" in section
    assert f"Room: (deleted #{gone_room_pk}) → —" in section
    assert "Professional: (deleted #987654) → Ana Pérez" in section


@pytest.mark.django_db
def test_unreadable_snapshot_values_are_shown_as_they_are(receptionist_client, world):
    appointment = book(world)
    add_event(
        appointment,
        before={"start": "not a time", "location_id": "x", "note": "first"},
        after={"start": FRIDAY_10.isoformat(), "location_id": world.providencia.pk, "note": "second"},
    )

    section = history_section(detail(receptionist_client, appointment))

    assert "Start: not a time → Fri 4 Dec 2026, 10:00" in section
    assert "Location: (deleted #x) → Providencia" not in section and "Location: x → Providencia" in section
    assert "note: first → second" in section


def long_history(appointment, count):
    """``count`` entries, each naming rows of its own (locations, rooms, professionals, services, patients)."""
    for number in range(count):
        location = LocationFactory()
        before = {
            "location_id": location.pk,
            "room_id": RoomFactory(location=location).pk,
            "professional_id": ProfessionalFactory().pk,
            "service_id": ServiceFactory().pk,
            "patient_id": PatientFactory().pk,
            "start": (FRIDAY_10 + timedelta(days=number)).isoformat(),
        }
        add_event(appointment, before=before, after={}, minutes=number + 1)


@pytest.mark.django_db
def test_a_long_history_runs_a_bounded_number_of_queries(receptionist_client, world, django_assert_max_num_queries):
    short = AppointmentFactory(professional=world.professional, location=world.providencia, modality="in_person")
    long = AppointmentFactory(
        professional=world.professional,
        location=world.providencia,
        modality="in_person",
        start=short.start + timedelta(days=1),  # one professional is never booked twice at once (PostgreSQL refuses)
    )
    long_history(short, 2)
    long_history(long, 30)
    url = reverse("clinic_appointments:detail", args=[short.reference])
    receptionist_client.get(url)  # warm the per-process caches (site, permissions' content types)
    with CaptureQueriesContext(connection) as queries:
        assert receptionist_client.get(url).status_code == 200
    few = len(queries)

    with django_assert_max_num_queries(few):
        response = receptionist_client.get(
            reverse("clinic_appointments:detail", args=[long.reference]), HTTP_ACCEPT_LANGUAGE="en"
        )

    assert response.status_code == 200
    assert history_section(response).count("(deleted #") == 0
    assert history_section(response).count("Location: ") == 30


@pytest.mark.django_db
def test_list_detail_and_calendar_show_a_session_in_its_locations_zone(receptionist_client, world):
    bogota = LocationFactory(name="Bogotá", time_zone="America/Bogota")
    appointment = AppointmentFactory(
        professional=world.professional,
        patient=world.patient,
        location=bogota,
        modality="in_person",
        start=datetime(2026, 11, 29, 10, 0, tzinfo=ZoneInfo("America/Bogota")),  # 12:00 in Santiago
    )

    listing = receptionist_client.get(reverse("clinic_appointments:index"), HTTP_ACCEPT_LANGUAGE="en")
    page = detail(receptionist_client, appointment)

    calendar = receptionist_client.get(reverse("clinic_appointments:calendar") + "?view=day&date=2026-11-29")

    rows = listing.content.decode()
    rows = rows[rows.index('id="appointment-list"') :]
    assert "10:00" in rows and "12:00" not in rows
    assert "Sunday 29 November 2026 10:00" in page.content.decode()
    assert "10:00–10:50" in calendar.content.decode()  # in the 10:00 row, with the time it is placed by
