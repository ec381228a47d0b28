"""``seed_demo`` builds a believable clinic, is safe to run twice, and everything it lists can be booked."""

import datetime
from collections import Counter, defaultdict

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from wagtail.models import Page

from blog.models import BlogPage
from booking.billing import services as billing
from booking.billing.models import Coupon, Invoice, InvoiceStatus, Payment, PaymentMethod, PaymentStatus
from booking.packs.models import PackagePurchase, PackCreditEntry
from booking.scheduling.models import (
    Appointment,
    AppointmentEvent,
    AppointmentModality,
    AppointmentSource,
    AppointmentStatus,
    DateOverride,
    Location,
    Professional,
    Service,
    TimeOff,
    WeeklyAvailability,
)
from booking.scheduling.models.appointments import OPEN_STATUSES
from booking.scheduling.selectors import find_slots
from portal.records.models import Discharge, PatientDocument, Referral, SessionNote
from resources.models import ResourcePage
from tests.factories.accounts import PatientFactory, activate_totp
from website.demo import content
from website.demo.availability import TIME_OFF_REASON
from website.models import ProfessionalNews

# Friday 20 November 2026, 07:00 in Santiago: the seed's "today" in these tests.
NOW = datetime.datetime(2026, 11, 20, 10, 0, tzinfo=datetime.UTC)
PINNED = time_machine.travel(NOW, tick=False)


def _counts():
    return {
        "users": get_user_model().objects.count(),
        "services": Service.objects.count(),
        "locations": Location.objects.count(),
        "professionals": Professional.objects.count(),
        "posts": BlogPage.objects.live().count(),
        "resources": ResourcePage.objects.live().count(),
        "pages": Page.objects.count(),
        "weekly_hours": WeeklyAvailability.objects.count(),
        "sessions": Appointment.objects.count(),
        "invoices": Invoice.objects.count(),
        "payments": Payment.objects.count(),
        "coupons": Coupon.objects.count(),
        "pack_purchases": PackagePurchase.objects.count(),
        "pack_entries": PackCreditEntry.objects.count(),
        "pack_sessions": Appointment.objects.filter(pack_purchase__isnull=False).count(),
        "documents": PatientDocument.objects.count(),
        "notes": SessionNote.objects.count(),
        "news": ProfessionalNews.objects.count(),
        "time_off": TimeOff.objects.count(),
        "date_overrides": DateOverride.objects.count(),
        "discharges": Discharge.objects.count(),
        "referrals": Referral.objects.count(),
    }


@PINNED
@pytest.mark.django_db
def test_seed_demo_builds_the_clinic_once_and_its_pages_render(client, capsys):
    call_command("seed_demo")
    first = _counts()
    printed = capsys.readouterr().out
    call_command("seed_demo")

    assert first == _counts()
    assert first["services"] == 8
    assert first["locations"] == 2
    assert first["professionals"] == 6
    assert first["posts"] == 6
    assert first["resources"] == 6
    assert first["users"] == len(content.ACCOUNTS)
    assert first["weekly_hours"] == 6 * 11
    assert 40 <= first["sessions"] <= 80
    # One invoice per session, except those paid by a pack, whose invoice is the pack's.
    assert first["pack_purchases"] == 1
    assert first["invoices"] == first["sessions"] - first["pack_sessions"] + first["pack_purchases"]
    assert first["coupons"] == len(content.COUPONS)
    # the nutritionist discharged one patient; the psychologist referred one to her, sharing her notes
    assert first["discharges"] == 1 and first["referrals"] == 1
    referral = Referral.objects.select_related("from_professional", "to_professional").get()
    assert (referral.from_professional.slug, referral.to_professional.slug) == ("catalina-munoz", "javiera-contreras")
    assert referral.share_notes
    for email, *_rest in content.ACCOUNTS:
        assert email in printed
    for url in ["/", "/servicios/", "/equipo/", "/equipo/catalina-munoz/", "/blog/", "/recursos/", "/nosotros/"]:
        assert client.get(url).status_code == 200, url
    home = client.get("/").content.decode()
    assert 'class="booking-box' in home and "/booking/?service=psicoterapia-adultos" in home


@pytest.mark.django_db
def test_demo_patient_can_log_in_with_the_printed_password(client):
    call_command("seed_demo")

    response = client.post(
        "/accounts/login/", {"login": "paciente1@demo.clinic", "password": content.DEMO_PASSWORD}, follow=True
    )

    assert response.status_code == 200
    assert response.context["user"].email == "paciente1@demo.clinic"


def _expected_places(service_slug: str) -> set[str]:
    """Where the demo's content says a service is given in person: the locations of who offers it."""
    return {
        location
        for professional in content.PROFESSIONALS
        if service_slug in professional["services"]
        for location in professional["locations"]
    }


@PINNED
@pytest.mark.django_db
def test_demo_clinic_books_every_service_in_every_modality_it_offers():
    """Each service, in person at every location the booking box lists for it and online, finds a time and books."""
    call_command("seed_demo")
    today = datetime.date(2026, 11, 20)
    booked = []

    for service in Service.objects.order_by("sort_order"):
        offering = Professional.objects.filter(offered_services__service=service)
        # The booking box's step 1 lists the locations of the professionals who offer the service.
        places = list(Location.objects.filter(active=True, professionals__in=offering).distinct())
        if service.offers_in_person:
            assert {place.slug for place in places} == _expected_places(service.slug), service.slug
        choices = [(place, AppointmentModality.IN_PERSON) for place in places if service.offers_in_person]
        if service.offers_online:
            choices.append((None, AppointmentModality.ONLINE))
        assert choices, service.slug
        for place, modality in choices:
            professionals = offering.filter(locations=place) if place is not None else offering
            slots = find_slots(
                service=service,
                professionals=list(professionals),
                location=place,
                start_day=today + datetime.timedelta(days=1),
                end_day=today + datetime.timedelta(days=14),
                now=NOW,
            )
            assert slots, (service.slug, place, modality)
            slot = slots[0]
            patient = PatientFactory()  # one each: a patient never holds two sessions at once
            appointment, invoice = billing.book_with_invoice(
                patient=patient,
                professional=Professional.objects.get(pk=slot.professional_id),
                service=service,
                start=slot.start,
                location=place,
                modality=modality,
                source=AppointmentSource.BOOKING_BOX,
                actor=patient.user,
                now=NOW,
            )
            assert appointment.status in (AppointmentStatus.CONFIRMED, AppointmentStatus.PENDING_PAYMENT)
            assert (appointment.location, appointment.modality) == (place, modality)
            assert invoice.total == appointment.price
            booked.append((service.slug, place.slug if place else "online"))

    assert ("psicoterapia-adultos", "online") in booked and ("psicoterapia-adultos", "vina-del-mar") in booked
    assert len(booked) == 14 + 5  # 14 (service, location) pairs in person; 5 of the 8 services also online


@PINNED
@pytest.mark.django_db
def test_demo_month_shows_every_state_a_clinic_sees(client):
    """A month behind and a month ahead, through the services: closed, paid every way, owed, cancelled, moved."""
    call_command("seed_demo")
    sessions = list(Appointment.objects.select_related("patient__user", "service", "location"))

    assert Counter(session.status for session in sessions) == {
        AppointmentStatus.COMPLETED: 28 + 4,  # 4 of them from Joaquín's pack (website/demo/packs.py)
        AppointmentStatus.NO_SHOW_PATIENT: 1,
        AppointmentStatus.CANCELLED: 1,
        AppointmentStatus.CONFIRMED: 31 + 1,  # and one ahead
    }
    assert all(session.status != AppointmentStatus.CONFIRMED for session in sessions if session.end <= NOW)
    assert all(
        session.status == AppointmentStatus.CONFIRMED
        for session in sessions
        if session.start > NOW and session.status != AppointmentStatus.CANCELLED
    )
    assert {session.professional_id for session in sessions} == set(Professional.objects.values_list("pk", flat=True))
    assert {session.service.slug for session in sessions} == {data["slug"] for data in content.SERVICES}
    assert {(session.modality, session.location.slug if session.location else "") for session in sessions} == {
        (AppointmentModality.IN_PERSON, "providencia"),
        (AppointmentModality.IN_PERSON, "vina-del-mar"),
        (AppointmentModality.ONLINE, ""),
    }
    assert len({session.patient_id for session in sessions}) == 8
    # every online session has its own video room, and in-person ones none
    online = [session for session in sessions if session.modality == AppointmentModality.ONLINE]
    assert online and all(len(session.video_room) == 32 for session in online)
    assert len({session.video_room for session in online}) == len(online)
    assert not any(session.video_room for session in sessions if session.modality == AppointmentModality.IN_PERSON)

    by_patient = defaultdict(list)
    for session in sessions:
        if session.status != AppointmentStatus.CANCELLED:
            by_patient[session.patient_id].append((session.start, session.end))
    for intervals in by_patient.values():
        intervals.sort()
        assert all(end <= next_start for (_s, end), (next_start, _e) in zip(intervals, intervals[1:], strict=False))

    payments = Counter(Payment.objects.filter(status=PaymentStatus.SUCCEEDED).values_list("method", flat=True))
    assert payments[PaymentMethod.ONLINE] >= 10
    assert payments[PaymentMethod.CASH] and payments[PaymentMethod.TRANSFER] and payments[PaymentMethod.CARD_TERMINAL]
    owed_ahead = Invoice.objects.filter(status=InvoiceStatus.OPEN, lines__appointment__start__gt=NOW)
    assert owed_ahead.count() >= 10  # pay later, or at the clinic
    (no_show,) = [session for session in sessions if session.status == AppointmentStatus.NO_SHOW_PATIENT]
    assert Invoice.objects.get(lines__appointment=no_show).status == InvoiceStatus.OPEN  # charged, still owed
    (cancelled,) = [session for session in sessions if session.status == AppointmentStatus.CANCELLED]
    assert Invoice.objects.get(lines__appointment=cancelled).status == InvoiceStatus.REFUNDED
    (moved,) = [session for session in sessions if session.reschedule_count]
    assert moved.events.filter(action=AppointmentEvent.Action.RESCHEDULED).exists()
    assert not AppointmentEvent.objects.filter(at__gt=NOW).exists()
    assert Invoice.objects.filter(coupon_redemptions__isnull=False).count() == 1

    camila = get_user_model().objects.get(email="paciente1@demo.clinic")
    client.force_login(camila)
    listed = client.get("/portal/invoices/").content.decode()
    newest = Invoice.objects.filter(patient__user=camila).order_by("-issued_at", "-pk").first()
    assert newest.display_number in listed

    # each patient's first past nutrition consultation left an evaluation in their portal
    evaluations = list(PatientDocument.objects.select_related("patient__user", "appointment__service"))
    assert evaluations and all(document.kind == "evaluation" for document in evaluations)
    assert all(document.appointment.end <= document.shared_at <= NOW for document in evaluations)
    owner = evaluations[0].patient.user
    client.force_login(owner)
    assert "Evaluación nutricional" in client.get("/portal/documents/").content.decode()
    download = client.get(f"/portal/documents/{evaluations[0].reference}/download/")
    assert b"".join(download.streaming_content).startswith(b"%PDF")

    # the psychologist's last completed sessions carry signed notes, one of them amended
    signed = list(SessionNote.objects.select_related("appointment__professional"))
    assert len(signed) == 3 and all(note.is_signed for note in signed)
    assert {note.appointment.professional.slug for note in signed} == {"catalina-munoz"}
    assert sum(note.amendments.count() for note in signed) == 1

    # the professionals' Today carries the clinic's current notices
    assert list(ProfessionalNews.objects.shown_on(NOW.date()).values_list("title", flat=True)) == [
        "Reunión clínica mensual",
        "Nuevas fichas encriptadas",
    ]
    # she changes her own hours, and has a congress day off and a Saturday closed online ahead, clear of sessions
    catalina = Professional.objects.get(slug="catalina-munoz")
    assert catalina.availability_self_service == "full"
    (congress,) = TimeOff.objects.filter(professional=catalina)
    assert congress.all_day and congress.start > NOW and congress.reason == TIME_OFF_REASON
    (saturday,) = DateOverride.objects.filter(professional=catalina)
    assert saturday.is_closed and saturday.location is None and saturday.date.weekday() == 5
    open_sessions = Appointment.objects.filter(professional=catalina, status__in=OPEN_STATUSES)
    assert not open_sessions.filter(start__lt=congress.end, end__gt=congress.start).exists()
    activate_totp(catalina.user)
    client.force_login(catalina.user)
    availability = client.get("/portal/pro/availability/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert TIME_OFF_REASON in availability and 'id="time-off-add"' in availability


@pytest.mark.django_db
def test_seeding_again_repairs_professionals_an_earlier_seed_left_without_locations(client):
    """Earlier seeds never committed the locations and put all weekday hours at the first location."""
    with time_machine.travel(NOW, tick=False):
        call_command("seed_demo")
    Professional.locations.through.objects.all().delete()
    providencia = Location.objects.get(slug="providencia")
    WeeklyAvailability.objects.filter(professional__slug="matias-fernandez", location__isnull=False).update(
        location=providencia
    )

    with time_machine.travel(NOW + datetime.timedelta(days=1), tick=False):
        call_command("seed_demo")

    for data in content.PROFESSIONALS:
        professional = Professional.objects.get(slug=data["slug"])
        assert sorted(professional.locations.values_list("slug", flat=True)) == sorted(data["locations"])
    matias_places = WeeklyAvailability.objects.filter(professional__slug="matias-fernandez").values_list(
        "weekday", "location__slug"
    )
    assert set(matias_places) == {
        *((day, "providencia") for day in (0, 1, 2)),
        *((day, "vina-del-mar") for day in (3, 4)),
        (5, None),
    }
    step_one = client.get("/booking/", {"service": "psicoterapia-adolescentes"}).content.decode()
    assert "Sede Viña del Mar" in step_one and "Sede Providencia" in step_one
