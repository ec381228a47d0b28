"""Settings for the pytest suite: fast hashing, tasks run immediately, no network."""

import os

from . import env as envconf

# Under pytest-xdist each worker takes a Redis database of its own; base reads REDIS_URL, so this comes first.
os.environ.update(envconf.xdist_worker_environment(os.environ))

from .base import *  # noqa: F403
from .base import BASE_DIR, ENV

DEBUG = False
SECRET_KEY = "test-only-key"
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
RECORDS_ENCRYPTION_KEYS = ["dGVzdC1vbmx5LXJlY29yZHMta2V5LTMyLWJ5dGVzLSE="]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "private": {"BACKEND": envconf.PRIVATE_FILE_STORAGE},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# One folder per xdist worker (gw0, gw1, ...; "main" without xdist); tests/conftest.py moves each test's uploads
# to its own temporary folder anyway.
XDIST_WORKER = ENV.get("PYTEST_XDIST_WORKER", "")
MEDIA_ROOT = BASE_DIR / ".test-media" / (XDIST_WORKER or "main")
PRIVATE_MEDIA_ROOT = BASE_DIR / ".test-media" / f"private-{XDIST_WORKER or 'main'}"
HUEY = envconf.huey_config(ENV, BASE_DIR, immediate=envconf.env_bool(ENV, "HUEY_IMMEDIATE", True))
if XDIST_WORKER and HUEY["huey_class"] == "huey.SqliteHuey" and not ENV.get("HUEY_SQLITE_PATH"):
    HUEY["filename"] = str(BASE_DIR / f"huey.sqlite3-{XDIST_WORKER}")
# Immediate huey keeps a delayed retry in a schedule nothing reads: without a delay, a retry runs at once.
BILLING_PROVIDER_RETRY_DELAY = 0
ACCOUNT_RATE_LIMITS = False
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STRIPE_ENABLED = False
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
