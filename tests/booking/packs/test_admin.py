"""The "Packs" admin menu through the Django test client: packs edited with their items, purchases read-only with
balances and ledger, the credit adjustment, and who may see and do what."""

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from wagtail.test.utils.form_data import inline_formset, nested_form_data

from booking.packs.models import CreditKind, CreditMode, Package, PackCreditEntry
from booking.packs.selectors import balances
from booking.packs.services import reserve_session
from portal.accounts.roles import EDITORS
from tests.factories.accounts import PatientFactory, VerifiedUserFactory, activate_totp

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def package_form(clinic, *, mode=CreditMode.PER_SERVICE, pool="", items=None, **overrides):
    items = items if items is not None else [(clinic.psychology, "8")]
    data = nested_form_data(
        {
            "name": "Pack psicología",
            "slug": "pack-psicologia",
            "description": "",
            "price": "280000",
            "currency": "CLP",
            "validity_days": "180",
            "active": "on",
            "public": "on",
            "sort_order": "0",
            "credit_mode": mode,
            "pool_sessions": pool,
            "default_location": "",
            "max_purchases_per_patient": "",
            "items": inline_formset(
                [{"service": service.pk, "sessions": sessions} for service, sessions in items], min=1
            ),
        }
    )
    data.update(overrides)
    return data


@pytest.fixture
def administrator_client(clinic):
    return client_for(clinic.administrator)


@pytest.fixture
def receptionist_client(clinic):
    return client_for(clinic.receptionist)


@pytest.fixture
def editor_client(clinic):
    editor = VerifiedUserFactory(email="editor@clinic.example", is_staff=True)
    editor.groups.add(Group.objects.get(name=EDITORS))
    activate_totp(editor)
    return client_for(editor)


@pytest.fixture
def sold(clinic, per_service_pack, make_session, buy):
    """A purchase of the patient with one psychology session booked from it."""
    purchase = buy(per_service_pack)
    reserve_session(
        purchase=purchase, service=clinic.psychology, appointment=make_session(), actor=clinic.receptionist
    )
    return purchase


def test_an_administrator_creates_a_per_service_pack_with_its_items(clinic, administrator_client):
    response = administrator_client.post(reverse("package:add"), package_form(clinic))

    assert response.status_code == 302, response.context["form"].errors if response.context else response
    package = Package.objects.get(slug="pack-psicologia")
    assert [(item.service, item.sessions) for item in package.items.all()] == [(clinic.psychology, 8)]
    assert package.snapshot()["items"][0]["sessions"] == 8


def test_an_administrator_creates_a_shared_pool(clinic, administrator_client):
    data = package_form(
        clinic,
        mode=CreditMode.SHARED_POOL,
        pool="9",
        items=[(clinic.psychology, ""), (clinic.nutrition, "")],
        slug="pack-bienestar",
    )

    response = administrator_client.post(reverse("package:add"), data)

    assert response.status_code == 302
    package = Package.objects.get(slug="pack-bienestar")
    assert (package.credit_mode, package.pool_sessions) == (CreditMode.SHARED_POOL, 9)
    assert [item.sessions for item in package.items.all()] == [None, None]


@pytest.mark.parametrize(
    ("mode", "pool", "items"),
    [
        (CreditMode.PER_SERVICE, "", [("psychology", "")]),
        (CreditMode.PER_SERVICE, "5", [("psychology", "3")]),
        (CreditMode.SHARED_POOL, "", [("psychology", "")]),
        (CreditMode.SHARED_POOL, "5", [("psychology", "3")]),
        (CreditMode.PER_SERVICE, "", [("psychology", "3"), ("psychology", "2")]),
        (CreditMode.PER_SERVICE, "", [("psychology", "-2")]),
    ],
    ids=["item-without-sessions", "pool-on-per-service", "pool-without-size", "sessions-in-pool", "twice", "negative"],
)
def test_a_pack_whose_items_do_not_fit_its_mode_is_refused_with_a_message(
    clinic, administrator_client, mode, pool, items
):
    data = package_form(
        clinic, mode=mode, pool=pool, items=[(getattr(clinic, name), sessions) for name, sessions in items]
    )

    response = administrator_client.post(reverse("package:add"), data)

    assert response.status_code == 200
    assert not Package.objects.exists()
    assert "error-message" in response.content.decode() or response.context["form"].errors


def test_a_service_not_available_in_packs_cannot_be_listed(clinic, administrator_client):
    clinic.outside.available_in_packs = False
    clinic.outside.save()

    response = administrator_client.post(reverse("package:add"), package_form(clinic, items=[(clinic.outside, "2")]))

    assert response.status_code == 200
    assert not Package.objects.exists()


def test_staff_with_permission_see_the_purchases_balances_and_ledger(clinic, receptionist_client, sold):
    listing = receptionist_client.get(reverse("packs_purchases:index"))
    detail = receptionist_client.get(reverse("packs_purchases:detail", args=[sold.reference]))

    assert listing.status_code == 200 and sold.reference in listing.content.decode()
    assert detail.status_code == 200
    html = detail.content.decode()
    assert "Psicoterapia" in html and "Control nutricional" in html
    assert [(bucket.remaining, bucket.booked) for bucket in detail.context["balances"].buckets] == [(2, 1), (2, 0)]
    assert len(detail.context["entries"]) == 3  # two grants and the reservation
    assert not detail.context["show_adjust"]  # reception may look, not adjust


def test_the_purchase_list_costs_the_same_queries_for_one_purchase_or_many(
    clinic, receptionist_client, per_service_pack, buy
):
    buy(per_service_pack)
    receptionist_client.get(reverse("packs_purchases:index"))  # warm the session and permission caches
    for _ in range(5):
        buy(per_service_pack, patient=PatientFactory())

    with CaptureQueriesContext(connection) as many:
        response = receptionist_client.get(reverse("packs_purchases:index"))

    assert len(response.context["rows"]) == 6
    ledger_queries = [query for query in many.captured_queries if "packs_packcreditentry" in query["sql"]]
    assert len(ledger_queries) == 1


def test_an_administrator_adjusts_credits_with_a_reason(clinic, administrator_client, sold):
    url = reverse("packs_purchases:adjust", args=[sold.reference])

    response = administrator_client.post(
        url,
        {"adjust-bucket": str(clinic.nutrition.pk), "adjust-quantity": "2", "adjust-reason": "Sesiones de cortesía"},
    )

    assert response.status_code == 302
    entry = PackCreditEntry.objects.get(purchase=sold, kind=CreditKind.ADJUSTED)
    assert (entry.service, entry.quantity, entry.reason, entry.actor) == (
        clinic.nutrition,
        2,
        "Sesiones de cortesía",
        clinic.administrator,
    )
    assert balances(sold).for_service(clinic.nutrition.pk).remaining == 4


@pytest.mark.parametrize(
    "posted",
    [
        {"adjust-quantity": "-5", "adjust-reason": "Corrección"},
        {"adjust-quantity": "abc", "adjust-reason": "Corrección"},
        {"adjust-quantity": "0", "adjust-reason": "Corrección"},
        {"adjust-quantity": "99999999", "adjust-reason": "Corrección"},
        {"adjust-quantity": "1", "adjust-reason": "  "},
        {"adjust-quantity": "1", "adjust-reason": "Corrección", "adjust-bucket": "999999"},
    ],
    ids=["below-zero", "not-a-number", "zero", "tampered-huge", "no-reason", "unknown-service"],
)
def test_a_bad_adjustment_shows_a_message_and_changes_nothing(clinic, administrator_client, sold, posted):
    data = {"adjust-bucket": str(clinic.psychology.pk), **posted}

    response = administrator_client.post(reverse("packs_purchases:adjust", args=[sold.reference]), data)

    assert response.status_code == 200
    assert response.context["show_adjust"]
    assert not PackCreditEntry.objects.filter(kind=CreditKind.ADJUSTED).exists()
    assert balances(sold).for_service(clinic.psychology.pk).remaining == 2


def test_adjusting_needs_the_permission(clinic, receptionist_client, sold):
    response = receptionist_client.post(
        reverse("packs_purchases:adjust", args=[sold.reference]),
        {"adjust-bucket": str(clinic.psychology.pk), "adjust-quantity": "5", "adjust-reason": "Regalo"},
    )

    assert response.status_code in (302, 403)
    assert not PackCreditEntry.objects.filter(kind=CreditKind.ADJUSTED).exists()


@pytest.mark.parametrize("who", ["patient", "editor"])
def test_patients_and_editors_see_no_pack_screen(clinic, editor_client, sold, who):
    client = editor_client if who == "editor" else client_for(clinic.patient.user)
    urls = [
        reverse("packs_purchases:index"),
        reverse("packs_purchases:detail", args=[sold.reference]),
        reverse("package:index"),
        reverse("package:edit", args=[sold.package.pk]),
    ]

    for url in urls:
        response = client.get(url)
        assert response.status_code in (302, 403), url
        assert sold.reference not in response.content.decode()
    response = client.post(
        reverse("packs_purchases:adjust", args=[sold.reference]),
        {"adjust-bucket": str(clinic.psychology.pk), "adjust-quantity": "5", "adjust-reason": "Regalo"},
    )
    assert response.status_code in (302, 403)
    assert not PackCreditEntry.objects.filter(kind=CreditKind.ADJUSTED).exists()


def test_the_packs_menu_lists_packs_and_purchases(clinic, administrator_client):
    response = administrator_client.get(reverse("wagtailadmin_home"))

    html = response.content.decode()
    assert response.status_code == 200
    assert reverse("package:index") in html and reverse("packs_purchases:index") in html


def test_a_sold_pack_cannot_be_deleted_only_deactivated(clinic, administrator_client, sold):
    response = administrator_client.post(reverse("package:delete", args=[sold.package.pk]))

    assert response.status_code == 302
    assert Package.objects.filter(pk=sold.package.pk).exists()
