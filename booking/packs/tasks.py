"""Periodic pack jobs run by huey."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from .services import expire_purchases


@db_periodic_task(crontab(hour="4", minute="5"))
def expire_purchases_task() -> int:
    """Daily, at 04:05 UTC (after midnight in Santiago all year): expire the packs whose validity ended."""
    return expire_purchases()
