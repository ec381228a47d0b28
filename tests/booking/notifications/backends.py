"""Email backends for the dispatcher tests: one that always fails, like a provider that is down."""

from django.core.mail.backends.base import BaseEmailBackend


class DownBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionError("provider unreachable")
