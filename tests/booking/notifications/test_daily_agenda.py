"""The professionals' optional morning agenda: planned once a day from 07:00 local for those who asked and have
sessions that day, sent in their language with one line per session, switched by the professional on the portal
home. Clocks are pinned; the day follows Santiago's wall clock, also on the night it skips midnight."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from booking.notifications.dispatch import dispatch_due
from booking.notifications.events import Event
from booking.notifications.models import Notification
from booking.notifications.services import plan_daily_agendas
from booking.scheduling.models import Professional
from tests.factories.accounts import PatientFactory, VerifiedUserFactory, activate_totp
from tests.factories.scheduling import ProfessionalFactory

from .conftest import SANTIAGO, TUESDAY_9, confirmed

pytestmark = pytest.mark.django_db

TUESDAY_7 = datetime(2026, 12, 1, 7, 0, tzinfo=SANTIAGO)


@pytest.fixture
def opted_in(clinic):
    Professional.objects.filter(pk=clinic.professional.pk).update(daily_agenda_email=True)
    clinic.professional.refresh_from_db()
    return clinic


def agendas():
    return list(Notification.objects.filter(event=Event.PRO_DAILY_AGENDA))


def test_nothing_before_seven_then_one_agenda_at_seven_local_however_often_the_planner_runs(opted_in):
    confirmed(opted_in, start=TUESDAY_9)
    confirmed(opted_in, start=TUESDAY_9 + timedelta(hours=2), modality="online")

    assert plan_daily_agendas(now=TUESDAY_7 - timedelta(minutes=1)) == 0
    assert plan_daily_agendas(now=TUESDAY_7) == 1
    plan_daily_agendas(now=TUESDAY_7 + timedelta(hours=1))  # the next hourly run

    [row] = agendas()
    assert (row.email, row.language, row.scheduled_for) == ("ana@clinic.example", "es-cl", TUESDAY_7)
    assert [session["modality"] for session in row.data["sessions"]] == ["in_person", "online"]
    assert row.data["day"] == "2026-12-01"


def test_a_planner_back_late_still_plans_the_morning_agenda_but_not_in_the_afternoon(opted_in):
    confirmed(opted_in, start=TUESDAY_9 + timedelta(hours=7))  # 16:00
    assert plan_daily_agendas(now=TUESDAY_7 + timedelta(hours=5)) == 0  # noon: too late for a morning email
    assert plan_daily_agendas(now=TUESDAY_7 + timedelta(hours=4, minutes=59)) == 1
    [row] = agendas()
    assert row.scheduled_for == TUESDAY_7


def test_only_professionals_who_asked_and_only_their_confirmed_sessions_of_that_day(opted_in):
    confirmed(opted_in, start=TUESDAY_9, status="cancelled")
    confirmed(opted_in, start=TUESDAY_9 + timedelta(days=1))  # tomorrow
    other = ProfessionalFactory(user=VerifiedUserFactory(), daily_agenda_email=False)
    opted_in.professional = other
    confirmed(opted_in, start=TUESDAY_9)

    assert plan_daily_agendas(now=TUESDAY_7) == 0
    assert agendas() == []


def test_on_the_night_santiago_skips_midnight_the_day_starts_at_one(opted_in):
    # Sunday 6 September 2026: clocks jump from 00:00 to 01:00
    sunday_7 = datetime(2026, 9, 6, 7, 0, tzinfo=SANTIAGO)
    confirmed(opted_in, start=datetime(2026, 9, 6, 1, 30, tzinfo=SANTIAGO), at=sunday_7)
    confirmed(opted_in, start=datetime(2026, 9, 5, 23, 30, tzinfo=SANTIAGO), at=sunday_7)  # Saturday night

    plan_daily_agendas(now=sunday_7)

    [row] = agendas()
    assert [datetime.fromisoformat(s["start"]).astimezone(UTC) for s in row.data["sessions"]] == [
        datetime(2026, 9, 6, 4, 30, tzinfo=UTC)
    ]
    assert row.scheduled_for == datetime(2026, 9, 6, 10, 0, tzinfo=UTC)  # 07:00 at UTC-3


def test_the_agenda_email_lists_each_session_in_the_professionals_language(opted_in):
    opted_in.patient.user.last_name = "Soto"
    opted_in.patient.user.save()
    confirmed(opted_in, start=TUESDAY_9)
    online = confirmed(opted_in, start=TUESDAY_9 + timedelta(hours=2), modality="online")
    plan_daily_agendas(now=TUESDAY_7)
    mail.outbox.clear()

    dispatch_due(now=TUESDAY_7 + timedelta(minutes=1))

    [message] = mail.outbox
    assert message.to == ["ana@clinic.example"]
    assert "martes 1 diciembre 2026" in message.subject.lower()
    assert "Psicoterapia" not in message.subject
    assert "hoy tienes 2 sesiones" in message.body
    assert "09:00–09:50  Camila Soto · Psicoterapia individual · Presencial, Providencia" in message.body
    video_page = f"{settings.SITE_URL}{reverse('portal:video', args=[online.reference])}"
    assert f"11:00–11:50  Camila Soto · Psicoterapia individual · En línea · {video_page}" in message.body
    assert "09:00–09:50  Camila Soto · Psicoterapia individual · Presencial, Providencia\n" in message.body
    assert not message.attachments


# --- the professional's switch on the portal home ----------------------------------------------------------


def agenda_box(response) -> str:
    tag = re.search(r"<input[^>]*name=\"daily_agenda_email\"[^>]*>", response.content.decode())
    assert tag, "the box is not on the page"
    return tag.group(0)


def test_the_professional_switches_the_agenda_on_and_off_from_the_portal_home(client, clinic):
    activate_totp(clinic.professional.user)  # professionals must use two-factor authentication
    client.force_login(clinic.professional.user)
    assert " checked" not in agenda_box(client.get(reverse("portal:home")))

    response = client.post(reverse("notifications:daily_agenda"), {"daily_agenda_email": "on"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("portal:home")
    assert " checked" in agenda_box(response)
    clinic.professional.refresh_from_db()
    assert clinic.professional.daily_agenda_email is True

    client.post(reverse("notifications:daily_agenda"), {})  # unticked
    clinic.professional.refresh_from_db()
    assert clinic.professional.daily_agenda_email is False


def test_a_patient_sees_no_agenda_box_and_cannot_post_one(client, clinic):
    patient = PatientFactory()
    client.force_login(patient.user)
    assert "daily_agenda_email" not in client.get(reverse("portal:home")).content.decode()
    assert client.post(reverse("notifications:daily_agenda"), {"daily_agenda_email": "on"}).status_code == 404
    assert client.get(reverse("notifications:daily_agenda")).status_code == 405


def test_a_visitor_is_sent_to_log_in(client, clinic):
    response = client.post(reverse("notifications:daily_agenda"), {"daily_agenda_email": "on"})
    assert response.status_code == 302 and "login" in response["Location"]
    clinic.professional.refresh_from_db()
    assert clinic.professional.daily_agenda_email is False
