"""The professional's portal pages: the day, the week, their patients and one session with attendance marks.
Only their own sessions and patients (404 for the rest); marks go through scheduling's services once the session
started; lists run the same queries whatever their length.

The clock is pinned at Tuesday 1 December 2026, 10:30 in Santiago.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from booking.packs.models import PackCreditEntry
from booking.scheduling.models import Appointment, AppointmentStatus
from tests.factories.accounts import PatientFactory, VerifiedUserFactory, activate_totp
from tests.factories.packs import package_with, purchase_of
from tests.factories.scheduling import AppointmentFactory, ProfessionalFactory

pytestmark = pytest.mark.django_db

SANTIAGO = ZoneInfo("America/Santiago")
NOW = datetime(2026, 12, 1, 10, 30, tzinfo=SANTIAGO)
NINE = datetime(2026, 12, 1, 9, 0, tzinfo=SANTIAGO)


@pytest.fixture(autouse=True)
def pinned_clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def professional_with_login(**fields):
    user = VerifiedUserFactory(preferred_language="en")
    activate_totp(user)  # professionals must use two-factor authentication
    return ProfessionalFactory(user=user, **fields)


@pytest.fixture
def ana():
    return professional_with_login(display_name="Ana Rojas")


@pytest.fixture
def ana_client(client, ana, home_page):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_login(ana.user)
    return client


def session(professional, start=NINE, **fields):
    return AppointmentFactory(professional=professional, start=start, end=start + timedelta(minutes=50), **fields)


def get(client, name, *args, **query):
    response = client.get(reverse(f"portal:{name}", args=args), query)
    return response.status_code, response.content.decode()


def test_today_lists_the_days_own_sessions_in_order(ana_client, ana):
    late = session(
        ana, NINE + timedelta(hours=3), patient=PatientFactory(user__first_name="Zoe", user__last_name="Late")
    )
    early = session(
        ana, patient=PatientFactory(user__first_name="Ema", user__last_name="Early", phone="+56 9 1234 5678")
    )
    tomorrow = session(ana, NINE + timedelta(days=1))
    others = session(professional_with_login())

    status, html = get(ana_client, "pro_today")

    assert status == 200
    assert html.index("Ema Early") < html.index("Zoe Late")
    assert early.reference in html and late.reference in html
    assert tomorrow.reference not in html and others.reference not in html
    assert 'href="tel:+56912345678"' in html
    assert tomorrow.reference in get(ana_client, "pro_today", day="2026-12-02")[1]
    assert get(ana_client, "pro_today", day="garbage")[0] == 200


def test_the_day_runs_the_same_queries_for_3_and_for_12_sessions(ana_client, ana):
    package = package_with({AppointmentFactory().service: 12})

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert get(ana_client, "pro_today")[0] == 200
        return len(captured)

    def add(count, offset):
        for number in range(count):
            purchase = purchase_of(package, status="active")
            session(ana, NINE + timedelta(minutes=60 * (offset + number)), pack_purchase=purchase)

    add(3, 0)
    get(ana_client, "pro_today")
    with_3 = queries()
    add(9, 3)
    assert queries() == with_3


def test_the_week_groups_sessions_by_day(ana_client, ana):
    monday = session(ana, NINE - timedelta(days=1))
    sunday = session(ana, NINE + timedelta(days=5))
    next_week = session(ana, NINE + timedelta(days=6))
    status, html = get(ana_client, "pro_agenda")
    assert status == 200
    assert monday.reference in html and sunday.reference in html and next_week.reference not in html
    assert next_week.reference in get(ana_client, "pro_agenda", week="2026-12-07")[1]


def test_another_professionals_session_and_patient_are_404(ana_client, ana):
    others = session(professional_with_login())
    assert get(ana_client, "pro_session", others.reference)[0] == 404
    assert get(ana_client, "pro_patient", others.patient_id)[0] == 404
    response = ana_client.post(reverse("portal:pro_mark", args=[others.reference]), {"mark": "completed"})
    assert response.status_code == 404
    assert Appointment.objects.get(pk=others.pk).status == AppointmentStatus.CONFIRMED


def test_a_patient_or_a_visitor_cannot_open_the_professional_pages(client, ana):
    mine = session(ana)
    for name, args in (("pro_today", []), ("pro_agenda", []), ("pro_patients", []), ("pro_session", [mine.reference])):
        url = reverse(f"portal:{name}", args=args)
        assert client.get(url).status_code == 302  # to the login page
    client.force_login(mine.patient.user)
    for name, args in (("pro_today", []), ("pro_session", [mine.reference]), ("pro_patient", [mine.patient_id])):
        assert client.get(reverse(f"portal:{name}", args=args)).status_code == 404


def test_attendance_is_marked_once_the_session_started(ana_client, ana):
    later = session(ana, NOW + timedelta(hours=1))
    response = ana_client.post(reverse("portal:pro_mark", args=[later.reference]), {"mark": "completed"})
    assert [m.level_tag for m in get_messages(response.wsgi_request)] == ["error"]
    assert Appointment.objects.get(pk=later.pk).status == AppointmentStatus.CONFIRMED

    started = session(ana)
    assert 'id="attendance-form"' in get(ana_client, "pro_session", started.reference)[1]
    ana_client.post(reverse("portal:pro_mark", args=[started.reference]), {"mark": "completed"})
    assert Appointment.objects.get(pk=started.pk).status == AppointmentStatus.COMPLETED


def test_a_patient_absent_from_a_pack_session_loses_it_as_the_pack_rules_say(ana_client, ana):
    patient = PatientFactory()
    purchase = purchase_of(package_with({AppointmentFactory().service: 4}), patient=patient, status="active")
    booked = session(ana, patient=patient, service=purchase.package.items.get().service, pack_purchase=purchase)
    for kind, quantity, appointment in (("granted", 4, None), ("reserved", 1, booked)):
        PackCreditEntry.objects.create(
            purchase=purchase,
            service=booked.service,
            kind=kind,
            quantity=quantity,
            appointment=appointment,
            at=purchase.purchased_at,
        )
    assert "Pack session 1 of 4" in get(ana_client, "pro_session", booked.reference)[1]

    ana_client.post(reverse("portal:pro_mark", args=[booked.reference]), {"mark": "no_show_patient"})

    assert Appointment.objects.get(pk=booked.pk).status == AppointmentStatus.NO_SHOW_PATIENT
    assert PackCreditEntry.objects.filter(appointment=booked, kind="forfeited").exists()


def test_an_unknown_mark_is_refused_with_a_message(ana_client, ana):
    started = session(ana)
    response = ana_client.post(reverse("portal:pro_mark", args=[started.reference]), {"mark": "vanished"})
    assert response.status_code == 302 and list(get_messages(response.wsgi_request))
    assert Appointment.objects.get(pk=started.pk).status == AppointmentStatus.CONFIRMED


def test_my_patients_are_only_mine_and_searchable(ana_client, ana):
    mine = session(
        ana, patient=PatientFactory(user__first_name="Camila", user__last_name="Soto", rut="15.432.876-9")
    ).patient
    session(ana, NINE - timedelta(days=7), patient=mine)
    not_mine = session(professional_with_login(), patient=PatientFactory(user__first_name="Beto")).patient

    html = get(ana_client, "pro_patients")[1]
    assert "Camila Soto" in html and "2 sessions" in html and "Beto" not in html
    assert "Camila Soto" not in get(ana_client, "pro_patients", q="zzz")[1]
    assert "Camila Soto" in get(ana_client, "pro_patients", q="soto")[1]
    for typed in ("15.432.876-9", "15432876", "154328769", "15.432"):  # a RUT as people type it
        assert "Camila Soto" in get(ana_client, "pro_patients", q=typed)[1], typed
    assert get(ana_client, "pro_patient", mine.pk)[0] == 200
    assert get(ana_client, "pro_patient", not_mine.pk)[0] == 404


def test_the_professionals_home_leads_to_today(ana_client):
    html = get(ana_client, "home")[1]
    assert f'href="{reverse("portal:pro_today")}"' in html


def test_the_month_view_shows_each_days_sessions_linked(ana_client, ana):
    first = session(ana, NINE, patient=PatientFactory(user__first_name="Ema", user__last_name="Early"))
    last = session(ana, datetime(2026, 12, 31, 18, 0, tzinfo=SANTIAGO))
    january = session(ana, datetime(2027, 1, 5, 9, 0, tzinfo=SANTIAGO))  # after the grid's last Sunday
    others = session(professional_with_login())

    status, html = get(ana_client, "pro_agenda", month="2026-12")

    assert status == 200
    assert "December 2026" in html
    assert "09:00 Ema Early" in html
    assert reverse("portal:pro_session", args=[first.reference]) in html
    assert reverse("portal:pro_session", args=[last.reference]) in html
    assert january.reference not in html and others.reference not in html
    assert "?month=2026-12" in get(ana_client, "pro_agenda")[1]  # the week view leads to it


@pytest.mark.parametrize("month", ["", "2026-13", "garbage", "1800-01"])
def test_a_malformed_month_shows_this_month(ana_client, month):
    status, html = get(ana_client, "pro_agenda", month=month)
    assert status == 200 and "December 2026" in html


def test_the_month_view_runs_the_same_queries_for_2_and_for_20_sessions(ana_client, ana):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert get(ana_client, "pro_agenda", month="2026-12")[0] == 200
        return len(captured)

    for day in (2, 3):
        session(ana, NINE + timedelta(days=day))
    queries()  # the first request fills the site's caches
    few = queries()
    for day in range(4, 22):
        session(ana, NINE + timedelta(days=day))
    assert queries() == few


def test_the_month_view_of_the_dst_change_starts_that_sunday_at_one(ana_client, ana):
    # Santiago skips from 00:00 to 01:00 on Sunday 6 September 2026
    early = session(ana, datetime(2026, 9, 6, 1, 0, tzinfo=SANTIAGO))
    html = get(ana_client, "pro_agenda", month="2026-09")[1]
    assert "01:00" in html and early.reference in html
