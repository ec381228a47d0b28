"""What the email provider can tell us about a message we may or may not have handed over.

A dispatcher killed between the provider's "accepted" and our UPDATE leaves a row in ``sending`` with no provider
message id. Sending it again blindly would send it twice; never sending it could lose it. Every email carries a
Message-ID fixed per row (``Notification.message_id``), so before such a row is retried the provider is asked
whether it accepted that Message-ID: Mailgun's events API (``GET /v3/<domain>/events?message-id=…``) answers.

Only Mailgun is asked; with any other backend (the console in ``make run``, locmem in tests) nothing can be
known and ``accepted_ids`` returns ``None``: the caller retries, as it did before.
"""

from __future__ import annotations

import logging

import requests
from django.conf import settings

logger = logging.getLogger(__name__)

MAILGUN_BACKEND = "anymail.backends.mailgun.EmailBackend"
DEFAULT_MAILGUN_API_URL = "https://api.mailgun.net/v3"
TIMEOUT_SECONDS = 10


class ProviderUnavailable(Exception):
    """The provider could not be asked (network, 5xx): the rows wait for the next run rather than risk a copy."""


def can_tell() -> bool:
    return settings.EMAIL_BACKEND == MAILGUN_BACKEND


def accepted_ids(message_ids: list[str], *, domain: str) -> dict[str, str] | None:
    """Of these Message-IDs (with angle brackets), the ones Mailgun accepted, each with Mailgun's id for it.

    ``None`` when the backend cannot tell. Raises ``ProviderUnavailable`` when Mailgun did not answer.
    """
    if not can_tell():
        return None
    options = settings.ANYMAIL
    api_url = options.get("MAILGUN_API_URL", DEFAULT_MAILGUN_API_URL).rstrip("/")
    sender_domain = options.get("MAILGUN_SENDER_DOMAIN") or domain
    found = {}
    for message_id in message_ids:
        try:
            response = requests.get(
                f"{api_url}/{sender_domain}/events",
                params={"message-id": message_id.strip("<>"), "event": "accepted", "limit": 1},
                auth=("api", options["MAILGUN_API_KEY"]),
                timeout=TIMEOUT_SECONDS,
            )
            response.raise_for_status()
            items = response.json().get("items") or []
        except (requests.RequestException, ValueError) as error:
            raise ProviderUnavailable(str(error)) from error
        if items:
            found[message_id] = message_id
    return found
