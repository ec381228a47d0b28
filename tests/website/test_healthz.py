"""/healthz tells a load balancer or an uptime monitor whether the app can serve."""

import socket
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from website import heartbeat
from website.tasks import heartbeat_task


@pytest.fixture(autouse=True)
def fresh_heartbeat():
    """The consumer beat a moment ago, unless a test says otherwise; nothing is left behind for other tests."""
    heartbeat.beat()
    yield
    heartbeat.HUEY.delete(heartbeat.HEARTBEAT_KEY)


@pytest.fixture
def no_heartbeat():
    heartbeat.HUEY.delete(heartbeat.HEARTBEAT_KEY)


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
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "heartbeat": "ok"}}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_unreachable_redis_answers_503_naming_redis(client, settings, closed_port):
    settings.REDIS_URL = f"redis://127.0.0.1:{closed_port}/0"

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"] == {"database": "ok", "redis": "error", "heartbeat": "ok"}


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
    assert response.json()["checks"] == {"database": "ok", "redis": "ok", "heartbeat": "ok"}


@pytest.mark.django_db
def test_a_heartbeat_older_than_the_limit_answers_503_stale(client, settings):
    settings.REDIS_URL = ""
    settings.HEARTBEAT_MAX_AGE_MINUTES = 5
    heartbeat.beat(now=timezone.now() - timedelta(minutes=6))

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "error", "checks": {"database": "ok", "heartbeat": "stale"}}


@pytest.mark.django_db
def test_a_heartbeat_within_the_limit_is_ok(client, settings):
    settings.REDIS_URL = ""
    settings.HEARTBEAT_MAX_AGE_MINUTES = 5
    heartbeat.beat(now=timezone.now() - timedelta(minutes=4))

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["checks"]["heartbeat"] == "ok"


@pytest.mark.django_db
def test_a_fresh_deploy_without_a_heartbeat_yet_is_waiting_and_healthy(client, settings, no_heartbeat, monkeypatch):
    settings.REDIS_URL = ""
    settings.HEARTBEAT_MAX_AGE_MINUTES = 5
    monkeypatch.setattr(heartbeat, "uptime", lambda: timedelta(minutes=1))

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "heartbeat": "waiting"}}


@pytest.mark.django_db
def test_no_heartbeat_long_after_start_answers_503_missing(client, settings, no_heartbeat, monkeypatch):
    # A consumer that was never started: after the grace period this is as bad as a stale heartbeat.
    settings.REDIS_URL = ""
    settings.HEARTBEAT_MAX_AGE_MINUTES = 5
    monkeypatch.setattr(heartbeat, "uptime", lambda: timedelta(minutes=6))

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["heartbeat"] == "missing"


@pytest.mark.django_db
def test_an_unreadable_heartbeat_store_answers_503(client, settings, monkeypatch):
    settings.REDIS_URL = ""

    def broken(*args, **kwargs):
        raise ConnectionError("queue store down")

    monkeypatch.setattr(heartbeat.HUEY, "get", broken)

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["heartbeat"] == "error"


def test_the_periodic_heartbeat_task_records_when_it_ran(no_heartbeat):
    before = datetime.now(UTC)

    heartbeat_task.call_local()

    last = heartbeat.last_beat()
    assert last is not None
    assert before <= last <= datetime.now(UTC)


def test_the_heartbeat_task_is_registered_to_run_every_minute():
    from huey.contrib.djhuey import HUEY

    # What the consumer's scheduler would enqueue at each minute of an hour.
    due = [{task.name for task in HUEY.read_periodic(datetime(2027, 4, 3, 23, minute))} for minute in range(60)]

    assert all(heartbeat_task.s().name in names for names in due)
