"""RUT normalisation, on its own and through the patient profile form."""

import pytest
from django.core.exceptions import ValidationError

from portal.accounts.rut import normalize_rut, rut_or_none

RUT_TABLE = [
    ("12.345.678-5", "12.345.678-5"),
    ("123456785", "12.345.678-5"),
    ("10.000.013-k", "10.000.013-K"),
    ("12.345.678-9", ValidationError),
    ("hola", ValidationError),
    ("", None),
]
RUT_IDS = ["valid-formatted", "valid-compact", "valid-k-lowercase", "bad-check-digit", "garbage", "empty-is-none"]


@pytest.mark.parametrize(("raw", "expected"), RUT_TABLE, ids=RUT_IDS)
def test_rut_normalisation(raw, expected):
    if expected is ValidationError:
        with pytest.raises(ValidationError):
            rut_or_none(raw)
    else:
        assert rut_or_none(raw) == expected


def test_bad_check_digit_and_garbage_get_different_messages():
    with pytest.raises(ValidationError) as checksum:
        normalize_rut("12.345.678-9")
    with pytest.raises(ValidationError) as garbage:
        normalize_rut("hola")

    assert checksum.value.code == "rut_checksum"
    assert garbage.value.code == "rut_invalid"


@pytest.mark.parametrize(("raw", "expected"), RUT_TABLE, ids=RUT_IDS)
@pytest.mark.django_db
def test_rut_through_the_profile_form(patient_user, raw, expected):
    from portal.accounts.forms import ProfileForm

    data = {
        "first_name": "Paula",
        "last_name": "Soto",
        "phone": "",
        "preferred_language": "es-cl",
        "rut": raw,
        "birth_date": "",
        "emergency_contact_name": "",
        "emergency_contact_phone": "",
    }
    form = ProfileForm(data, patient=patient_user.patient)

    if expected is ValidationError:
        assert not form.is_valid()
        assert "rut" in form.errors
    else:
        assert form.is_valid(), form.errors
        assert form.cleaned_data["rut"] == expected
