"""The packs endpoints of the JSON API (/api/v1/packs/, /api/v1/purchases/...): who sees and uses which purchase,
buying, booking from a pack, auto-scheduling, and bad input answered with a clear error and nothing written.

Time is pinned to Sunday 29 November 2026, 10:00 in Santiago (UTC-3): the professional works at a clinic Monday to
Friday 09:00-13:00 and online on Tuesdays 15:00-18:00.
"""

import json
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from booking.billing.models import Invoice
from booking.packs.models import CreditKind, PackagePurchase, PackCreditEntry, PurchaseStatus
from booking.packs.selectors import balances
from booking.packs.services import book_from_pack
from booking.scheduling.models import Appointment, AppointmentStatus
from tests.booking.scheduling.people import receptionist_user
from tests.factories.accounts import PatientFactory, UserFactory
from tests.factories.packs import active_purchase, package_with, purchase_of
from tests.factories.scheduling import LocationFactory, ProfessionalFactory, ServiceFactory, WeeklyAvailabilityFactory

SANTIAGO = ZoneInfo("America/Santiago")
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=SANTIAGO)
TUESDAY_9 = datetime(2026, 12, 1, 9, 0, tzinfo=SANTIAGO)
BOUGHT = NOW - timedelta(days=3)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def pinned_time():
    with time_machine.travel(NOW, tick=False):
        yield


class World:
    pass


@pytest.fixture
def world(db):
    world = World()
    world.therapy = ServiceFactory(
        slug="therapy", name="Therapy", duration_minutes=50, min_notice_minutes=60, booking_horizon_days=90
    )
    world.nutrition = ServiceFactory(
        slug="nutrition", name="Nutrition", duration_minutes=45, min_notice_minutes=60, booking_horizon_days=90
    )
    world.outside = ServiceFactory(slug="evaluation", duration_minutes=50, min_notice_minutes=60)
    world.location = LocationFactory(slug="providencia")
    world.professional = ProfessionalFactory(
        slug="ana", services=[world.therapy, world.nutrition, world.outside], locations=[world.location]
    )
    for weekday in range(5):
        WeeklyAvailabilityFactory(
            professional=world.professional,
            location=world.location,
            weekday=weekday,
            start_time=time(9),
            end_time=time(13),
        )
    world.package = package_with(
        {world.therapy: 3, world.nutrition: 2}, name="Therapy and nutrition", slug="therapy-nutrition"
    )
    world.patient = PatientFactory()
    world.other = PatientFactory()
    world.purchase = active_purchase(world.package, patient=world.patient, purchased_at=BOUGHT)
    world.receptionist = receptionist_user()
    return world


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_login(user)
    return client


def post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def purchase_url(purchase, action=""):
    return f"/api/v1/purchases/{purchase.reference}/{action}"


def book_body(**overrides):
    body = {"service": "therapy", "professional": "ana", "start": TUESDAY_9, "location": "providencia", **overrides}
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in body.items()}


def ledger_and_appointments() -> tuple[int, int, int]:
    return PackCreditEntry.objects.count(), Appointment.objects.count(), PackagePurchase.objects.count()


# --- public packs -----------------------------------------------------------------------------------------------


def test_anyone_lists_the_packs_on_sale_with_their_items(world, django_assert_max_num_queries):
    package_with({world.therapy: 1}, name="Hidden", slug="hidden", public=False)
    package_with({world.therapy: 1}, name="Old", slug="old", active=False)
    pool = package_with({world.therapy: None, world.nutrition: None}, pool=6, name="Pool", slug="pool")
    pool.allowed_professionals.set([world.professional])
    pool.save()  # a ParentalManyToManyField is written on save

    with django_assert_max_num_queries(4):
        response = client_for().get("/api/v1/packs/")

    assert response.status_code == 200
    packs = {pack["slug"]: pack for pack in response.json()}
    assert set(packs) == {"therapy-nutrition", "pool"}
    assert packs["therapy-nutrition"]["items"] == [
        {"service": "therapy", "service_name": "Therapy", "sessions": 3},
        {"service": "nutrition", "service_name": "Nutrition", "sessions": 2},
    ]
    assert packs["therapy-nutrition"]["price"] == "100000.00"
    assert packs["therapy-nutrition"]["validity_days"] == 90
    assert (packs["pool"]["credit_mode"], packs["pool"]["pool_sessions"]) == ("shared_pool", 6)
    assert packs["pool"]["allowed_professionals"] == ["ana"]


def test_the_packs_list_takes_the_same_queries_for_3_and_30_packs(world, django_assert_max_num_queries):
    for number in range(30):
        package = package_with({world.therapy: 2, world.nutrition: 1}, slug=f"many-{number}")
        package.allowed_professionals.set([world.professional])
        package.save()
    with django_assert_max_num_queries(4):
        response = client_for().get("/api/v1/packs/")
    assert len(response.json()) == 31


# --- my purchases -----------------------------------------------------------------------------------------------


def test_my_purchases_lists_only_mine_with_balances(world):
    active_purchase(world.package, patient=world.other, purchased_at=BOUGHT)
    book_from_pack(
        purchase=world.purchase,
        professional=world.professional,
        service=world.therapy,
        start=TUESDAY_9,
        location=world.location,
        modality="in_person",
        source="portal",
        actor=world.patient.user,
        now=NOW,
    )

    response = client_for(world.patient.user).get("/api/v1/purchases/")

    assert response.status_code == 200
    (mine,) = response.json()
    assert mine["reference"] == world.purchase.reference
    assert mine["status"] == "active"
    assert mine["package"] == "therapy-nutrition"
    assert mine["remaining"] == 4
    assert mine["balances"] == [
        {"service": "therapy", "label": "Therapy", "total": 3, "remaining": 2, "booked": 1, "used": 0},
        {"service": "nutrition", "label": "Nutrition", "total": 2, "remaining": 2, "booked": 0, "used": 0},
    ]
    assert mine["expires_at"] == (BOUGHT + timedelta(days=90)).astimezone(SANTIAGO).isoformat()


def test_my_purchases_needs_a_login(world):
    response = client_for().get("/api/v1/purchases/")
    assert response.status_code in (401, 403)
    assert response.json()["error"] == "not_authenticated"


def test_staff_list_only_their_own_purchases_too(world):
    response = client_for(world.receptionist).get("/api/v1/purchases/")
    assert response.status_code == 200
    assert response.json() == []


def test_my_purchases_take_the_same_queries_for_3_and_30(world):
    client = client_for(world.patient.user)
    for _ in range(2):
        active_purchase(world.package, patient=world.patient, purchased_at=BOUGHT)
    with CaptureQueriesContext(connection) as three:
        assert len(client.get("/api/v1/purchases/").json()) == 3
    for _ in range(27):
        active_purchase(world.package, patient=world.patient, purchased_at=BOUGHT)
    with CaptureQueriesContext(connection) as thirty:
        assert len(client.get("/api/v1/purchases/").json()) == 30
    assert len(thirty) == len(three)


def test_one_purchase_with_its_ledger_sessions_and_invoice(world):
    appointment = book_from_pack(
        purchase=world.purchase,
        professional=world.professional,
        service=world.therapy,
        start=TUESDAY_9,
        location=world.location,
        modality="in_person",
        source="portal",
        actor=world.patient.user,
        now=NOW,
    )
    client = client_for(world.patient.user)
    with CaptureQueriesContext(connection) as one_session:
        client.get(purchase_url(world.purchase))
    for day in (1, 2):
        book_from_pack(
            purchase=world.purchase,
            professional=world.professional,
            service=world.nutrition,
            start=TUESDAY_9 + timedelta(days=day),
            location=world.location,
            modality="in_person",
            source="portal",
            actor=world.patient.user,
            now=NOW,
        )
    with CaptureQueriesContext(connection) as three_sessions:
        response = client.get(purchase_url(world.purchase))
    assert len(three_sessions) == len(one_session)

    assert response.status_code == 200
    body = response.json()
    assert [(row["kind"], row["service"], row["quantity"], row["appointment"]) for row in body["ledger"]] == [
        ("granted", "therapy", 3, None),
        ("granted", "nutrition", 2, None),
        ("reserved", "therapy", 1, appointment.reference),
        ("reserved", "nutrition", 1, body["sessions"][1]["reference"]),
        ("reserved", "nutrition", 1, body["sessions"][2]["reference"]),
    ]
    session = body["sessions"][0]
    assert (session["reference"], session["service"], session["status"]) == (
        appointment.reference,
        "therapy",
        "confirmed",
    )
    assert body["invoice"] is None  # made by a factory, not sold


def test_another_patients_purchase_is_not_found(world):
    response = client_for(world.other.user).get(purchase_url(world.purchase))
    assert response.status_code == 404
    assert response.json() == {
        "error": "not_found",
        "detail": "No hay ninguna compra de pack con esa referencia que puedas ver.",
    }


def test_anonymous_cannot_read_a_purchase(world):
    response = client_for().get(purchase_url(world.purchase))
    assert response.status_code in (401, 403)


def test_staff_who_see_every_appointment_see_any_purchase(world):
    response = client_for(world.receptionist).get(purchase_url(world.purchase).lower())
    assert response.status_code == 200
    assert response.json()["reference"] == world.purchase.reference


# --- buying -----------------------------------------------------------------------------------------------------


def test_buying_online_leaves_the_pack_pending_with_its_invoice_to_pay(world):
    buyer = PatientFactory()
    response = post(client_for(buyer.user), "/api/v1/purchases/", {"package": "therapy-nutrition"})

    assert response.status_code == 201, response.json()
    body = response.json()
    purchase = PackagePurchase.objects.get(reference=body["reference"])
    assert (purchase.patient, purchase.status, purchase.source) == (buyer, PurchaseStatus.PENDING_PAYMENT, "api")
    assert response["Location"] == purchase_url(purchase)
    invoice = purchase.invoice_line.invoice
    assert body["invoice"]["reference"] == invoice.reference
    assert body["invoice"]["balance_due"] == "100000.00"
    assert body["payment_url"] == f"http://testserver/portal/invoices/{invoice.reference}/"
    assert body["remaining"] == 0  # nothing granted until paid


def test_buying_to_pay_at_the_clinic_where_allowed_is_usable_at_once(world):
    world.package.pay_at_clinic_allowed = True
    world.package.save()
    buyer = PatientFactory()

    response = post(
        client_for(buyer.user), "/api/v1/purchases/", {"package": "therapy-nutrition", "pay_at_clinic": True}
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["remaining"], body["payment_url"]) == ("active", 5, None)
    assert body["invoice"]["number"] is not None


def test_paying_at_the_clinic_where_the_pack_does_not_allow_it_is_refused(world):
    buyer = PatientFactory()
    before = (Invoice.objects.count(), PackagePurchase.objects.count())

    response = post(
        client_for(buyer.user), "/api/v1/purchases/", {"package": "therapy-nutrition", "pay_at_clinic": True}
    )

    assert response.status_code == 400
    assert response.json() == {"error": "pay_at_clinic_not_allowed", "detail": "Este pack se debe pagar en línea."}
    assert (Invoice.objects.count(), PackagePurchase.objects.count()) == before


@pytest.mark.parametrize(
    "body",
    [{"package": "no-such-pack"}, {"package": "hidden"}, {}, {"package": "therapy-nutrition", "pay_at_clinic": "x"}],
)
def test_buying_an_unknown_or_hidden_pack_or_a_malformed_body_is_a_400(world, body):
    package_with({world.therapy: 1}, slug="hidden", public=False)
    before = PackagePurchase.objects.count()
    response = post(client_for(PatientFactory().user), "/api/v1/purchases/", body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid"
    assert PackagePurchase.objects.count() == before


def test_buying_needs_a_verified_login(world):
    assert post(client_for(), "/api/v1/purchases/", {"package": "therapy-nutrition"}).status_code in (401, 403)
    unverified = UserFactory()
    response = post(client_for(unverified), "/api/v1/purchases/", {"package": "therapy-nutrition"})
    assert response.status_code == 403
    assert response.json()["error"] == "email_not_verified"
    assert not PackagePurchase.objects.filter(patient__user=unverified).exists()


def test_the_purchase_limit_is_a_409(world):
    world.package.max_purchases_per_patient = 1
    world.package.save()
    response = post(client_for(world.patient.user), "/api/v1/purchases/", {"package": "therapy-nutrition"})
    assert response.status_code == 409
    assert response.json()["error"] == "limit_reached"


# --- booking from a purchase ------------------------------------------------------------------------------------


def test_the_owner_books_a_session_from_the_pack(world):
    response = post(client_for(world.patient.user), purchase_url(world.purchase, "book/"), book_body())

    assert response.status_code == 201, response.json()
    body = response.json()
    appointment = Appointment.objects.get(reference=body["reference"])
    assert appointment.pack_purchase == world.purchase
    assert body["status"] == "confirmed"
    assert set(body) == {
        "reference",
        "status",
        "service",
        "professional",
        "location",
        "modality",
        "start",
        "end",
        "hold_expires_at",
        "price",
        "currency",
        "reschedule_count",
    }
    assert balances(world.purchase).for_service(world.therapy.pk).remaining == 2
    assert not Invoice.objects.filter(lines__appointment=appointment).exists()


def test_staff_who_book_for_patients_book_from_a_patients_pack(world):
    response = post(client_for(world.receptionist), purchase_url(world.purchase, "book/"), book_body())
    assert response.status_code == 201, response.json()
    assert Appointment.objects.get(reference=response.json()["reference"]).patient == world.patient


def test_another_patients_purchase_cannot_be_booked_from(world):
    before = ledger_and_appointments()
    response = post(client_for(world.other.user), purchase_url(world.purchase, "book/"), book_body())
    assert response.status_code == 404
    assert ledger_and_appointments() == before


def test_anonymous_cannot_book_from_a_pack(world):
    before = ledger_and_appointments()
    response = post(client_for(), purchase_url(world.purchase, "book/"), book_body())
    assert response.status_code in (401, 403)
    assert ledger_and_appointments() == before


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"service": "evaluation"}, 400, "service_not_in_pack"),
        ({"service": "nope"}, 400, "invalid"),
        ({"professional": "nobody"}, 400, "invalid"),
        ({"start": "2026-12-01T09:00:00"}, 400, "invalid"),
        ({"start": "2026-11-01T09:00:00-03:00"}, 400, "invalid"),
        ({"start": "2026-12-01T20:00:00-03:00"}, 400, "outside_availability"),
    ],
    ids=["service-not-in-pack", "unknown-service", "unknown-professional", "naive", "past", "closed"],
)
def test_bad_bookings_are_refused_and_write_nothing(world, overrides, status, code):
    before = ledger_and_appointments()
    response = post(client_for(world.patient.user), purchase_url(world.purchase, "book/"), book_body(**overrides))
    assert response.status_code == status, response.json()
    assert response.json()["error"] == code
    assert response.json()["detail"]
    assert ledger_and_appointments() == before


def test_an_expired_pack_is_refused(world):
    expired = active_purchase(world.package, patient=world.patient, purchased_at=NOW - timedelta(days=91))
    before = ledger_and_appointments()
    response = post(client_for(world.patient.user), purchase_url(expired, "book/"), book_body())
    assert response.status_code == 409
    assert response.json()["error"] == "expired"
    assert response.json()["detail"]
    assert ledger_and_appointments() == before


def test_an_exhausted_service_is_refused(world):
    for day in range(3):
        book_from_pack(
            purchase=world.purchase,
            professional=world.professional,
            service=world.therapy,
            start=TUESDAY_9 + timedelta(days=day),
            location=world.location,
            modality="in_person",
            source="portal",
            actor=world.patient.user,
            now=NOW,
        )
    before = ledger_and_appointments()
    response = post(
        client_for(world.patient.user),
        purchase_url(world.purchase, "book/"),
        book_body(start=TUESDAY_9 + timedelta(days=6)),  # Monday 7 December (the 8th is a public holiday)
    )
    assert response.json()["error"] == "no_sessions_left", response.json()
    assert response.status_code == 409
    assert ledger_and_appointments() == before


def test_a_pending_purchase_cannot_be_booked_from(world):
    pending = purchase_of(world.package, patient=world.patient, purchased_at=BOUGHT)
    response = post(client_for(world.patient.user), purchase_url(pending, "book/"), book_body())
    assert response.status_code == 409
    assert response.json()["error"] == "not_active"


@pytest.mark.parametrize("payload", ["{not json", "[]", '"text"'])
def test_malformed_json_is_a_clear_400(world, payload):
    before = ledger_and_appointments()
    response = client_for(world.patient.user).post(
        purchase_url(world.purchase, "book/"), payload, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"] in ("parse_error", "invalid")
    assert response.json()["detail"]
    assert ledger_and_appointments() == before


# --- auto-scheduling --------------------------------------------------------------------------------------------


def preview_body(**overrides):
    return {
        "professionals": ["ana"],
        "locations": ["providencia"],
        "start": "2026-11-30",
        "weekdays": [0, 1, 2, 3, 4],
        "time_from": "09:00",
        "time_to": "13:00",
        "cadence": "weekly",
        **overrides,
    }


def test_the_preview_proposes_every_remaining_session_and_books_nothing(world):
    before = ledger_and_appointments()
    response = post(client_for(world.patient.user), purchase_url(world.purchase, "schedule/preview/"), preview_body())

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["unplaced"] == []
    assert sorted(proposal["service"] for proposal in body["proposals"]) == [
        "nutrition",
        "nutrition",
        "therapy",
        "therapy",
        "therapy",
    ]
    first = body["proposals"][0]
    assert (first["professional"], first["location"], first["modality"]) == ("ana", "providencia", "in_person")
    assert first["start"].endswith("-03:00")
    assert ledger_and_appointments() == before


def test_confirming_the_preview_books_every_session(world):
    client = client_for(world.patient.user)
    proposals = post(client, purchase_url(world.purchase, "schedule/preview/"), preview_body()).json()["proposals"]

    response = post(client, purchase_url(world.purchase, "schedule/confirm/"), {"proposals": proposals})

    assert response.status_code == 201, response.json()
    assert len(response.json()["appointments"]) == 5
    assert Appointment.objects.filter(pack_purchase=world.purchase, status=AppointmentStatus.CONFIRMED).count() == 5
    assert balances(world.purchase).remaining == 0


def test_a_taken_proposal_books_nothing_and_says_which_with_alternatives(world):
    client = client_for(world.patient.user)
    proposals = post(client, purchase_url(world.purchase, "schedule/preview/"), preview_body()).json()["proposals"]
    taken = proposals[1]
    intruder = active_purchase(package_with({world.therapy: 1, world.nutrition: 1}), purchased_at=BOUGHT)
    book_from_pack(
        purchase=intruder,
        professional=world.professional,
        service=world.therapy if taken["service"] == "therapy" else world.nutrition,
        start=datetime.fromisoformat(taken["start"]),
        location=world.location,
        modality="in_person",
        source="portal",
        actor=intruder.patient.user,
        now=NOW,
    )
    before = ledger_and_appointments()

    response = post(client, purchase_url(world.purchase, "schedule/confirm/"), {"proposals": proposals})

    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "schedule_conflict"
    (failure,) = body["failures"]
    assert failure["index"] == 1
    assert failure["proposal"]["start"] == taken["start"]
    assert failure["code"] == "slot_unavailable"
    assert failure["alternatives"]
    assert ledger_and_appointments() == before


@pytest.mark.parametrize(
    ("tamper", "code"),
    [
        (lambda p: [{**p[0], "service": "evaluation"}, *p[1:]], "service_not_in_pack"),
        (lambda p: [*p, dict(p[0])], "schedule_conflict"),
        (lambda p: [{**p[0], "professional": "nobody"}], "invalid"),
        (lambda p: [], "invalid"),
        (lambda p: [{**p[0], "start": "2026-11-01T09:00:00-03:00"}], "invalid"),
    ],
    ids=["service-not-in-pack", "one-too-many", "unknown-professional", "empty", "past"],
)
def test_tampered_proposals_are_refused_and_write_nothing(world, tamper, code):
    client = client_for(world.patient.user)
    proposals = post(client, purchase_url(world.purchase, "schedule/preview/"), preview_body()).json()["proposals"]
    before = ledger_and_appointments()

    response = post(client, purchase_url(world.purchase, "schedule/confirm/"), {"proposals": tamper(proposals)})

    assert 400 <= response.status_code < 500
    assert response.json()["error"] == code, response.json()
    assert response.json()["detail"]
    assert ledger_and_appointments() == before


@pytest.mark.parametrize(
    "overrides",
    [
        {"professionals": []},
        {"weekdays": [7]},
        {"time_from": "13:00", "time_to": "09:00"},
        {"cadence": "daily"},
        {"start": "2026-11-01"},
        {"locations": ["mars"]},
    ],
    ids=["no-professional", "bad-weekday", "inverted-window", "bad-cadence", "past-start", "unknown-location"],
)
def test_a_bad_preview_request_is_a_400(world, overrides):
    response = post(
        client_for(world.patient.user), purchase_url(world.purchase, "schedule/preview/"), preview_body(**overrides)
    )
    assert response.status_code == 400
    assert response.json()["error"] in ("invalid", "invalid_request")
    assert response.json()["detail"]


def test_another_patient_can_neither_preview_nor_confirm(world):
    client = client_for(world.other.user)
    assert post(client, purchase_url(world.purchase, "schedule/preview/"), preview_body()).status_code == 404
    owner = client_for(world.patient.user)
    proposals = post(owner, purchase_url(world.purchase, "schedule/preview/"), preview_body()).json()["proposals"]
    before = ledger_and_appointments()
    response = post(client, purchase_url(world.purchase, "schedule/confirm/"), {"proposals": proposals})
    assert response.status_code == 404
    assert ledger_and_appointments() == before


def test_staff_auto_schedule_a_patients_pack(world):
    client = client_for(world.receptionist)
    proposals = post(client, purchase_url(world.purchase, "schedule/preview/"), preview_body()).json()["proposals"]
    response = post(client, purchase_url(world.purchase, "schedule/confirm/"), {"proposals": proposals})
    assert response.status_code == 201, response.json()
    assert Appointment.objects.filter(pack_purchase=world.purchase, patient=world.patient).count() == 5


def test_online_sessions_are_proposed_without_a_location_and_booked_online(world):
    WeeklyAvailabilityFactory(
        professional=world.professional, location=None, weekday=1, start_time=time(15), end_time=time(18)
    )
    client = client_for(world.patient.user)
    body = preview_body(locations=["online"], weekdays=[1], time_from="15:00", time_to="18:00")
    proposals = post(client, purchase_url(world.purchase, "schedule/preview/"), body).json()["proposals"]
    assert proposals
    assert {(proposal["location"], proposal["modality"]) for proposal in proposals} == {(None, "online")}

    response = post(client, purchase_url(world.purchase, "schedule/confirm/"), {"proposals": proposals})

    assert response.status_code == 201, response.json()
    assert {appointment["modality"] for appointment in response.json()["appointments"]} == {"online"}


def test_anonymous_cannot_preview(world):
    response = post(client_for(), purchase_url(world.purchase, "schedule/preview/"), preview_body())
    assert response.status_code in (401, 403)


# --- schema -----------------------------------------------------------------------------------------------------


def test_the_schema_describes_the_packs_endpoints(world):
    response = client_for().get("/api/v1/schema/?format=json")
    paths = response.json()["paths"]
    assert {
        "/api/v1/packs/",
        "/api/v1/purchases/",
        "/api/v1/purchases/{reference}/",
        "/api/v1/purchases/{reference}/book/",
        "/api/v1/purchases/{reference}/schedule/preview/",
        "/api/v1/purchases/{reference}/schedule/confirm/",
    } <= set(paths)
    assert set(paths["/api/v1/purchases/"]) >= {"get", "post"}
    assert "409" in paths["/api/v1/purchases/{reference}/schedule/confirm/"]["post"]["responses"]


def test_prices_are_money_strings(world):
    body = client_for().get("/api/v1/packs/").json()
    assert Decimal(body[0]["price"]) == world.package.price


def test_a_pool_pack_shows_one_balance_for_the_pool(world):
    pool = active_purchase(
        package_with({world.therapy: None, world.nutrition: None}, pool=4), patient=world.patient, purchased_at=NOW
    )
    body = client_for(world.patient.user).get(purchase_url(pool)).json()
    assert body["credit_mode"] == "shared_pool"
    assert body["balances"] == [
        {"service": None, "label": "Therapy, Nutrition", "total": 4, "remaining": 4, "booked": 0, "used": 0}
    ]
    assert [row["kind"] for row in body["ledger"]] == [CreditKind.GRANTED]
