"""Site-wide views that are not Wagtail pages: health check and error pages."""

import logging

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_redis() -> str:
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    client.ping()
    return "ok"


@never_cache
@require_GET
def healthz(request):
    """Liveness and readiness in one: the database always, Redis when it is configured.

    Answers 200 with ``{"status": "ok", ...}`` or 503 naming what failed.
    """
    checks = {"database": _check_database}
    if settings.REDIS_URL:
        checks["redis"] = _check_redis
    results = {}
    healthy = True
    for name, check in checks.items():
        try:
            results[name] = check()
        except Exception as exc:  # a health check reports every failure, whatever it is
            logger.warning("healthz check=%s failed error=%s", name, exc.__class__.__name__)
            results[name] = "error"
            healthy = False
    return JsonResponse({"status": "ok" if healthy else "error", "checks": results}, status=200 if healthy else 503)


def page_not_found(request, exception=None):
    return render(request, "404.html", status=404)


def server_error(request):
    # No context processors that touch the database: the error may be the database.
    from django.http import HttpResponseServerError
    from django.template import loader

    template = loader.get_template("500.html")
    return HttpResponseServerError(template.render())
