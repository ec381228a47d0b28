"""Production: refuses to start without ``SECRET_KEY``, ``ALLOWED_HOSTS`` and ``RECORDS_ENCRYPTION_KEYS``.

``manage.py check --deploy`` is clean with these settings.
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import ENV, SITE_URL, envconf

DEBUG = False
SECRET_KEY = envconf.require(ENV, "SECRET_KEY")
ALLOWED_HOSTS = envconf.env_list({"ALLOWED_HOSTS": envconf.require(ENV, "ALLOWED_HOSTS")}, "ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must name at least one host, e.g. clinic.example,www.clinic.example")
CSRF_TRUSTED_ORIGINS = envconf.trusted_origins(SITE_URL)
RECORDS_ENCRYPTION_KEYS = envconf.env_list(
    {"RECORDS_ENCRYPTION_KEYS": envconf.require(ENV, "RECORDS_ENCRYPTION_KEYS")}, "RECORDS_ENCRYPTION_KEYS"
)

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = envconf.env_bool(ENV, "SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = int(ENV.get("SECURE_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = envconf.env_bool(ENV, "SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = envconf.env_bool(ENV, "SECURE_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
LANGUAGE_COOKIE_SECURE = True

# Wagtail's preview panel frames the page being edited from the same origin, so the site
# sends SAMEORIGIN rather than DENY; other origins still cannot frame it.
X_FRAME_OPTIONS = "SAMEORIGIN"
SILENCED_SYSTEM_CHECKS = ["security.W019"]
