"""The machinery every domain's error shares: a stable code for programs and a translated message for people.

Each domain subclasses ``DomainError`` with its own message table (``BookingError`` in scheduling,
``PaymentError`` in billing), so callers still catch one domain's refusals apart from the other's. A code missing
from the table is a programming error, raised at once: it must never reach a patient as a vague "not allowed".
"""

from collections.abc import Mapping
from typing import ClassVar


class DomainError(Exception):
    """A domain rule said no. Views show ``message``; the API and webhooks use ``code``."""

    messages: ClassVar[Mapping[str, str]] = {}

    def __init__(self, code: str, message=None):
        if code not in self.messages:
            raise ValueError(f"{type(self).__name__} has no message for the code {code!r}")
        self.code = code
        self.message = message if message is not None else self.messages[code]
        super().__init__(f"{code}: {self.message}")

    def __reduce__(self):
        """Pickled (by a task queue, say) as its code and message, which is what ``__init__`` takes back."""
        return type(self), (self.code, self.message)
