"""Periodic billing jobs run by huey."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from .services import expire_stale_checkouts, void_lapsed_hold_invoices


@db_periodic_task(crontab(minute="*"))
def expire_stale_checkouts_task() -> int:
    """Every minute: close Stripe checkouts that can no longer be paid in time and give their held time back;
    then void the invoices of holds that were given back unpaid. Returns how many checkouts were closed."""
    expired = expire_stale_checkouts()
    void_lapsed_hold_invoices()
    return expired
