"""How long the public pages take to render and how many queries each one runs.

    .venv/bin/python bench/pages.py                 # a throwaway SQLite database with the demo clinic
    .venv/bin/python bench/pages.py --existing      # the database DATABASE_URL / SQLITE_PATH points at
    .venv/bin/python bench/pages.py --repeat 50 --json bench/results/pages.json

Every live Wagtail page is requested through Django's test client (no network, no server),
together with a few non-page URLs. For each URL it prints the status, the number of SQL
queries and the median and 90th-percentile time over ``--repeat`` requests. It prints figures;
it never passes or fails on time. A query count that grows with the amount of content is the
figure to watch: it means a query in a loop.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXTRA_URLS = ["/healthz", "/sitemap.xml", "/robots.txt", "/search/?q=ansiedad", "/accounts/login/"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--existing", action="store_true", help="use the configured database as it is")
    parser.add_argument("--repeat", type=int, default=20, help="requests per URL (default 20)")
    parser.add_argument("--max-pages", type=int, default=60, help="at most this many Wagtail pages")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


def prepare_django(existing: bool) -> None:
    """Settings for measuring: DEBUG off (as in production), local storage, no real email."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "website.settings.dev")
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("HUEY_IMMEDIATE", "true")
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # one log line per request would drown the table
    # Static files are served by the finders here; WhiteNoise's complaint about an empty STATIC_ROOT is noise.
    warnings.filterwarnings("ignore", message="No directory at")
    if not existing:
        scratch = Path(tempfile.mkdtemp(prefix="clinic-bench-"))
        os.environ.pop("DATABASE_URL", None)
        os.environ["SQLITE_PATH"] = str(scratch / "bench.sqlite3")
        os.environ["HUEY_SQLITE_PATH"] = str(scratch / "huey.sqlite3")
        os.environ["MEDIA_ROOT"] = str(scratch / "media")

    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["*"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    if not existing:
        from django.core.management import call_command

        started = time.perf_counter()
        call_command("migrate", verbosity=0, interactive=False)
        call_command("seed_demo", verbosity=0, stdout=io.StringIO())
        print(f"# fresh database with the demo clinic in {time.perf_counter() - started:.1f}s")


def urls_to_measure(max_pages: int) -> list[str]:
    from wagtail.models import Page, Site

    site = Site.objects.get(is_default_site=True)
    pages = Page.objects.live().public().descendant_of(site.root_page, inclusive=True).order_by("path")
    urls = [page.get_url(current_site=site) or page.url for page in pages[:max_pages]]
    return [url for url in urls if url] + EXTRA_URLS


def measure(url: str, repeat: int, client=None) -> dict:
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = client or Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="es-CL")
    first = client.get(url)  # warms template and query caches; counted apart
    reset_queries()  # each request starts with an empty query log; the capture must too
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    query_count = len(queries.captured_queries)  # read now: the capture is a view of the live log
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {
        "url": url,
        "status": first.status_code,
        "queries": query_count,
        "median_ms": round(statistics.median(timings), 2),
        "p90_ms": round(timings[int(0.9 * (len(timings) - 1))], 2),
        "bytes": len(first.content),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    prepare_django(args.existing)
    from django.conf import settings
    from django.db import connection

    print(f"# database: {connection.vendor}; requests per URL: {args.repeat}; DEBUG={settings.DEBUG}")
    print(f"{'status':>6} {'queries':>7} {'median ms':>10} {'p90 ms':>8} {'KiB':>6}  url")
    results = []
    for url in urls_to_measure(args.max_pages):
        row = measure(url, args.repeat)
        results.append(row)
        print(
            f"{row['status']:>6} {row['queries']:>7} {row['median_ms']:>10.1f} {row['p90_ms']:>8.1f}"
            f" {row['bytes'] / 1024:>6.1f}  {row['url']}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"database": connection.vendor, "pages": results}, indent=2))
        print(f"# written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
