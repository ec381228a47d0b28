"""The patient's portal home (next session with "join", packs, "book again") and the packs page (what is left per
service, expiry, the ledger, the way to book from a pack). Only the patient's own; lists run bounded queries.

The clock is pinned at Sunday 29 November 2026, 10:00 in Santiago.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from booking.packs.models import PackCreditEntry
from tests.factories.accounts import PatientFactory
from tests.factories.packs import package_with, purchase_of
from tests.factories.scheduling import AppointmentFactory, ServiceFactory

pytestmark = pytest.mark.django_db

SANTIAGO = ZoneInfo("America/Santiago")
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=SANTIAGO)


@pytest.fixture(autouse=True)
def pinned_clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def patient():
    return PatientFactory(user__preferred_language="en")


@pytest.fixture
def patient_client(client, patient, home_page):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_login(patient.user)
    return client


def active_pack(patient, service, sessions=4, name="Pack 4 sesiones"):
    purchase = purchase_of(package_with({service: sessions}, name=name), patient=patient, status="active")
    PackCreditEntry.objects.create(
        purchase=purchase, service=service, kind="granted", quantity=sessions, at=purchase.purchased_at
    )
    return purchase


def test_home_shows_the_next_session_and_book_again_with_the_last_professional(patient_client, patient):
    past = AppointmentFactory(patient=patient, start=NOW - timedelta(days=7), status="completed")
    upcoming = AppointmentFactory(patient=patient, start=NOW + timedelta(days=2))
    html = patient_client.get(reverse("portal:home")).content.decode()

    assert 'id="next-session"' in html and upcoming.reference in html
    assert upcoming.professional.display_name in html
    book_again = f"service={past.service.slug}&amp;professional={past.professional.slug}"
    assert book_again in html


def test_home_offers_join_only_when_the_online_session_is_near(patient_client, patient, pinned_clock):
    start = NOW + timedelta(hours=1)
    appointment = AppointmentFactory(patient=patient, start=start, modality="online", location=None)
    video_page = reverse("portal:video", args=[appointment.reference])
    assert video_page not in patient_client.get(reverse("portal:home")).content.decode()
    pinned_clock.move_to(start - timedelta(minutes=5))
    html = patient_client.get(reverse("portal:home")).content.decode()
    assert f'href="{video_page}"' in html
    assert appointment.video_room not in html  # the room itself is only on the video page


def test_home_without_sessions_invites_to_book(patient_client):
    html = patient_client.get(reverse("portal:home")).content.decode()
    assert "You have no sessions booked." in html
    assert f'href="{reverse("widget:start")}"' in html


def test_the_packs_page_shows_what_is_left_the_expiry_and_the_history(patient_client, patient):
    service = ServiceFactory(name="Control nutricional")
    purchase = active_pack(patient, service)
    html = patient_client.get(reverse("portal:packs")).content.decode()

    assert "Pack 4 sesiones" in html and purchase.reference in html
    assert "4 sessions left" in html
    assert "valid until" in html
    assert "Granted" in html  # the ledger
    assert reverse("widget:pack_purchase", args=[purchase.reference]) in html
    assert "Book a session from this pack" in html


def test_another_patients_packs_are_not_listed(client, patient, home_page):
    active_pack(patient, ServiceFactory())
    client.force_login(PatientFactory().user)
    html = client.get(reverse("portal:packs"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="no-packs"' in html


def test_the_packs_page_runs_the_same_queries_for_1_and_for_5_packs(patient_client, patient):
    service = ServiceFactory()

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert patient_client.get(reverse("portal:packs")).status_code == 200
        return len(captured)

    active_pack(patient, service)
    patient_client.get(reverse("portal:packs"))
    with_1 = queries()
    for number in range(4):
        active_pack(patient, service, name=f"Pack {number}")
    assert queries() == with_1


def test_the_home_runs_the_same_queries_for_1_and_for_5_packs(patient_client, patient):
    service = ServiceFactory()

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert patient_client.get(reverse("portal:home")).status_code == 200
        return len(captured)

    active_pack(patient, service)
    patient_client.get(reverse("portal:home"))
    with_1 = queries()
    for number in range(4):
        active_pack(patient, service, name=f"Pack {number}")
    assert queries() == with_1
