"""Turn environment variables into Django settings.

Each function takes the environment as a mapping so tests can call it with any values
without touching ``os.environ``. Safe local defaults apply when a variable is absent:
SQLite, huey on SQLite storage, console email, Stripe switched off.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.utils import getaddresses
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

TRUE_VALUES = {"1", "true", "yes", "on"}


def env_bool(env: Mapping[str, str], name: str, default: bool = False) -> bool:
    value = env.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in TRUE_VALUES


def env_list(env: Mapping[str, str], name: str, default: list[str] | None = None) -> list[str]:
    value = env.get(name, "")
    items = [item.strip() for item in value.split(",") if item.strip()]
    return items or list(default or [])


def database_config(env: Mapping[str, str], base_dir: Path) -> dict:
    """PostgreSQL from ``DATABASE_URL``, else a local SQLite file.

    SQLite runs every transaction as ``BEGIN IMMEDIATE`` so that writers serialise: the
    booking transaction then checks for overlaps under the write lock.

    PostgreSQL gives up waiting on a row lock after ``DB_LOCK_TIMEOUT_MS`` (5000; 0 waits for ever), so a
    request queued behind another one's lock answers "busy, try again" (``website.middleware``) instead of
    hanging until the proxy's timeout.
    """
    url = env.get("DATABASE_URL", "").strip()
    if url:
        config = dj_database_url.parse(url, conn_max_age=int(env.get("CONN_MAX_AGE", "60")))
        config["CONN_HEALTH_CHECKS"] = True
        if config["ENGINE"].endswith(("postgresql", "postgis")):
            lock_timeout = env.get("DB_LOCK_TIMEOUT_MS", "").strip() or "5000"
            if not lock_timeout.isdigit():
                raise ImproperlyConfigured(
                    f"DB_LOCK_TIMEOUT_MS must be a whole number of milliseconds, not {lock_timeout!r}"
                )
            options = config.setdefault("OPTIONS", {})
            options["options"] = f"{options.get('options', '')} -c lock_timeout={int(lock_timeout)}".strip()
        return config
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": env.get("SQLITE_PATH") or str(base_dir / "db.sqlite3"),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }


def huey_config(env: Mapping[str, str], base_dir: Path, *, immediate: bool) -> dict:
    """huey on Redis when ``REDIS_URL`` is set, else on a SQLite file next to the database.

    ``immediate`` is always explicit: djhuey would otherwise follow ``DEBUG``.
    """
    redis_url = env.get("REDIS_URL", "").strip()
    config: dict = {
        "name": "clinic",
        "immediate": immediate,
        "utc": True,
        "consumer": {"workers": 2, "worker_type": "thread", "periodic": True},
    }
    if redis_url:
        config["huey_class"] = "huey.RedisHuey"
        config["connection"] = {"url": redis_url}
    else:
        config["huey_class"] = "huey.SqliteHuey"
        config["filename"] = env.get("HUEY_SQLITE_PATH") or str(base_dir / "huey.sqlite3")
    if immediate:
        # Immediate mode keeps its results in memory, whatever the storage above.
        config["immediate_use_memory"] = True
    return config


#: Redis's default number of databases (``databases 16`` in redis.conf): numbered 0 to 15.
REDIS_DATABASES = 16


def xdist_worker_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The variables a pytest-xdist worker changes so that it shares no Redis database with the other workers.

    pytest-xdist names its workers gw0, gw1, ... (``PYTEST_XDIST_WORKER``); gwN uses the Redis database N above
    the one ``REDIS_URL`` names. A key prefix would not do: the suite empties the cache around every test and
    Django's ``RedisCache.clear()`` empties the whole database, huey's queue and heartbeat included.
    ``TEST_REDIS_BASE_URL`` remembers the URL as given, so a process a worker starts (a huey consumer, the
    local test Stripe) inherits the worker's database instead of moving one further. Nothing changes outside
    xdist or without Redis (the databases of SQLite and PostgreSQL are per worker already: pytest-django adds the
    worker's name to the test database's).
    """
    worker = env.get("PYTEST_XDIST_WORKER", "").strip()
    base_url = env.get("TEST_REDIS_BASE_URL", "").strip() or env.get("REDIS_URL", "").strip()
    if not worker or not base_url:
        return {}
    match = re.fullmatch(r"gw(\d+)", worker)
    if match is None:
        raise ImproperlyConfigured(f"PYTEST_XDIST_WORKER should look like gw0, not {worker!r}")
    parts = urlsplit(base_url)
    first = parts.path.strip("/") or "0"
    if not first.isdigit():
        raise ImproperlyConfigured(f"REDIS_URL must name a database number (redis://host:6379/8), not {base_url!r}")
    database = int(first) + int(match[1])
    if database >= REDIS_DATABASES:
        raise ImproperlyConfigured(
            f"REDIS_URL names database {first}, so xdist worker {worker} would use database {database}, past Redis's "
            f"last ({REDIS_DATABASES - 1}): point REDIS_URL at a lower database or run fewer workers (-n)."
        )
    return {
        "TEST_REDIS_BASE_URL": base_url,
        "REDIS_URL": urlunsplit(parts._replace(path=f"/{database}")),
    }


def email_config(env: Mapping[str, str]) -> dict:
    """Mailgun through anymail when ``MAILGUN_API_KEY`` is set, else the console."""
    api_key = env.get("MAILGUN_API_KEY", "").strip()
    if not api_key:
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend", "ANYMAIL": {}}
    anymail = {"MAILGUN_API_KEY": api_key}
    if env.get("MAILGUN_SENDER_DOMAIN"):
        anymail["MAILGUN_SENDER_DOMAIN"] = env["MAILGUN_SENDER_DOMAIN"]
    if env.get("MAILGUN_API_URL"):
        anymail["MAILGUN_API_URL"] = env["MAILGUN_API_URL"]
    if env.get("MAILGUN_WEBHOOK_SIGNING_KEY"):
        anymail["MAILGUN_WEBHOOK_SIGNING_KEY"] = env["MAILGUN_WEBHOOK_SIGNING_KEY"]
    return {"EMAIL_BACKEND": "anymail.backends.mailgun.EmailBackend", "ANYMAIL": anymail}


def stripe_config(env: Mapping[str, str]) -> dict:
    """Stripe switches on only when a secret key is present."""
    secret = env.get("STRIPE_SECRET_KEY", "").strip()
    return {
        "STRIPE_ENABLED": bool(secret),
        "STRIPE_SECRET_KEY": secret,
        "STRIPE_PUBLISHABLE_KEY": env.get("STRIPE_PUBLISHABLE_KEY", "").strip(),
        "STRIPE_WEBHOOK_SECRET": env.get("STRIPE_WEBHOOK_SECRET", "").strip(),
        # Points the SDK at another server (localstripe in tests); empty means Stripe itself.
        "STRIPE_API_BASE": env.get("STRIPE_API_BASE", "").strip(),
    }


# The local test server's keys (``manage.py run_test_stripe``): not secrets, it holds nothing but test payments.
LOCAL_STRIPE_SECRET_KEY = "sk_test_clinic_local"
LOCAL_STRIPE_PUBLISHABLE_KEY = "pk_test_clinic_local"
LOCAL_STRIPE_WEBHOOK_SECRET = "whsec_clinic_local"


def local_stripe_config(env: Mapping[str, str]) -> dict:
    """``make run``'s online payments: the local test server on ``LOCAL_STRIPE_PORT`` of 127.0.0.1.

    Empty (Stripe as ``stripe_config`` reads it) when ``LOCAL_STRIPE_PORT`` is unset or ``STRIPE_SECRET_KEY`` is
    set: keys the user configured always win over the demo's local server.
    """
    port = env.get("LOCAL_STRIPE_PORT", "").strip()
    if not port or env.get("STRIPE_SECRET_KEY", "").strip():
        return {}
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ImproperlyConfigured(f"LOCAL_STRIPE_PORT must be a port number, not {port!r}")
    return {
        "STRIPE_ENABLED": True,
        "STRIPE_SECRET_KEY": LOCAL_STRIPE_SECRET_KEY,
        "STRIPE_PUBLISHABLE_KEY": LOCAL_STRIPE_PUBLISHABLE_KEY,
        "STRIPE_WEBHOOK_SECRET": LOCAL_STRIPE_WEBHOOK_SECRET,
        "STRIPE_API_BASE": f"http://127.0.0.1:{int(port)}",
        "STRIPE_LOCAL_PORT": int(port),
    }


PRIVATE_FILE_STORAGE = "portal.records.storage.PrivateFileSystemStorage"


def storage_config(env: Mapping[str, str]) -> dict:
    """Media on S3 through django-storages when a bucket is configured, else local files.

    ``private`` holds the documents shared with one patient: never under ``MEDIA_URL`` (no public address; the
    portal serves them through a view that checks who asks). Locally ``PRIVATE_MEDIA_ROOT``, outside ``MEDIA_ROOT``;
    on S3 the ``private/`` prefix of the same bucket, without a public ACL.
    """
    staticfiles = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}
    bucket = env.get("AWS_STORAGE_BUCKET_NAME", "").strip()
    if not bucket:
        return {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "private": {"BACKEND": PRIVATE_FILE_STORAGE},
            "staticfiles": staticfiles,
        }
    options = {
        "bucket_name": bucket,
        "default_acl": None,
        "querystring_auth": True,
        "file_overwrite": False,
    }
    for env_name, option in (
        ("AWS_S3_REGION_NAME", "region_name"),
        ("AWS_S3_ENDPOINT_URL", "endpoint_url"),
        ("AWS_S3_CUSTOM_DOMAIN", "custom_domain"),
        ("AWS_ACCESS_KEY_ID", "access_key"),
        ("AWS_SECRET_ACCESS_KEY", "secret_key"),
    ):
        if env.get(env_name):
            options[option] = env[env_name]
    return {
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
        "private": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {**options, "location": "private", "custom_domain": None},
        },
        "staticfiles": staticfiles,
    }


def require(env: Mapping[str, str], name: str) -> str:
    """Return a variable that production cannot run without, or refuse to start."""
    value = env.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(f"The {name} environment variable is required in production.")
    return value


def site_url(env: Mapping[str, str]) -> str:
    """The site's absolute address: ``SITE_URL``, else where ``make run`` serves it (``RUN_HOST``/``RUN_PORT``).

    ``make run`` exports its ``HOST`` and ``PORT`` as ``RUN_HOST`` and ``RUN_PORT``, so that ``PORT=8100 make
    run`` puts canonical links, ``og:url`` and JSON-LD on port 8100 too. A server listening on every interface
    (``0.0.0.0``, ``::``) is reached on this machine at 127.0.0.1; others need ``SITE_URL`` set to the address
    they use. Without any of them: ``http://127.0.0.1:8000``.
    """
    explicit = env.get("SITE_URL", "").strip()
    if explicit:
        return explicit.rstrip("/")
    host = env.get("RUN_HOST", "").strip().strip("[]") or "127.0.0.1"
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"  # an IPv6 address
    port = env.get("RUN_PORT", "").strip() or "8000"
    if not port.isdigit():
        raise ImproperlyConfigured(f"RUN_PORT must be a port number, not {port!r}")
    return f"http://{host}:{int(port)}"


DEFAULT_VIDEO_BASE_URL = "https://meet.jit.si"


def video_base_url(env: Mapping[str, str]) -> str:
    """Where online sessions' rooms live (``VIDEO_BASE_URL``; a room is this plus ``/<room name>``).

    The public Jitsi Meet by default. Refused at start when it is not an absolute http(s) address, so that a typo
    never sends patients to a relative link on the clinic's own site.
    """
    value = env.get("VIDEO_BASE_URL", "").strip() or DEFAULT_VIDEO_BASE_URL
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ImproperlyConfigured(f"VIDEO_BASE_URL must be an http(s) address such as {DEFAULT_VIDEO_BASE_URL}")
    return value.rstrip("/")


ENV_LINE = re.compile(r"^\s*(?:export\s+)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?P<value>.*?)\s*$")


def read_env_file(path: Path) -> dict[str, str]:
    """The ``NAME=value`` lines of a ``.env`` file (none when it does not exist), as a shell would read them.

    Blank lines and ``#`` comments are skipped, ``export`` is allowed, a value in single or double quotes loses
    them (``CLINIC_NAME="Clínica Bienestar"``), and an unquoted value ends at `` #``. Anything else is refused
    with its line number rather than half-read.
    """
    if not path.is_file():
        return {}
    values = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = ENV_LINE.match(line)
        if match is None:
            raise ImproperlyConfigured(f"{path}, line {number}: expected NAME=value")
        value = match["value"]
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif value[:1] in ("'", '"'):
            raise ImproperlyConfigured(f"{path}, line {number}: the quote is not closed")
        else:
            value = value.split(" #", 1)[0].rstrip()
        values[match["name"]] = value
    return values


def trusted_origins(site_url: str) -> list[str]:
    """CSRF trusted origins derived from ``SITE_URL`` (scheme and host only)."""
    if not site_url:
        return []
    parts = urlsplit(site_url)
    if not parts.scheme or not parts.netloc:
        raise ImproperlyConfigured("SITE_URL must be an absolute URL such as https://clinic.example")
    return [f"{parts.scheme}://{parts.netloc}"]


def trusted_proxy_count(env: Mapping[str, str]) -> int:
    """How many reverse proxies of ours stand in front of the app (``TRUSTED_PROXY_COUNT``, default 0).

    Behind a proxy every request arrives from the proxy's address, so per-address limits (allauth's failed
    logins, the API's throttles) would count every visitor together. With ``n`` trusted proxies the client is the
    ``n``-th address from the right of ``X-Forwarded-For``: the one our outermost proxy saw. With 0 the header is
    ignored, so a client cannot pick its own address to slip past the limits.
    """
    value = env.get("TRUSTED_PROXY_COUNT", "").strip() or "0"
    if not value.isdigit():
        raise ImproperlyConfigured(f"TRUSTED_PROXY_COUNT must be a whole number of proxies, not {value!r}")
    return int(value)


def admins(env: Mapping[str, str]) -> list[tuple[str, str]]:
    """``ADMINS="Ana Rojas <ana@clinic.cl>,ops@clinic.cl"`` as Django's ``(name, address)`` pairs.

    They receive an email for every server error and every failed background task. An entry without an address
    is refused rather than silently dropped: a typo here would make failures silent again.
    """
    value = env.get("ADMINS", "").strip()
    if not value:
        return []
    pairs = []
    for entry in (item.strip() for item in value.split(",")):
        if not entry:
            continue
        name, address = getaddresses([entry])[0]
        if "@" not in address:
            raise ImproperlyConfigured(f"ADMINS: {entry!r} has no email address (write Name <address>)")
        pairs.append((name or address, address))
    return pairs


#: What Sentry may collect: nothing that names or describes a person. Request headers go without the ones that
#: carry the client's address or identity (sentry-sdk's own list when personal data is off).
SENTRY_DATA_COLLECTION = {
    "user_info": False,
    "cookies": {"mode": "off"},
    "http_headers": {"request": {"mode": "denylist", "terms": ["forwarded", "-ip", "remote-", "via", "-user"]}},
    "http_bodies": [],
    "url_query_params": {"mode": "denylist"},
    "graphql": {"document": False, "variables": False},
    "gen_ai": {"inputs": False, "outputs": False},
    "database_query_data": False,
    "queues": False,
    "stack_frame_variables": False,
}


def sentry_options(env: Mapping[str, str]) -> dict | None:
    """The arguments of ``sentry_sdk.init`` when ``SENTRY_DSN`` is set, else None (error reporting off).

    Patients' data stays out of the reports: no user, cookies or client address, no request bodies (a booking
    carries names, RUTs and notes), no task arguments, SQL parameters or local variables of the failing frames.
    That is ``send_default_pii=False`` and more, said through ``data_collection``, which replaces that option
    in sentry-sdk 2.75 (where ``send_default_pii`` only warns that it is deprecated). An explicit
    ``data_collection`` collects everything it does not name, so every category is named here.
    """
    dsn = env.get("SENTRY_DSN", "").strip()
    if not dsn:
        return None
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.huey import HueyIntegration

    rate = env.get("SENTRY_TRACES_SAMPLE_RATE", "").strip() or "0"
    try:
        traces_sample_rate = float(rate)
    except ValueError:
        raise ImproperlyConfigured(f"SENTRY_TRACES_SAMPLE_RATE must be a number from 0 to 1, not {rate!r}") from None
    if not 0 <= traces_sample_rate <= 1:
        raise ImproperlyConfigured(f"SENTRY_TRACES_SAMPLE_RATE must be a number from 0 to 1, not {rate!r}")
    return {
        "dsn": dsn,
        "environment": env.get("SENTRY_ENVIRONMENT", "").strip() or "production",
        "release": env.get("SENTRY_RELEASE", "").strip() or None,
        "integrations": [DjangoIntegration(), HueyIntegration()],
        "data_collection": SENTRY_DATA_COLLECTION,
        "traces_sample_rate": traces_sample_rate,
    }


def init_sentry(env: Mapping[str, str]) -> bool:
    """Switch Sentry on when ``SENTRY_DSN`` is set; says whether it did."""
    options = sentry_options(env)
    if options is None:
        return False
    import sentry_sdk

    sentry_sdk.init(**options)
    return True


#: The API's throttle rates (DRF's ``number/period``), each overridable from the environment.
THROTTLE_RATE_DEFAULTS = {
    # Anonymous clients, per address: the public catalog and availability.
    "anon": ("API_THROTTLE_ANON", "60/min"),
    # Logged-in clients, per user, on any endpoint.
    "user": ("API_THROTTLE_USER", "120/min"),
    # Booking and rescheduling, per user: each one holds the booking lock and may email the clinic.
    "booking": ("API_THROTTLE_BOOKING", "20/hour"),
}
THROTTLE_RATE = re.compile(r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$")


def throttle_rates(env: Mapping[str, str]) -> dict[str, str]:
    """DRF's ``DEFAULT_THROTTLE_RATES`` from ``API_THROTTLE_*``; a malformed rate stops the app from starting."""
    rates = {}
    for scope, (name, default) in THROTTLE_RATE_DEFAULTS.items():
        rate = env.get(name, "").strip() or default
        if not THROTTLE_RATE.match(rate):
            raise ImproperlyConfigured(f"{name} must look like 60/min (per s, min, hour or day), not {rate!r}")
        rates[scope] = rate
    return rates
