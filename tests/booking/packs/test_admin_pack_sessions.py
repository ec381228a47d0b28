"""Pack sessions in the admin, through the Django test client: "part of pack X, session N of M" on the appointment's
page (in a bounded number of queries), and "book a session from this pack" from the purchase's page."""

import datetime
from datetime import time
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from booking.billing import services as billing
from booking.billing.models import Invoice
from booking.packs.models import CreditKind, PackCreditEntry, PurchaseStatus
from booking.packs.services import reserve_session
from booking.scheduling import services as scheduling
from booking.scheduling.models import Appointment
from portal.accounts.roles import EDITORS, ensure_role_groups
from tests.factories.accounts import PatientFactory, VerifiedUserFactory, activate_totp
from tests.factories.packs import active_purchase, package_with
from tests.factories.scheduling import LocationFactory, ProfessionalFactory, ServiceFactory, WeeklyAvailabilityFactory

from .conftest import NOW

pytestmark = pytest.mark.django_db

SANTIAGO = ZoneInfo("America/Santiago")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def detail_url(appointment) -> str:
    return reverse("clinic_appointments:detail", args=[appointment.reference])


# --- "Part of pack X, session N of M" ------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["per_service", "shared_pool"])
def test_the_appointment_page_says_which_session_of_which_pack_it_is(
    clinic, per_service_pack, pool_pack, make_session, buy, mode
):
    purchase = buy(per_service_pack if mode == "per_service" else pool_pack)
    sessions = [make_session(clinic.psychology) for _ in range(3)]
    for session in reversed(sessions):  # booked in any order: the number follows the start
        reserve_session(purchase=purchase, service=clinic.psychology, appointment=session, actor=clinic.receptionist)
    billing.cancel_booking(appointment=sessions[0], actor=clinic.receptionist, now=NOW)  # in time: returned
    client = client_for(clinic.receptionist)

    responses = [client.get(detail_url(session)) for session in sessions]

    shown = [response.context["pack_session"] for response in responses]
    assert [(item.purchase, item.number, item.total, item.returned) for item in shown] == [
        (purchase, None, 5, True),  # cancelled in time: its session went back and it no longer counts
        (purchase, 1, 5, False),
        (purchase, 2, 5, False),
    ]
    purchase_url = reverse("packs_purchases:detail", args=[purchase.reference])
    for response in responses:
        page = response.content.decode()
        assert f'<dd id="appointment-pack"><a href="{purchase_url}">' in page
        assert f"{purchase.snapshot_name} ({purchase.reference})" in page
    assert "1 de 5" in responses[1].content.decode() or "1 of 5" in responses[1].content.decode()


def test_a_session_not_from_a_pack_says_nothing_about_packs(clinic, make_session):
    page = client_for(clinic.receptionist).get(detail_url(make_session())).content.decode()

    assert 'id="appointment-pack"' not in page


def test_the_appointment_page_reads_a_pack_in_the_same_queries_whatever_its_size(clinic, make_session, buy):
    def queries_for(sessions_in_pack: int) -> int:
        purchase = buy(package_with({clinic.psychology: sessions_in_pack}), patient=PatientFactory())
        sessions = [make_session(clinic.psychology, patient=purchase.patient) for _ in range(sessions_in_pack)]
        for session in sessions:
            reserve_session(
                purchase=purchase, service=clinic.psychology, appointment=session, actor=clinic.receptionist
            )
        client = client_for(clinic.receptionist)
        client.get(detail_url(sessions[-1]))  # warm the session and permission caches
        with CaptureQueriesContext(connection) as captured:
            response = client.get(detail_url(sessions[-1]))
        shown = response.context["pack_session"]
        assert (shown.number, shown.total) == (sessions_in_pack, sessions_in_pack)
        return len(captured.captured_queries)

    assert queries_for(3) == queries_for(30)


# --- "Book a session from this pack" -------------------------------------------------------------------------

BOOK_NOW = datetime.datetime(2026, 11, 29, 10, 0, tzinfo=SANTIAGO)


@pytest.fixture
def world(receptionist, time_machine):
    time_machine.move_to(BOOK_NOW, tick=False)
    therapy = ServiceFactory(name="Terapia", duration_minutes=50, min_notice_minutes=60, booking_horizon_days=60)
    other = ServiceFactory(name="Evaluación", duration_minutes=50, min_notice_minutes=60, booking_horizon_days=60)
    location = LocationFactory()
    professional = ProfessionalFactory(services=[therapy, other], locations=[location])
    outsider = ProfessionalFactory(services=[other], locations=[location])
    for weekday in range(5):
        WeeklyAvailabilityFactory(
            professional=professional, location=location, weekday=weekday, start_time=time(9), end_time=time(13)
        )
    patient = PatientFactory()
    purchase = active_purchase(package_with({therapy: 2}, name="Terapia x2"), patient=patient, purchased_at=BOOK_NOW)
    return {
        "therapy": therapy,
        "other": other,
        "location": location,
        "professional": professional,
        "outsider": outsider,
        "purchase": purchase,
        "client": client_for(receptionist),
    }


def book_url(purchase) -> str:
    return reverse("packs_purchases:book", args=[purchase.reference])


def form(world, **overrides):
    data = {
        "service": world["therapy"].pk,
        "professional": world["professional"].pk,
        "location": world["location"].pk,
        "date": "2026-12-01",
        "time": "09:00",
        "note": "",
        "staff_override_reason": "",
    }
    data.update(overrides)
    return data


def written() -> tuple[int, int, int]:
    return (
        Appointment.objects.count(),
        PackCreditEntry.objects.exclude(kind=CreditKind.GRANTED).count(),
        Invoice.objects.count(),
    )


def test_the_purchase_page_links_to_booking_and_the_form_offers_only_what_the_pack_covers(world):
    purchase, client = world["purchase"], world["client"]

    detail = client.get(reverse("packs_purchases:detail", args=[purchase.reference])).content.decode()
    response = client.get(book_url(purchase))

    assert f'href="{book_url(purchase)}"' in detail
    assert response.status_code == 200
    form = response.context["form"]
    assert list(form.fields["service"].queryset) == [world["therapy"]]
    assert list(form.fields["professional"].queryset) == [world["professional"]]
    assert "patient" not in form.fields


def test_staff_book_a_session_from_the_pack(world):
    purchase = world["purchase"]

    response = world["client"].post(book_url(purchase), form(world))

    assert response.status_code == 302
    assert response["Location"] == reverse("packs_purchases:detail", args=[purchase.reference])
    appointment = Appointment.objects.get()
    assert (appointment.patient, appointment.pack_purchase, appointment.service) == (
        purchase.patient,
        purchase,
        world["therapy"],
    )
    assert appointment.start == datetime.datetime(2026, 12, 1, 9, 0, tzinfo=SANTIAGO)
    assert list(PackCreditEntry.objects.filter(appointment=appointment).values_list("kind", flat=True)) == [
        CreditKind.RESERVED
    ]
    assert not Invoice.objects.exists()
    shown = world["client"].get(detail_url(appointment)).context["pack_session"]
    assert (shown.purchase, shown.number, shown.total) == (purchase, 1, 2)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"service": "other"}, "service"),
        ({"professional": "outsider"}, "professional"),
        ({"service": "999999"}, "service"),
        ({"professional": "not-a-number"}, "professional"),
        ({"location": "999999"}, "location"),
        ({"date": "2026-02-30"}, "date"),
        ({"time": "20:00"}, None),  # outside the professional's hours: scheduling refuses
        ({"date": "2026-11-29", "time": "10:30"}, None),  # too soon
    ],
    ids=[
        "service-not-in-pack",
        "professional-without-the-pack-services",
        "unknown-service",
        "tampered-professional",
        "unknown-location",
        "impossible-date",
        "outside-hours",
        "too-soon",
    ],
)
def test_bad_input_is_a_form_error_and_writes_nothing(world, overrides, field):
    overrides = {
        name: world[value].pk if value in ("other", "outsider") else value for name, value in overrides.items()
    }

    response = world["client"].post(book_url(world["purchase"]), form(world, **overrides))

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert (field in errors) if field else errors.get("__all__")
    assert written() == (0, 0, 0)


def test_an_exhausted_pack_books_nothing_more(world, receptionist):
    purchase, client = world["purchase"], world["client"]
    for day in ("2026-12-01", "2026-12-02"):
        assert client.post(book_url(purchase), form(world, date=day)).status_code == 302
    for appointment in Appointment.objects.all():
        scheduling.mark_completed(appointment=appointment, actor=receptionist, now=appointment.end)
    purchase.refresh_from_db()
    assert purchase.status == PurchaseStatus.EXHAUSTED
    before = written()

    page = client.get(book_url(purchase))
    response = client.post(book_url(purchase), form(world, date="2026-12-03"))

    assert page.context["usable"] is False
    assert (
        f'href="{book_url(purchase)}"'
        not in client.get(reverse("packs_purchases:detail", args=[purchase.reference])).content.decode()
    )
    assert response.status_code == 200
    assert response.context["form"].errors["__all__"]
    assert written() == before


def test_an_expired_pack_books_nothing(world):
    old = active_purchase(
        package_with({world["therapy"]: 4}),
        patient=world["purchase"].patient,
        purchased_at=BOOK_NOW - datetime.timedelta(days=100),
    )
    assert old.status == PurchaseStatus.ACTIVE  # the daily task has not run yet: the date alone refuses

    response = world["client"].post(book_url(old), form(world))

    assert response.status_code == 200
    assert response.context["form"].errors["__all__"]
    assert written() == (0, 0, 0)


def test_a_patient_cannot_book_from_anothers_pack_through_the_admin(world):
    intruder = PatientFactory()
    active_purchase(package_with({world["therapy"]: 2}), patient=intruder, purchased_at=BOOK_NOW)
    client = client_for(intruder.user)

    get = client.get(book_url(world["purchase"]))
    post = client.post(book_url(world["purchase"]), form(world))

    assert get.status_code in (302, 403) and post.status_code in (302, 403)
    assert written() == (0, 0, 0)


def test_staff_without_the_booking_permission_are_turned_away(world):
    editor = VerifiedUserFactory(email="editor@clinic.example")
    editor.groups.add(ensure_role_groups()[EDITORS])
    activate_totp(editor)

    response = client_for(editor).post(book_url(world["purchase"]), form(world))

    assert response.status_code in (302, 403)  # Wagtail sends a denied admin user back to the dashboard
    assert response.get("Location") != reverse("packs_purchases:detail", args=[world["purchase"].reference])
    assert written() == (0, 0, 0)


def test_an_unknown_pack_is_404(world):
    response = world["client"].get(reverse("packs_purchases:book", args=["NOSUCHPACK"]))

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("override", "level", "settlement"),
    [("", "warning", CreditKind.FORFEITED), ("El profesional se enfermó", "info", CreditKind.RELEASED)],
    ids=["late-loses", "override-returns"],
)
def test_cancelling_a_pack_session_in_the_admin_says_what_became_of_it(
    clinic, per_service_pack, make_session, buy, time_machine, override, level, settlement
):
    purchase = buy(per_service_pack)
    session = make_session(clinic.psychology)
    reserve_session(purchase=purchase, service=clinic.psychology, appointment=session, actor=clinic.receptionist)
    time_machine.move_to(session.start - datetime.timedelta(hours=1), tick=False)

    response = client_for(clinic.receptionist).post(
        reverse("clinic_appointments:cancel", args=[session.reference]),
        {"cancel-reason": "", "cancel-staff_override_reason": override},
        follow=True,
    )

    shown = [(message.level_tag, str(message)) for message in response.context["messages"]]
    assert any(tag == level and "pack" in text for tag, text in shown), shown
    assert PackCreditEntry.objects.filter(appointment=session).latest("pk").kind == settlement
