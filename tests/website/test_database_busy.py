"""A request queued behind another one's row lock answers "busy, try again in a moment" (503) instead of hanging.

PostgreSQL connections get a ``lock_timeout`` (``DB_LOCK_TIMEOUT_MS``); its error (SQLSTATE 55P03) becomes a
friendly page for the site and ``{"error": "busy", ...}`` for the JSON API. The PostgreSQL tests hold a row lock
from a second connection and time the request; the others run anywhere.
"""

import json
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError, connection, connections
from rest_framework.test import APIClient

from booking.scheduling import services as scheduling
from booking.scheduling.models import Appointment, AppointmentStatus
from tests.factories.accounts import PatientFactory, verify_email
from tests.factories.scheduling import AppointmentFactory
from website.middleware import LOCK_NOT_AVAILABLE, is_database_busy
from website.settings import env as envconf

SANTIAGO = ZoneInfo("America/Santiago")
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=SANTIAGO)
TUESDAY_10 = datetime(2026, 12, 1, 10, 0, tzinfo=SANTIAGO)
BUSY_TEXT = "Please try again in a moment"


# --------------------------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    ("env", "options"),
    [
        ({}, "-c lock_timeout=5000"),
        ({"DB_LOCK_TIMEOUT_MS": "250"}, "-c lock_timeout=250"),
        ({"DB_LOCK_TIMEOUT_MS": "0"}, "-c lock_timeout=0"),
    ],
    ids=["default-5s", "configured", "off"],
)
def test_postgresql_connections_give_up_waiting_on_a_lock(tmp_path, env, options):
    config = envconf.database_config({"DATABASE_URL": "postgres://clinic@db.internal/clinic", **env}, tmp_path)

    assert config["OPTIONS"]["options"] == options


def test_a_lock_timeout_that_is_not_a_number_stops_the_start(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="DB_LOCK_TIMEOUT_MS"):
        envconf.database_config(
            {"DATABASE_URL": "postgres://db.internal/clinic", "DB_LOCK_TIMEOUT_MS": "5s"}, tmp_path
        )


def test_sqlite_keeps_its_own_busy_timeout(tmp_path):
    config = envconf.database_config({"DB_LOCK_TIMEOUT_MS": "250"}, tmp_path)

    assert "options" not in config["OPTIONS"]


class LockNotAvailable(Exception):
    """What psycopg raises when ``lock_timeout`` runs out (``psycopg.errors.LockNotAvailable``)."""

    sqlstate = LOCK_NOT_AVAILABLE


def lock_timed_out() -> OperationalError:
    """The error Django raises: its own OperationalError wrapping the driver's."""
    try:
        try:
            raise LockNotAvailable("canceling statement due to lock timeout")
        except LockNotAvailable as driver_error:
            raise OperationalError(str(driver_error)) from driver_error
    except OperationalError as error:
        return error


def test_only_a_lock_wait_that_ran_out_counts_as_busy():
    assert is_database_busy(lock_timed_out())
    assert not is_database_busy(OperationalError("server closed the connection unexpectedly"))
    assert not is_database_busy(ValueError("55P03"))


# --------------------------------------------------------------------------------------------- the answers


@pytest.fixture
def pinned_clock():
    with time_machine.travel(NOW, tick=True):
        yield NOW


@pytest.fixture
def appointment(db, pinned_clock):
    patient = PatientFactory()
    verify_email(patient.user)
    return AppointmentFactory(patient=patient, start=TUESDAY_10, status=AppointmentStatus.CONFIRMED)


def cancel_page(superuser_client, appointment):
    return superuser_client.post(
        f"/admin/clinic/appointments/{appointment.reference}/cancel/",
        {"cancel-reason": "Patient phoned"},
        HTTP_ACCEPT_LANGUAGE="en",
    )


def cancel_api(appointment):
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(appointment.patient.user)
    return client.post(
        f"/api/v1/appointments/{appointment.reference}/cancel/",
        json.dumps({"reason": "Ill"}),
        content_type="application/json",
    )


def assert_busy_page(response):
    assert response.status_code == 503
    assert response["Retry-After"]
    assert BUSY_TEXT in response.content.decode()


def assert_busy_json(response):
    assert response.status_code == 503
    assert response["Retry-After"]
    body = response.json()
    assert body["error"] == "busy"
    assert BUSY_TEXT in body["detail"]


@pytest.fixture
def locks_time_out(monkeypatch):
    """The cancellation waits on a lock and the database gives up, as PostgreSQL does after ``lock_timeout``."""

    def cancel_appointment(**kwargs):
        raise lock_timed_out()

    monkeypatch.setattr(scheduling, "cancel_appointment", cancel_appointment)


def test_a_page_whose_lock_wait_ran_out_says_busy(superuser_client, appointment, locks_time_out):
    assert_busy_page(cancel_page(superuser_client, appointment))


def test_the_api_whose_lock_wait_ran_out_says_busy_in_its_error_shape(appointment, locks_time_out):
    assert_busy_json(cancel_api(appointment))


def test_a_page_asked_for_json_answers_busy_in_json(superuser_client, appointment, locks_time_out):
    response = superuser_client.post(
        f"/admin/clinic/appointments/{appointment.reference}/cancel/",
        {"cancel-reason": "Patient phoned"},
        HTTP_ACCEPT="application/json",
        HTTP_ACCEPT_LANGUAGE="en",
    )

    assert_busy_json(response)


# --------------------------------------------------------------------------------------------- on PostgreSQL


@pytest.fixture
def row_locked_elsewhere():
    """``lock(appointment)``: another connection (another request, in production) holds its row lock."""
    holders = []

    def lock(row: Appointment) -> None:
        default = connections["default"]
        holder = type(default)(dict(default.settings_dict), alias="lock_holder")
        holder.set_autocommit(False)
        with holder.cursor() as cursor:
            cursor.execute(f"SELECT id FROM {Appointment._meta.db_table} WHERE id = %s FOR UPDATE", [row.pk])
        holders.append(holder)

    yield lock
    for holder in holders:
        holder.rollback()
        holder.close()


@pytest.fixture
def short_lock_timeout():
    """The settings' lock timeout, shortened for this test's connection so that it runs quickly."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        configured = cursor.fetchone()[0]
        cursor.execute("SET lock_timeout = '300ms'")
    yield configured
    with connection.cursor() as cursor:
        cursor.execute("RESET lock_timeout")


@pytest.mark.parametrize("through", ["page", "api"])
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_request_behind_a_held_row_lock_answers_busy_quickly(
    superuser_client, appointment, row_locked_elsewhere, short_lock_timeout, through
):
    assert short_lock_timeout == "5s"  # DB_LOCK_TIMEOUT_MS's default reached the connection
    row_locked_elsewhere(appointment)

    started = time.monotonic()
    if through == "page":
        assert_busy_page(cancel_page(superuser_client, appointment))
    else:
        assert_busy_json(cancel_api(appointment))

    assert time.monotonic() - started < 3
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED  # nothing changed: the transaction rolled back


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_once_the_lock_is_released_the_same_request_goes_through(superuser_client, appointment, short_lock_timeout):
    response = cancel_api(appointment)

    assert response.status_code == 200, response.content
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
