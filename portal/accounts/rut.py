"""Chilean RUT (Rol Único Tributario) validation and formatting with python-stdnum.

RUTs are stored formatted the canonical way (``12.345.678-5``) so that one person's
RUT written as ``12345678-5``, ``12.345.678-5`` or ``123456785`` is one value.
"""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum import exceptions as stdnum_errors
from stdnum.cl import rut as stdnum_rut


def normalize_rut(value: str) -> str:
    """Return the canonical form of ``value`` or raise a translated ``ValidationError``."""
    value = (value or "").strip()
    if not value:
        return ""
    try:
        compact = stdnum_rut.validate(value)
    except stdnum_errors.InvalidChecksum:
        raise ValidationError(
            _("The RUT's check digit does not match. Please check it."), code="rut_checksum"
        ) from None
    except stdnum_errors.ValidationError:
        raise ValidationError(_("Enter a valid RUT, for example 12.345.678-5."), code="rut_invalid") from None
    return stdnum_rut.format(compact)


def validate_rut(value: str) -> None:
    """Model-field validator: accepts any format that normalises to a valid RUT."""
    normalize_rut(value)


def rut_or_none(value: str | None) -> str | None:
    """Canonical RUT, or ``None`` for a blank value (stored as NULL so "unique when present" holds)."""
    return normalize_rut(value or "") or None
