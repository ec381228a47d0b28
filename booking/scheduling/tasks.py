"""Periodic scheduling jobs run by huey."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from .services import release_expired_holds


@db_periodic_task(crontab(minute="*"))
def release_expired_holds_task() -> int:
    """Every minute: free the time of holds whose payment did not arrive in time."""
    return release_expired_holds()
