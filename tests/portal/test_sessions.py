"""The patient's sessions in the portal: lists, one session, cancel with its outcome shown first, and reschedule in
a month view. The rules are the services' (the same as the API's and the email links'); the table below walks the
windows, the limit, pack sessions, paid and unpaid and held sessions.

The clock is pinned at Sunday 29 November 2026, 10:00 in Santiago (UTC-3). The professional works Tuesdays and
Wednesdays 09:00-13:00 at one place; the service lasts 50 minutes, costs 35.000 CLP, has 24-hour cancellation and
reschedule windows and allows two moves.
"""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from booking.billing import services as billing
from booking.billing.models import InvoiceStatus, Refund
from booking.packs.models import PackCreditEntry
from booking.scheduling import services as scheduling
from booking.scheduling.models import Appointment, AppointmentStatus
from booking.widget.forms import format_start
from tests.factories.accounts import PatientFactory
from tests.factories.scheduling import (
    LocationFactory,
    ProfessionalFactory,
    ServiceFactory,
    WeeklyAvailabilityFactory,
)
from tests.on_commit import run_commit_hooks_like_a_commit

pytestmark = pytest.mark.django_db

SANTIAGO = ZoneInfo("America/Santiago")
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=SANTIAGO)
TUESDAY_9 = datetime(2026, 12, 1, 9, 0, tzinfo=SANTIAGO)
WEDNESDAY_11 = datetime(2026, 12, 2, 11, 0, tzinfo=SANTIAGO)
# (Tuesday 8 December is a public holiday in Chile: the place is closed)
NEXT_WEDNESDAY_10 = datetime(2026, 12, 9, 10, 0, tzinfo=SANTIAGO)


@pytest.fixture(autouse=True)
def pinned_clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def _commit_hooks(request, monkeypatch):
    run_commit_hooks_like_a_commit(request, monkeypatch)


@pytest.fixture
def clinic(home_page):
    service = ServiceFactory(
        name="Psicoterapia individual",
        duration_minutes=50,
        buffer_after_minutes=10,
        price=Decimal("35000"),
        currency="CLP",
        payment_mode="later",
        cancellation_window_hours=24,
        reschedule_window_hours=24,
        max_reschedules=2,
    )
    location = LocationFactory(name="Sede Providencia", address="Av. Providencia 1234")
    professional = ProfessionalFactory(display_name="Ana Rojas", services=[service], locations=[location])
    for weekday in (1, 2):
        WeeklyAvailabilityFactory(
            professional=professional, location=location, weekday=weekday, start_time=time(9), end_time=time(13)
        )
    patient = PatientFactory(user__preferred_language="en")
    return {"service": service, "location": location, "professional": professional, "patient": patient}


def book(clinic, start=TUESDAY_9, *, patient=None, paid_by=None) -> Appointment:
    """A confirmed session with its invoice, booked a week ago; ``paid_by``: the staff who took cash for it."""
    patient = patient or clinic["patient"]
    booked_at = timezone.now() - timedelta(days=7)
    appointment = scheduling.book_appointment(
        patient=patient,
        professional=clinic["professional"],
        service=clinic["service"],
        start=start,
        location=clinic["location"],
        modality="in_person",
        source="portal",
        actor=patient.user,
        now=booked_at,
    )
    invoice = billing.create_invoice_for_appointment(appointment=appointment, actor=patient.user, now=booked_at)
    if paid_by is not None:
        billing.record_offline_payment(
            invoice=invoice, method="cash", amount=invoice.total, actor=paid_by, now=booked_at
        )
    return appointment


@pytest.fixture
def staff(django_user_model):
    """Who records a payment at the desk."""
    return django_user_model.objects.create_superuser(email="desk@example.com", password="x")


@pytest.fixture
def patient_client(client, clinic):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_login(clinic["patient"].user)
    return client


def page(client, name, appointment=None, **query) -> str:
    url = reverse(f"portal:{name}", args=[appointment.reference] if appointment else [])
    response = client.get(url, query)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


def flash(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- lists and detail ----------------------------------------------------------------------------------------


def test_the_list_shows_upcoming_and_past_sessions_with_their_facts(patient_client, clinic):
    upcoming = book(clinic)
    with time_machine.travel(NOW - timedelta(days=14), tick=False):
        old = book(clinic, start=datetime(2026, 11, 18, 9, 0, tzinfo=SANTIAGO))
    html = page(patient_client, "sessions")

    assert upcoming.reference in html and old.reference in html
    assert html.index(upcoming.reference) < html.index("past-sessions") < html.index(old.reference)
    assert "Tuesday 1 December 2026, 09:00" in html
    assert "Ana Rojas" in html and "Sede Providencia" in html and "America/Santiago" in html


def test_the_list_runs_the_same_queries_for_3_and_for_12_sessions(patient_client, clinic):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            page(patient_client, "sessions")
        return len(captured)

    starts = [WEDNESDAY_11 + timedelta(days=7 * week, hours=hour) for week in range(4) for hour in (-2, -1, 0)]
    for start in starts[:3]:
        book(clinic, start=start)
    page(patient_client, "sessions")  # warm the session and site caches
    with_3 = queries()
    for start in starts[3:]:
        book(clinic, start=start)
    assert queries() == with_3


def test_another_patients_session_is_a_404_on_every_page(client, clinic):
    appointment = book(clinic)
    client.force_login(PatientFactory().user)
    for name in ("session_detail", "session_cancel", "session_reschedule"):
        url = reverse(f"portal:{name}", args=[appointment.reference])
        assert client.get(url).status_code == 404
        if name != "session_detail":  # the detail takes no POST at all (405)
            assert client.post(url, {"start": format_start(NEXT_WEDNESDAY_10)}).status_code == 404
    assert Appointment.objects.get(pk=appointment.pk).status == AppointmentStatus.CONFIRMED
    assert appointment.reference not in page(client, "sessions")


def test_join_shows_from_ten_minutes_before_an_online_session_until_its_end(patient_client, clinic, pinned_clock):
    appointment = book(clinic)
    Appointment.objects.filter(pk=appointment.pk).update(modality="online", location=None, video_room="r" * 32)
    video_page = f'href="{reverse("portal:video", args=[appointment.reference])}"'
    join = f'{video_page} id="session-video"'
    later = f'{video_page} id="session-video-later"'
    pinned_clock.move_to(TUESDAY_9 - timedelta(minutes=11))
    html = page(patient_client, "session_detail", appointment)
    assert join not in html and later in html  # the page says when the call opens
    assert video_page not in page(patient_client, "sessions")
    pinned_clock.move_to(TUESDAY_9 - timedelta(minutes=10))
    html = page(patient_client, "session_detail", appointment)
    assert join in html and later not in html
    pinned_clock.move_to(TUESDAY_9 + timedelta(minutes=49))
    assert video_page in page(patient_client, "sessions")
    assert "r" * 32 not in page(patient_client, "sessions")  # the room itself is only on the video page
    pinned_clock.move_to(TUESDAY_9 + timedelta(minutes=50))
    assert video_page not in page(patient_client, "session_detail", appointment)


# --- cancel: the outcome shown is the outcome applied ------------------------------------------------------


@pytest.mark.parametrize(
    ("paid", "hours_before", "shown", "refunded", "invoice_status"),
    [
        (True, 48, "We refund the $35,000 you paid", Decimal("35000"), InvoiceStatus.REFUNDED),
        (False, 48, "Nothing is charged", Decimal("0"), InvoiceStatus.VOID),
        (True, 5, "the $35,000 you paid is not refunded", Decimal("0"), InvoiceStatus.PAID),
        (False, 5, "$35,000 remains to be paid", Decimal("0"), InvoiceStatus.OPEN),
    ],
    ids=["paid-in-window", "unpaid-in-window", "paid-late", "unpaid-late"],
)
def test_cancelling_does_what_the_page_said(
    patient_client, clinic, staff, pinned_clock, paid, hours_before, shown, refunded, invoice_status
):
    appointment = book(clinic, paid_by=staff if paid else None)
    pinned_clock.move_to(TUESDAY_9 - timedelta(hours=hours_before))

    html = page(patient_client, "session_cancel", appointment)
    assert shown in html.replace("&#x27;", "'")
    assert ("late cancellation" in html) == (hours_before < 24)
    assert Appointment.objects.get(pk=appointment.pk).status == AppointmentStatus.CONFIRMED  # a GET changes nothing

    response = patient_client.post(reverse("portal:session_cancel", args=[appointment.reference]))
    assert response.status_code == 302
    assert "Your session has been cancelled." in flash(response)
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    assert sum((refund.amount for refund in Refund.objects.all()), Decimal("0")) == refunded
    invoice = appointment.invoice_lines.get().invoice
    assert invoice.status == invoice_status


def test_a_held_session_is_released_for_nothing(patient_client, clinic):
    patient = clinic["patient"]
    clinic["service"].payment_mode = "online"
    clinic["service"].save()
    held = scheduling.hold_slot(
        patient=patient,
        professional=clinic["professional"],
        service=clinic["service"],
        start=TUESDAY_9,
        location=clinic["location"],
        modality="in_person",
        source="portal",
        actor=patient.user,
    )
    invoice = billing.create_invoice_for_appointment(appointment=held, actor=patient.user)

    assert "releasing it costs nothing" in page(patient_client, "session_cancel", held)
    response = patient_client.post(reverse("portal:session_cancel", args=[held.reference]))

    assert "The time you were holding has been released. Nothing was charged." in flash(response)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.VOID
    assert Appointment.objects.get(pk=held.pk).status == AppointmentStatus.CANCELLED


def test_a_session_that_started_cannot_be_cancelled_and_the_page_says_whom_to_call(
    patient_client, clinic, pinned_clock
):
    appointment = book(clinic)
    pinned_clock.move_to(TUESDAY_9 + timedelta(minutes=5))
    assert 'id="cancel-closed"' in page(patient_client, "session_cancel", appointment)
    response = patient_client.post(reverse("portal:session_cancel", args=[appointment.reference]))
    assert response.status_code == 302
    assert Appointment.objects.get(pk=appointment.pk).status == AppointmentStatus.CONFIRMED


# --- reschedule ---------------------------------------------------------------------------------------------


def test_the_month_view_offers_the_professionals_free_times_and_moving_takes_one(patient_client, clinic):
    appointment = book(clinic)
    html = page(patient_client, "session_reschedule", appointment, month="2026-12", day="2026-12-09")
    assert "December 2026" in html
    assert f'value="{format_start(NEXT_WEDNESDAY_10)}"' in html

    response = patient_client.post(
        reverse("portal:session_reschedule", args=[appointment.reference]), {"start": format_start(NEXT_WEDNESDAY_10)}
    )

    assert response["Location"] == reverse("portal:session_detail", args=[appointment.reference])
    assert "Your session has been moved to Wednesday 9 December 2026 at 10:00." in flash(response)
    appointment.refresh_from_db()
    assert (appointment.start, appointment.reschedule_count) == (NEXT_WEDNESDAY_10.astimezone(UTC), 1)


def test_a_time_someone_else_took_is_refused_with_a_message(patient_client, clinic):
    appointment = book(clinic)
    book(clinic, start=WEDNESDAY_11, patient=PatientFactory())
    response = patient_client.post(
        reverse("portal:session_reschedule", args=[appointment.reference]), {"start": format_start(WEDNESDAY_11)}
    )
    assert response.status_code == 302
    assert flash(response) and "moved" not in flash(response)[0]
    assert Appointment.objects.get(pk=appointment.pk).start == TUESDAY_9.astimezone(UTC)


@pytest.mark.parametrize("start", ["tomorrow", "2026-13-01T10:00Z", "9999-12-31T23:00Z", ""])
def test_a_malformed_time_gets_a_message_not_a_500(patient_client, clinic, start):
    appointment = book(clinic)
    response = patient_client.post(
        reverse("portal:session_reschedule", args=[appointment.reference]), {"start": start}
    )
    assert response.status_code == 302 and flash(response)
    assert Appointment.objects.get(pk=appointment.pk).reschedule_count == 0


@pytest.mark.parametrize(
    ("month", "day"), [("2026-99", ""), ("abc", "2026-02-30"), ("0001-01", "0001-01-01"), ("9999-12", "")]
)
def test_a_malformed_month_in_the_address_shows_the_current_month(patient_client, clinic, month, day):
    appointment = book(clinic)
    assert "December 2026" in page(patient_client, "session_reschedule", appointment, month=month, day=day)


def test_inside_the_window_the_page_says_why_and_how_to_reach_the_clinic(patient_client, clinic, pinned_clock):
    appointment = book(clinic)
    pinned_clock.move_to(TUESDAY_9 - timedelta(hours=23))
    html = page(patient_client, "session_reschedule", appointment)
    assert "too close to the session" in html and "24 hours" in html
    assert 'id="new-times"' not in html
    response = patient_client.post(
        reverse("portal:session_reschedule", args=[appointment.reference]), {"start": format_start(NEXT_WEDNESDAY_10)}
    )
    assert flash(response)
    assert Appointment.objects.get(pk=appointment.pk).reschedule_count == 0


def test_after_the_last_move_allowed_the_page_says_so(patient_client, clinic):
    appointment = book(clinic)
    Appointment.objects.filter(pk=appointment.pk).update(reschedule_count=2)
    html = page(patient_client, "session_detail", appointment)
    assert "as many times as the clinic allows" in html
    assert reverse("portal:session_reschedule", args=[appointment.reference]) not in html


# --- pack sessions ------------------------------------------------------------------------------------------


@pytest.fixture
def pack_session(clinic):
    """A session booked from a pack of 4, through the packs' own service."""
    from booking.packs import services as packs
    from tests.factories.packs import package_with, purchase_of

    patient = clinic["patient"]
    purchase = purchase_of(package_with({clinic["service"]: 4}), patient=patient, status="active")
    PackCreditEntry.objects.create(
        purchase=purchase, service=clinic["service"], kind="granted", quantity=4, at=purchase.purchased_at
    )
    return packs.book_from_pack(
        purchase=purchase,
        professional=clinic["professional"],
        service=clinic["service"],
        start=TUESDAY_9,
        location=clinic["location"],
        modality="in_person",
        source="portal",
        actor=patient.user,
        now=NOW - timedelta(days=1),
    )


@pytest.mark.parametrize(
    ("hours_before", "shown", "kind"),
    [(48, "The session goes back to your pack.", "released"), (5, "used up from your pack", "forfeited")],
    ids=["in-window-returned", "late-lost"],
)
def test_cancelling_a_pack_session_says_and_does_what_happens_to_the_session(
    patient_client, pack_session, pinned_clock, hours_before, shown, kind
):
    pinned_clock.move_to(TUESDAY_9 - timedelta(hours=hours_before))
    html = page(patient_client, "session_cancel", pack_session)
    assert shown in html.replace("&#x27;", "'")

    patient_client.post(reverse("portal:session_cancel", args=[pack_session.reference]))

    assert Appointment.objects.get(pk=pack_session.pk).status == AppointmentStatus.CANCELLED
    assert PackCreditEntry.objects.filter(appointment=pack_session, kind=kind).exists()
    assert not Refund.objects.exists()
