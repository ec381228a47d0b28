"""/healthz tells a load balancer or an uptime monitor whether the app can serve."""

import socket

import pytest


@pytest.fixture
def closed_port():
    """A local TCP port with nothing listening: bound to find a free number, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.django_db
def test_healthy_app_answers_200_with_the_database_ok(client, settings):
    settings.REDIS_URL = ""

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_unreachable_redis_answers_503_naming_redis(client, settings, closed_port):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port}/0"

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"] == {"database": "ok", "redis": "error"}


@pytest.mark.django_db
def test_healthz_only_answers_get(client):
    response = client.post("/healthz")

    assert response.status_code == 405


@pytest.mark.redis
@pytest.mark.django_db
def test_configured_redis_is_checked_and_reported_ok(client, settings):
    # REDIS_URL comes from the environment in the PostgreSQL + Redis CI run.
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}
