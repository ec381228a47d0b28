"""Appointments in the Wagtail admin: today's list, filters, detail with history, actions, staff booking."""

from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from booking.billing.models import InvoiceStatus
from booking.scheduling import services
from booking.scheduling.errors import DEFAULT_MESSAGES
from booking.scheduling.models import Appointment, AppointmentEvent, AppointmentStatus
from booking.scheduling.money import format_money
from tests.factories.accounts import PatientFactory
from tests.factories.billing import InvoiceFactory
from tests.factories.scheduling import (
    AppointmentFactory,
    LocationFactory,
    ProfessionalFactory,
    RoomFactory,
    ServiceFactory,
    StaffUserFactory,
    WeeklyAvailabilityFactory,
)

SANTIAGO = ZoneInfo("America/Santiago")
# Sunday 29 November 2026 at 22:00 in Santiago is already Monday 30 November in UTC: "today" must be the 29th.
NOW = datetime(2026, 11, 29, 22, 0, tzinfo=SANTIAGO)
TUESDAY_9 = datetime(2026, 12, 1, 9, 0, tzinfo=SANTIAGO)
INDEX_URL = "/admin/clinic/appointments/"


def santiago(*args):
    return datetime(*args, tzinfo=SANTIAGO)


def detail_url(appointment):
    return reverse("clinic_appointments:detail", args=[appointment.reference])


def action_url(appointment, action):
    return reverse(f"clinic_appointments:{action}", args=[appointment.reference])


def in_response_language(response, text):
    """``text`` translated as the page was, so assertions hold whatever language the admin is shown in."""
    with translation.override(response.wsgi_request.LANGUAGE_CODE):
        return escape(str(text))


@pytest.fixture(autouse=True)
def _pinned_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def staff_client_with(*codenames, email):
    group = Group.objects.create(name=f"Group for {email}")
    group.permissions.add(
        Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin"),
        *Permission.objects.filter(content_type__app_label="scheduling", codename__in=codenames),
    )
    user = StaffUserFactory(email=email)
    user.groups.add(group)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer_client(db):
    """Reception staff who may see appointments but not change or book them."""
    return staff_client_with("view_appointment", email="viewer@clinic.example")


@pytest.fixture
def catalog_only_client(db):
    """Staff who manage the catalog but may not see appointments."""
    return staff_client_with("view_professional", "change_professional", email="catalog@clinic.example")


@pytest.fixture
def world(db):
    service = ServiceFactory(
        name="Psicoterapia adultos",
        duration_minutes=50,
        buffer_after_minutes=10,
        min_notice_minutes=60,
        booking_horizon_days=60,
        cancellation_window_hours=24,
        reschedule_window_hours=24,
        max_reschedules=2,
        price=Decimal("35000"),
    )
    location = LocationFactory(name="Sede Providencia")
    professional = ProfessionalFactory(display_name="Ana Pérez", services=[service], locations=[location])
    for weekday in range(5):
        WeeklyAvailabilityFactory(
            professional=professional, location=location, weekday=weekday, start_time=time(9), end_time=time(13)
        )
    patient = PatientFactory(user__email="paciente@example.com", user__first_name="Pía", user__last_name="Rojas")

    class World:
        pass

    world = World()
    world.service, world.location, world.professional, world.patient = service, location, professional, patient
    return world


def book(world, start=TUESDAY_9, *, hold=False):
    book_or_hold = services.hold_slot if hold else services.book_appointment
    return book_or_hold(
        patient=world.patient,
        professional=world.professional,
        service=world.service,
        start=start,
        location=world.location,
        modality="in_person",
        source="booking_box",
        actor=world.patient.user,
    )


def past_appointment(world, **overrides):
    """A confirmed session that started an hour ago (only started sessions can be completed or missed)."""
    return AppointmentFactory(
        patient=world.patient,
        professional=world.professional,
        service=world.service,
        location=world.location,
        modality="in_person",
        start=NOW - timedelta(hours=1),
        **overrides,
    )


# --- The list ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_defaults_to_today_in_the_clinic_time_zone(superuser_client, world):
    AppointmentFactory(professional=world.professional, patient=world.patient, start=santiago(2026, 11, 29, 9))
    AppointmentFactory(patient=PatientFactory(user__first_name="Tomás"), start=santiago(2026, 11, 30, 9))
    AppointmentFactory(patient=PatientFactory(user__first_name="Yolanda"), start=santiago(2026, 11, 28, 9))

    response = superuser_client.get(INDEX_URL)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Pía Rojas" in html
    assert "Tomás" not in html  # tomorrow in Santiago, although already "today" in UTC
    assert "Yolanda" not in html
    assert "09:00" in html  # the start is shown in local time (12:00 UTC)


@pytest.mark.django_db
def test_list_is_ordered_by_start_then_professional(superuser_client):
    zoe = ProfessionalFactory(display_name="Zoe Mella")
    bruno = ProfessionalFactory(display_name="Bruno Díaz")
    carla = ProfessionalFactory(display_name="Carla Ruiz")
    AppointmentFactory(professional=zoe, start=santiago(2026, 11, 29, 10))
    AppointmentFactory(professional=bruno, start=santiago(2026, 11, 29, 11))
    AppointmentFactory(professional=carla, start=santiago(2026, 11, 29, 10))

    html = superuser_client.get(INDEX_URL).content.decode()
    rows = html[html.index('id="appointment-list"') :]  # the professional filter lists the names too, alphabetically

    assert rows.index("Carla Ruiz") < rows.index("Zoe Mella") < rows.index("Bruno Díaz")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("filter_name", "shown", "hidden"),
    [
        ("date_range", "Dentro", "Fuera"),
        ("professional", "Dentro", "Fuera"),
        ("service", "Dentro", "Fuera"),
        ("status", "Dentro", "Fuera"),
        ("location", "Dentro", "Fuera"),
        ("online", "Fuera", "Dentro"),
    ],
    ids=["date-range", "professional", "service", "status", "location", "online"],
)
def test_list_filters(superuser_client, filter_name, shown, hidden):
    location = LocationFactory()
    inside = AppointmentFactory(
        patient=PatientFactory(user__first_name="Dentro"),
        start=santiago(2026, 12, 2, 10),
        status=AppointmentStatus.CANCELLED,
        location=location,
        modality="in_person",
    )
    AppointmentFactory(patient=PatientFactory(user__first_name="Fuera"), start=santiago(2026, 12, 10, 10))
    date_range = "date_from=2026-12-01&date_to=2026-12-31"
    query = {
        "date_range": "date_from=2026-12-01&date_to=2026-12-05",
        "professional": f"{date_range}&professional={inside.professional.pk}",
        "service": f"{date_range}&service={inside.service.pk}",
        "status": f"{date_range}&status=cancelled",
        "location": f"{date_range}&location={location.pk}",
        "online": f"{date_range}&location=online",
    }[filter_name]

    html = superuser_client.get(f"{INDEX_URL}?{query}").content.decode()

    assert shown in html
    assert hidden not in html


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    ["date_from=2026-12-05&date_to=2026-12-01", "date_from=yesterday", "professional=999999", "location=x"],
    ids=["reversed-range", "not-a-date", "unknown-professional", "unknown-location"],
)
def test_bad_filters_give_a_message_not_an_error(superuser_client, query):
    AppointmentFactory(patient=PatientFactory(user__first_name="Nadie"), start=santiago(2026, 11, 29, 10))

    response = superuser_client.get(f"{INDEX_URL}?{query}")

    assert response.status_code == 200
    assert response.context["filter_form"].errors
    assert "Nadie" not in response.content.decode()


@pytest.mark.django_db
def test_list_runs_the_same_number_of_queries_for_3_and_30_rows(superuser_client):
    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            response = superuser_client.get(INDEX_URL)
        assert response.status_code == 200
        return len(queries)

    location = LocationFactory()
    for hour in range(3):
        AppointmentFactory(start=santiago(2026, 11, 29, 8 + hour), location=location, modality="in_person")
    few_queries = count_queries()
    for minute in range(27):
        AppointmentFactory(start=santiago(2026, 11, 29, 12) + timedelta(minutes=minute), location=LocationFactory())
    many_queries = count_queries()

    assert Appointment.objects.count() == 30
    assert many_queries == few_queries


# --- Permissions -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_staff_without_view_permission_cannot_see_appointments(catalog_only_client, world):
    appointment = past_appointment(world)

    for url in (INDEX_URL, detail_url(appointment), reverse("clinic_appointments:create")):
        response = catalog_only_client.get(url)
        assert response.status_code in (302, 403), url
        assert "Pía Rojas" not in response.content.decode()


@pytest.mark.django_db
def test_viewer_sees_the_list_and_detail_but_no_actions(viewer_client, world):
    appointment = past_appointment(world)

    listing = viewer_client.get(INDEX_URL)
    detail = viewer_client.get(detail_url(appointment))
    refused = viewer_client.post(action_url(appointment, "complete"))

    assert listing.status_code == 200
    assert "Pía Rojas" in listing.content.decode()
    assert detail.status_code == 200
    assert action_url(appointment, "complete") not in detail.content.decode()
    assert refused.status_code in (302, 403)
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED
    assert viewer_client.get(reverse("clinic_appointments:create")).status_code in (302, 403)


# --- Detail and actions ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_detail_shows_the_appointment_and_its_history(superuser_client, superuser, world):
    appointment = book(world)
    services.reschedule_appointment(
        appointment=appointment, start=TUESDAY_9 + timedelta(hours=1), actor=superuser, staff_override_reason="asked"
    )

    response = superuser_client.get(detail_url(appointment))

    html = response.content.decode()
    assert response.status_code == 200
    assert appointment.reference in html
    assert "Ana Pérez" in html and "Psicoterapia adultos" in html and "Sede Providencia" in html
    for action in (
        AppointmentEvent.Action.CREATED,
        AppointmentEvent.Action.CONFIRMED,
        AppointmentEvent.Action.RESCHEDULED,
    ):
        assert in_response_language(response, action.label) in html
    assert "asked" in html
    assert superuser.email in html or str(superuser) in html


@pytest.mark.django_db
def test_detail_of_an_unknown_reference_is_404(superuser_client):
    assert superuser_client.get("/admin/clinic/appointments/NOPE/").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("action", "data", "make", "status", "event"),
    [
        ("confirm", {}, "hold", AppointmentStatus.CONFIRMED, AppointmentEvent.Action.CONFIRMED),
        (
            "cancel",
            {"cancel-reason": "Patient phoned"},
            "future",
            AppointmentStatus.CANCELLED,
            AppointmentEvent.Action.CANCELLED,
        ),
        (
            "reschedule",
            {"reschedule-date": "2026-12-02", "reschedule-time": "10:00"},
            "future",
            AppointmentStatus.CONFIRMED,
            AppointmentEvent.Action.RESCHEDULED,
        ),
        ("complete", {}, "past", AppointmentStatus.COMPLETED, AppointmentEvent.Action.COMPLETED),
        ("no_show_patient", {}, "past", AppointmentStatus.NO_SHOW_PATIENT, AppointmentEvent.Action.NO_SHOW_PATIENT),
        (
            "no_show_professional",
            {},
            "past",
            AppointmentStatus.NO_SHOW_PROFESSIONAL,
            AppointmentEvent.Action.NO_SHOW_PROFESSIONAL,
        ),
    ],
    ids=["confirm", "cancel", "reschedule", "complete", "no-show-patient", "no-show-professional"],
)
def test_actions_go_through_the_services_and_are_recorded(
    superuser_client, superuser, world, action, data, make, status, event
):
    appointment = {"hold": lambda: book(world, hold=True), "future": lambda: book(world), "past": lambda: None}[make]()
    appointment = appointment or past_appointment(world)

    response = superuser_client.post(action_url(appointment, action), data, follow=True)

    appointment.refresh_from_db()
    assert response.redirect_chain[0][0] == detail_url(appointment)
    assert appointment.status == status
    recorded = appointment.events.get(action=event)
    assert recorded.actor == superuser
    message_levels = [message.level_tag for message in response.context["messages"]]
    assert "success" in message_levels
    if action == "reschedule":
        assert appointment.start == santiago(2026, 12, 2, 10)
    if action == "cancel":
        assert appointment.cancellation_reason == "Patient phoned"


@pytest.mark.django_db
def test_late_cancellation_with_staff_override_keeps_the_reason(superuser_client, world):
    appointment = book(world)
    with time_machine.travel(TUESDAY_9 - timedelta(hours=2), tick=False):
        response = superuser_client.post(
            action_url(appointment, "cancel"),
            {"cancel-reason": "Ill", "cancel-staff_override_reason": "Doctor's note"},
            follow=True,
        )

    assert response.status_code == 200
    event = appointment.events.get(action=AppointmentEvent.Action.CANCELLED)
    assert "Doctor's note" in event.reason


@pytest.mark.django_db
def test_receptionist_cancels_late_with_an_override_through_the_admin(world, receptionist):
    """The Receptionists group's change permission is enough: no superuser, no staff flag needed."""
    client = Client()
    client.force_login(receptionist)
    appointment = book(world)

    with time_machine.travel(TUESDAY_9 - timedelta(hours=2), tick=False):
        response = client.post(
            action_url(appointment, "cancel"),
            {"cancel-reason": "Ill", "cancel-staff_override_reason": "Doctor's note"},
        )

    assert response.status_code == 302
    appointment.refresh_from_db()
    assert (appointment.status, appointment.cancelled_by) == (AppointmentStatus.CANCELLED, receptionist)
    assert "Doctor's note" in appointment.events.get(action=AppointmentEvent.Action.CANCELLED).reason


@pytest.mark.django_db
def test_refused_action_shows_the_translated_reason(superuser_client, world):
    appointment = book(world)  # still in the future: it cannot be completed yet

    response = superuser_client.post(action_url(appointment, "complete"), follow=True)

    appointment.refresh_from_db()
    assert response.status_code == 200
    assert appointment.status == AppointmentStatus.CONFIRMED
    assert in_response_language(response, DEFAULT_MESSAGES["invalid_state"]) in response.content.decode()
    assert not appointment.events.filter(action=AppointmentEvent.Action.COMPLETED).exists()


@pytest.mark.django_db
def test_reschedule_to_a_time_outside_the_hours_is_refused_with_a_message(superuser_client, world):
    appointment = book(world)

    response = superuser_client.post(
        action_url(appointment, "reschedule"),
        {"reschedule-date": "2026-12-02", "reschedule-time": "20:00"},
        follow=True,
    )

    appointment.refresh_from_db()
    assert response.status_code == 200
    assert appointment.start == TUESDAY_9
    assert in_response_language(response, DEFAULT_MESSAGES["outside_availability"]) in response.content.decode()


@pytest.mark.django_db
def test_reschedule_with_a_malformed_date_is_a_message_not_an_error(superuser_client, world):
    appointment = book(world)

    response = superuser_client.post(
        action_url(appointment, "reschedule"), {"reschedule-date": "soon", "reschedule-time": "25:99"}, follow=True
    )

    assert response.status_code == 200
    assert [message.level_tag for message in response.context["messages"]].count("error") == 2


@pytest.mark.django_db
def test_actions_are_post_only(superuser_client, world):
    appointment = past_appointment(world)

    assert superuser_client.get(action_url(appointment, "complete")).status_code == 405


# --- Booking by staff ------------------------------------------------------------------------------------


def create_data(world, **overrides):
    data = {
        "patient": world.patient.pk,
        "professional": world.professional.pk,
        "service": world.service.pk,
        "location": world.location.pk,
        "date": "2026-12-01",
        "time": "11:00",
        "note": "First session",
    }
    data.update(overrides)
    return data


@pytest.mark.django_db
def test_staff_books_an_appointment_for_a_patient(superuser_client, superuser, world):
    response = superuser_client.post(reverse("clinic_appointments:create"), create_data(world))

    appointment = Appointment.objects.get()
    assert response.status_code == 302
    assert response.url == detail_url(appointment)
    assert appointment.start == santiago(2026, 12, 1, 11)
    assert appointment.source == "admin"
    assert appointment.status == AppointmentStatus.CONFIRMED
    assert appointment.events.get(action=AppointmentEvent.Action.CREATED).actor == superuser


@pytest.mark.django_db
def test_booking_a_taken_time_shows_the_reason(superuser_client, world):
    book(world, santiago(2026, 12, 1, 11))

    response = superuser_client.post(reverse("clinic_appointments:create"), create_data(world))

    assert response.status_code == 200
    assert Appointment.objects.count() == 1
    assert in_response_language(response, DEFAULT_MESSAGES["slot_unavailable"]) in response.content.decode()


@pytest.mark.django_db
def test_booking_form_shows_field_errors(superuser_client, world):
    response = superuser_client.post(reverse("clinic_appointments:create"), create_data(world, date="", patient=""))

    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"date", "patient"}
    assert not Appointment.objects.exists()


@pytest.mark.django_db
def test_appointments_are_in_the_clinic_menu(superuser_client):
    response = superuser_client.get(reverse("wagtailadmin_home"))

    assert INDEX_URL in response.content.decode()


# --- Room and invoices on the detail -------------------------------------------------------------------------


@pytest.mark.django_db
def test_detail_shows_the_room_the_booking_got(superuser_client, world):
    RoomFactory(location=world.location, name="Box Azul")

    appointment = book(world)

    response = superuser_client.get(detail_url(appointment))
    assert appointment.room.name == "Box Azul"
    assert '<dd id="appointment-room">Box Azul</dd>' in response.content.decode()


@pytest.mark.django_db
def test_detail_lists_the_appointments_invoices(superuser_client, world):
    appointment = book(world)
    paid = InvoiceFactory(appointment=appointment, patient=world.patient, number=41, status="paid")
    paid.amount_paid = paid.total
    paid.save()
    add_adjustment_line(paid, appointment)  # a second line of the same invoice must not list it twice
    void = InvoiceFactory(appointment=appointment, patient=world.patient, number=42, status="void")
    InvoiceFactory(patient=world.patient, number=43)  # another session's invoice

    response = superuser_client.get(detail_url(appointment), HTTP_ACCEPT_LANGUAGE="en")

    html = response.content.decode()
    section = html[html.index('id="appointment-invoice-list"') :]
    section = section[: section.index("</table>")]
    assert section.count("B-000041") == 1 and "B-000042" in section and "B-000043" not in section
    assert in_response_language(response, InvoiceStatus.PAID.label) in section
    assert in_response_language(response, InvoiceStatus.VOID.label) in section
    with translation.override(response.wsgi_request.LANGUAGE_CODE):
        assert format_money(Decimal("35000"), "CLP") in section
    assert f'href="{reverse("billing_invoices:detail", args=[paid.reference])}"' in section
    assert f'href="{reverse("billing_invoices:detail", args=[void.reference])}"' in section


@pytest.mark.django_db
def test_detail_without_invoices_says_so(superuser_client, world):
    response = superuser_client.get(detail_url(book(world)), HTTP_ACCEPT_LANGUAGE="en")

    assert "No invoice for this appointment." in response.content.decode()


@pytest.mark.django_db
def test_detail_runs_the_same_number_of_queries_for_1_and_5_invoices(superuser_client, world):
    appointment = book(world)

    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            assert superuser_client.get(detail_url(appointment)).status_code == 200
        return len(queries)

    InvoiceFactory(appointment=appointment, patient=world.patient)
    few = count_queries()
    for _ in range(4):
        InvoiceFactory(appointment=appointment, patient=world.patient)

    assert count_queries() == few


def add_adjustment_line(invoice, appointment):
    from booking.billing.models import InvoiceLine

    return InvoiceLine.objects.create(
        invoice=invoice,
        kind=InvoiceLine.Kind.ADJUSTMENT,
        description="Late fee",
        unit_price=0,
        total=0,
        appointment=appointment,
    )


@pytest.mark.django_db
def test_detail_links_to_the_billing_invoice_page(superuser_client, world):
    """The link opens that invoice's page in the billing admin."""
    appointment = book(world)
    invoice = InvoiceFactory(appointment=appointment, patient=world.patient, number=7)
    expected = reverse("billing_invoices:detail", args=[invoice.reference])

    html = superuser_client.get(detail_url(appointment)).content.decode()

    assert f'href="{expected}"' in html
    assert superuser_client.get(expected).status_code == 200
