"""Local development: what ``make run`` uses. Never use in production."""

from .base import *  # noqa: F403
from .base import ENV, envconf

DEBUG = envconf.env_bool(ENV, "DEBUG", True)
# A fixed key is fine here because these settings refuse nothing and serve only localhost.
SECRET_KEY = ENV.get("SECRET_KEY") or "dev-only-insecure-key-do-not-use-in-production"
ALLOWED_HOSTS = envconf.env_list(ENV, "ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
