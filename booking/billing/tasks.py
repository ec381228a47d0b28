"""Billing jobs run by huey: the payment-provider calls decided inside a transaction, and the periodic sweeps.

A service that decides a refund or the closing of a checkout inside a transaction does not call the provider
there (locks would wait on the network, and a rollback would forget money the provider moved): it writes what it
decided and registers ``transaction.on_commit``, which enqueues ``send_refund`` or ``expire_provider_checkouts``. These
run outside any transaction, are retried with a growing delay when the provider cannot be reached, and may run twice
without harm: a refund is sent with its own idempotency key (``refund-{pk}``) only while it is pending, and
expiring a closed session changes nothing. A task lost with its consumer is made up for by the every-minute
sweep, which sends the pending refunds that the provider has not answered after a while.
"""

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from . import providers, services
from .services._common import _expire_sessions_quietly

RETRIES = getattr(settings, "BILLING_PROVIDER_RETRIES", 5)
RETRY_DELAY = getattr(settings, "BILLING_PROVIDER_RETRY_DELAY", 30)


@db_task(retries=RETRIES, retry_delay=RETRY_DELAY, retry_backoff=2, context=True)
def send_refund(refund_id: int, task=None) -> str:
    """Send a pending refund to its provider after the commit that decided it; returns the refund's status.

    While retries are left, a provider or network error keeps the refund pending and raises, so huey tries again
    (same idempotency key: the provider refunds once); the last attempt records it failed, for staff to retry.
    """
    final_attempt = task is None or not task.retries
    return services.send_refund(refund_id=refund_id, final_attempt=final_attempt).status


@db_task(retries=RETRIES, retry_delay=RETRY_DELAY, retry_backoff=2)
def expire_provider_checkouts(checkouts: list[list[str]]) -> None:
    """Close checkouts (``[provider identifier, reference]`` pairs) at their provider after the commit that
    cancelled their payments; raises (to be retried) while the provider could not close some of them."""
    failed = _expire_sessions_quietly([(identifier, reference) for identifier, reference in checkouts])
    if failed:
        raise providers.ProviderError(f"checkouts not expired: {', '.join(reference for _, reference in failed)}")


@db_periodic_task(crontab(minute="*"))
def expire_stale_checkouts_task() -> int:
    """Every minute: close online checkouts that can no longer be paid in time and give their held time back;
    then void the invoices of holds that were given back unpaid, and send the refunds whose task was lost.
    Returns how many checkouts were closed."""
    expired = services.expire_stale_checkouts()
    services.void_lapsed_hold_invoices()
    services.send_due_refunds()
    return expired
