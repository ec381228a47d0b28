"""The catalog models' own rules: RUT normalisation, per-professional prices, querysets, wording."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from booking.scheduling.models import Professional
from tests.factories.scheduling import (
    ProfessionalFactory,
    ProfessionalServiceFactory,
    ServiceCategoryFactory,
    ServiceFactory,
)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("typed", "stored"),
    [("12345678-5", "12.345.678-5"), ("123456785", "12.345.678-5"), (" 12.345.678-5 ", "12.345.678-5"), ("", None)],
    ids=["dash", "compact", "spaces", "empty"],
)
def test_professional_rut_is_stored_in_one_canonical_form(typed, stored):
    professional = ProfessionalFactory(rut=typed)

    professional.refresh_from_db()
    assert professional.rut == stored


@pytest.mark.django_db
def test_professionals_without_rut_do_not_collide():
    ProfessionalFactory(rut="")
    ProfessionalFactory(rut=None)

    assert Professional.objects.filter(rut__isnull=True).count() == 2


@pytest.mark.django_db
def test_full_clean_reports_the_same_rut_typed_differently_as_taken():
    ProfessionalFactory(rut="12.345.678-5")
    other = ProfessionalFactory.build(rut="123456785", slug="otra", user=None)

    with pytest.raises(ValidationError) as raised:
        other.full_clean()

    assert "rut" in raised.value.message_dict


@pytest.mark.django_db
def test_full_clean_reports_a_wrong_check_digit():
    professional = ProfessionalFactory.build(rut="12.345.678-9", user=None)

    with pytest.raises(ValidationError) as raised:
        professional.full_clean()

    assert [error.code for error in raised.value.error_dict["rut"]] == ["rut_checksum"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("price_override", "duration_override", "price", "duration", "own_price", "own_duration"),
    [
        (None, None, Decimal("35000"), 50, False, False),
        (Decimal("30000"), None, Decimal("30000"), 50, True, False),
        (None, 60, Decimal("35000"), 60, False, True),
        (Decimal("35000"), 50, Decimal("35000"), 50, False, False),
        (Decimal("0"), None, Decimal("0"), 50, True, False),
    ],
    ids=["service-defaults", "own-price", "own-duration", "override-equals-list", "free"],
)
def test_professional_price_and_duration_overrides(
    price_override, duration_override, price, duration, own_price, own_duration
):
    service = ServiceFactory(price=Decimal("35000"), duration_minutes=50)
    offer = ProfessionalServiceFactory(
        service=service, price_override=price_override, duration_override_minutes=duration_override
    )

    assert offer.price == price
    assert offer.duration_minutes == duration
    assert offer.has_own_price is own_price
    assert offer.has_own_duration is own_duration


@pytest.mark.django_db
def test_offering_finds_professionals_by_service_or_slug_once_each():
    service = ServiceFactory(slug="psicoterapia")
    other_service = ServiceFactory()
    ana = ProfessionalFactory(services=[service, other_service])
    ProfessionalFactory(services=[other_service])

    assert list(Professional.objects.offering(service)) == [ana]
    assert list(Professional.objects.offering("psicoterapia")) == [ana]


@pytest.mark.django_db
def test_in_category_ignores_inactive_services_and_lists_each_professional_once():
    category = ServiceCategoryFactory(slug="nutricion")
    first, second = ServiceFactory(category=category), ServiceFactory(category=category)
    retired = ServiceFactory(category=category, active=False)
    both = ProfessionalFactory(services=[first, second])
    only_retired = ProfessionalFactory(services=[retired])

    found = list(Professional.objects.in_category("nutricion"))

    assert found == [both]
    assert only_retired not in found
    assert list(Professional.objects.in_category(category)) == [both]


@pytest.mark.django_db
def test_bookable_means_active_and_accepting_new_patients():
    open_ = ProfessionalFactory()
    ProfessionalFactory(accepting_new_patients=False)
    ProfessionalFactory(active=False)

    assert list(Professional.objects.bookable()) == [open_]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("cancel_hours", "reschedule_hours", "max_reschedules", "expected"),
    [
        (
            24,
            24,
            2,
            "You can cancel free of charge up to 24 hours before the session. "
            "You can reschedule up to 24 hours before the session (at most 2 times per booking).",
        ),
        (
            1,
            48,
            1,
            "You can cancel free of charge up to 1 hour before the session. "
            "You can reschedule up to 48 hours before the session (at most 1 time per booking).",
        ),
        (
            0,
            0,
            3,
            "You can cancel free of charge until the session starts. "
            "You can reschedule until the session starts (at most 3 times per booking).",
        ),
        (
            24,
            24,
            0,
            "You can cancel free of charge up to 24 hours before the session. "
            "Bookings of this service cannot be rescheduled.",
        ),
    ],
    ids=["usual", "singulars", "until-start", "no-reschedules"],
)
def test_cancellation_policy_in_words(cancel_hours, reschedule_hours, max_reschedules, expected):
    service = ServiceFactory.build(
        cancellation_window_hours=cancel_hours,
        reschedule_window_hours=reschedule_hours,
        max_reschedules=max_reschedules,
    )

    with translation.override("en"):
        assert service.cancellation_policy == expected


@pytest.mark.parametrize(
    ("language", "currency", "expected"),
    [("es-cl", "CLP", "$35.000"), ("en", "CLP", "$35,000"), ("en", "USD", "US$35,000.00")],
    ids=["clp-es", "clp-en", "usd-en"],
)
def test_formatted_price_follows_language_and_currency(language, currency, expected):
    service = ServiceFactory.build(price=Decimal("35000"), currency=currency)

    with translation.override(language):
        assert service.formatted_price == expected
