"""Signed, single-purpose, expiring tokens for the links in emails that act without logging in.

A token names one appointment (or other object) and one purpose; its salt is the purpose, so a "confirm" token
cannot be replayed as a "cancel" one. It expires (``MAX_AGE``). It proves only who may act: the page behind the
link (built with the notifications web slice) asks for a click and acts on the POST, never on the GET, and refuses
a token whose action already happened (single use is the object's state, e.g. an appointment already cancelled).

The URLs are fixed paths under ``/notifications/``: the pages' URLconf must mount ``<purpose>/<token>/`` there.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing

PURPOSES = ("confirm", "cancel", "unsubscribe")
SALT = "booking.notifications.links.{purpose}"
# Long enough for a request sent 48 h ahead to be answered up to the session; short enough that an old email
# found later does nothing.
MAX_AGE = timedelta(days=14)
PATH = "/notifications/{purpose}/{token}/"


class BadToken(Exception):
    """The token is tampered with, for another purpose, or expired (``expired`` tells which)."""

    def __init__(self, *, expired: bool = False):
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


def _signer(purpose: str) -> signing.TimestampSigner:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown link purpose {purpose!r}")
    return signing.TimestampSigner(salt=SALT.format(purpose=purpose))


def make_token(purpose: str, key: str) -> str:
    """A URL-safe token carrying ``key`` (e.g. an appointment reference) for ``purpose``."""
    return _signer(purpose).sign_object({"k": key}, compress=False)


def read_token(purpose: str, token: str, *, max_age: timedelta = MAX_AGE) -> str:
    """The key inside a valid token for ``purpose``; ``BadToken`` otherwise."""
    try:
        return _signer(purpose).unsign_object(token, max_age=max_age)["k"]
    except signing.SignatureExpired as error:
        raise BadToken(expired=True) from error
    except (signing.BadSignature, KeyError, TypeError) as error:
        raise BadToken() from error


def action_url(purpose: str, key: str) -> str:
    """The absolute link (``SITE_URL``) an email shows: an email has no request to build it from."""
    return f"{settings.SITE_URL}{PATH.format(purpose=purpose, token=make_token(purpose, key))}"
