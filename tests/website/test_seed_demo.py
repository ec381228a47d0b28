"""``seed_demo`` builds a believable clinic and is safe to run twice."""

import datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from wagtail.models import Page

from blog.models import BlogPage
from booking.billing.models import Coupon, Invoice
from booking.scheduling.models import Appointment, Location, Professional, Service, WeeklyAvailability
from resources.models import ResourcePage
from website.demo import content


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
        "demo_sessions": Appointment.objects.filter(status="confirmed").count(),
        "invoices": Invoice.objects.count(),
        "paid_invoices": Invoice.objects.filter(status="paid").count(),
        "coupons": Coupon.objects.count(),
    }


@time_machine.travel(datetime.datetime(2026, 11, 20, 10, 0, tzinfo=datetime.UTC), tick=False)
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
    assert first["demo_sessions"] == 2
    assert (first["invoices"], first["paid_invoices"], first["coupons"]) == (2, 1, len(content.COUPONS))
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
