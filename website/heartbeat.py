"""The task consumer's heartbeat: proof, for /healthz, that huey's periodic tasks still run.

An every-minute periodic task (``website.tasks.heartbeat_task``) writes the time it ran into huey's own
key-value store, which the web processes share with the consumer in every set-up: Redis in production, the
SQLite queue file under ``make run``. (The Django cache would not do: without Redis it lives in each process.)
Reading it is one key lookup, so /healthz stays cheap.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone
from huey.contrib.djhuey import HUEY

HEARTBEAT_KEY = "clinic:heartbeat"

# When this process started serving. A heartbeat that was never written is only "waiting" for the first
# HEARTBEAT_MAX_AGE_MINUTES after that: long enough for a freshly started consumer to run its first minute.
_STARTED = time.monotonic()


def beat(*, now: datetime | None = None) -> datetime:
    """Record that the periodic tasks ran at ``now``."""
    now = now or timezone.now()
    HUEY.put(HEARTBEAT_KEY, now.timestamp())
    return now


def last_beat() -> datetime | None:
    """When the periodic tasks last ran, or None if they never have (with this queue)."""
    value = HUEY.get(HEARTBEAT_KEY, peek=True)
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


def uptime() -> timedelta:
    return timedelta(seconds=time.monotonic() - _STARTED)


def heartbeat_status(*, now: datetime | None = None) -> str:
    """``ok``, ``stale`` (last beat too old), ``waiting`` (none yet, process just started) or ``missing``.

    ``ok`` and ``waiting`` are healthy; ``stale`` and ``missing`` mean nothing runs the periodic tasks: holds are
    not released, reminders and emails are not sent.
    """
    now = now or timezone.now()
    max_age = timedelta(minutes=settings.HEARTBEAT_MAX_AGE_MINUTES)
    last = last_beat()
    if last is None:
        return "waiting" if uptime() < max_age else "missing"
    return "ok" if now - last <= max_age else "stale"
