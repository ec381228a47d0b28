"""Money as the patient reads it: Decimal amounts in a currency's own minor unit.

CLP has no minor unit, so 15000 is shown as ``$15.000`` in Spanish and ``$15,000`` in
English; USD keeps two decimals. Conversion to Stripe's integer amounts lives in billing.

Why here: scheduling is the lowest layer that handles money. Prices and their currency are
born on its catalog (``Service.price``, ``Service.currency``) and its history shows them;
billing, the booking box and the site shell all build on scheduling, so they import from it
and scheduling never has to reach up into the site shell (``website``) for a helper.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils import formats
from django.utils.numberformat import format as number_format

CURRENCY_EXPONENTS = {"CLP": 0, "JPY": 0, "KRW": 0, "PYG": 0, "USD": 2, "EUR": 2}
CURRENCY_SYMBOLS = {"CLP": "$", "USD": "US$", "EUR": "€"}


def currency_exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS.get((currency or "CLP").upper(), 2)


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round ``amount`` to the currency's minor unit (half up, as cashiers do)."""
    exponent = currency_exponent(currency)
    return Decimal(amount).quantize(Decimal(1).scaleb(-exponent), rounding=ROUND_HALF_UP)


def format_money(amount, currency: str = "CLP") -> str:
    """Format ``amount`` for the active language, e.g. ``$15.000`` (es) or ``US$12.50``."""
    if amount is None or amount == "":
        return ""
    try:
        value = quantize(Decimal(str(amount)), currency)
    except (InvalidOperation, TypeError, ValueError):
        return ""
    currency = (currency or "CLP").upper()
    number = number_format(
        abs(value),
        decimal_sep=formats.get_format("DECIMAL_SEPARATOR"),
        decimal_pos=currency_exponent(currency),
        grouping=3,
        thousand_sep=formats.get_format("THOUSAND_SEPARATOR"),
        force_grouping=True,
    )
    symbol = CURRENCY_SYMBOLS.get(currency, f"{currency} ")
    sign = "-" if value < 0 else ""
    return f"{sign}{symbol}{number}"
