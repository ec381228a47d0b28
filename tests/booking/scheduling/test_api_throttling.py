"""The API's throttles: per address for anonymous clients, per user once logged in, stricter on booking and
rescheduling, each refusal a 429 in the API's error shape.

Rates are set small per test through the settings; the cache that counts requests is emptied around every test
(tests/conftest.py). A request that is refused for another reason (400, 404) still counts: the throttle runs
before the view.
"""

import json

import pytest
from rest_framework.test import APIClient

from tests.factories.accounts import VerifiedUserFactory
from website.settings import env as envconf

SERVICES = "/api/v1/services/"
BOOK = "/api/v1/appointments/"
RESCHEDULE = "/api/v1/appointments/NOSUCHREF/reschedule/"
DETAIL = "/api/v1/appointments/NOSUCHREF/"
PROXY = "10.0.0.5"


@pytest.fixture
def rates(settings):
    """Set the throttle rates for this test: ``rates(anon="2/min")``; the others stay generous."""

    def set_rates(**overrides):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"anon": "100/min", "user": "100/min", "booking": "100/min", **overrides},
        }

    return set_rates


def assert_throttled(response):
    assert response.status_code == 429, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"] == "throttled"
    assert body["detail"]
    assert int(response["Retry-After"]) > 0


def post(client, url, body=None, **extra):
    return client.post(url, json.dumps(body or {}), content_type="application/json", **extra)


def logged_in(email):
    client = APIClient()
    client.force_login(VerifiedUserFactory(email=email))
    return client


@pytest.mark.django_db
def test_anonymous_clients_are_throttled_per_address_with_a_json_429(rates):
    rates(anon="3/min")
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")

    answers = [client.get(SERVICES).status_code for _ in range(3)]
    refused = client.get(SERVICES)

    assert answers == [200, 200, 200]
    assert_throttled(refused)
    assert refused.json()["detail"].startswith("Request was throttled")


@pytest.mark.django_db
def test_behind_the_proxy_one_client_does_not_use_up_anothers_allowance(rates, settings):
    rates(anon="3/min")
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    client = APIClient(REMOTE_ADDR=PROXY)
    for _ in range(3):
        client.get(SERVICES, HTTP_X_FORWARDED_FOR="203.0.113.7")

    assert_throttled(client.get(SERVICES, HTTP_X_FORWARDED_FOR="203.0.113.7"))
    assert client.get(SERVICES, HTTP_X_FORWARDED_FOR="198.51.100.20").status_code == 200


@pytest.mark.django_db
def test_without_a_trusted_proxy_a_forged_x_forwarded_for_does_not_reset_the_allowance(rates, settings):
    rates(anon="3/min")
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 0
    client = APIClient()
    for number in range(3):
        client.get(SERVICES, HTTP_X_FORWARDED_FOR=f"192.0.2.{number}")

    assert_throttled(client.get(SERVICES, HTTP_X_FORWARDED_FOR="192.0.2.99"))


@pytest.mark.django_db
def test_logged_in_clients_are_throttled_per_user(rates):
    rates(user="3/min")
    ana, bea = logged_in("ana@example.com"), logged_in("bea@example.com")

    answers = [ana.get(DETAIL).status_code for _ in range(3)]

    assert answers == [404, 404, 404]
    assert_throttled(ana.get(DETAIL))
    assert bea.get(DETAIL).status_code == 404  # another user keeps their own allowance


@pytest.mark.django_db
def test_booking_and_rescheduling_share_a_stricter_allowance(rates):
    rates(booking="3/min")
    ana, bea = logged_in("ana@example.com"), logged_in("bea@example.com")

    answers = [post(ana, BOOK).status_code, post(ana, RESCHEDULE).status_code, post(ana, BOOK).status_code]

    assert answers == [400, 404, 400]
    assert_throttled(post(ana, BOOK))
    assert_throttled(post(ana, RESCHEDULE))
    # The rest of the API, and other patients' bookings, are not held back.
    assert ana.get(SERVICES).status_code == 200
    assert ana.get(DETAIL).status_code == 404
    assert post(bea, BOOK).status_code == 400


@pytest.mark.django_db
def test_a_changed_rate_applies_without_a_restart_of_the_throttle_classes(rates):
    # DRF copies the rates into its throttle classes at import; ours read the settings on each request.
    rates(anon="1/min")
    client = APIClient()
    client.get(SERVICES)
    assert_throttled(client.get(SERVICES))

    rates(anon="5/min")

    assert client.get(SERVICES).status_code == 200


class TestThrottleRates:
    def test_defaults_are_stricter_on_booking(self):
        rates = envconf.throttle_rates({})

        assert rates == {"anon": "60/min", "user": "120/min", "booking": "20/hour"}

    def test_each_rate_can_be_set_from_the_environment(self):
        env = {"API_THROTTLE_ANON": "30/min", "API_THROTTLE_USER": "1000/hour", "API_THROTTLE_BOOKING": "5/min"}

        assert envconf.throttle_rates(env) == {"anon": "30/min", "user": "1000/hour", "booking": "5/min"}

    @pytest.mark.parametrize("rate", ["60", "60/fortnight", "many/min", "-1/min"])
    def test_a_malformed_rate_is_refused(self, rate):
        from django.core.exceptions import ImproperlyConfigured

        with pytest.raises(ImproperlyConfigured, match="API_THROTTLE_BOOKING"):
            envconf.throttle_rates({"API_THROTTLE_BOOKING": rate})
