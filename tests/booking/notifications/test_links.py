"""Signed links: single-purpose, tamper-proof, expiring."""

from datetime import timedelta

import pytest
import time_machine

from booking.notifications.links import MAX_AGE, BadToken, action_url, make_token, read_token

from .conftest import NOW


def test_a_token_gives_back_its_key_for_its_purpose_only():
    token = make_token("confirm", "ABC123")
    assert read_token("confirm", token) == "ABC123"
    with pytest.raises(BadToken) as error:
        read_token("cancel", token)
    assert not error.value.expired


def test_a_tampered_token_is_refused():
    token = make_token("cancel", "ABC123")
    with pytest.raises(BadToken):
        read_token("cancel", token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    with pytest.raises(BadToken):
        read_token("cancel", "not-a-token")


def test_a_token_expires():
    with time_machine.travel(NOW, tick=False):
        token = make_token("confirm", "ABC123")
    with time_machine.travel(NOW + MAX_AGE - timedelta(minutes=1), tick=False):
        assert read_token("confirm", token) == "ABC123"
    with time_machine.travel(NOW + MAX_AGE + timedelta(minutes=1), tick=False), pytest.raises(BadToken) as error:
        read_token("confirm", token)
    assert error.value.expired


def test_unknown_purposes_are_a_programming_error():
    with pytest.raises(ValueError):
        make_token("delete", "ABC123")


def test_the_link_is_absolute_and_names_its_purpose(settings):
    settings.SITE_URL = "https://clinic.example"
    url = action_url("confirm", "ABC123")
    assert url.startswith("https://clinic.example/notifications/confirm/")
    assert read_token("confirm", url.rstrip("/").rsplit("/", 1)[1]) == "ABC123"
