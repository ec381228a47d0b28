"""Emails by session number: which rules a completed session triggers (counted in one query), the row the
completion plans, and the demo's "after the 1st session" rule, seeded once however often the seed runs.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command

from booking.notifications.events import Event
from booking.notifications.models import Notification
from booking.notifications.preferences import set_non_essential_email
from booking.notifications.rules import plan_session_number_emails, rules_matching
from booking.notifications.web_models import NotificationPreference, SessionNumberRule
from booking.scheduling import services as scheduling
from tests.factories.accounts import PatientFactory
from tests.factories.scheduling import AppointmentFactory, ProfessionalFactory, ServiceFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

FIRST = datetime(2026, 11, 2, 13, tzinfo=UTC)


def sessions(patient, service, count, *, status="completed", professional=None):
    professional = professional or ProfessionalFactory()
    return [
        AppointmentFactory(
            patient=patient,
            service=service,
            professional=professional,
            status=status,
            start=FIRST + timedelta(days=7 * n),
        )
        for n in range(count)
    ]


def rule(number, service=None, **fields):
    return SessionNumberRule.objects.create(
        name=f"After {number}", service=service, session_number=number, message_es="Hola", **fields
    )


@pytest.mark.parametrize(
    "completed_with_service, completed_other, rule_numbers, expected",
    [
        (1, 0, {"service": [1, 5], "any": []}, ["service-1"]),
        (5, 0, {"service": [1, 5], "any": []}, ["service-5"]),
        (3, 0, {"service": [1, 5], "any": []}, []),
        (1, 2, {"service": [1], "any": [3]}, ["service-1", "any-3"]),
        (2, 1, {"service": [1], "any": [3]}, ["any-3"]),
    ],
    ids=["first-with-service", "fifth-with-service", "no-rule-at-three", "both-kinds", "any-service-counts-all"],
)
def test_the_rules_a_completed_session_triggers(
    completed_with_service, completed_other, rule_numbers, expected, django_assert_num_queries
):
    patient, service, other = PatientFactory(), ServiceFactory(), ServiceFactory()
    by_name = {}
    for number in rule_numbers["service"]:
        by_name[f"service-{number}"] = rule(number, service)
    for number in rule_numbers["any"]:
        by_name[f"any-{number}"] = rule(number)
    rule(completed_with_service, other)  # another service's rule never matches
    if f"service-{completed_with_service}" not in by_name:
        rule(completed_with_service, service, active=False)  # an inactive rule never matches
    sessions(patient, other, completed_other)
    latest = sessions(patient, service, completed_with_service)[-1]
    sessions(patient, service, 2, status="cancelled")  # cancelled sessions never count
    with django_assert_num_queries(1):
        matched = rules_matching(latest)
    assert sorted(r.pk for r in matched) == sorted(by_name[name].pk for name in expected)


def test_a_session_not_completed_matches_nothing():
    rule(1)
    appointment = AppointmentFactory(status="confirmed")
    assert rules_matching(appointment) == []


def test_marking_the_first_session_completed_plans_the_rules_email_once(django_capture_on_commit_callbacks):
    rule(1, message_en="Thanks for coming!")
    appointment = AppointmentFactory(start=FIRST, patient__user__preferred_language="en")
    staff = StaffUserFactory(is_superuser=True)
    with time_machine.travel(FIRST + timedelta(hours=1), tick=False), django_capture_on_commit_callbacks(execute=True):
        scheduling.mark_completed(appointment=appointment, actor=staff)
    [row] = Notification.objects.filter(event=Event.SESSION_NUMBER)
    assert row.appointment == appointment
    assert row.email == appointment.patient.user.email
    assert row.language == "en"
    assert row.data["rule_message"] == "Thanks for coming!"
    assert row.scheduled_for == appointment.end + timedelta(hours=2)
    plan_session_number_emails(appointment, at=FIRST + timedelta(hours=1))  # the signal again: nothing new
    assert Notification.objects.filter(event=Event.SESSION_NUMBER).count() == 1


def test_a_session_closed_late_sends_its_email_from_the_closing_time():
    rule(1)
    appointment = AppointmentFactory(start=FIRST, status="completed")
    closed_at = FIRST + timedelta(days=1)
    [row] = plan_session_number_emails(appointment, at=closed_at)
    assert row.scheduled_for == closed_at


def test_a_patient_who_unsubscribed_gets_no_email_by_session_number():
    rule(1)
    appointment = AppointmentFactory(start=FIRST, status="completed")
    set_non_essential_email(user=appointment.patient.user, enabled=False, via=NotificationPreference.Via.PROFILE)
    assert plan_session_number_emails(appointment, at=FIRST + timedelta(hours=1)) == []
    assert not Notification.objects.exists()


@time_machine.travel(datetime(2026, 11, 20, 10, tzinfo=UTC), tick=False)
def test_the_demo_seed_adds_the_first_session_rule_once():
    call_command("seed_demo")
    call_command("seed_demo")
    [demo_rule] = SessionNumberRule.objects.all()
    assert (demo_rule.service, demo_rule.session_number, demo_rule.active) == (None, 1, True)
    assert demo_rule.message_es and demo_rule.message_en
