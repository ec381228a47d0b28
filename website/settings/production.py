"""Production: refuses to start without ``SECRET_KEY`` and ``ALLOWED_HOSTS``.

``manage.py check --deploy`` is clean with these settings.
"""

from .base import *  # noqa: F403
from .base import ENV, SITE_URL, envconf

DEBUG = False
SECRET_KEY = envconf.require(ENV, "SECRET_KEY")
ALLOWED_HOSTS = [host.strip() for host in envconf.require(ENV, "ALLOWED_HOSTS").split(",") if host.strip()]
CSRF_TRUSTED_ORIGINS = envconf.trusted_origins(SITE_URL)

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = envconf.env_bool(ENV, "SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = int(ENV.get("SECURE_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = envconf.env_bool(ENV, "SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = envconf.env_bool(ENV, "SECURE_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
LANGUAGE_COOKIE_SECURE = True
