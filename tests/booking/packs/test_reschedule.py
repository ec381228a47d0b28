"""Rescheduling a session booked from a pack: it keeps its reserved credit (no ledger row), and the pack refuses a
new time at or after its expiry, or a professional it does not allow, with a clear message; nothing changes then."""

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from booking.packs.models import CreditKind, PackCreditEntry
from booking.packs.services import book_from_pack
from booking.scheduling import services as scheduling
from booking.scheduling.errors import BookingError
from tests.factories.accounts import PatientFactory
from tests.factories.packs import active_purchase, package_with
from tests.factories.scheduling import LocationFactory, ProfessionalFactory, ServiceFactory, WeeklyAvailabilityFactory

SANTIAGO = ZoneInfo("America/Santiago")
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=SANTIAGO)  # a Sunday; the pack, bought now, is valid 5 days
TUESDAY_9 = datetime(2026, 12, 1, 9, 0, tzinfo=SANTIAGO)
FRIDAY_9 = datetime(2026, 12, 4, 9, 0, tzinfo=SANTIAGO)  # before the expiry (Friday 10:00)
FRIDAY_10 = datetime(2026, 12, 4, 10, 0, tzinfo=SANTIAGO)  # the expiry itself
MONDAY_9 = datetime(2026, 12, 7, 9, 0, tzinfo=SANTIAGO)

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(receptionist):
    therapy = ServiceFactory(duration_minutes=50, min_notice_minutes=60, booking_horizon_days=60)
    location = LocationFactory()
    professional = ProfessionalFactory(services=[therapy], locations=[location])
    for weekday in range(5):
        WeeklyAvailabilityFactory(
            professional=professional, location=location, weekday=weekday, start_time=time(9), end_time=time(13)
        )
    purchase = active_purchase(package_with({therapy: 4}, validity_days=5), patient=PatientFactory(), purchased_at=NOW)
    return book_from_pack(
        purchase=purchase,
        professional=professional,
        service=therapy,
        start=TUESDAY_9,
        location=location,
        modality="in_person",
        source="admin",
        actor=receptionist,
        now=NOW,
    )


def ledger(appointment) -> list[str]:
    return list(PackCreditEntry.objects.filter(purchase=appointment.pack_purchase).values_list("kind", flat=True))


def test_a_pack_session_moves_within_the_pack_and_keeps_its_credit(session, receptionist):
    moved = scheduling.reschedule_appointment(appointment=session, start=FRIDAY_9, actor=receptionist, now=NOW)

    assert moved.start == FRIDAY_9
    assert moved.pack_purchase_id == session.pack_purchase_id
    assert ledger(session) == [CreditKind.GRANTED, CreditKind.RESERVED]


@pytest.mark.parametrize("start", [FRIDAY_10, MONDAY_9], ids=["at-the-expiry", "after-the-expiry"])
def test_a_pack_session_cannot_move_past_its_packs_expiry(session, receptionist, start):
    with pytest.raises(BookingError) as caught:
        scheduling.reschedule_appointment(appointment=session, start=start, actor=receptionist, now=NOW)

    assert caught.value.code == "pack_rules"
    assert "4 de diciembre de 2026" in str(caught.value.message)  # the pack's last day, in es-CL
    session.refresh_from_db()
    assert (session.start, session.reschedule_count) == (TUESDAY_9, 0)
    assert ledger(session) == [CreditKind.GRANTED, CreditKind.RESERVED]


def test_even_a_staff_override_cannot_move_it_past_the_expiry(session, receptionist):
    with pytest.raises(BookingError) as caught:
        scheduling.reschedule_appointment(
            appointment=session, start=MONDAY_9, actor=receptionist, now=NOW, staff_override_reason="Pedido"
        )

    assert caught.value.code == "pack_rules"


def test_a_pack_session_cannot_stay_with_a_professional_the_pack_does_not_allow(session, receptionist):
    """The pack's sold rules (its snapshot) allow only another professional: the session cannot be moved as is."""
    purchase = session.pack_purchase
    purchase.snapshot["allowed_professional_ids"] = [ProfessionalFactory().pk]
    purchase.save(update_fields=["snapshot"])

    with pytest.raises(BookingError) as caught:
        scheduling.reschedule_appointment(appointment=session, start=FRIDAY_9, actor=receptionist, now=NOW)

    assert caught.value.code == "pack_rules"
    assert session.professional.display_name in str(caught.value.message)
    session.refresh_from_db()
    assert session.start == TUESDAY_9


def test_the_admin_shows_the_refusal_as_a_message(session, receptionist, client, time_machine):
    time_machine.move_to(NOW, tick=False)
    client.force_login(receptionist)

    response = client.post(
        f"/admin/clinic/appointments/{session.reference}/reschedule/",
        {"reschedule-date": "2026-12-07", "reschedule-time": "09:00"},
        follow=True,
    )

    assert response.status_code == 200
    assert any("4 de diciembre de 2026" in str(message) for message in response.context["messages"])
    session.refresh_from_db()
    assert session.start == TUESDAY_9
