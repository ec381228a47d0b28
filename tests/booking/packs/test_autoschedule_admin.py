"""Auto-scheduling a pack in the admin, through the Django test client: form → preview → swap → confirm, the
conflict page when a slot was taken meanwhile, and bad input coming back as messages (never a 500)."""

import re
from datetime import date, time

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from booking.packs.models import CreditKind, PackCreditEntry
from booking.packs.selectors import balances
from booking.packs.services import sign_plan, unsign_plan
from booking.scheduling.models import Appointment
from portal.accounts.roles import EDITORS
from tests.factories.accounts import PatientFactory, VerifiedUserFactory, activate_totp
from tests.factories.scheduling import AppointmentFactory, ProfessionalFactory

from .autoschedule_world import NOW, build_world, buy, local

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def purchase(world):
    return buy(world, {world.psychology: 2, world.nutrition: 1})


@pytest.fixture
def desk(receptionist):
    client = Client()
    client.force_login(receptionist)
    return client


def shown(response, message: str, plural: str | None = None, count: int = 0) -> bool:
    """Whether ``message`` appears on the page in the language the admin answered in (es-CL by default)."""
    with translation.override(response.wsgi_request.LANGUAGE_CODE):
        text = (
            translation.ngettext(message, plural, count) % {"count": count} if plural else translation.gettext(message)
        )
    return escape(text) in response.content.decode()


def url(purchase):
    return reverse("packs_autoschedule:form", args=[purchase.reference])


def form_data(world, **changes):
    data = {
        "professionals": [world.ana.pk, world.bruno.pk],
        "locations": [],
        "start_date": "2027-03-22",
        "weekdays": ["0", "2"],
        "time_from": "09:00",
        "time_to": "11:00",
        "cadence": "weekly",
        "one_per_day": "on",
        "propose": "1",
    }
    data.update(changes)
    return data


def test_the_purchase_page_links_to_auto_scheduling(desk, purchase):
    detail = desk.get(reverse("packs_purchases:detail", args=[purchase.reference]))

    assert detail.status_code == 200
    assert url(purchase) in detail.content.decode()


def test_the_form_offers_only_professionals_the_pack_allows_and_who_offer_its_services(desk, world):
    ProfessionalFactory(display_name="Carla")  # offers nothing in the pack
    purchase = buy(world, {world.psychology: 2}, allowed=[world.bruno])

    page = desk.get(url(purchase))

    assert page.status_code == 200
    assert list(page.context["form"].fields["professionals"].queryset) == [world.bruno]
    assert "Carla" not in page.content.decode()


def test_form_preview_swap_confirm(desk, world, purchase):
    preview = desk.post(url(purchase), form_data(world))

    assert preview.status_code == 200
    rows = preview.context["rows"]
    assert [(row["proposal"].service, local(row["proposal"].start).date()) for row in rows] == [
        (world.psychology, date(2027, 3, 22)),
        (world.nutrition, date(2027, 3, 24)),
        (world.psychology, date(2027, 3, 29)),
    ]
    html = preview.content.decode()
    assert "America/Santiago (UTC-03:00)" in html
    assert "Providencia" in html
    assert not Appointment.objects.exists()

    # Swap the first session for its first alternative.
    alternative = rows[0]["alternatives"][0]
    swapped = desk.post(
        url(purchase), {"plan": preview.context["plan_value"], "swap": "0", "alternative-0": alternative["token"]}
    )
    assert swapped.status_code == 200
    starts = [row["proposal"].start for row in swapped.context["rows"]]
    assert alternative["proposal"].start in starts
    assert (
        rows[0]["proposal"].start not in starts
        or alternative["proposal"].professional != rows[0]["proposal"].professional
    )

    confirmed = desk.post(url(purchase), {"plan": swapped.context["plan_value"], "confirm": "1"})

    assert confirmed.status_code == 302
    assert confirmed.url == reverse("packs_purchases:detail", args=[purchase.reference])
    booked = Appointment.objects.filter(pack_purchase=purchase).order_by("start")
    assert sorted(a.start for a in booked) == sorted(starts)
    assert balances(purchase).remaining == 0
    detail = desk.get(confirmed.url)
    assert shown(detail, "%(count)d session booked from the pack.", "%(count)d sessions booked from the pack.", 3)


def test_a_slot_taken_meanwhile_books_nothing_and_lists_it_with_alternatives(desk, world, purchase):
    preview = desk.post(url(purchase), form_data(world))
    taken = preview.context["rows"][1]["proposal"]
    AppointmentFactory(
        patient=PatientFactory(),
        professional=taken.professional,
        service=taken.service,
        modality="in_person",
        location=world.location,
        start=taken.start,
    )

    conflict = desk.post(url(purchase), {"plan": preview.context["plan_value"], "confirm": "1"})

    assert conflict.status_code == 409
    assert not Appointment.objects.filter(pack_purchase=purchase).exists()
    assert not PackCreditEntry.objects.filter(purchase=purchase, kind=CreditKind.RESERVED).exists()
    failed = [row for row in conflict.context["rows"] if row["failure"]]
    assert [row["index"] for row in failed] == [1]
    assert failed[0]["alternatives"]
    assert shown(
        conflict,
        "Nothing was booked. The sessions marked below are no longer free: swap each for another time, then "
        "confirm again.",
    )
    assert shown(conflict, "No longer free:")

    # Swap the taken one for an alternative, then the whole plan books.
    alternative = failed[0]["alternatives"][0]
    swapped = desk.post(
        url(purchase), {"plan": conflict.context["plan_value"], "swap": "1", "alternative-1": alternative["token"]}
    )
    booked = desk.post(url(purchase), {"plan": swapped.context["plan_value"], "confirm": "1"})
    assert booked.status_code == 302
    assert Appointment.objects.filter(pack_purchase=purchase).count() == 3


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"professionals": []}, "professionals", "Choose at least one professional."),
        ({"time_from": "11:00", "time_to": "10:00"}, "time_to", "The time window must end after it starts."),
        ({"start_date": "2027-03-01"}, "start_date", "The start date cannot be in the past."),
        ({"weekdays": []}, "weekdays", "Choose at least one weekday."),
        ({"start_date": "not a date"}, "start_date", None),
        ({"cadence": "daily"}, "cadence", None),
        ({"professionals": ["999999"]}, "professionals", None),
    ],
    ids=["no-professional", "inverted-window", "past-start", "no-weekday", "bad-date", "bad-cadence", "bad-id"],
)
def test_bad_input_comes_back_as_form_errors(desk, world, purchase, changes, field, message):
    response = desk.post(url(purchase), form_data(world, **changes))

    assert response.status_code == 200
    errors = response.context["form"].errors[field]
    if message:
        assert translation.gettext(message) in errors
    assert not Appointment.objects.exists()


def test_a_tampered_or_foreign_plan_is_refused_with_a_message(desk, world, purchase):
    preview = desk.post(url(purchase), form_data(world))
    value = preview.context["plan_value"]
    other = buy(world, {world.psychology: 2}, patient=PatientFactory())

    tampered = desk.post(url(purchase), {"plan": value[:-3] + "abc", "confirm": "1"})
    foreign = desk.post(url(other), {"plan": value, "confirm": "1"})
    bad_swap = desk.post(url(purchase), {"plan": value, "swap": "0", "alternative-0": "forged"})
    bad_index = desk.post(url(purchase), {"plan": value, "swap": "99"})

    for response in (tampered, foreign, bad_swap, bad_index):
        assert response.status_code == 200
    assert shown(tampered, "The schedule could not be read; please propose it again.")
    assert shown(foreign, "This schedule belongs to another pack.")
    assert shown(bad_swap, "The schedule could not be read; please propose it again.")
    assert shown(bad_index, "Choose a session to swap.")
    assert not Appointment.objects.exists()


def test_a_plan_edited_to_point_at_a_professional_the_pack_does_not_allow_is_refused(desk, world):
    purchase = buy(world, {world.psychology: 2}, allowed=[world.ana])
    preview = desk.post(url(purchase), form_data(world, professionals=[world.ana.pk]))
    plan = unsign_plan(preview.context["plan_value"], purchase=purchase)
    # A plan signed with another professional (as if the pack's rules changed since) is re-checked on the way in.
    forged = plan.__class__(
        purchase=plan.purchase,
        request=plan.request.__class__(
            **{**plan.request.__dict__, "professional_ids": (world.ana.pk, world.bruno.pk)}
        ),
        proposals=tuple(p.__class__(**{**p.__dict__, "professional": world.bruno}) for p in plan.proposals),
    )

    response = desk.post(url(purchase), {"plan": sign_plan(forged), "confirm": "1"})

    assert response.status_code == 200
    assert shown(response, "This pack cannot be used with that professional.")
    assert not Appointment.objects.exists()


def test_without_permission_the_pages_are_refused(world, purchase):
    editor = VerifiedUserFactory(email="editor@clinic.example", is_staff=True)
    editor.groups.add(Group.objects.get(name=EDITORS))
    activate_totp(editor)
    client = Client()
    client.force_login(editor)

    assert client.get(url(purchase)).status_code in (302, 403)
    assert client.post(url(purchase), form_data(world)).status_code in (302, 403)
    assert not Appointment.objects.exists()


def test_an_unknown_purchase_is_a_404(desk):
    assert desk.get(reverse("packs_autoschedule:form", args=["NOPE"])).status_code == 404


def test_times_are_shown_in_local_time(desk, world, purchase):
    preview = desk.post(url(purchase), form_data(world))

    first = preview.context["rows"][0]
    assert local(first["proposal"].start).time() == time(9)
    assert re.search(r"09:00–09:50", preview.content.decode())


def test_sessions_that_do_not_fit_before_the_expiry_are_listed(desk, world):
    purchase = buy(world, {world.psychology: 4}, validity_days=21)

    preview = desk.post(url(purchase), form_data(world, weekdays=["0"]))

    assert preview.status_code == 200
    assert len(preview.context["rows"]) == 3
    (unplaced,) = preview.context["plan"].unplaced
    assert (unplaced.count, unplaced.code) == (1, "expiry")
    assert escape(unplaced.message) in preview.content.decode()
    assert 'id="autoschedule-unplaced-list"' in preview.content.decode()
