"""Budgets that keep the hot paths fast: queries of a booking with its invoice, of the engine's loader, and the size
of one availability answer (paged by professional).

Time is pinned as in ``test_api`` (Sunday 29 November 2026, 10:00 in Santiago); the world is the same clinic.
"""

import contextlib
from datetime import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from booking.billing.models import Invoice, InvoiceEvent
from booking.scheduling.api.views import MAX_PROFESSIONAL_DAYS
from booking.scheduling.availability import iso_in_zone, to_timezone
from booking.scheduling.models import Appointment, AppointmentEvent
from booking.scheduling.selectors import find_slots, load_availability
from tests.booking.scheduling.test_api import (  # noqa: F401 (fixtures)
    NOW,
    TUESDAY_9,
    booking_body,
    client_for,
    pinned_time,
    post,
)
from tests.booking.scheduling.test_api import world as world
from tests.factories.scheduling import (
    DateOverrideFactory,
    ProfessionalFactory,
    TimeOffFactory,
    WeeklyAvailabilityFactory,
)

# --- a booking with its invoice ---------------------------------------------------------------------------------


@contextlib.contextmanager
def notifications_disconnected():
    from booking.notifications.signals import plan_appointment_messages
    from booking.scheduling.services import appointment_changed

    uid = "notifications.plan_appointment_messages"
    appointment_changed.disconnect(sender=Appointment, dispatch_uid=uid)
    try:
        yield
    finally:
        appointment_changed.connect(plan_appointment_messages, sender=Appointment, dispatch_uid=uid)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_api_booking_with_its_invoice_runs_at_most_21_queries(world):
    """As in production (no test transaction around it), with the token an API client sends.

    The budget covers authentication (with the two-factor check), validation, the locks and checks of the booking,
    the session, its invoice and their events, and the discharge rule (one query: has this professional discharged
    the patient, and referred back since?); it was 45 before the booking loaded each row once. SQLite's
    ``BEGIN IMMEDIATE`` and ``COMMIT`` are left out of the count, as PostgreSQL's driver never logs them: the figure
    is the same on both.
    """
    token = Token.objects.create(user=world.patient.user)
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token.key}")

    # The notifications planner (on commit, measured in tests/booking/notifications/test_planning.py) and the quick
    # dispatch (a huey task: in the worker in production, inline in tests) are not the booking's cost.
    with notifications_disconnected(), CaptureQueriesContext(connection) as captured:
        response = post(client, "/api/v1/appointments/", booking_body(world))
    statements = [query["sql"] for query in captured.captured_queries]
    queries = [sql for sql in statements if sql.split()[0].upper() not in {"BEGIN", "COMMIT"}]
    assert len(queries) <= 21, "\n".join(queries)

    assert response.status_code == 201, response.content
    appointment = Appointment.objects.get(reference=response.json()["reference"])
    assert list(appointment.events.order_by("pk").values_list("action", flat=True)) == ["created", "confirmed"]
    invoice = Invoice.objects.get(lines__appointment=appointment)
    assert invoice.status == "open" and invoice.number == 1 and invoice.total == appointment.price
    assert list(invoice.lines.values_list("total", flat=True)) == [appointment.price]
    events = InvoiceEvent.objects.filter(invoice=invoice).order_by("pk")
    assert [(e.action, e.from_status, e.to_status) for e in events] == [
        ("created", "", "draft"),
        ("issued", "draft", "open"),
    ]


def test_a_refused_booking_leaves_no_session_event_or_invoice(world):
    """The booking's own SAVEPOINT is gone: a refusal must still roll back everything book_with_invoice wrote."""
    patient_client = client_for(world.patient.user)
    assert post(patient_client, "/api/v1/appointments/", booking_body(world)).status_code == 201

    again = post(patient_client, "/api/v1/appointments/", booking_body(world))

    assert again.status_code == 409
    assert Appointment.objects.count() == 1
    assert AppointmentEvent.objects.count() == 2
    assert Invoice.objects.count() == 1


# --- the engine's loader ----------------------------------------------------------------------------------------


def test_load_availability_reads_everything_in_three_queries(world, django_assert_num_queries):
    """Catalog, then weekly hours, overrides and time off in one statement, then busy time (it was six)."""
    DateOverrideFactory(professional=world.professional, location=world.location, date=TUESDAY_9.date())
    TimeOffFactory(professional=world.professional)

    with django_assert_num_queries(3):
        loaded = load_availability(
            service=world.service,
            professionals=[world.professional],
            start_day=TUESDAY_9.date(),
            end_day=TUESDAY_9.date(),
            now=NOW,
        )

    (own,) = loaded.professionals
    assert len(own.rules) == 6 and len(own.overrides) == 1 and len(own.time_off) == 1


def test_load_availability_with_known_durations_skips_the_catalog_query(world, django_assert_num_queries):
    with django_assert_num_queries(2):
        loaded = load_availability(
            service=world.service,
            start_day=TUESDAY_9.date(),
            end_day=TUESDAY_9.date(),
            now=NOW,
            durations={world.professional.pk: 40},
        )

    (own,) = loaded.professionals
    assert own.duration.total_seconds() == 40 * 60


# --- availability answers: paged by professional ----------------------------------------------------------------


def colleagues(world, count):
    """``count`` more professionals offering the service at the clinic, Monday to Friday 09:00-13:00."""
    made = []
    for index in range(count):
        colleague = ProfessionalFactory(
            slug=f"colleague-{index:02d}", services=[world.service], locations=[world.location]
        )
        for weekday in range(5):
            WeeklyAvailabilityFactory(
                professional=colleague, location=world.location, weekday=weekday, start_time=time(9), end_time=time(13)
            )
        made.append(colleague)
    return made


def test_availability_of_many_professionals_over_62_days_comes_in_pages_that_add_up(world):
    colleagues(world, 20)  # 21 professionals x 62 days is over the 1240 professional-days of one answer
    client = client_for()
    query = {"service": "therapy", "start": "2026-11-29", "end": "2027-01-29"}

    first = client.get("/api/v1/availability/", query).json()
    second = client.get(first["next"]).json()

    assert MAX_PROFESSIONAL_DAYS == 1240
    assert len(first["professionals"]) == 20
    assert first["professionals"] == sorted(first["professionals"])
    assert first["next"].startswith("http://testserver/api/v1/availability/?")
    assert "after=colleague-18" in first["next"]  # "ana" comes first
    assert second["professionals"] == ["colleague-19"] and second["next"] is None
    covered = {slot["professional"] for slot in first["slots"]} | {slot["professional"] for slot in second["slots"]}
    assert len(covered) == 21
    everything = find_slots(
        service=world.service, start_day=NOW.date(), end_day=NOW.date().replace(year=2027, month=1, day=29), now=NOW
    )
    assert len(first["slots"]) + len(second["slots"]) == len(everything)


def test_availability_of_a_short_range_covers_more_professionals_per_page(world):
    colleagues(world, 20)

    body = client_for().get(
        "/api/v1/availability/", {"service": "therapy", "start": "2026-12-01", "end": "2026-12-07"}
    )

    assert body.status_code == 200
    assert len(body.json()["professionals"]) == 21
    assert body.json()["next"] is None


def test_availability_page_after_the_last_professional_is_empty(world):
    body = client_for().get(
        "/api/v1/availability/", {"service": "therapy", "start": "2026-12-01", "end": "2026-12-01", "after": "zz"}
    )

    assert body.status_code == 200
    assert body.json() == {"timezone": "America/Santiago", "professionals": [], "next": None, "slots": []}


def test_zone_conversion_is_done_once_per_instant_with_the_same_text(world):
    slots = find_slots(service=world.service, start_day=TUESDAY_9.date(), end_day=TUESDAY_9.date(), now=NOW)
    text = iso_in_zone("Europe/Madrid")

    assert [text(slot.start) for slot in slots] == [
        slot.start.isoformat() for slot in to_timezone(slots, "Europe/Madrid")
    ]
    assert text(slots[0].start) == "2026-12-01T13:00:00+01:00"
