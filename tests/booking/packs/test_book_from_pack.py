"""``book_from_pack``: the session and its pack credit in one transaction, without an invoice of its own."""

from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from booking.billing.models import Invoice
from booking.packs.errors import PackError
from booking.packs.models import CreditKind, PackCreditEntry
from booking.packs.selectors import balances
from booking.packs.services import book_from_pack
from booking.scheduling.errors import BookingError
from booking.scheduling.models import Appointment, AppointmentStatus
from tests.factories.accounts import PatientFactory
from tests.factories.packs import active_purchase, package_with
from tests.factories.scheduling import LocationFactory, ProfessionalFactory, ServiceFactory, WeeklyAvailabilityFactory

SANTIAGO = ZoneInfo("America/Santiago")
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=SANTIAGO)
TUESDAY_9 = datetime(2026, 12, 1, 9, 0, tzinfo=SANTIAGO)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(receptionist):
    therapy = ServiceFactory(
        duration_minutes=50, min_notice_minutes=60, booking_horizon_days=60, price=Decimal("35000")
    )
    other = ServiceFactory(duration_minutes=50, min_notice_minutes=60, booking_horizon_days=60)
    location = LocationFactory()
    professional = ProfessionalFactory(services=[therapy, other], locations=[location])
    for weekday in range(5):
        WeeklyAvailabilityFactory(
            professional=professional, location=location, weekday=weekday, start_time=time(9), end_time=time(13)
        )
    patient = PatientFactory()
    purchase = active_purchase(package_with({therapy: 2}), patient=patient, purchased_at=NOW)
    return therapy, other, location, professional, patient, purchase


def book(world, actor, *, service=None, start=TUESDAY_9, purchase=None):
    therapy, _other, location, professional, _patient, own_purchase = world
    return book_from_pack(
        purchase=purchase or own_purchase,
        professional=professional,
        service=service or therapy,
        start=start,
        location=location,
        modality="in_person",
        source="admin",
        actor=actor,
        now=NOW,
    )


def test_the_session_is_confirmed_linked_and_its_credit_reserved_without_an_invoice(world, receptionist):
    therapy, *_rest, purchase = world

    appointment = book(world, receptionist)

    assert appointment.status == AppointmentStatus.CONFIRMED
    assert appointment.pack_purchase == purchase
    assert list(PackCreditEntry.objects.filter(appointment=appointment).values_list("kind", flat=True)) == [
        CreditKind.RESERVED
    ]
    assert balances(purchase).for_service(therapy.pk).remaining == 1
    assert not Invoice.objects.exists()


def test_the_patient_books_from_their_own_pack(world):
    patient = world[4]

    appointment = book(world, patient.user)

    assert appointment.patient == patient


def test_a_pack_refusal_books_nothing(world, receptionist):
    other_service = world[1]

    with pytest.raises(PackError) as caught:
        book(world, receptionist, service=other_service)

    assert caught.value.code == "service_not_in_pack"
    assert not Appointment.objects.exists()
    assert not PackCreditEntry.objects.exclude(kind=CreditKind.GRANTED).exists()


def test_another_patient_cannot_use_the_pack(world):
    stranger = PatientFactory()

    with pytest.raises(PackError) as caught:
        book(world, stranger.user)

    assert caught.value.code == "not_allowed"
    assert not Appointment.objects.exists()


def test_a_scheduling_refusal_spends_no_credit(world, receptionist):
    with pytest.raises(BookingError):
        book(world, receptionist, start=datetime(2026, 12, 1, 20, 0, tzinfo=SANTIAGO))  # outside the hours

    assert not PackCreditEntry.objects.exclude(kind=CreditKind.GRANTED).exists()


def test_the_last_session_cannot_be_booked_twice(world, receptionist):
    book(world, receptionist)
    book(world, receptionist, start=datetime(2026, 12, 2, 9, 0, tzinfo=SANTIAGO))

    with pytest.raises(PackError) as caught:
        book(world, receptionist, start=datetime(2026, 12, 3, 9, 0, tzinfo=SANTIAGO))

    assert caught.value.code == "no_sessions_left"
    assert Appointment.objects.count() == 2
