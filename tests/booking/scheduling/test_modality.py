"""A service is booked only in the modalities it has: the engine offers nothing else, the services refuse the rest.

The issue this pins: an in-person-only service offered "09:00 · Online" on Saturdays, because the professional's
online hours (a weekly rule without a location) were searched for every service the professional offers.
"""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import translation
from rest_framework.test import APIClient

from booking.scheduling import services
from booking.scheduling.availability import (
    ALL,
    ProfessionalAvailability,
    ServiceSpec,
    WeeklyRule,
    available_slots,
)
from booking.scheduling.errors import BookingError
from booking.scheduling.models import Appointment, AppointmentEvent, Modality
from booking.scheduling.selectors import find_slots, next_available_dates
from tests.factories.accounts import PatientFactory
from tests.factories.scheduling import (
    AppointmentFactory,
    LocationFactory,
    ProfessionalFactory,
    ServiceFactory,
    WeeklyAvailabilityFactory,
)

SANTIAGO = ZoneInfo("America/Santiago")
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=SANTIAGO)
SATURDAY = datetime(2026, 12, 5, tzinfo=SANTIAGO).date()
AT_CLINIC = ("09:00", "clinic")  # the location rule: 09:00-10:00 at the clinic, one one-hour slot
ONLINE = ("11:00", "online")  # the online rule: 11:00-12:00 online, one one-hour slot

RULE_KINDS = {
    "location-rule": ("clinic",),
    "online-rule": ("online",),
    "both-rules": ("clinic", "online"),
}

# service modality, the professional's weekly rules, the modality asked for -> the slots offered
MODALITY_TABLE = [
    (Modality.IN_PERSON, "location-rule", "in-person", [AT_CLINIC]),
    (Modality.IN_PERSON, "location-rule", "online", []),
    (Modality.IN_PERSON, "location-rule", "any", [AT_CLINIC]),
    (Modality.IN_PERSON, "online-rule", "in-person", []),
    (Modality.IN_PERSON, "online-rule", "online", []),
    (Modality.IN_PERSON, "online-rule", "any", []),
    (Modality.IN_PERSON, "both-rules", "in-person", [AT_CLINIC]),
    (Modality.IN_PERSON, "both-rules", "online", []),
    (Modality.IN_PERSON, "both-rules", "any", [AT_CLINIC]),
    (Modality.ONLINE, "location-rule", "in-person", []),
    (Modality.ONLINE, "location-rule", "online", []),
    (Modality.ONLINE, "location-rule", "any", []),
    (Modality.ONLINE, "online-rule", "in-person", []),
    (Modality.ONLINE, "online-rule", "online", [ONLINE]),
    (Modality.ONLINE, "online-rule", "any", [ONLINE]),
    (Modality.ONLINE, "both-rules", "in-person", []),
    (Modality.ONLINE, "both-rules", "online", [ONLINE]),
    (Modality.ONLINE, "both-rules", "any", [ONLINE]),
    (Modality.BOTH, "location-rule", "in-person", [AT_CLINIC]),
    (Modality.BOTH, "location-rule", "online", []),
    (Modality.BOTH, "location-rule", "any", [AT_CLINIC]),
    (Modality.BOTH, "online-rule", "in-person", []),
    (Modality.BOTH, "online-rule", "online", [ONLINE]),
    (Modality.BOTH, "online-rule", "any", [ONLINE]),
    (Modality.BOTH, "both-rules", "in-person", [AT_CLINIC]),
    (Modality.BOTH, "both-rules", "online", [ONLINE]),
    (Modality.BOTH, "both-rules", "any", [AT_CLINIC, ONLINE]),
]
MODALITY_IDS = [f"{service}-service-{rules}-asking-{asked}" for service, rules, asked, _slots in MODALITY_TABLE]


# --- The engine, on plain data -------------------------------------------------------------------------------

CLINIC_ID = 1
ENGINE_RULES = {
    "clinic": WeeklyRule(weekday=5, start=time(9), end=time(10), tz="America/Santiago", location_id=CLINIC_ID),
    "online": WeeklyRule(weekday=5, start=time(11), end=time(12), tz="America/Santiago", location_id=None),
}
ENGINE_FILTER = {"in-person": CLINIC_ID, "online": None, "any": ALL}


@pytest.mark.parametrize(("service_modality", "rule_kind", "asked", "expected"), MODALITY_TABLE, ids=MODALITY_IDS)
def test_engine_offers_only_the_modalities_the_service_has(service_modality, rule_kind, asked, expected):
    spec = ServiceSpec(
        service_id=1,
        duration=timedelta(hours=1),
        in_person=service_modality in (Modality.IN_PERSON, Modality.BOTH),
        online=service_modality in (Modality.ONLINE, Modality.BOTH),
    )
    professional = ProfessionalAvailability(7, rules=tuple(ENGINE_RULES[kind] for kind in RULE_KINDS[rule_kind]))

    slots = available_slots(
        professionals=[professional],
        service=spec,
        start_day=SATURDAY,
        end_day=SATURDAY,
        now=NOW,
        location_id=ENGINE_FILTER[asked],
    )

    offered = [
        (f"{slot.start.astimezone(SANTIAGO):%H:%M}", "online" if slot.location_id is None else "clinic")
        for slot in slots
    ]
    assert offered == expected
    assert all(slot.location_id in (None, CLINIC_ID) for slot in slots)


def test_a_service_with_no_modality_is_refused_where_it_is_built():
    with pytest.raises(ValueError, match="in person, online or both"):
        ServiceSpec(service_id=1, duration=timedelta(hours=1), in_person=False, online=False)


# --- The selector, from the database (what the booking box, the API and the booking services search) ----------


def make_world(service_modality, rule_kind):
    service = ServiceFactory(
        modality=service_modality,
        duration_minutes=60,
        buffer_before_minutes=0,
        buffer_after_minutes=0,
        min_notice_minutes=0,
    )
    location = LocationFactory()
    professional = ProfessionalFactory(services=[service], locations=[location])
    if "clinic" in RULE_KINDS[rule_kind]:
        WeeklyAvailabilityFactory(
            professional=professional, location=location, weekday=5, start_time=time(9), end_time=time(10)
        )
    if "online" in RULE_KINDS[rule_kind]:
        WeeklyAvailabilityFactory(
            professional=professional, location=None, weekday=5, start_time=time(11), end_time=time(12)
        )
    return service, location, professional


@pytest.mark.django_db
@pytest.mark.parametrize(("service_modality", "rule_kind", "asked", "expected"), MODALITY_TABLE, ids=MODALITY_IDS)
def test_search_offers_only_the_modalities_the_service_has(service_modality, rule_kind, asked, expected):
    service, location, professional = make_world(service_modality, rule_kind)
    location_filter = {"in-person": location, "online": None, "any": ALL}[asked]

    slots = find_slots(service=service, location=location_filter, start_day=SATURDAY, end_day=SATURDAY, now=NOW)

    offered = [
        (f"{slot.start.astimezone(SANTIAGO):%H:%M}", "online" if slot.location_id is None else "clinic")
        for slot in slots
    ]
    assert offered == expected
    assert {slot.location_id for slot in slots} <= {None, location.pk}
    assert {slot.professional_id for slot in slots} <= {professional.pk}
    first = next_available_dates(
        service=service, location=location_filter, start_day=SATURDAY, end_day=SATURDAY, now=NOW
    )[professional.pk]
    assert first == (slots[0].start if slots else None)


# --- The booking services refuse a modality the service does not have ----------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("hold", [False, True], ids=["book", "hold"])
@pytest.mark.parametrize(
    ("service_modality", "modality", "start_hour", "message"),
    [
        (Modality.IN_PERSON, "online", 11, "“Therapy” is only offered in person."),
        (Modality.ONLINE, "in_person", 9, "“Therapy” is only offered online."),
    ],
    ids=["online-session-of-in-person-service", "in-person-session-of-online-service"],
)
def test_booking_refuses_a_modality_the_service_does_not_have(service_modality, modality, start_hour, message, hold):
    service, location, professional = make_world(service_modality, "both-rules")
    service.name = "Therapy"
    service.save()
    patient = PatientFactory()
    book = services.hold_slot if hold else services.book_appointment

    with translation.override("en"), pytest.raises(BookingError) as raised:
        book(
            patient=patient,
            professional=professional,
            service=service,
            start=datetime.combine(SATURDAY, time(start_hour), SANTIAGO),
            location=location if modality == "in_person" else None,
            modality=modality,
            now=NOW,
            source="booking_box",
            actor=patient.user,
        )

    assert raised.value.code == "modality_not_offered"
    assert raised.value.message == message
    assert not Appointment.objects.exists()
    assert not AppointmentEvent.objects.exists()


@pytest.mark.django_db
def test_rescheduling_refuses_a_modality_the_service_no_longer_has():
    """An online session booked while the service was offered both ways cannot be moved once it is in person only."""
    service, _location, professional = make_world(Modality.BOTH, "online-rule")
    WeeklyAvailabilityFactory(
        professional=professional, location=None, weekday=0, start_time=time(11), end_time=time(12)
    )
    saturday_11 = datetime.combine(SATURDAY, time(11), SANTIAGO)
    appointment = AppointmentFactory(
        professional=professional, service=service, start=saturday_11, end=saturday_11 + timedelta(hours=1)
    )
    service.modality = Modality.IN_PERSON
    service.save()

    with translation.override("en"), pytest.raises(BookingError) as raised:
        services.reschedule_appointment(
            appointment=appointment,
            start=datetime.combine(SATURDAY + timedelta(days=2), time(11), SANTIAGO),
            actor=appointment.patient.user,
            now=NOW,
        )

    assert raised.value.code == "modality_not_offered"
    assert raised.value.message == f"“{service.name}” is only offered in person."
    appointment.refresh_from_db()
    assert appointment.start == saturday_11
    assert appointment.reschedule_count == 0


# --- The API ----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_lists_no_online_times_of_an_in_person_service_and_refuses_booking_one_with_a_400():
    service, location, professional = make_world(Modality.IN_PERSON, "both-rules")
    patient = PatientFactory()
    client = APIClient()
    client.force_login(patient.user)
    day = SATURDAY.isoformat()

    with time_machine.travel(NOW, tick=False):
        listed = client.get("/api/v1/availability/", {"service": service.slug, "start": day, "end": day})
        booked = client.post(
            "/api/v1/appointments/",
            {
                "service": service.slug,
                "professional": professional.slug,
                "start": datetime.combine(SATURDAY, time(11), SANTIAGO).isoformat(),
                "modality": "online",
            },
            format="json",
            HTTP_ACCEPT_LANGUAGE="en",
        )

    assert [(slot["start"][11:16], slot["location"]) for slot in listed.json()["slots"]] == [("09:00", location.slug)]
    assert booked.status_code == 400, booked.content
    assert booked.json() == {"error": "modality_not_offered", "detail": f"“{service.name}” is only offered in person."}
    assert not Appointment.objects.exists()
