"""Commit hooks in tests as a real COMMIT runs them.

pytest-django runs each test inside ``TestCase`` atomic blocks, so the application's outermost ``atomic()`` is
only a savepoint and its ``transaction.on_commit`` callbacks never run. ``run_commit_hooks_like_a_commit`` makes
them run when that block (the outermost one that is not the test case's) exits without error, in the order they
were registered, and not at all when it rolls back (nor those of an inner block rolled back to its savepoint).
A callback registered with no application transaction open runs at once, as Django does in autocommit mode.

Tests that collect the callbacks themselves (``django_capture_on_commit_callbacks``) are left alone: the
callbacks then run only where the test says, never twice.
"""

from __future__ import annotations

import logging

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.transaction import Atomic

logger = logging.getLogger(__name__)


def _only_test_case_blocks(connection) -> bool:
    """Inside the test case's atomic blocks and no block of the application's: where production is in autocommit."""
    return bool(connection.atomic_blocks) and all(block._from_testcase for block in connection.atomic_blocks)


def _run(func, robust: bool) -> None:
    if not robust:
        func()
        return
    try:
        func()
    except Exception as error:
        logger.error("Error calling %s in on_commit() (%s).", func.__qualname__, error, exc_info=True)


def install(monkeypatch) -> None:
    original_enter, original_exit, original_on_commit = (
        Atomic.__enter__,
        Atomic.__exit__,
        BaseDatabaseWrapper.on_commit,
    )

    def enter(self):
        connection = connections[self.using or DEFAULT_DB_ALIAS]
        starts = connection.__dict__.setdefault("_test_commit_hook_starts", [])
        starts.append(len(connection.run_on_commit) if _only_test_case_blocks(connection) else None)
        try:
            return original_enter(self)
        except BaseException:
            starts.pop()
            raise

    def exit_(self, exc_type, exc_value, traceback):
        connection = connections[self.using or DEFAULT_DB_ALIAS]
        starts = connection.__dict__.get("_test_commit_hook_starts")
        start = starts.pop() if starts else None
        result = original_exit(self, exc_type, exc_value, traceback)
        if start is None or exc_type is not None or connection.needs_rollback:
            return result  # not the application's outermost block, or it rolled back: no COMMIT
        # What survived in this block (a savepoint rolled back took its callbacks with it) is committed now.
        while len(connection.run_on_commit) > start:
            _sids, func, robust = connection.run_on_commit.pop(start)
            _run(func, robust)
        return result

    def on_commit(self, func, robust=False):
        if self.in_atomic_block and _only_test_case_blocks(self):
            _run(func, robust)  # no transaction of the application's: production runs it at once
            return None
        return original_on_commit(self, func, robust)

    monkeypatch.setattr(Atomic, "__enter__", enter)
    monkeypatch.setattr(Atomic, "__exit__", exit_)
    monkeypatch.setattr(BaseDatabaseWrapper, "on_commit", on_commit)


def run_commit_hooks_like_a_commit(request, monkeypatch) -> None:
    """For an autouse fixture of a ``conftest.py`` (``tests/booking/billing`` has one): see the module's docstring."""
    if "django_capture_on_commit_callbacks" not in request.fixturenames:
        install(monkeypatch)
