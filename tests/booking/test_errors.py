"""Domain errors: every code the project raises has its message, and a code without one is refused at once."""

import ast
import pickle
from pathlib import Path

import pytest
from django.utils import translation

from booking.billing.errors import PaymentError
from booking.errors import DomainError
from booking.scheduling.errors import BookingError

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("booking", "portal", "website", "blog", "resources", "tests")
ERRORS = {"BookingError": BookingError, "PaymentError": PaymentError}


def _codes(node: ast.expr) -> list[str]:
    """The literal codes an argument can be (``"a" if x else "b"`` is both)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _codes(node.body) + _codes(node.orelse)
    raise AssertionError(f"an error code that is not a literal: {ast.unparse(node)}")


def _raised_codes() -> list[tuple[str, str, str]]:
    """(where, error class, code) for every ``BookingError(...)`` / ``PaymentError(...)`` written in the project."""
    found = []
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if name not in ERRORS or (not node.args and not node.keywords):
                    continue
                code = node.args[0] if node.args else next(k.value for k in node.keywords if k.arg == "code")
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                found.extend((where, name, value) for value in _codes(code))
    return found


def test_the_scan_finds_the_codes_of_both_domains():
    names = {name for _where, name, _code in _raised_codes()}
    assert names == {"BookingError", "PaymentError"}


def test_every_code_raised_in_the_project_has_its_message():
    missing = [(where, name, code) for where, name, code in _raised_codes() if code not in ERRORS[name].messages]
    assert missing == []


@pytest.mark.parametrize("error", [BookingError, PaymentError], ids=["booking", "payment"])
def test_an_unknown_code_is_a_programming_error(error):
    with pytest.raises(ValueError, match="no_such_code"):
        error("no_such_code")


@pytest.mark.parametrize("error", [BookingError, PaymentError], ids=["booking", "payment"])
def test_a_known_code_gets_its_translated_message_or_the_one_given(error):
    with translation.override("en"):
        assert str(error("not_allowed").message) == "You are not allowed to do that."
    assert error("invalid_request", "Bad date.").message == "Bad date."


def test_the_two_domains_stay_apart_for_callers():
    assert issubclass(BookingError, DomainError) and issubclass(PaymentError, DomainError)
    with pytest.raises(PaymentError):
        try:
            raise PaymentError("slot_unavailable")
        except BookingError:  # pragma: no cover - the point is that this does not catch it
            pytest.fail("a PaymentError was caught as a BookingError")
    assert PaymentError("slot_unavailable").message != BookingError("slot_unavailable").message


def test_an_error_survives_pickling_with_its_code_and_message():
    error = pickle.loads(pickle.dumps(BookingError("too_far")))
    with translation.override("en"):
        assert (type(error), error.code, str(error.message)) == (
            BookingError,
            "too_far",
            "That time is too far ahead to book yet.",
        )
