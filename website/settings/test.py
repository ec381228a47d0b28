"""Settings for the pytest suite: fast hashing, tasks run immediately, no network."""

from .base import *  # noqa: F403
from .base import BASE_DIR, ENV, envconf

DEBUG = False
SECRET_KEY = "test-only-key"
ALLOWED_HOSTS = ["*"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = BASE_DIR / ".test-media"
HUEY = envconf.huey_config(ENV, BASE_DIR, immediate=envconf.env_bool(ENV, "HUEY_IMMEDIATE", True))
# Immediate huey keeps a delayed retry in a schedule nothing reads: without a delay, a retry runs at once.
BILLING_PROVIDER_RETRY_DELAY = 0
ACCOUNT_RATE_LIMITS = False
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STRIPE_ENABLED = False
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
