"""The professional moves their own session (an internal reschedule): a free time of theirs, a reason the patient
reads in the email, past the patient's window and limit (those are the patient's rules), never past another
session of the patient, and only their own sessions.

The clock is pinned at Sunday 29 November 2026, 10:00 in Santiago.
"""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse

from booking.scheduling import services as scheduling
from booking.scheduling.errors import BookingError
from booking.scheduling.models import Appointment, AppointmentEvent
from booking.widget.forms import format_start
from tests.factories.accounts import PatientFactory, VerifiedUserFactory, activate_totp
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
REASON = "Tengo que asistir a un congreso ese día."


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
        price=Decimal("35000"),
        currency="CLP",
        payment_mode="later",
        reschedule_window_hours=24,
        max_reschedules=0,  # the patient may never move it online: the professional still may
    )
    location = LocationFactory(name="Sede Providencia")
    user = VerifiedUserFactory(preferred_language="en")
    activate_totp(user)
    professional = ProfessionalFactory(display_name="Ana Rojas", user=user, services=[service], locations=[location])
    for weekday in (1, 2):
        WeeklyAvailabilityFactory(
            professional=professional, location=location, weekday=weekday, start_time=time(9), end_time=time(13)
        )
    patient = PatientFactory(user__preferred_language="en", user__email="camila@example.com")
    appointment = scheduling.book_appointment(
        patient=patient,
        professional=professional,
        service=service,
        start=TUESDAY_9,
        location=location,
        modality="in_person",
        source="portal",
        actor=patient.user,
        now=NOW - timedelta(days=7),
    )
    mail.outbox.clear()
    return {"professional": professional, "patient": patient, "appointment": appointment, "service": service}


@pytest.fixture
def ana_client(client, clinic):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_login(clinic["professional"].user)
    return client


def move_url(appointment) -> str:
    return reverse("portal:pro_move", args=[appointment.reference])


def flash(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_the_session_page_leads_to_the_month_of_free_times(ana_client, clinic):
    appointment = clinic["appointment"]
    session_html = ana_client.get(reverse("portal:pro_session", args=[appointment.reference])).content.decode()
    assert move_url(appointment) in session_html

    html = ana_client.get(move_url(appointment), {"month": "2026-12", "day": "2026-12-02"}).content.decode()

    assert f'value="{format_start(WEDNESDAY_11)}"' in html
    assert 'name="reason"' in html


def test_moving_with_a_reason_moves_it_and_emails_the_patient_the_reason(ana_client, clinic):
    appointment = clinic["appointment"]

    response = ana_client.post(move_url(appointment), {"start": format_start(WEDNESDAY_11), "reason": REASON})

    assert response["Location"] == reverse("portal:pro_session", args=[appointment.reference])
    assert "The session is moved to Wednesday 2 December 2026 at 11:00. The patient is told by email." in flash(
        response
    )
    appointment.refresh_from_db()
    assert appointment.start == WEDNESDAY_11.astimezone(UTC)
    assert appointment.reschedule_count == 0  # the patient's own moves are still all theirs
    event = appointment.events.get(action=AppointmentEvent.Action.RESCHEDULED)
    assert (event.actor, event.reason) == (clinic["professional"].user, REASON)
    [to_patient] = [message for message in mail.outbox if message.to == ["camila@example.com"]]
    assert f"Why your professional moved it: {REASON}" in to_patient.body


def test_without_a_reason_nothing_moves(ana_client, clinic):
    appointment = clinic["appointment"]

    response = ana_client.post(move_url(appointment), {"start": format_start(WEDNESDAY_11), "reason": "  "})

    assert "Please say why the session moves: the patient reads it." in flash(response)
    assert Appointment.objects.get(pk=appointment.pk).start == TUESDAY_9.astimezone(UTC)
    assert mail.outbox == []


@pytest.mark.parametrize("start", ["", "tomorrow", "2026-12-02T11:00"])
def test_a_malformed_time_gets_a_message_not_a_500(ana_client, clinic, start):
    response = ana_client.post(move_url(clinic["appointment"]), {"start": start, "reason": REASON})
    assert response.status_code == 302
    assert flash(response)
    assert Appointment.objects.get(pk=clinic["appointment"].pk).start == TUESDAY_9.astimezone(UTC)


def test_a_time_outside_the_professionals_hours_is_refused(ana_client, clinic):
    response = ana_client.post(
        move_url(clinic["appointment"]), {"start": format_start(WEDNESDAY_11 + timedelta(hours=5)), "reason": REASON}
    )
    assert "That time is not offered for this service." in flash(response)


def test_the_patients_other_session_at_that_time_is_never_overridden(ana_client, clinic):
    other_service = ServiceFactory(payment_mode="later")
    colleague = ProfessionalFactory(services=[other_service])
    WeeklyAvailabilityFactory(professional=colleague, weekday=2, start_time=time(9), end_time=time(13))
    scheduling.book_appointment(
        patient=clinic["patient"],
        professional=colleague,
        service=other_service,
        start=WEDNESDAY_11,
        modality="online",
        source="portal",
        actor=clinic["patient"].user,
        now=NOW,
    )
    response = ana_client.post(
        move_url(clinic["appointment"]), {"start": format_start(WEDNESDAY_11), "reason": REASON}
    )
    assert flash(response) == [
        f"The patient has another session on Dec. 2, 2026 at 11:00 ({other_service.name} with "
        f"{colleague.display_name}). Please choose another time."
    ]
    assert Appointment.objects.get(pk=clinic["appointment"].pk).start == TUESDAY_9.astimezone(UTC)


def test_another_professional_cannot_open_or_move_the_session(client, clinic):
    stranger = VerifiedUserFactory()
    activate_totp(stranger)
    ProfessionalFactory(user=stranger)
    client.force_login(stranger)
    url = move_url(clinic["appointment"])
    assert client.get(url).status_code == 404
    assert client.post(url, {"start": format_start(WEDNESDAY_11), "reason": REASON}).status_code == 404
    with pytest.raises(BookingError) as refused:
        scheduling.reschedule_appointment(
            appointment=clinic["appointment"], start=WEDNESDAY_11, actor=stranger, professional_reason=REASON
        )
    assert refused.value.code == "not_allowed"


def test_the_patient_cannot_claim_to_be_the_professional(clinic):
    with pytest.raises(BookingError) as refused:
        scheduling.reschedule_appointment(
            appointment=clinic["appointment"],
            start=WEDNESDAY_11,
            actor=clinic["patient"].user,
            professional_reason=REASON,
        )
    assert refused.value.code == "not_allowed"


def test_a_cancelled_session_cannot_be_moved(ana_client, clinic):
    appointment = clinic["appointment"]
    scheduling.cancel_appointment(appointment=appointment, actor=clinic["patient"].user, now=NOW)

    html = ana_client.get(move_url(appointment)).content.decode()
    response = ana_client.post(move_url(appointment), {"start": format_start(WEDNESDAY_11), "reason": REASON})

    assert 'id="move-closed"' in html
    assert "This appointment can no longer be changed this way." in flash(response)
