"""Local development: what ``make run`` uses. Never use in production.

A ``.env`` file in the project folder (or the file ``ENV_FILE`` names) is read first, variables already in the
environment winning, so that ``make run`` and every ``manage.py`` command see the same configuration. Without
Stripe keys, and when ``make run`` says where its local test server listens (``LOCAL_STRIPE_PORT``), online
payments go to that server: test payments only.
"""

import os
from pathlib import Path

from . import env as envconf

_env_file = os.environ.get("ENV_FILE") or Path(__file__).resolve().parents[2] / ".env"
for _name, _value in envconf.read_env_file(Path(_env_file)).items():
    os.environ.setdefault(_name, _value)

from .base import *  # noqa: E402, F403
from .base import ENV  # noqa: E402

DEBUG = envconf.env_bool(ENV, "DEBUG", True)
# A fixed key is fine here because these settings refuse nothing and serve only localhost.
SECRET_KEY = ENV.get("SECRET_KEY") or "dev-only-insecure-key-do-not-use-in-production"
# A fixed development key for the demo's clinical notes (a real Fernet key, public: never use it in production).
RECORDS_ENCRYPTION_KEYS = envconf.env_list(ENV, "RECORDS_ENCRYPTION_KEYS") or [
    "ZGV2LW9ubHktcmVjb3Jkcy1rZXktbm90LWZvci1wcmQ="
]
ALLOWED_HOSTS = envconf.env_list(ENV, "ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405
globals().update(envconf.local_stripe_config(ENV))
