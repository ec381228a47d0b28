"""What ``make run`` configures: SITE_URL from HOST/PORT, the local test Stripe, and a ``.env`` file.

``make run`` exports its ``HOST``/``PORT`` as ``RUN_HOST``/``RUN_PORT`` and its ``STRIPE_PORT`` as
``LOCAL_STRIPE_PORT``; the functions of ``website.settings.env`` turn them into settings, and the development
settings apply them (checked in a fresh process: settings are read once per process).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from wagtail.models import Site

from website.settings import env as envconf

BASE_DIR = Path(__file__).resolve().parent.parent.parent


# --------------------------------------------------------------------------------------------- SITE_URL


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"RUN_HOST": "127.0.0.1", "RUN_PORT": "8100"}, "http://127.0.0.1:8100"),
        ({"RUN_HOST": "localhost", "RUN_PORT": "8080"}, "http://localhost:8080"),
        ({"RUN_HOST": "0.0.0.0", "RUN_PORT": "8080"}, "http://127.0.0.1:8080"),
        ({"RUN_HOST": "::", "RUN_PORT": "8080"}, "http://127.0.0.1:8080"),
        ({"RUN_HOST": "::1", "RUN_PORT": "8080"}, "http://[::1]:8080"),
        ({"RUN_HOST": "0.0.0.0", "RUN_PORT": "8100", "SITE_URL": "https://clinic.example/"}, "https://clinic.example"),
    ],
    ids=["default", "port", "host", "every-ipv4-interface", "every-ipv6-interface", "ipv6", "site-url-wins"],
)
def test_site_url_follows_the_address_make_run_serves_unless_set(env, expected):
    assert envconf.site_url(env) == expected


def test_a_run_port_that_is_not_a_number_is_refused():
    with pytest.raises(ImproperlyConfigured, match="RUN_PORT"):
        envconf.site_url({"RUN_PORT": "80a"})


@pytest.mark.django_db
def test_set_site_url_puts_canonical_links_on_the_port_served(client, settings, home_page):
    """``PORT=8100 make run``: seed_demo's set_site_url moves the default site, so links say 8100."""
    settings.SITE_URL = envconf.site_url({"RUN_HOST": "127.0.0.1", "RUN_PORT": "8100"})
    settings.ALLOWED_HOSTS = ["127.0.0.1"]

    call_command("set_site_url", stdout=open(os.devnull, "w"))  # noqa: SIM115
    html = client.get("/", HTTP_HOST="127.0.0.1:8100").content.decode()

    site = Site.objects.get(is_default_site=True)
    assert (site.hostname, site.port) == ("127.0.0.1", 8100)
    assert '<link rel="canonical" href="http://127.0.0.1:8100/">' in html
    assert '<meta property="og:url" content="http://127.0.0.1:8100/">' in html


# --------------------------------------------------------------------------------------------- local Stripe


def test_make_run_points_stripe_at_the_local_test_server():
    config = envconf.local_stripe_config({"LOCAL_STRIPE_PORT": "8420"})

    assert config["STRIPE_ENABLED"] is True
    assert config["STRIPE_SECRET_KEY"].startswith("sk_test_")  # the pay step shows its test-mode notice
    assert config["STRIPE_PUBLISHABLE_KEY"].startswith("pk_test_")
    assert config["STRIPE_WEBHOOK_SECRET"].startswith("whsec_")
    assert config["STRIPE_API_BASE"] == "http://127.0.0.1:8420"
    assert config["STRIPE_LOCAL_PORT"] == 8420


@pytest.mark.parametrize(
    "env",
    [{}, {"LOCAL_STRIPE_PORT": ""}, {"LOCAL_STRIPE_PORT": "8420", "STRIPE_SECRET_KEY": "sk_test_dashboard"}],
    ids=["not-make-run", "empty", "real-keys-win"],
)
def test_no_local_server_outside_make_run_or_with_real_keys(env):
    assert envconf.local_stripe_config(env) == {}


@pytest.mark.parametrize("port", ["http", "0", "70000"])
def test_a_bad_local_stripe_port_is_refused(port):
    with pytest.raises(ImproperlyConfigured, match="LOCAL_STRIPE_PORT"):
        envconf.local_stripe_config({"LOCAL_STRIPE_PORT": port})


# --------------------------------------------------------------------------------------------- .env


def test_env_file_is_read_as_a_shell_would(tmp_path):
    path = tmp_path / ".env"
    path.write_text(
        "# a comment\n"
        "\n"
        "SECRET_KEY=\n"
        'CLINIC_NAME="Clínica Bienestar"\n'
        "export STRIPE_SECRET_KEY=sk_test_123\n"
        "DEFAULT_FROM_EMAIL='Clínica <no-reply@clinic.example>'\n"
        "LOG_LEVEL=INFO  # the default\n",
        encoding="utf-8",
    )

    assert envconf.read_env_file(path) == {
        "SECRET_KEY": "",
        "CLINIC_NAME": "Clínica Bienestar",
        "STRIPE_SECRET_KEY": "sk_test_123",
        "DEFAULT_FROM_EMAIL": "Clínica <no-reply@clinic.example>",
        "LOG_LEVEL": "INFO",
    }


def test_no_env_file_means_nothing_to_read(tmp_path):
    assert envconf.read_env_file(tmp_path / ".env") == {}


@pytest.mark.parametrize("line", ["not a variable", 'CLINIC_NAME="unclosed'], ids=["no-equals", "open-quote"])
def test_a_line_that_cannot_be_read_is_refused_with_its_number(tmp_path, line):
    path = tmp_path / ".env"
    path.write_text(f"LOG_LEVEL=INFO\n{line}\n")

    with pytest.raises(ImproperlyConfigured, match="line 2"):
        envconf.read_env_file(path)


# --------------------------------------------------------------------------------------------- dev settings


PRINT_SETTINGS = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({n: getattr(s, n) for n in "
    "('SITE_URL', 'STRIPE_ENABLED', 'STRIPE_SECRET_KEY', 'STRIPE_API_BASE', 'STRIPE_LOCAL_PORT', "
    "'WAGTAIL_SITE_NAME')}))"
)


def dev_settings(tmp_path, env_file: str = "", **env: str) -> dict:
    """The development settings as a fresh process under ``make run`` sees them, with ``env_file`` as .env."""
    path = tmp_path / "dev.env"
    path.write_text(env_file)
    clean_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "website.settings.dev",
        "ENV_FILE": str(path),
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=BASE_DIR,
        env=clean_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_make_run_settings_serve_the_demo_on_its_port_with_local_test_payments(tmp_path):
    seen = dev_settings(tmp_path, RUN_HOST="127.0.0.1", RUN_PORT="8100", LOCAL_STRIPE_PORT="8421")

    assert seen["SITE_URL"] == "http://127.0.0.1:8100"
    assert seen["STRIPE_ENABLED"] is True
    assert seen["STRIPE_API_BASE"] == "http://127.0.0.1:8421"
    assert seen["STRIPE_LOCAL_PORT"] == 8421


def test_stripe_keys_in_env_file_keep_the_demo_on_stripe(tmp_path):
    seen = dev_settings(
        tmp_path,
        'STRIPE_SECRET_KEY=sk_test_dashboard\nSITE_URL=http://clinic.localhost:8000\nCLINIC_NAME="Centro Sur"\n',
        RUN_PORT="8100",
        LOCAL_STRIPE_PORT="8421",
    )

    assert seen["STRIPE_SECRET_KEY"] == "sk_test_dashboard"
    assert seen["STRIPE_API_BASE"] == ""
    assert seen["STRIPE_LOCAL_PORT"] is None
    assert seen["SITE_URL"] == "http://clinic.localhost:8000"
    assert seen["WAGTAIL_SITE_NAME"] == "Centro Sur"


def test_the_environment_wins_over_the_env_file(tmp_path):
    seen = dev_settings(tmp_path, "SITE_URL=http://from-the-file:8000\n", SITE_URL="http://from-the-shell:9000")

    assert seen["SITE_URL"] == "http://from-the-shell:9000"
