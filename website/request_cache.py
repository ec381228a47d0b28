"""Reads shared by everything that renders one request, kept on the request and gone with it.

A page body may hold several listing blocks of one kind (a services list per category, two booking boxes): each
asks a selector for its own slice of the same rows. Within ``shared_reads(request)`` a selector's ``cached`` read is
kept on the request, so the second block finds the rows the first one read. Nothing outlives the request, so
nothing needs invalidating; outside ``shared_reads`` (a management command, a test calling a selector), ``cached``
simply reads.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

_REQUEST_ATTRIBUTE = "_website_shared_reads"
_store: ContextVar[dict | None] = ContextVar("website_shared_reads", default=None)


@contextmanager
def shared_reads(request) -> Iterator[None]:
    """Within the block, ``cached`` values are kept on ``request`` (a request of None keeps nothing)."""
    if request is None:
        yield
        return
    token = _store.set(request.__dict__.setdefault(_REQUEST_ATTRIBUTE, {}))
    try:
        yield
    finally:
        _store.reset(token)


def cached(key: Hashable, load: Callable[[], T]) -> T:
    """``load()``, read once per request inside ``shared_reads`` (every time outside it)."""
    store = _store.get()
    if store is None:
        return load()
    if key not in store:
        store[key] = load()
    return store[key]


def memoise(request, key: Hashable, load: Callable[[], T]) -> T:
    """``load()`` once per ``request`` for ``key``."""
    with shared_reads(request):
        return cached(key, load)
