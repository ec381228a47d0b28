"""No call to the payment provider while a database transaction is open.

A transaction that waits on Stripe keeps its row locks (on SQLite, the whole database's write lock) for as long as
Stripe takes to answer, stalling every other writer; and if it rolls back after the call, Stripe has moved money
that no row records. So the services decide inside the transaction (a pending Refund row, the Checkout Sessions
to close) and act after the commit (``transaction.on_commit`` enqueues a huey task). This guard makes a breach of
that rule fail loudly instead of slowly: every network call of ``stripe_gateway`` (and of the tests' fake
gateway) asks it first.

Django's ``TestCase`` runs each test inside atomic blocks of its own (marked ``_from_testcase``); those stand for
"no transaction" and are ignored, so the guard holds in the unit tests exactly as in production.
"""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections


class ProviderCallInTransaction(RuntimeError):
    """A payment provider was about to be called with a database transaction open: a programming error."""


def in_transaction(using: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether the code runs inside an atomic block of the application's (a test case's own do not count)."""
    connection = connections[using]
    if not connection.in_atomic_block:
        return False
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def refuse_inside_transaction(action: str, using: str = DEFAULT_DB_ALIAS) -> None:
    """Raise ``ProviderCallInTransaction`` when ``action`` (a provider call) would run inside a transaction."""
    if in_transaction(using):
        raise ProviderCallInTransaction(
            f"{action}: payment provider called inside a database transaction; "
            "decide in the transaction and call the provider after the commit (transaction.on_commit)"
        )
