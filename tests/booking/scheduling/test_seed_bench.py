"""The benchmark data command: a busy but consistent clinic, rebuilt identically on every run."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from booking.scheduling.availability import available_slots
from booking.scheduling.models import Appointment, AppointmentStatus, Professional, Service, TimeOff
from booking.scheduling.selectors import load_availability
from tests.factories.scheduling import ServiceFactory

NOW = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)  # a Monday
SMALL = {"professionals": 3, "appointments": 50, "days": 10}


def seed(**options):
    call_command("seed_bench", stdout=StringIO(), **{**SMALL, **options})


def bench_counts() -> dict[str, int]:
    return {
        "professionals": Professional.objects.filter(slug__startswith="bench-").count(),
        "services": Service.objects.filter(slug__startswith="bench-").count(),
        "offers": Professional.objects.filter(slug__startswith="bench-").values("offered_services").count(),
        "weekly_hours": Professional.objects.filter(slug__startswith="bench-").values("weekly_availability").count(),
        "time_off": TimeOff.objects.filter(professional__slug__startswith="bench-").count(),
        "users": get_user_model().objects.filter(email__startswith="bench-").count(),
        "appointments": Appointment.objects.filter(
            professional__slug__startswith="bench-", status=AppointmentStatus.CONFIRMED
        ).count(),
    }


def schedule() -> list[tuple[str, datetime]]:
    return sorted(Appointment.objects.values_list("professional__slug", "start"))


@pytest.fixture
def pinned_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.mark.django_db
def test_builds_the_requested_clinic(pinned_now):
    seed()

    assert bench_counts() == {
        "professionals": 3,
        "services": 2,
        "offers": 6,  # both services, every professional
        "weekly_hours": 15,  # Monday to Friday
        "time_off": 6,  # two days off each
        "users": 5,  # one patient per ten appointments
        "appointments": 50,
    }
    days = {start.date() for _slug, start in schedule()}
    assert min(days) > NOW.date()
    assert max(days) <= NOW.date() + timedelta(days=10)


@pytest.mark.django_db
def test_no_professional_is_booked_twice_at_once(pinned_now):
    seed()

    by_professional: dict[int, list[Appointment]] = {}
    for appointment in Appointment.objects.order_by("professional", "blocked_start"):
        by_professional.setdefault(appointment.professional_id, []).append(appointment)
    for appointments in by_professional.values():
        for earlier, later in zip(appointments, appointments[1:], strict=False):
            assert earlier.blocked_end <= later.blocked_start
    assert all(a.blocked_end - a.end == timedelta(minutes=10) for a in Appointment.objects.all())


@pytest.mark.django_db
def test_every_appointment_is_a_slot_the_engine_would_offer_on_an_empty_calendar(pinned_now):
    """Working hours, weekdays, holidays and days off all agree with what the engine computes."""
    seed()
    service = Service.objects.get(slug="bench-individual-therapy")
    spec, loaded, _rooms = load_availability(
        service=service, start_day=NOW.date(), end_day=NOW.date() + timedelta(days=11), now=NOW
    )
    offered = {
        (slot.professional_id, slot.start)
        for slot in available_slots(
            professionals=[replace(pro, busy=()) for pro in loaded],
            service=spec,
            start_day=NOW.date(),
            end_day=NOW.date() + timedelta(days=11),
            now=NOW,
        )
    }

    booked = set(Appointment.objects.values_list("professional_id", "start"))

    assert booked <= offered


@pytest.mark.django_db
def test_running_twice_replaces_the_data_with_the_same_clinic(pinned_now):
    seed()
    first_counts, first_schedule = bench_counts(), schedule()

    seed()

    assert bench_counts() == first_counts
    assert schedule() == first_schedule  # same seed, same bookings: runs are comparable


@pytest.mark.django_db
def test_leaves_data_that_is_not_bench_data_alone(pinned_now):
    ServiceFactory(slug="individual-therapy")

    seed()
    seed(appointments=0)

    assert Service.objects.filter(slug="individual-therapy").exists()
    assert bench_counts()["appointments"] == 0


@pytest.mark.django_db
def test_too_many_appointments_for_the_calendar_is_a_clear_error(pinned_now):
    with pytest.raises(CommandError, match="do not fit"):
        seed(professionals=1, appointments=1000, days=3)

    assert Professional.objects.filter(slug__startswith="bench-").count() == 0  # nothing half-built
