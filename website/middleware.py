"""Request logging on one greppable line per request, and a friendly answer when the database is busy."""

import logging
import sqlite3
import time

from django.http import JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger("website.requests")


class RequestLogMiddleware:
    """Logs method, path, status and duration of every request except static files."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        if not request.path.startswith(("/static/", "/media/")):
            logger.info(
                "request method=%s path=%s status=%s duration_ms=%.1f",
                request.method,
                request.path,
                response.status_code,
                (time.perf_counter() - started) * 1000,
            )
        return response


# --------------------------------------------------------------------------------------------- a busy database

#: PostgreSQL's ``lock_not_available``: ``lock_timeout`` ran out while waiting on a row another request holds.
LOCK_NOT_AVAILABLE = "55P03"
BUSY_MESSAGE = _("We are busy with another change to the same booking or payment. Please try again in a moment.")
BUSY_RETRY_AFTER_SECONDS = 2


def is_database_busy(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or the driver error it wraps) says the database gave up waiting on a lock.

    PostgreSQL answers ``lock_not_available`` (SQLSTATE 55P03) once ``lock_timeout`` runs out (see
    ``website/settings/env.py``); SQLite says "database is locked" once its busy timeout has.
    """
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if (getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)) == LOCK_NOT_AVAILABLE:
            return True
        if isinstance(exc, sqlite3.OperationalError) and "database is locked" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def busy_json(detail: str) -> dict:
    """The JSON API's answer (its usual ``error``/``detail`` shape) when the database is busy."""
    return {"error": "busy", "detail": detail}


class DatabaseBusyMiddleware:
    """A request that waited too long on a locked row gets a 503 saying "try again in a moment", not a 500.

    The transaction that waited was already rolled back by its ``atomic()``; nothing was changed. Pages get a
    short page with the message, JSON clients (``/api/`` and requests asking for JSON) the API's error shape;
    both carry ``Retry-After``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not is_database_busy(exception):
            return None
        logger.warning("request method=%s path=%s: database busy (lock wait timed out)", request.method, request.path)
        detail = str(BUSY_MESSAGE)
        if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
            response = JsonResponse(busy_json(detail), status=503)
        else:
            response = render(request, "busy.html", {"message": detail}, status=503)
        response["Retry-After"] = str(BUSY_RETRY_AFTER_SECONDS)
        return response
