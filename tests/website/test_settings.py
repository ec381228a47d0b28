"""Settings follow the environment: safe local defaults, real services only when configured.

The functions in ``website.settings.env`` take the environment as a mapping, so each case
here is a plain call. Production settings are imported in a subprocess with a cleaned
environment, because settings are read once per process.
"""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from website.settings import env as envconf

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# A key that passes Django's deploy checks (long, varied, no "django-insecure-" prefix).
PRODUCTION_SECRET_KEY = "ci-7Hq2mV9xK4pL8sR1tW6yB3nD5fG0jZcAeUoIvXwQrTsYkMhNb"


class TestDatabaseConfig:
    def test_without_database_url_uses_a_local_sqlite_file_with_immediate_transactions(self, tmp_path):
        config = envconf.database_config({}, tmp_path)

        assert config["ENGINE"] == "django.db.backends.sqlite3"
        assert config["NAME"] == str(tmp_path / "db.sqlite3")
        # Writers serialise: the booking transaction checks for overlaps under the write lock.
        assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
        assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]

    def test_sqlite_path_can_be_moved(self, tmp_path):
        config = envconf.database_config({"SQLITE_PATH": "/srv/clinic/clinic.sqlite3"}, tmp_path)

        assert config["NAME"] == "/srv/clinic/clinic.sqlite3"

    def test_database_url_selects_postgresql_with_health_checked_persistent_connections(self, tmp_path):
        env = {"DATABASE_URL": "postgres://clinic:s3cret@db.internal:5433/clinic", "CONN_MAX_AGE": "120"}

        config = envconf.database_config(env, tmp_path)

        assert config["ENGINE"] == "django.db.backends.postgresql"
        assert (config["NAME"], config["USER"], config["PASSWORD"]) == ("clinic", "clinic", "s3cret")
        assert (config["HOST"], config["PORT"]) == ("db.internal", 5433)
        assert config["CONN_MAX_AGE"] == 120
        assert config["CONN_HEALTH_CHECKS"] is True

    def test_blank_database_url_counts_as_absent(self, tmp_path):
        config = envconf.database_config({"DATABASE_URL": "  "}, tmp_path)

        assert config["ENGINE"] == "django.db.backends.sqlite3"


class TestHueyConfig:
    def test_without_redis_huey_keeps_its_queue_in_sqlite(self, tmp_path):
        config = envconf.huey_config({}, tmp_path, immediate=False)

        assert config["huey_class"] == "huey.SqliteHuey"
        assert config["filename"] == str(tmp_path / "huey.sqlite3")
        assert config["immediate"] is False
        assert "connection" not in config

    def test_redis_url_puts_the_queue_on_redis(self, tmp_path):
        config = envconf.huey_config({"REDIS_URL": "redis://cache.internal:6379/2"}, tmp_path, immediate=False)

        assert config["huey_class"] == "huey.RedisHuey"
        assert config["connection"] == {"url": "redis://cache.internal:6379/2"}
        assert "filename" not in config

    @pytest.mark.parametrize(
        "env",
        [{}, {"REDIS_URL": "redis://cache.internal:6379/2"}],
        ids=["sqlite-queue", "redis-queue"],
    )
    def test_immediate_mode_is_what_the_caller_says_and_keeps_results_in_memory(self, tmp_path, env):
        immediate = envconf.huey_config(env, tmp_path, immediate=True)
        queued = envconf.huey_config(env, tmp_path, immediate=False)

        assert immediate["immediate"] is True
        assert immediate["immediate_use_memory"] is True
        assert queued["immediate"] is False
        assert "immediate_use_memory" not in queued

    def test_the_test_settings_run_tasks_immediately(self, settings):
        assert settings.HUEY["immediate"] is True


class TestEmailConfig:
    def test_without_mailgun_email_goes_to_the_console(self):
        config = envconf.email_config({})

        assert config == {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend", "ANYMAIL": {}}

    def test_mailgun_key_switches_to_anymail_with_every_mailgun_option_given(self):
        env = {
            "MAILGUN_API_KEY": "key-123",
            "MAILGUN_SENDER_DOMAIN": "mg.clinic.example",
            "MAILGUN_API_URL": "https://api.eu.mailgun.net/v3",
            "MAILGUN_WEBHOOK_SIGNING_KEY": "whsec-456",
        }

        config = envconf.email_config(env)

        assert config["EMAIL_BACKEND"] == "anymail.backends.mailgun.EmailBackend"
        assert config["ANYMAIL"] == {
            "MAILGUN_API_KEY": "key-123",
            "MAILGUN_SENDER_DOMAIN": "mg.clinic.example",
            "MAILGUN_API_URL": "https://api.eu.mailgun.net/v3",
            "MAILGUN_WEBHOOK_SIGNING_KEY": "whsec-456",
        }

    def test_optional_mailgun_options_are_left_out_when_absent(self):
        config = envconf.email_config({"MAILGUN_API_KEY": "key-123"})

        assert config["ANYMAIL"] == {"MAILGUN_API_KEY": "key-123"}


class TestStripeConfig:
    def test_without_a_secret_key_stripe_is_off(self):
        config = envconf.stripe_config({"STRIPE_PUBLISHABLE_KEY": "pk_test_123"})

        assert config["STRIPE_ENABLED"] is False
        assert config["STRIPE_SECRET_KEY"] == ""

    def test_a_secret_key_switches_stripe_on(self):
        env = {
            "STRIPE_SECRET_KEY": "sk_test_123",
            "STRIPE_PUBLISHABLE_KEY": "pk_test_123",
            "STRIPE_WEBHOOK_SECRET": "whsec_123",
            "STRIPE_API_BASE": "http://127.0.0.1:8420",
        }

        config = envconf.stripe_config(env)

        assert config == {
            "STRIPE_ENABLED": True,
            "STRIPE_SECRET_KEY": "sk_test_123",
            "STRIPE_PUBLISHABLE_KEY": "pk_test_123",
            "STRIPE_WEBHOOK_SECRET": "whsec_123",
            "STRIPE_API_BASE": "http://127.0.0.1:8420",
        }

    def test_the_test_settings_never_call_stripe(self, settings):
        assert settings.STRIPE_ENABLED is False


class TestStorageConfig:
    def test_without_a_bucket_media_stays_on_local_disk(self):
        config = envconf.storage_config({"AWS_ACCESS_KEY_ID": "AKIA-unused"})

        assert config["default"] == {"BACKEND": "django.core.files.storage.FileSystemStorage"}
        assert config["staticfiles"]["BACKEND"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"

    def test_a_bucket_puts_media_on_s3_with_private_signed_urls(self):
        env = {
            "AWS_STORAGE_BUCKET_NAME": "clinic-media",
            "AWS_S3_REGION_NAME": "sa-east-1",
            "AWS_S3_ENDPOINT_URL": "https://s3.sa-east-1.amazonaws.com",
            "AWS_S3_CUSTOM_DOMAIN": "media.clinic.example",
            "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "secret-example",
        }

        config = envconf.storage_config(env)

        assert config["default"]["BACKEND"] == "storages.backends.s3.S3Storage"
        assert config["default"]["OPTIONS"] == {
            "bucket_name": "clinic-media",
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
            "region_name": "sa-east-1",
            "endpoint_url": "https://s3.sa-east-1.amazonaws.com",
            "custom_domain": "media.clinic.example",
            "access_key": "AKIAEXAMPLE",
            "secret_key": "secret-example",
        }
        # Static files are served by the app (WhiteNoise) whatever happens to media.
        assert config["staticfiles"]["BACKEND"] == "whitenoise.storage.CompressedManifestStaticFilesStorage"


class TestTrustedOrigins:
    @pytest.mark.parametrize(
        ("site_url", "expected"),
        [
            ("https://clinic.example", ["https://clinic.example"]),
            ("https://clinic.example/es/", ["https://clinic.example"]),
            ("http://127.0.0.1:8000", ["http://127.0.0.1:8000"]),
            ("", []),
        ],
        ids=["plain", "path-dropped", "port-kept", "empty"],
    )
    def test_origin_is_scheme_and_host_of_the_site_url(self, site_url, expected):
        assert envconf.trusted_origins(site_url) == expected

    def test_a_relative_site_url_is_refused(self):
        with pytest.raises(ImproperlyConfigured, match="SITE_URL"):
            envconf.trusted_origins("clinic.example")


class TestSmallReaders:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [("1", True), ("true", True), ("Yes", True), (" on ", True), ("0", False), ("false", False), ("", False)],
        ids=["1", "true", "Yes", "on-padded", "0", "false", "empty-is-default"],
    )
    def test_env_bool(self, value, expected):
        assert envconf.env_bool({"FLAG": value}, "FLAG") is expected

    def test_env_list_splits_on_commas_and_falls_back_to_the_default(self):
        assert envconf.env_list({"HOSTS": " a.example, ,b.example "}, "HOSTS") == ["a.example", "b.example"]
        assert envconf.env_list({}, "HOSTS", ["localhost"]) == ["localhost"]

    def test_require_refuses_a_missing_or_blank_value(self):
        with pytest.raises(ImproperlyConfigured, match="SECRET_KEY"):
            envconf.require({"SECRET_KEY": "  "}, "SECRET_KEY")
        assert envconf.require({"SECRET_KEY": "x"}, "SECRET_KEY") == "x"


# --------------------------------------------------------------------------- production


def _run_with_production_settings(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """Run Python in a fresh process whose environment holds only ``env`` and the essentials.

    Nothing from the test run (DATABASE_URL, REDIS_URL, DJANGO_SETTINGS_MODULE) leaks in.
    """
    clean_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "website.settings.production",
        **env,
    }
    return subprocess.run(
        [sys.executable, *args], cwd=BASE_DIR, env=clean_env, capture_output=True, text=True, timeout=120
    )


PRODUCTION_RECORDS_KEY = "cHJvZHVjdGlvbi10ZXN0LXJlY29yZHMta2V5LTMyYiE="
SETUP_DJANGO = ["-c", "import django; django.setup(); print('started')"]


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"ALLOWED_HOSTS": "clinic.example"}, "SECRET_KEY"),
        ({"SECRET_KEY": PRODUCTION_SECRET_KEY}, "ALLOWED_HOSTS"),
        ({"SECRET_KEY": PRODUCTION_SECRET_KEY, "ALLOWED_HOSTS": " , "}, "ALLOWED_HOSTS"),
        ({"SECRET_KEY": PRODUCTION_SECRET_KEY, "ALLOWED_HOSTS": "clinic.example"}, "RECORDS_ENCRYPTION_KEYS"),
    ],
    ids=["no-secret-key", "no-allowed-hosts", "blank-allowed-hosts", "no-records-key"],
)
def test_production_refuses_to_start_without_its_required_variables(env, missing):
    result = _run_with_production_settings(SETUP_DJANGO, **env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr
    assert "started" not in result.stdout


def test_production_deploy_check_is_clean_when_configured():
    result = _run_with_production_settings(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        SECRET_KEY=PRODUCTION_SECRET_KEY,
        ALLOWED_HOSTS="clinic.example,www.clinic.example",
        SITE_URL="https://clinic.example",
        RECORDS_ENCRYPTION_KEYS=PRODUCTION_RECORDS_KEY,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


# --------------------------------------------------------------------------- .env.example


ENV_MAPPINGS = {"ENV", "env", "environ"}
ENV_READERS = {"require", "env_bool", "env_list"}


def _name_arguments(node) -> list:
    """The argument of ``node`` that names an environment variable, if ``node`` reads one."""
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "get" and getattr(func.value, "id", "") in ENV_MAPPINGS:
            return node.args[:1]
        if getattr(func, "id", getattr(func, "attr", "")) in ENV_READERS:
            return node.args[1:2]
    if isinstance(node, ast.Subscript) and getattr(node.value, "id", "") in ENV_MAPPINGS:
        return [node.slice]
    if isinstance(node, ast.Tuple) and len(node.elts) == 2:
        # storage_config's ("AWS_S3_REGION_NAME", "region_name") pairs
        first = node.elts[0]
        if isinstance(first, ast.Constant) and str(first.value).startswith("AWS_"):
            return [first]
    return []


def _environment_variables_read_by_settings() -> set[str]:
    """Names the settings modules read from the environment, found in their source.

    Counts ``ENV.get("X")``, ``env["X"]``, ``require(ENV, "X")``, ``env_bool(ENV, "X")``,
    ``env_list(ENV, "X")`` and the ``("AWS_...", option)`` pairs that ``storage_config`` loops over.
    """
    names = set()
    for path in (BASE_DIR / "website" / "settings").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            for argument in _name_arguments(node):
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    names.add(argument.value)
    return names


def test_env_example_documents_every_variable_the_settings_read():
    documented = (BASE_DIR / ".env.example").read_text()
    read = _environment_variables_read_by_settings()

    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "AWS_S3_REGION_NAME"} <= read
    undocumented = sorted(name for name in read if f"{name}=" not in documented)
    assert undocumented == [], f"add these to .env.example: {undocumented}"


class TestXdistWorkerEnvironment:
    """Each pytest-xdist worker gets a Redis database of its own; see ``xdist_worker_environment``."""

    @pytest.mark.parametrize(
        ("env", "expected"),
        [
            ({"REDIS_URL": "redis://127.0.0.1:6379/8"}, {}),
            ({"PYTEST_XDIST_WORKER": "gw1"}, {}),
            (
                {"PYTEST_XDIST_WORKER": "gw0", "REDIS_URL": "redis://127.0.0.1:6379/8"},
                {"TEST_REDIS_BASE_URL": "redis://127.0.0.1:6379/8", "REDIS_URL": "redis://127.0.0.1:6379/8"},
            ),
            (
                {"PYTEST_XDIST_WORKER": "gw3", "REDIS_URL": "redis://:pw@cache:6380/8"},
                {"TEST_REDIS_BASE_URL": "redis://:pw@cache:6380/8", "REDIS_URL": "redis://:pw@cache:6380/11"},
            ),
            (
                {"PYTEST_XDIST_WORKER": "gw2", "REDIS_URL": "redis://127.0.0.1:6379"},
                {"TEST_REDIS_BASE_URL": "redis://127.0.0.1:6379", "REDIS_URL": "redis://127.0.0.1:6379/2"},
            ),
        ],
        ids=["not-under-xdist", "no-redis", "first-worker-keeps-the-database", "worker-3-adds-3", "no-database-is-0"],
    )
    def test_worker_n_uses_the_redis_database_n_above_the_configured_one(self, env, expected):
        assert envconf.xdist_worker_environment(env) == expected

    def test_a_process_started_by_a_worker_inherits_its_database_instead_of_moving_further(self):
        worker_env = {"PYTEST_XDIST_WORKER": "gw1", "REDIS_URL": "redis://127.0.0.1:6379/8"}
        worker_env |= envconf.xdist_worker_environment(worker_env)

        child_env = dict(worker_env)  # what a huey consumer started by the worker sees
        child_env |= envconf.xdist_worker_environment(child_env)

        assert worker_env["REDIS_URL"] == child_env["REDIS_URL"] == "redis://127.0.0.1:6379/9"

    def test_a_worker_past_the_last_redis_database_is_refused_with_the_way_out(self):
        env = {"PYTEST_XDIST_WORKER": "gw1", "REDIS_URL": "redis://127.0.0.1:6379/15"}

        with pytest.raises(ImproperlyConfigured, match="lower database or run fewer workers"):
            envconf.xdist_worker_environment(env)
