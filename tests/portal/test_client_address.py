"""Login limits per client behind the reverse proxy (README, "Deployment").

Behind the proxy every request reaches the app from the proxy's address, so allauth's per-address limit would
count every visitor together: ten failed logins by one attacker would lock every patient out. With
``TRUSTED_PROXY_COUNT`` the client is read from ``X-Forwarded-For`` as our proxy wrote it; without it that header
is ignored, so a client cannot choose its own address. The per-account limit holds either way.
"""

import pytest
from django.urls import reverse

from tests.factories.accounts import DEFAULT_PASSWORD
from website.settings import base
from website.settings import env as envconf

LOGIN_URL = reverse("account_login")
TOO_MANY = "Too many failed login attempts"
PROXY = "10.0.0.5"  # REMOTE_ADDR of every request: the proxy in front of gunicorn
ATTACKER = "203.0.113.7"
PATIENT = "198.51.100.20"


@pytest.fixture
def production_limits(settings):
    """The login limits the site runs with (the test settings switch them off)."""
    settings.ACCOUNT_RATE_LIMITS = base.ACCOUNT_RATE_LIMITS
    return settings


@pytest.fixture
def behind_one_proxy(production_limits):
    production_limits.ALLAUTH_TRUSTED_PROXY_COUNT = envconf.trusted_proxy_count({"TRUSTED_PROXY_COUNT": "1"})
    production_limits.ALLAUTH_TRUSTED_CLIENT_IP_HEADER = None


@pytest.fixture
def without_trusted_proxy(production_limits):
    production_limits.ALLAUTH_TRUSTED_PROXY_COUNT = envconf.trusted_proxy_count({})
    production_limits.ALLAUTH_TRUSTED_CLIENT_IP_HEADER = None


def login(client, email, password, forwarded_for):
    """A login as it reaches gunicorn through nginx: nginx appends the client's address to X-Forwarded-For."""
    return client.post(
        LOGIN_URL,
        {"login": email, "password": password},
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=forwarded_for,
        HTTP_ACCEPT_LANGUAGE="en",
    )


def fail_ten_logins(client, forwarded_for):
    """Ten wrong passwords, each for another address, so that only the per-address limit can add up."""
    for number in range(10):
        response = login(client, f"guess{number}@example.com", "wrong-password", forwarded_for(number))
        assert TOO_MANY not in response.text


@pytest.mark.django_db
def test_ten_failed_logins_by_one_client_behind_the_proxy_do_not_lock_out_another(
    client, verified_user, behind_one_proxy
):
    fail_ten_logins(client, lambda number: ATTACKER)

    blocked = login(client, "guess10@example.com", "wrong-password", ATTACKER)
    patient = login(client, verified_user.email, DEFAULT_PASSWORD, PATIENT)

    assert TOO_MANY in blocked.text  # the attacker's own address is limited
    assert patient.status_code == 302
    assert patient.wsgi_request.user == verified_user


@pytest.mark.django_db
def test_a_client_cannot_prepend_addresses_to_escape_the_limit_behind_the_proxy(
    client, verified_user, behind_one_proxy
):
    # The attacker sends its own X-Forwarded-For; nginx appends the address it really came from.
    fail_ten_logins(client, lambda number: f"192.0.2.{number}, {ATTACKER}")

    blocked = login(client, "guess10@example.com", "wrong-password", f"192.0.2.99, {ATTACKER}")

    assert TOO_MANY in blocked.text


@pytest.mark.django_db
def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(client, verified_user, without_trusted_proxy):
    # Every attempt claims another address: without a trusted proxy they all count against REMOTE_ADDR.
    fail_ten_logins(client, lambda number: f"192.0.2.{number}")

    blocked = login(client, "guess10@example.com", "wrong-password", "192.0.2.99")

    assert TOO_MANY in blocked.text


@pytest.mark.django_db
def test_the_per_account_limit_still_locks_the_targeted_account(client, verified_user, behind_one_proxy):
    # Five wrong passwords for one account, each from another client: the account is locked for a while,
    # even for its owner with the right password.
    for number in range(5):
        response = login(client, verified_user.email, "wrong-password", f"192.0.2.{number}")
        assert TOO_MANY not in response.text

    owner = login(client, verified_user.email, DEFAULT_PASSWORD, PATIENT)

    assert TOO_MANY in owner.text
    assert not owner.wsgi_request.user.is_authenticated


@pytest.mark.django_db
def test_a_trusted_client_ip_header_names_the_client(client, verified_user, production_limits):
    production_limits.ALLAUTH_TRUSTED_PROXY_COUNT = 0
    production_limits.ALLAUTH_TRUSTED_CLIENT_IP_HEADER = "X-Real-IP"
    for number in range(10):
        client.post(
            LOGIN_URL,
            {"login": f"guess{number}@example.com", "password": "wrong-password"},
            REMOTE_ADDR=PROXY,
            HTTP_X_REAL_IP=ATTACKER,
        )

    patient = client.post(
        LOGIN_URL,
        {"login": verified_user.email, "password": DEFAULT_PASSWORD},
        REMOTE_ADDR=PROXY,
        HTTP_X_REAL_IP=PATIENT,
    )

    assert patient.status_code == 302


class TestTrustedProxyCount:
    @pytest.mark.parametrize(
        ("env", "count"),
        [
            ({}, 0),
            ({"TRUSTED_PROXY_COUNT": ""}, 0),
            ({"TRUSTED_PROXY_COUNT": "1"}, 1),
            ({"TRUSTED_PROXY_COUNT": " 2 "}, 2),
        ],
        ids=["unset", "blank", "one", "two"],
    )
    def test_reads_the_number_of_proxies(self, env, count):
        assert envconf.trusted_proxy_count(env) == count

    @pytest.mark.parametrize("value", ["-1", "one", "1.5"])
    def test_refuses_anything_but_a_whole_number(self, value):
        from django.core.exceptions import ImproperlyConfigured

        with pytest.raises(ImproperlyConfigured, match="TRUSTED_PROXY_COUNT"):
            envconf.trusted_proxy_count({"TRUSTED_PROXY_COUNT": value})
