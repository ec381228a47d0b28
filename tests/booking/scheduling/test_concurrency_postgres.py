"""PostgreSQL only: the exclusion constraints and concurrent bookings of the same slot or the same rooms."""

import threading
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import IntegrityError, connection, transaction

from booking.scheduling.errors import BookingError
from booking.scheduling.models import Appointment, AppointmentStatus
from booking.scheduling.services import book_appointment, reschedule_appointment
from tests.factories.accounts import PatientFactory
from tests.factories.scheduling import (
    AppointmentFactory,
    LocationFactory,
    ProfessionalFactory,
    RoomFactory,
    ServiceFactory,
    WeeklyAvailabilityFactory,
)

# serialized_rollback: rows made by migrations (content types, the Wagtail site) come back for later tests.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SANTIAGO = ZoneInfo("America/Santiago")
START = datetime(2026, 12, 1, 12, tzinfo=UTC)


def test_exclusion_constraint_rejects_overlapping_active_appointments():
    first = AppointmentFactory(start=START)

    with pytest.raises(IntegrityError), transaction.atomic():
        AppointmentFactory(professional=first.professional, start=START + timedelta(minutes=30))

    # touching is not overlapping, and cancelled rows do not count
    AppointmentFactory(professional=first.professional, start=first.end)
    AppointmentFactory(professional=first.professional, start=START, status=AppointmentStatus.CANCELLED)
    assert Appointment.objects.count() == 3


def test_exclusion_constraint_rejects_two_bookings_of_one_room():
    room = RoomFactory()
    AppointmentFactory(start=START, room=room)

    with pytest.raises(IntegrityError), transaction.atomic():
        AppointmentFactory(start=START, room=room)

    AppointmentFactory(start=START)  # another professional without a room is fine


def test_eight_patients_racing_for_one_slot_get_exactly_one_booking():
    service = ServiceFactory(duration_minutes=50, min_notice_minutes=0)
    professional = ProfessionalFactory(services=[service])
    WeeklyAvailabilityFactory(professional=professional, weekday=1, start_time=time(9), end_time=time(13))
    patients = [PatientFactory() for _ in range(8)]
    now = datetime(2026, 11, 29, 10, tzinfo=SANTIAGO)
    start = datetime(2026, 12, 1, 9, tzinfo=SANTIAGO)
    barrier = threading.Barrier(len(patients))
    results: list[str] = []
    lock = threading.Lock()

    def attempt(patient):
        try:
            barrier.wait()
            book_appointment(
                patient=patient,
                professional=professional,
                service=service,
                start=start,
                modality="online",
                now=now,
                source="booking_box",
                actor=patient.user,
            )
            outcome = "booked"
        except BookingError as error:
            outcome = error.code
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=attempt, args=(patient,)) for patient in patients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == ["booked"] + ["slot_unavailable"] * 7
    assert Appointment.objects.filter(status=AppointmentStatus.CONFIRMED).count() == 1


def test_six_professionals_racing_for_two_rooms_get_exactly_two_bookings():
    """Different professionals do not share a lock: the rooms' row locks make the last ones find no room left."""
    location = LocationFactory()
    rooms = [RoomFactory(location=location, name=name) for name in ("Box 1", "Box 2")]
    service = ServiceFactory(duration_minutes=50, min_notice_minutes=0)
    professionals = []
    for _ in range(6):
        professional = ProfessionalFactory(services=[service], locations=[location])
        WeeklyAvailabilityFactory(
            professional=professional, location=location, weekday=1, start_time=time(9), end_time=time(13)
        )
        professionals.append(professional)
    patients = [PatientFactory() for _ in professionals]
    now = datetime(2026, 11, 29, 10, tzinfo=SANTIAGO)
    start = datetime(2026, 12, 1, 9, tzinfo=SANTIAGO)
    barrier = threading.Barrier(len(professionals))
    results: list[str] = []
    lock = threading.Lock()

    def attempt(professional, patient):
        try:
            barrier.wait()
            book_appointment(
                patient=patient,
                professional=professional,
                service=service,
                start=start,
                location=location,
                modality="in_person",
                now=now,
                source="booking_box",
                actor=patient.user,
            )
            outcome = "booked"
        except BookingError as error:
            outcome = error.code
        except Exception as error:  # an IntegrityError escaping the service would be a 500
            outcome = f"error: {error!r}"
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=attempt, args=pair) for pair in zip(professionals, patients, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == ["booked"] * 2 + ["slot_unavailable"] * 4
    booked = Appointment.objects.filter(status=AppointmentStatus.CONFIRMED)
    assert sorted(booked.values_list("room_id", flat=True)) == sorted(room.pk for room in rooms)


def race(attempts) -> list[str]:
    """Run the callables at once (each in its own thread and connection); their outcomes, sorted."""
    barrier = threading.Barrier(len(attempts))
    results: list[str] = []
    lock = threading.Lock()

    def run(attempt):
        try:
            barrier.wait()
            attempt()
            outcome = "done"
        except BookingError as error:
            outcome = error.code
        except Exception as error:  # a deadlock or an IntegrityError escaping the service would be a 500
            outcome = f"error: {error!r}"
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(attempt,)) for attempt in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(results)


def test_one_patient_racing_to_book_four_professionals_at_once_gets_one_session():
    """Four professionals, four locks: only the patient's row lock makes the later bookings see the first one."""
    service = ServiceFactory(duration_minutes=50, min_notice_minutes=0)
    professionals = [ProfessionalFactory(services=[service]) for _ in range(4)]
    for professional in professionals:
        WeeklyAvailabilityFactory(professional=professional, weekday=1, start_time=time(9), end_time=time(13))
    patient = PatientFactory()
    now = datetime(2026, 11, 29, 10, tzinfo=SANTIAGO)
    start = datetime(2026, 12, 1, 9, tzinfo=SANTIAGO)

    def booking(professional):
        return lambda: book_appointment(
            patient=patient,
            professional=professional,
            service=service,
            start=start,
            modality="online",
            now=now,
            source="booking_box",
            actor=patient.user,
        )

    results = race([booking(professional) for professional in professionals])

    assert results == ["done"] + ["patient_overlap"] * 3
    assert Appointment.objects.filter(patient=patient, status=AppointmentStatus.CONFIRMED).count() == 1


def test_moving_a_session_and_booking_another_into_the_same_time_cannot_both_win():
    service = ServiceFactory(duration_minutes=50, min_notice_minutes=0, reschedule_window_hours=0)
    first, second = ProfessionalFactory(services=[service]), ProfessionalFactory(services=[service])
    for professional in (first, second):
        WeeklyAvailabilityFactory(professional=professional, weekday=1, start_time=time(9), end_time=time(13))
    patient = PatientFactory()
    now = datetime(2026, 11, 29, 10, tzinfo=SANTIAGO)
    nine, eleven = datetime(2026, 12, 1, 9, tzinfo=SANTIAGO), datetime(2026, 12, 1, 11, tzinfo=SANTIAGO)
    common = {"patient": patient, "service": service, "modality": "online", "now": now, "source": "portal"}
    moving = book_appointment(professional=first, start=eleven, actor=patient.user, **common)

    results = race(
        [
            lambda: reschedule_appointment(appointment=moving, start=nine, actor=patient.user, now=now),
            lambda: book_appointment(professional=second, start=nine, actor=patient.user, **common),
        ]
    )

    assert results == ["done", "patient_overlap"]
    sessions = Appointment.objects.filter(patient=patient, status=AppointmentStatus.CONFIRMED)
    assert sorted(sessions.values_list("start", flat=True)) in ([nine, eleven], [nine])
    assert sessions.filter(start=nine).count() == 1
