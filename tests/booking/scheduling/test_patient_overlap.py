"""One patient, one session at a time: booking, holding, rescheduling and late confirming refuse a session that
overlaps another open session of the same patient (with any professional), unless staff override with a reason.

Time is pinned to Sunday 29 November 2026, 10:00 in Santiago (summer time, UTC-3). Two professionals work at the
clinic on Tuesdays 09:00-13:00 and online 15:00-18:00; the service lasts 50 minutes with 10 minutes after.
"""

import json
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape
from rest_framework.test import APIClient

from booking.scheduling import services
from booking.scheduling.errors import BookingError
from booking.scheduling.models import Appointment, AppointmentEvent, AppointmentStatus
from tests.booking.scheduling.people import receptionist_user
from tests.factories.accounts import PatientFactory
from tests.factories.scheduling import (
    LocationFactory,
    ProfessionalFactory,
    ServiceFactory,
    WeeklyAvailabilityFactory,
)

SANTIAGO = ZoneInfo("America/Santiago")
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=SANTIAGO)


def santiago(hour: int, minute: int = 0, day: int = 1) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=SANTIAGO)


TUESDAY_9 = santiago(9)


@pytest.fixture
def world(db):
    service = ServiceFactory(
        name="Therapy",
        duration_minutes=50,
        buffer_before_minutes=0,
        buffer_after_minutes=10,
        min_notice_minutes=60,
        reschedule_window_hours=24,
        price=Decimal("35000"),
    )
    location = LocationFactory()
    ana = ProfessionalFactory(display_name="Ana", services=[service], locations=[location])
    bruno = ProfessionalFactory(display_name="Bruno", services=[service], locations=[location])
    for professional in (ana, bruno):
        for weekday in (1, 2):
            WeeklyAvailabilityFactory(
                professional=professional, location=location, weekday=weekday, start_time=time(9), end_time=time(13)
            )
        WeeklyAvailabilityFactory(
            professional=professional, location=None, weekday=1, start_time=time(15), end_time=time(18)
        )

    class World:
        pass

    world = World()
    world.service, world.location, world.ana, world.bruno = service, location, ana, bruno
    world.patient = PatientFactory()
    world.staff = receptionist_user()
    return world


def book(world, start=TUESDAY_9, *, professional=None, hold=False, online=False, actor=None, now=NOW, **extra):
    book_or_hold = services.hold_slot if hold else services.book_appointment
    return book_or_hold(
        patient=world.patient,
        professional=professional or world.ana,
        service=world.service,
        start=start,
        location=None if online else world.location,
        modality="online" if online else "in_person",
        now=now,
        source="booking_box",
        actor=actor or world.patient.user,
        **extra,
    )


# --- What counts as "at the same time" -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("existing", "new_start", "refused"),
    [
        pytest.param({}, TUESDAY_9, True, id="same-time-confirmed"),
        pytest.param({"hold": True}, TUESDAY_9, True, id="same-time-live-hold"),
        pytest.param({}, santiago(9, 30), True, id="starts-during-the-other"),
        pytest.param({"start": santiago(9, 30)}, TUESDAY_9, True, id="ends-during-the-other"),
        pytest.param({"start": santiago(15), "online": True}, santiago(15), True, id="online-and-online"),
        pytest.param({}, santiago(10), False, id="after-the-other-ends-buffer-is-the-professionals"),
        pytest.param({"start": santiago(10)}, TUESDAY_9, False, id="ends-as-the-other-starts"),
        pytest.param({}, santiago(9, day=2), False, id="same-time-next-day"),
    ],
)
def test_a_session_overlapping_another_of_the_same_patient_is_refused(world, existing, new_start, refused):
    existing = {"start": TUESDAY_9, **existing}
    book(world, existing.pop("start"), **existing)
    online = existing.get("online", False)

    if not refused:
        assert book(world, new_start, professional=world.bruno, online=online).status == AppointmentStatus.CONFIRMED
        return
    with pytest.raises(BookingError) as raised:
        book(world, new_start, professional=world.bruno, online=online)
    assert raised.value.code == "patient_overlap"
    assert Appointment.objects.filter(professional=world.bruno).count() == 0


@pytest.mark.parametrize(
    ("status", "hold_expires_in"),
    [
        pytest.param(AppointmentStatus.CANCELLED, None, id="cancelled"),
        pytest.param(AppointmentStatus.PENDING_PAYMENT, timedelta(minutes=-1), id="lapsed-hold"),
    ],
)
def test_cancelled_sessions_and_lapsed_holds_do_not_count(world, status, hold_expires_in):
    other = book(world, hold=status == AppointmentStatus.PENDING_PAYMENT)
    Appointment.objects.filter(pk=other.pk).update(
        status=status, hold_expires_at=NOW + hold_expires_in if hold_expires_in else None
    )

    assert book(world, professional=world.bruno).status == AppointmentStatus.CONFIRMED


def test_another_patient_at_the_same_time_is_fine(world):
    book(world)
    world.patient = PatientFactory()

    assert book(world, professional=world.bruno).patient == world.patient


@pytest.mark.parametrize("hold", [False, True], ids=["book", "hold"])
def test_the_patient_is_told_which_session_is_in_the_way(world, hold):
    book(world, santiago(15), online=True)

    with translation.override("en"), pytest.raises(BookingError) as raised:
        book(world, santiago(15, 30), professional=world.bruno, online=True, hold=hold)

    assert raised.value.message == (
        "You already have a session on Dec. 1, 2026 at 15:00 (Therapy with Ana). Please choose another time."
    )
    assert Appointment.objects.count() == 1
    assert AppointmentEvent.objects.count() == 2  # the first booking's created + confirmed


# --- Staff override ------------------------------------------------------------------------------------------


def test_staff_are_told_to_give_a_reason(world):
    book(world)

    with translation.override("en"), pytest.raises(BookingError) as raised:
        book(world, professional=world.bruno, actor=world.staff)

    assert raised.value.code == "patient_overlap"
    assert raised.value.message == (
        "This patient already has a session on Dec. 1, 2026 at 09:00 (Therapy with Ana). "
        "To go ahead anyway, give a staff override reason."
    )


def test_staff_override_books_and_the_reason_is_in_the_history(world):
    book(world)

    appointment = book(
        world, professional=world.bruno, actor=world.staff, staff_override_reason="joint session with both"
    )

    created = appointment.events.get(action=AppointmentEvent.Action.CREATED)
    assert (created.actor, created.reason) == (world.staff, "joint session with both")
    assert Appointment.objects.filter(patient=world.patient, status=AppointmentStatus.CONFIRMED).count() == 2


def test_a_patient_cannot_override(world):
    book(world)

    with pytest.raises(BookingError) as raised:
        book(world, professional=world.bruno, staff_override_reason="I can do both")

    assert raised.value.code == "not_allowed"
    assert Appointment.objects.count() == 1


# --- Rescheduling and late confirmation ----------------------------------------------------------------------


def test_rescheduling_onto_another_session_of_the_patient_is_refused(world):
    book(world, santiago(11), professional=world.bruno)
    moving = book(world)

    with translation.override("en"), pytest.raises(BookingError) as raised:
        services.reschedule_appointment(appointment=moving, start=santiago(11, 30), actor=world.patient.user, now=NOW)

    assert raised.value.code == "patient_overlap"
    assert "at 11:00 (Therapy with Bruno)" in raised.value.message
    moving.refresh_from_db()
    assert (moving.start, moving.reschedule_count) == (TUESDAY_9, 0)


def test_rescheduling_over_its_own_old_time_is_not_an_overlap(world):
    moving = book(world)

    moved = services.reschedule_appointment(
        appointment=moving, start=santiago(9, 30), actor=world.patient.user, now=NOW
    )

    assert moved.start == santiago(9, 30)


def test_staff_override_reschedules_onto_another_session_and_keeps_the_reason(world):
    book(world, santiago(11), professional=world.bruno)
    moving = book(world)

    moved = services.reschedule_appointment(
        appointment=moving, start=santiago(11), actor=world.staff, now=NOW, staff_override_reason="family session"
    )

    assert moved.start == santiago(11)
    event = moved.events.get(action=AppointmentEvent.Action.RESCHEDULED)
    assert (event.actor, event.reason) == (world.staff, "family session")


def test_a_lapsed_hold_paid_late_is_not_confirmed_over_a_session_booked_meanwhile(world):
    hold = book(world, hold=True)
    after_the_hold = NOW + timedelta(minutes=30)
    book(world, professional=world.bruno, now=after_the_hold)

    with pytest.raises(BookingError) as raised:
        services.confirm_appointment(appointment=hold, actor=None, now=after_the_hold)

    assert raised.value.code == "patient_overlap"
    hold.refresh_from_db()
    assert hold.status == AppointmentStatus.PENDING_PAYMENT


# --- The API and the admin -----------------------------------------------------------------------------------


def test_api_answers_409_with_the_message(world):
    book(world)
    client = APIClient()
    client.force_login(world.patient.user)
    body = {
        "service": world.service.slug,
        "professional": world.bruno.slug,
        "start": TUESDAY_9.isoformat(),
        "location": world.location.slug,
    }

    with time_machine.travel(NOW, tick=False):
        response = client.post(
            "/api/v1/appointments/", json.dumps(body), content_type="application/json", HTTP_ACCEPT_LANGUAGE="en"
        )

    assert response.status_code == 409, response.content
    assert response.json()["error"] == "patient_overlap"
    assert response.json()["detail"].startswith("You already have a session on ")
    assert Appointment.objects.count() == 1


def create_data(world, **overrides):
    return {
        "patient": world.patient.pk,
        "professional": world.bruno.pk,
        "service": world.service.pk,
        "location": world.location.pk,
        "date": "2026-12-01",
        "time": "09:00",
        "note": "",
        **overrides,
    }


def test_admin_booking_form_offers_the_override_and_explains_a_refusal(world, superuser_client):
    book(world)
    url = reverse("clinic_appointments:create")

    with time_machine.travel(NOW, tick=False):
        form_page = superuser_client.get(url)
        refused = superuser_client.post(url, create_data(world))

    assert 'name="staff_override_reason"' in form_page.content.decode()
    assert refused.status_code == 200
    assert refused.context["form"].has_error("staff_override_reason")
    with translation.override(refused.wsgi_request.LANGUAGE_CODE):
        expected = escape(refused.context["form"].errors["staff_override_reason"][0])
    assert expected in refused.content.decode()
    assert Appointment.objects.count() == 1


def test_admin_booking_with_a_reason_books_invoices_and_keeps_the_reason(world, superuser_client, superuser):
    book(world)

    with time_machine.travel(NOW, tick=False):
        response = superuser_client.post(
            reverse("clinic_appointments:create"), create_data(world, staff_override_reason="couple session")
        )

    appointment = Appointment.objects.get(professional=world.bruno)
    assert response.status_code == 302
    assert response.url == reverse("clinic_appointments:detail", args=[appointment.reference])
    assert appointment.status == AppointmentStatus.CONFIRMED
    created = appointment.events.get(action=AppointmentEvent.Action.CREATED)
    assert (created.actor, created.reason) == (superuser, "couple session")
    assert appointment.invoice_lines.count() == 1
