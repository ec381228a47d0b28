"""The admin's read-only lists of discharges and referrals: the front desk and the clinic administrators see who
and when (to book for the patient), never the clinical texts; nobody adds, edits or deletes one."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from portal.accounts.roles import CLINIC_ADMINISTRATORS, EDITORS, RECEPTIONISTS, ensure_role_groups
from portal.records import services
from portal.records.models import Discharge, Referral
from tests.factories.accounts import PatientFactory, VerifiedUserFactory, activate_totp
from tests.factories.scheduling import AppointmentFactory, ProfessionalFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 10, 30, tzinfo=ZoneInfo("America/Santiago"))
SUMMARY = "Alta por cumplimiento de objetivos terapéuticos."
NOTE = "Sugiero evaluación nutricional por baja de peso."


@pytest.fixture(autouse=True)
def pinned_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def staff_in(group_name):
    user = VerifiedUserFactory(is_staff=True)
    user.groups.add(ensure_role_groups()[group_name])
    activate_totp(user)
    return user


@pytest.fixture
def care(home_page):
    psychologist = ProfessionalFactory(user=VerifiedUserFactory())
    nutritionist = ProfessionalFactory(user=VerifiedUserFactory())
    patient = PatientFactory(user__first_name="Ignacia", user__last_name="Morales")
    AppointmentFactory(professional=psychologist, patient=patient, start=NOW - timedelta(days=30), status="completed")
    services.discharge_patient(
        professional=psychologist, patient=patient, date=date(2026, 11, 30), summary=SUMMARY, actor=psychologist.user
    )
    services.refer_patient(
        from_professional=psychologist,
        patient=patient,
        to_professional=nutritionist,
        note=NOTE,
        actor=psychologist.user,
    )
    return patient


@pytest.mark.parametrize("group", [RECEPTIONISTS, CLINIC_ADMINISTRATORS])
def test_the_front_desk_and_the_administrators_see_who_and_when_never_the_texts(client, care, group):
    client.force_login(staff_in(group))

    for name in ("discharges:index", "referrals:index"):
        response = client.get(reverse(name))
        html = response.content.decode()
        assert response.status_code == 200
        assert "Ignacia Morales" in html
        assert SUMMARY not in html and NOTE not in html
    assert client.get(reverse("discharges:index"), {"q": "Morales"}).status_code == 200


def test_nobody_changes_a_discharge_or_a_referral_in_the_admin(client, care):
    client.force_login(staff_in(CLINIC_ADMINISTRATORS))
    discharge, referral = Discharge.objects.get(), Referral.objects.get()

    assert client.get(reverse("discharges:edit", args=[discharge.pk])).status_code in (302, 403)
    assert client.post(reverse("discharges:delete", args=[discharge.pk])).status_code in (302, 403)
    assert client.post(reverse("referrals:delete", args=[referral.pk])).status_code in (302, 403)
    assert Discharge.objects.filter(pk=discharge.pk).exists() and Referral.objects.filter(pk=referral.pk).exists()


def test_an_editor_does_not_see_them(client, care):
    client.force_login(staff_in(EDITORS))
    response = client.get(reverse("discharges:index"))
    assert response.status_code == 302
    assert "Ignacia" not in response.content.decode()
