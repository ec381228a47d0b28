"""The API answers as its own OpenAPI schema says, checked by schemathesis against the running Django app.

Schemathesis reads the schema the site serves at /api/v1/schema/, generates requests for every operation (valid
and invalid ones) and calls the app in-process through its WSGI handler: the same middleware, views and error
handler a client reaches, without a socket. It fails on any 5xx and on any answer whose status, content type,
headers or body the schema does not describe. It runs as a receptionist with a token (who sees every appointment)
and as an anonymous visitor, with a bounded number of examples per operation, in the test's database transaction
and at a pinned clock.
"""

from datetime import datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import schemathesis
import time_machine
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.booking.scheduling.people import receptionist_user
from tests.factories.accounts import PatientFactory
from tests.factories.packs import active_purchase, package_with
from tests.factories.scheduling import (
    AppointmentFactory,
    LocationFactory,
    ProfessionalFactory,
    ServiceFactory,
    WeeklyAvailabilityFactory,
)

SANTIAGO = ZoneInfo("America/Santiago")
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=SANTIAGO)
SCHEMA_PATH = "/api/v1/schema/?format=json"
# Every mismatch between the schema and the answers, plus "invalid data accepted" (the schema forbids a value the
# API takes). Not "valid data rejected": a schema-valid slug of a service that does not exist is rightly a 400.
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture
def clinic(db):
    """A bookable service with a professional, a location and one appointment, so valid requests reach the views."""
    with time_machine.travel(NOW, tick=False):
        service = ServiceFactory(
            slug="therapy",
            duration_minutes=50,
            min_notice_minutes=12 * 60,
            booking_horizon_days=60,
            price=Decimal("35000"),
            payment_mode="later",
        )
        location = LocationFactory(slug="providencia")
        ana = ProfessionalFactory(slug="ana", services=[service], locations=[location])
        for weekday in range(5):
            WeeklyAvailabilityFactory(
                professional=ana, location=location, weekday=weekday, start_time=time(9), end_time=time(13)
            )
        # A pack on sale and one bought, so the packs endpoints answer with content too.
        patient = PatientFactory()
        active_purchase(package_with({service: 4}, slug="therapy-4"), patient=patient)
        AppointmentFactory(
            patient=patient,
            professional=ana,
            service=service,
            location=location,
            start=datetime(2026, 12, 2, 9, 0, tzinfo=SANTIAGO),
        )


@pytest.fixture(autouse=True)
def served_like_a_real_request(clinic):
    """The clock pinned for every call; the test's connection kept open across calls.

    Django's request signals close the connection after each request (and with it the test's transaction), as
    they should after a real one; the test client disconnects them the same way.
    """
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        with time_machine.travel(NOW, tick=False):
            yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def site_behind_a_socket():
    """The site as a WSGI server runs it: every request carries the client's address (``REMOTE_ADDR``), which the
    login limits and the API's throttles count by. schemathesis' in-process client sends none."""
    handler = WSGIHandler()

    def app(environ, start_response):
        return handler({**environ, "REMOTE_ADDR": environ.get("REMOTE_ADDR") or "127.0.0.1"}, start_response)

    return app


# The schema as the site serves it, fetched through the app at collection (the schema view reads no table).
schema = schemathesis.openapi.from_wsgi(SCHEMA_PATH, site_behind_a_socket())

BOUNDED = settings(
    max_examples=int(__import__("os").environ.get("SCHEMA_EXAMPLES", "8")),
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


@schema.parametrize()
@BOUNDED
def test_anonymous_requests_match_the_schema(case):
    case.call_and_validate(checks=CHECKS)


@pytest.fixture
def receptionist_token(clinic):
    return Token.objects.create(user=receptionist_user()).key


@schema.parametrize()
@BOUNDED
def test_receptionist_requests_match_the_schema(case, receptionist_token):
    case.call_and_validate(headers={"Authorization": f"Token {receptionist_token}"}, checks=CHECKS)


# --- what the generated runs rely on ------------------------------------------------------------------------------


def operations():
    return [
        (path, method, operation)
        for path, item in schema.raw_schema["paths"].items()
        for method, operation in item.items()
    ]


def test_every_operation_documents_the_answers_any_request_can_get():
    """A bad token is a 401 on every endpoint, the throttles a 429 with Retry-After: both in the error shape."""
    for path, method, operation in operations():
        for code in ("401", "429"):
            response = operation["responses"].get(code)
            assert response is not None, (method, path, code)
            assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
        assert "Retry-After" in operation["responses"]["429"]["headers"], (method, path)


def test_a_bad_token_on_a_public_endpoint_is_the_documented_401(client):
    response = client.get("/api/v1/services/", HTTP_AUTHORIZATION="Token not-a-token")
    assert response.status_code == 401
    assert response.json()["error"] == "authentication_failed"
    assert set(response.json()) == {"error", "detail"}


@pytest.mark.parametrize(
    "path",
    ["/api/v1/appointments/A%2FB/", "/api/v1/appointments/ABC/reschedule/extra/", "/api/v1/nothing-here/"],
    ids=["slash-in-reference", "deeper-path", "unknown-endpoint"],
)
def test_any_other_api_address_answers_a_json_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "not_found"
