"""Scheduling the rest of a pack from the box: preferences, the proposed sessions, one confirm for all of them.

Ana works at Providencia Monday to Friday 09:00-13:00 (conftest.py); the clock is Sunday 29 November 2026, 10:00
in Santiago. A pack of three therapy sessions, weekly from Monday 30 November, lands on three Mondays at 09:00.
"""

from datetime import datetime
from urllib.parse import urlencode

import pytest

from booking.packs.selectors import balances
from booking.scheduling.models import Appointment, AppointmentSource
from tests.factories.accounts import PatientFactory
from tests.factories.packs import active_purchase, package_with, purchase_of
from tests.factories.scheduling import AppointmentFactory

from .conftest import SANTIAGO

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture
def purchase(clinic):
    pack = package_with({clinic.service: 3}, name="Therapy × 3")
    return active_purchase(pack, patient=clinic.patient)


def preferences(clinic, **overrides) -> dict:
    return {
        "preview": "1",
        "professionals": [clinic.ana.pk],
        "locations": [str(clinic.location.pk)],
        "start_date": "2026-11-30",
        "weekdays": ["0"],
        "time_from": "09:00",
        "time_to": "13:00",
        "cadence": "weekly",
        "one_per_day": "on",
        **overrides,
    }


def schedule_url(purchase) -> str:
    return f"/booking/my-packs/{purchase.reference}/schedule/"


def preview(client, purchase, clinic, **overrides):
    return client.get(f"{schedule_url(purchase)}?{urlencode(preferences(clinic, **overrides), doseq=True)}", **EN)


def signed_plan(html: str) -> str:
    return html.split('name="plan" value="')[1].split('"')[0]


def test_the_purchase_page_links_to_scheduling_every_session(patient_client, purchase):
    html = patient_client.get(f"/booking/my-packs/{purchase.reference}/", **EN).content.decode()
    assert schedule_url(purchase) in html


def test_the_form_opens_with_the_packs_professionals(patient_client, purchase, clinic):
    html = patient_client.get(schedule_url(purchase), **EN).content.decode()
    assert "Ana Rojas" in html and "Bruno Soto" in html
    assert 'type="date"' in html and 'type="time"' in html


def test_the_preview_proposes_every_session_and_writes_nothing(patient_client, purchase, clinic):
    response = preview(patient_client, purchase, clinic)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("Individual therapy · Ana Rojas · Providencia") == 3
    assert "Monday 30 November 2026, 09:00" in html
    assert "Monday 14 December 2026, 09:00" in html
    assert "Book these 3 sessions" in html
    assert not Appointment.objects.exists()


def test_confirming_books_them_all_from_the_pack(patient_client, purchase, clinic):
    plan = signed_plan(preview(patient_client, purchase, clinic).content.decode())
    response = patient_client.post(schedule_url(purchase), {"plan": plan}, follow=True, **EN)
    booked = list(Appointment.objects.order_by("start"))
    assert [appointment.start.astimezone(SANTIAGO).day for appointment in booked] == [30, 7, 14]
    assert {appointment.pack_purchase_id for appointment in booked} == {purchase.pk}
    assert {appointment.source for appointment in booked} == {AppointmentSource.BOOKING_BOX}
    assert balances(purchase).remaining == 0
    assert "3 sessions are booked." in response.content.decode()


def test_a_time_taken_meanwhile_books_nothing_and_says_which(patient_client, purchase, clinic):
    plan = signed_plan(preview(patient_client, purchase, clinic).content.decode())
    AppointmentFactory(
        professional=clinic.ana,
        service=clinic.service,
        location=clinic.location,
        patient=PatientFactory(),
        start=datetime(2026, 12, 7, 9, tzinfo=SANTIAGO),
    )
    response = patient_client.post(schedule_url(purchase), {"plan": plan}, **EN)
    assert response.status_code == 409
    html = response.content.decode()
    assert "One proposed session can no longer be booked, so nothing was booked." in html
    assert html.count("schedule-failure") == 1
    assert Appointment.objects.filter(pack_purchase=purchase).count() == 0
    assert balances(purchase).remaining == 3


def test_a_tampered_plan_is_refused(patient_client, purchase, clinic):
    plan = signed_plan(preview(patient_client, purchase, clinic).content.decode())
    response = patient_client.post(schedule_url(purchase), {"plan": plan[:-3] + "xyz"}, **EN)
    assert response.status_code == 400
    assert 'id="schedule-error"' in response.content.decode()
    assert not Appointment.objects.exists()


def test_a_plan_for_another_pack_is_refused(patient_client, purchase, clinic):
    plan = signed_plan(preview(patient_client, purchase, clinic).content.decode())
    other = active_purchase(package_with({clinic.service: 3}), patient=clinic.patient)
    response = patient_client.post(schedule_url(other), {"plan": plan}, **EN)
    assert response.status_code == 400
    assert "This schedule belongs to another pack." in response.content.decode()
    assert not Appointment.objects.exists()


def test_bad_preferences_say_why(patient_client, purchase, clinic):
    response = preview(patient_client, purchase, clinic, time_from="13:00", time_to="09:00")
    assert response.status_code == 400
    assert "The time window must end after it starts." in response.content.decode()


def test_a_professional_the_pack_does_not_allow_is_refused(patient_client, clinic):
    pack = package_with({clinic.service: 3})
    pack.allowed_professionals.add(clinic.bruno)
    pack.save()
    purchase = active_purchase(pack, patient=clinic.patient)
    response = preview(patient_client, purchase, clinic)
    assert response.status_code == 400
    assert not Appointment.objects.exists()


def test_another_patients_pack_is_not_found(patient_client, clinic):
    theirs = active_purchase(package_with({clinic.service: 3}), patient=PatientFactory())
    assert patient_client.get(schedule_url(theirs), **EN).status_code == 404
    assert patient_client.post(schedule_url(theirs), {"plan": "x"}, **EN).status_code == 404


def test_an_unpaid_pack_cannot_be_scheduled(patient_client, clinic):
    pending = purchase_of(package_with({clinic.service: 3}), patient=clinic.patient)
    response = patient_client.get(schedule_url(pending), follow=True, **EN)
    assert "This pack has no sessions to schedule now." in response.content.decode()
