"""Discount codes in the Wagtail admin: the list with its use counts, the form's checks, and protected deletes."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from booking.billing.admin_forms import CouponForm
from booking.billing.models import Coupon, CouponRedemption
from portal.accounts import roles
from tests.factories.billing import CouponFactory, InvoiceFactory
from tests.factories.scheduling import ServiceFactory, StaffUserFactory

INDEX_URL = "/admin/billing/coupons/"
ADD_URL = "/admin/billing/coupons/new/"
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def edit_url(coupon):
    return f"/admin/billing/coupons/edit/{coupon.pk}/"


def delete_url(coupon):
    return f"/admin/billing/coupons/delete/{coupon.pk}/"


@pytest.fixture
def admin_client_en(superuser):
    superuser.preferred_language = "en"
    superuser.save()
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(superuser)
    return client


def redeem(coupon, *, status="paid"):
    invoice = InvoiceFactory(status=status, appointment=False)
    return CouponRedemption.objects.create(coupon=coupon, invoice=invoice, amount=Decimal("1000"), created_at=NOW)


def form_data(**overrides):
    data = {
        "code": "verano",
        "description": "Summer",
        "kind": "percent",
        "value": "15",
        "currency": "CLP",
        "applies_to_packs": "on",
        "valid_from": "",
        "valid_until": "",
        "max_redemptions": "",
        "max_per_customer": "",
        "active": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


# --- The list ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_shows_value_validity_and_uses_not_counting_void_invoices(admin_client_en):
    coupon = CouponFactory(
        code="VERANO",
        kind="amount",
        value=Decimal("5000"),
        max_redemptions=10,
        valid_until=datetime(2027, 1, 31, 12, tzinfo=UTC),
    )
    redeem(coupon)
    redeem(coupon, status="open")
    redeem(coupon, status="void")
    CouponFactory(code="OTONO", value=Decimal("12.5"))

    response = admin_client_en.get(INDEX_URL)

    html = response.content.decode()
    assert response.status_code == 200
    assert "VERANO" in html and "OTONO" in html
    assert "$5,000" in html
    assert "12.5 %" in html
    assert "2 / 10" in html  # the void invoice's use does not count
    assert "Until" in html


@pytest.mark.django_db
def test_list_runs_the_same_number_of_queries_for_3_and_30_codes(admin_client_en):
    service = ServiceFactory()

    def add_coupons(count):
        for _ in range(count):
            coupon = CouponFactory()
            coupon.services.add(service)
            redeem(coupon)

    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            assert admin_client_en.get(INDEX_URL).status_code == 200
        return len(queries)

    add_coupons(3)
    few = count_queries()
    add_coupons(27)
    many = count_queries()

    assert Coupon.objects.count() == 30
    assert many == few


# --- The form ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_a_code_for_some_services(admin_client_en):
    therapy, nutrition = ServiceFactory(name="Terapia"), ServiceFactory(name="Nutrición")

    page = admin_client_en.get(ADD_URL)
    response = admin_client_en.post(ADD_URL, {**form_data(code=" verano "), "services": [therapy.pk]})

    assert 'type="checkbox" name="services"' in page.content.decode()
    assert response.status_code == 302
    coupon = Coupon.objects.get()
    assert coupon.code == "VERANO"
    assert list(coupon.services.all()) == [therapy]
    assert nutrition not in coupon.services.all()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "typed", ["verano", "VERANO", "Verano", " verano "], ids=["lower", "upper", "mixed", "spaces"]
)
def test_a_code_that_exists_in_any_case_is_a_form_error(admin_client_en, typed):
    CouponFactory(code="VERANO")

    response = admin_client_en.post(ADD_URL, form_data(code=typed))

    assert response.status_code == 200
    assert "code" in response.context["form"].errors
    assert "already exists" in response.content.decode()
    assert Coupon.objects.count() == 1


@pytest.mark.django_db
def test_editing_a_code_keeps_its_own_code(admin_client_en):
    coupon = CouponFactory(code="VERANO", value=Decimal("10"))

    response = admin_client_en.post(edit_url(coupon), form_data(code="verano", value="20"))

    coupon.refresh_from_db()
    assert response.status_code == 302
    assert (coupon.code, coupon.value) == ("VERANO", Decimal("20"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "percent", "value": "150"}, "value"),
        ({"kind": "percent", "value": "0"}, "value"),
        ({"kind": "amount", "value": "999.50", "currency": "CLP"}, "value"),
        ({"valid_from": "2026-12-10 00:00", "valid_until": "2026-12-01 00:00"}, "valid_until"),
        ({"valid_from": "2026-12-10 00:00", "valid_until": "2026-12-10 00:00"}, "valid_until"),
        ({"code": "   "}, "code"),
        ({"valid_until": "9999-12-31 23:00"}, "valid_until"),
        ({"valid_from": "0001-01-01 00:00"}, "valid_from"),
    ],
    ids=[
        "percent-over-100",
        "zero",
        "cents-in-pesos",
        "until-before-from",
        "empty-range",
        "blank-code",
        "until-past-the-calendar",
        "from-before-the-calendar",
    ],
)
def test_bad_values_are_form_errors(admin_client_en, overrides, field):
    response = admin_client_en.post(ADD_URL, form_data(**overrides))

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Coupon.objects.exists()


@pytest.mark.django_db
def test_two_people_saving_the_same_code_at_once_get_a_form_error(admin_client_en, monkeypatch):
    """Both checks ran before the other's row was committed; the database refuses the second, the form says why."""
    CouponFactory(code="VERANO")
    monkeypatch.setattr(CouponForm, "clean_code", lambda form: form.cleaned_data["code"].strip().upper())
    monkeypatch.setattr(Coupon, "validate_constraints", lambda coupon, exclude=None: None)

    response = admin_client_en.post(ADD_URL, form_data(code="verano"))

    assert response.status_code == 200
    assert "code" in response.context["form"].errors
    assert Coupon.objects.count() == 1


# --- Deleting ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_unused_code_can_be_deleted(admin_client_en):
    coupon = CouponFactory()

    response = admin_client_en.post(delete_url(coupon))

    assert response.status_code == 302
    assert not Coupon.objects.exists()


@pytest.mark.django_db
def test_a_used_code_cannot_be_deleted_only_deactivated(admin_client_en):
    coupon = CouponFactory(code="VERANO")
    redeem(coupon)

    response = admin_client_en.post(delete_url(coupon), follow=True)

    assert response.status_code == 200
    assert Coupon.objects.filter(pk=coupon.pk).exists()
    assert "Deactivate it instead" in response.content.decode()


# --- Permissions -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_receptionist_sees_codes_but_cannot_create_edit_or_delete_them():
    user = StaffUserFactory(email="reception@clinic.example", preferred_language="en")
    user.groups.add(Group.objects.get(name=roles.RECEPTIONISTS))
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    coupon = CouponFactory(code="VERANO")

    listing = client.get(INDEX_URL)
    refused = [
        client.post(ADD_URL, form_data(code="OTRO")),
        client.post(edit_url(coupon), form_data(code="VERANO", value="99")),
        client.post(delete_url(coupon)),
    ]

    assert listing.status_code == 200
    assert "VERANO" in listing.content.decode()
    assert all(response.status_code in (302, 403) for response in refused)
    coupon.refresh_from_db()
    assert coupon.value == Decimal("10")
    assert list(Coupon.objects.values_list("code", flat=True)) == ["VERANO"]


@pytest.mark.django_db
def test_clinic_administrator_creates_codes():
    user = StaffUserFactory(email="boss@clinic.example", preferred_language="en")
    user.groups.add(Group.objects.get(name=roles.CLINIC_ADMINISTRATORS))
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)

    response = client.post(ADD_URL, form_data(code="nuevo"))

    assert response.status_code == 302
    assert Coupon.objects.filter(code="NUEVO").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("page", ["index", "add", "edit", "inspect", "delete"])
def test_every_coupon_page_opens_in_the_default_language(superuser_client, page):
    coupon = CouponFactory(code="VERANO")
    coupon.services.add(ServiceFactory(name="Terapia"))
    redeem(coupon)
    url = {
        "index": INDEX_URL,
        "add": ADD_URL,
        "edit": edit_url(coupon),
        "inspect": f"/admin/billing/coupons/inspect/{coupon.pk}/",
        "delete": delete_url(coupon),
    }[page]

    response = superuser_client.get(url)

    assert response.status_code == 200
    assert "VERANO" in response.content.decode() or page == "add"
