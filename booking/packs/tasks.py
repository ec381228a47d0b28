"""Periodic pack jobs run by huey."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from .services import expire_purchases, lapse_pending_purchases, notify_expiring_purchases


@db_periodic_task(crontab(hour="4", minute="5"))
def expire_purchases_task() -> int:
    """Daily, at 04:05 UTC (after midnight in Santiago all year): expire the packs whose validity ended."""
    return expire_purchases()


@db_periodic_task(crontab(hour="12", minute="15"))
def notify_expiring_purchases_task() -> int:
    """Daily, at 12:15 UTC (morning in Santiago): "your pack expires within a week", once per pack."""
    return notify_expiring_purchases()


@db_periodic_task(crontab(minute="40"))
def lapse_pending_purchases_task() -> int:
    """Hourly: give up the packs bought online and never taken to a payment (their invoice voided)."""
    return lapse_pending_purchases()
