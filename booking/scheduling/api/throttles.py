"""The API's throttles: DRF's anonymous, per-user and scoped throttles, with two changes.

* The client is the address allauth sees (``ALLAUTH_TRUSTED_PROXY_COUNT`` / ``ALLAUTH_TRUSTED_CLIENT_IP_HEADER``):
  one rule for the login limits and the API. DRF's own default trusts the whole ``X-Forwarded-For`` header,
  which a client writes itself, and so could dodge every per-address limit.
* The rate is read from the settings on each request. DRF copies ``DEFAULT_THROTTLE_RATES`` into a class
  attribute once, at import, so a changed setting (an ``override_settings`` in a test) would never be seen.
"""

from allauth.account.adapter import get_adapter
from rest_framework import throttling
from rest_framework.settings import api_settings


class ClinicThrottleMixin:
    def get_rate(self):
        self.THROTTLE_RATES = api_settings.DEFAULT_THROTTLE_RATES
        return super().get_rate()

    def get_ident(self, request):
        return get_adapter(request).get_client_ip(request)


class AnonThrottle(ClinicThrottleMixin, throttling.AnonRateThrottle):
    """Anonymous clients, per address: the ``anon`` rate."""


class UserThrottle(ClinicThrottleMixin, throttling.UserRateThrottle):
    """Logged-in clients, per user (anonymous ones per address): the ``user`` rate."""


class ScopedThrottle(ClinicThrottleMixin, throttling.ScopedRateThrottle):
    """The view's ``throttle_scope`` rate (``booking``), per user, counted apart from the other throttles."""
