"""Request logging on one greppable line per request."""

import logging
import time

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
