"""The notification log in the Wagtail admin: filters, bounded queries, "resend" and who may use it; the emails on
an appointment's page; the dashboard panel of the last 24 hours' failures; the rules by session number.
"""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from booking.notifications.models import Notification, State
from booking.notifications.resend import ResendError, resend_notification
from booking.notifications.web_models import AttendanceConfirmation, SessionNumberRule
from tests.factories.scheduling import AppointmentFactory, ServiceFactory, StaffUserFactory

from .web_helpers import ESSENTIAL_EVENT, NON_ESSENTIAL_EVENT, make_notification

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 29, 13, 0, tzinfo=UTC)
LOG_URL = "/admin/notifications/log/"


@pytest.fixture(autouse=True)
def pinned_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def staff_client(*permissions, email="staff@clinic.example"):
    """A staff member who may enter the admin, with ``app_label.codename`` permissions through a group."""
    group = Group.objects.create(name=f"Group of {email}")
    group.permissions.add(Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin"))
    for permission in permissions:
        app_label, codename = permission.split(".")
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    user = StaffUserFactory(email=email)
    user.groups.add(group)
    client = Client()
    client.force_login(user)
    return client, user


def refused(response) -> bool:
    """Wagtail answers a signed-in user without the permission with a 403 or a redirect to the dashboard."""
    return response.status_code == 403 or (response.status_code == 302 and response["Location"] == "/admin/")


@pytest.fixture
def viewer():
    return staff_client("notifications.view_notification", email="viewer@clinic.example")[0]


@pytest.fixture
def resender():
    return staff_client(
        "notifications.view_notification", "notifications.change_notification", email="resender@clinic.example"
    )


# --- the log ---------------------------------------------------------------------------------------------


def test_staff_without_the_permission_cannot_see_the_log_nor_resend(viewer):
    client, _user = staff_client(email="editor@clinic.example")
    failed = make_notification(state=State.FAILED)
    assert refused(client.get(LOG_URL))
    assert refused(client.post(reverse("notification_log:resend", args=[failed.pk])))
    assert refused(viewer.post(reverse("notification_log:resend", args=[failed.pk])))
    failed.refresh_from_db()
    assert failed.state == State.FAILED


def test_an_anonymous_visitor_is_sent_to_the_admin_login(client):
    response = client.get(LOG_URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_the_log_lists_and_filters_by_state_event_recipient_and_date(viewer):
    appointment = AppointmentFactory()
    make_notification(event=ESSENTIAL_EVENT, state=State.SENT, appointment=appointment, email="ana@example.com")
    make_notification(event=NON_ESSENTIAL_EVENT, state=State.BOUNCED, email="bruno@example.com", error="550 gone")
    make_notification(
        event=ESSENTIAL_EVENT, state=State.SCHEDULED, email="carla@example.com", scheduled_for=NOW + timedelta(days=3)
    )
    page = viewer.get(LOG_URL).content.decode()
    assert all(email in page for email in ("ana@example.com", "bruno@example.com", "carla@example.com"))
    assert reverse("clinic_appointments:detail", args=[appointment.reference]) in page

    def shown(**query):
        body = viewer.get(LOG_URL, query).content.decode()
        return {email for email in ("ana@example.com", "bruno@example.com", "carla@example.com") if email in body}

    assert shown(state=State.BOUNCED) == {"bruno@example.com"}
    assert shown(event=ESSENTIAL_EVENT) == {"ana@example.com", "carla@example.com"}
    assert shown(recipient="CARLA") == {"carla@example.com"}
    assert shown(date_from="2026-12-01") == {"carla@example.com"}
    assert shown(date_to="2026-11-30") == {"ana@example.com", "bruno@example.com"}


def test_bad_filters_are_shown_as_errors_not_a_500(viewer):
    response = viewer.get(LOG_URL, {"state": "exploded", "date_from": "2026-13-45", "date_to": "x"})
    assert response.status_code == 200
    response = viewer.get(LOG_URL, {"date_from": "2026-12-02", "date_to": "2026-12-01"})
    assert response.status_code == 200
    assert "cannot be before" in response.content.decode() or "no puede ser anterior" in response.content.decode()


@pytest.mark.parametrize("rows", [3, 30])
def test_the_log_runs_a_fixed_number_of_queries(resender, rows, django_assert_max_num_queries):
    client, _user = resender
    for number in range(rows):
        make_notification(state=State.FAILED if number % 2 else State.SENT, appointment=AppointmentFactory())
    client.get(LOG_URL)  # warm the session, the content types and Wagtail's caches
    with django_assert_max_num_queries(13):  # the same for 3 and for 30 rows
        response = client.get(LOG_URL)
    assert response.status_code == 200
    assert response.content.decode().count('name="next"') == rows  # a resend button on every row (all were sent)


# --- resend ----------------------------------------------------------------------------------------------


def test_resending_a_failed_message_queues_the_same_row_again(resender):
    client, _user = resender
    failed = make_notification(state=State.FAILED, attempts=5, error="timeout")
    response = client.post(reverse("notification_log:resend", args=[failed.pk]), {"next": LOG_URL})
    assert response.status_code == 302 and response["Location"] == LOG_URL
    failed.refresh_from_db()
    assert (failed.state, failed.attempts, failed.error) == (State.SCHEDULED, 0, "")
    assert Notification.objects.count() == 1


def test_resending_a_bounced_message_writes_a_new_row_to_the_current_address(resender):
    client, _user = resender
    bounced = make_notification(state=State.BOUNCED, email="old@example.com")
    bounced.user.email = "new@example.com"
    bounced.user.save()
    client.post(reverse("notification_log:resend", args=[bounced.pk]))
    bounced.refresh_from_db()
    assert bounced.state == State.BOUNCED
    copy = Notification.objects.exclude(pk=bounced.pk).get()
    assert (copy.event, copy.state, copy.email, copy.scheduled_for) == (
        bounced.event,
        State.SCHEDULED,
        "new@example.com",
        NOW,
    )


@pytest.mark.parametrize("state", [State.SCHEDULED, State.SENDING, State.CANCELLED, State.SKIPPED])
def test_a_message_not_sent_yet_or_deliberately_not_sent_is_not_resent(resender, state):
    client, _user = resender
    notification = make_notification(state=state)
    response = client.post(reverse("notification_log:resend", args=[notification.pk]), follow=True)
    assert response.status_code == 200
    assert Notification.objects.count() == 1
    notification.refresh_from_db()
    assert notification.state == state


def test_resend_is_post_only_and_an_unknown_message_is_a_404(resender):
    client, _user = resender
    failed = make_notification(state=State.FAILED)
    assert client.get(reverse("notification_log:resend", args=[failed.pk])).status_code == 405
    assert client.post(reverse("notification_log:resend", args=[failed.pk + 1000])).status_code == 404


def test_resend_never_redirects_to_another_site(resender):
    client, _user = resender
    failed = make_notification(state=State.FAILED)
    response = client.post(reverse("notification_log:resend", args=[failed.pk]), {"next": "https://evil.example/"})
    assert response["Location"] == LOG_URL


def test_the_resend_service_checks_the_permission_itself():
    _client, user = staff_client("notifications.view_notification", email="nope@clinic.example")
    with pytest.raises(ResendError):
        resend_notification(notification=make_notification(state=State.FAILED), actor=user)


# --- the appointment's page ---------------------------------------------------------------------------------


def test_the_appointment_page_lists_its_emails_and_the_attendance_confirmation(superuser_client):
    appointment = AppointmentFactory()
    make_notification(event=ESSENTIAL_EVENT, state=State.DELIVERED, appointment=appointment, email="mine@example.com")
    make_notification(event=ESSENTIAL_EVENT, state=State.DELIVERED, email="someone-else@example.com")
    AttendanceConfirmation.objects.create(appointment=appointment, confirmed_at=NOW)
    page = superuser_client.get(reverse("clinic_appointments:detail", args=[appointment.reference])).content.decode()
    assert 'id="appointment-notification-list"' in page
    assert "mine@example.com" in page and "someone-else@example.com" not in page
    assert 'id="attendance-confirmation"' in page


def test_the_appointment_page_hides_the_emails_from_staff_who_may_not_see_them():
    client, _user = staff_client("scheduling.view_appointment", email="reception@clinic.example")
    appointment = AppointmentFactory()
    make_notification(state=State.DELIVERED, appointment=appointment, email="mine@example.com")
    page = client.get(reverse("clinic_appointments:detail", args=[appointment.reference]))
    assert page.status_code == 200
    assert "mine@example.com" not in page.content.decode()


# --- the dashboard -------------------------------------------------------------------------------------------


def test_the_dashboard_shows_the_last_24_hours_failures_to_who_may_see_them(viewer):
    with time_machine.travel(NOW - timedelta(hours=30), tick=False):
        make_notification(state=State.BOUNCED, email="yesterday@example.com")
    with time_machine.travel(NOW - timedelta(hours=2), tick=False):
        make_notification(state=State.BOUNCED, email="today@example.com")
        make_notification(state=State.DELIVERED, email="fine@example.com")
    page = viewer.get("/admin/").content.decode()
    assert 'id="notification-failures-panel"' in page
    assert "today@example.com" in page
    assert "yesterday@example.com" not in page and "fine@example.com" not in page

    client, _user = staff_client(email="editor@clinic.example")
    assert 'id="notification-failures-panel"' not in client.get("/admin/").content.decode()


# --- rules by session number -------------------------------------------------------------------------------------


def test_editors_with_the_permission_add_a_rule_and_a_duplicate_is_refused():
    client, _user = staff_client(
        "notifications.view_sessionnumberrule", "notifications.add_sessionnumberrule", email="ed@clinic.example"
    )
    service = ServiceFactory()
    url = reverse("wagtailsnippets_notifications_sessionnumberrule:add")
    data = {"name": "Welcome", "service": service.pk, "session_number": 1, "message_es": "Gracias", "active": "on"}
    assert client.post(url, data).status_code == 302
    again = client.post(url, data)
    assert again.status_code == 200
    assert SessionNumberRule.objects.count() == 1
    assert client.post(url, {**data, "session_number": 0, "name": "Zero"}).status_code == 200
    assert SessionNumberRule.objects.count() == 1


def test_staff_without_the_permission_cannot_add_rules():
    client, _user = staff_client(email="noperm@clinic.example")
    url = reverse("wagtailsnippets_notifications_sessionnumberrule:add")
    assert refused(client.post(url, {"name": "X", "session_number": 1}))
    assert not SessionNumberRule.objects.exists()


# --- the role groups ---------------------------------------------------------------------------------------


def test_reception_sees_the_log_and_resends_and_editors_keep_the_rules_but_not_the_log():
    from portal.accounts.roles import EDITORS, ensure_role_groups
    from tests.booking.scheduling.people import receptionist_user

    failed = make_notification(state=State.FAILED)
    reception = Client()
    reception.force_login(receptionist_user())
    assert reception.get(LOG_URL).status_code == 200
    reception.post(reverse("notification_log:resend", args=[failed.pk]))
    failed.refresh_from_db()
    assert failed.state == State.SCHEDULED

    editor = StaffUserFactory(email="editor-role@clinic.example")
    editor.groups.add(ensure_role_groups()[EDITORS])
    client = Client()
    client.force_login(editor)
    assert refused(client.get(LOG_URL))
    assert client.get(reverse("wagtailsnippets_notifications_sessionnumberrule:add")).status_code == 200
