"""Encryption at rest of clinical notes: ``cryptography``'s MultiFernet over keys from the environment.

``RECORDS_ENCRYPTION_KEYS`` is a comma-separated list of Fernet keys, newest first: text is encrypted with the
first, and read with whichever key made it, so adding a key never makes an older note unreadable. ``manage.py
reencrypt_notes`` rewrites every note under the newest key; after it, the old key can be removed. The keys are
never derived from ``SECRET_KEY``: records outlive that key's rotations. A note that cannot be decrypted raises
``UndecryptableNote``: it is never shown as ciphertext.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class UndecryptableNote(Exception):
    """No configured key opens this text (a key removed too early, or a damaged row)."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("RECORDS_ENCRYPTION_KEYS is empty: clinical notes cannot be stored.")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.RECORDS_ENCRYPTION_KEYS))


def encrypt(text: str) -> str:
    return _current().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise UndecryptableNote("no configured key decrypts this note") from error


def rotate(token: str) -> str:
    """The same text under the newest key (``MultiFernet.rotate``)."""
    try:
        return _current().rotate(token.encode()).decode()
    except InvalidToken as error:
        raise UndecryptableNote("no configured key decrypts this note") from error
