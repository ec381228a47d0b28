"""How long the public pages take to render and how many queries each one runs.

    .venv/bin/python bench/pages.py                 # a throwaway SQLite database with the demo clinic
    .venv/bin/python bench/pages.py --existing      # the database DATABASE_URL / SQLITE_PATH points at
    .venv/bin/python bench/pages.py --repeat 50 --json bench/results/pages.json
    .venv/bin/python bench/pages.py --wagtail-routing   # the same pages routed by Wagtail's own view

Every live Wagtail page is requested through Django's test client (no network, no server),
together with a few non-page URLs. For each URL it prints the status, the number of SQL
queries and the median and 90th-percentile time over ``--repeat`` requests. It prints figures;
it never passes or fails on time. A query count that grows with the amount of content is the
figure to watch: it means a query in a loop.

Then the booking box (the issue's budget: a page with a box renders in at most 15 queries): a standard
page with a box of every service, one whose box names every bookable professional, the home page with a
box added to its body (these pages are created for the run and rolled back, so ``--existing`` leaves the
database as it was), and the box's first two steps for an anonymous visitor: the service step and the
date step, whose free times come from the scheduling engine's bounded-query selector (``find_slots``),
for "first available" among everyone and for one professional.

``--wagtail-routing`` serves the pages with Wagtail's own page view instead of ``website.routing`` (the
project's URLs with the page pattern swapped back), to show what the router saves: issue 11, item 14 kept it
because without it a page two levels down (a service, a profile, a post) runs 5 to 8 more queries and goes over
the budget of 15, and ``{% wagtailcache %}`` on the menus and listing blocks takes back only two of them.
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode
from uuid import uuid4

ROOT = Path(__file__).resolve().parent.parent
EXTRA_URLS = ["/healthz", "/sitemap.xml", "/robots.txt", "/search/?q=ansiedad", "/accounts/login/"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--existing", action="store_true", help="use the configured database as it is")
    parser.add_argument("--repeat", type=int, default=20, help="requests per URL (default 20)")
    parser.add_argument("--max-pages", type=int, default=60, help="at most this many Wagtail pages")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--wagtail-routing", action="store_true", help="serve pages with Wagtail's own view, not website.routing"
    )
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


def use_wagtail_routing() -> None:
    """Route pages with Wagtail's own ``serve``: the project's URL map with its page pattern swapped back."""
    import types

    from django.conf import settings
    from django.urls import clear_url_caches, re_path
    from wagtail import urls as wagtail_urls
    from wagtail import views as wagtail_views

    from website import urls as project_urls

    module = types.ModuleType("bench_wagtail_routing_urls")
    module.urlpatterns = [
        *(pattern for pattern in project_urls.urlpatterns if getattr(pattern, "name", None) != "wagtail_serve"),
        re_path(wagtail_urls.serve_pattern, wagtail_views.serve, name="wagtail_serve"),
    ]
    module.handler404, module.handler500 = project_urls.handler404, project_urls.handler500
    sys.modules[module.__name__] = module
    settings.ROOT_URLCONF = module.__name__
    clear_url_caches()


def urls_to_measure(max_pages: int) -> list[str]:
    from wagtail.models import Page, Site

    site = Site.objects.get(is_default_site=True)
    pages = Page.objects.live().public().descendant_of(site.root_page, inclusive=True).order_by("path")
    urls = [page.get_url(current_site=site) or page.url for page in pages[:max_pages]]
    return [url for url in urls if url] + EXTRA_URLS


def _box(**value) -> dict:
    """A booking box block as a page body stores it."""
    return {"type": "booking_box", "value": value, "id": str(uuid4())}


@contextmanager
def booking_box_urls() -> Iterator[list[tuple[str, str]]]:
    """(label, URL) of pages with a booking box and of the box's steps; the pages are rolled back afterwards."""
    from django.db import transaction
    from wagtail.models import Site

    from booking.scheduling.models import Professional
    from booking.widget.selectors import box_services
    from website.models import StandardPage

    with transaction.atomic():
        site = Site.objects.get(is_default_site=True)
        home = site.root_page.specific
        team = list(Professional.objects.bookable().order_by("sort_order").values_list("pk", "slug")[:20])
        members = [{"type": "item", "value": pk, "id": str(uuid4())} for pk, _slug in team]
        rows = []
        for label, slug, box in [
            ("standard page + box (every service)", "bench-booking-box", _box()),
            ("standard page + box (every professional)", "bench-booking-box-team", _box(professionals=members)),
        ]:
            page = home.add_child(instance=StandardPage(title=label, slug=slug, body=json.dumps([box])))
            rows.append((label, page.get_url(current_site=site) or page.url))
        if hasattr(home, "body"):
            home.body = json.dumps([*home.body.raw_data, _box(layout="compact")])
            home.save(update_fields=["body"])
            rows.append(("home page + box", home.get_url(current_site=site) or "/"))
        services = box_services(service=None, professional=None, location=None, modality="")
        if services:
            service = services[0].slug
            rows.append(("step 1: service", "/booking/?" + urlencode({"service": service})))
            rows.append(("step 2: dates, first available", "/booking/date/?" + urlencode({"service": service})))
            offering = Professional.objects.bookable().offering(services[0]).first()
            if offering is not None:
                query = urlencode({"service": service, "professional": offering.slug})
                rows.append(("step 2: dates, one professional", f"/booking/date/?{query}"))
        yield rows
        transaction.set_rollback(True)


def print_row(row: dict, label: str = "") -> None:
    print(
        f"{row['status']:>6} {row['queries']:>7} {row['median_ms']:>10.1f} {row['p90_ms']:>8.1f}"
        f" {row['bytes'] / 1024:>6.1f}  {row['url']}" + (f"  ({label})" if label else "")
    )


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

    if args.wagtail_routing:
        use_wagtail_routing()
    routing = "wagtail" if args.wagtail_routing else "website.routing"
    print(f"# database: {connection.vendor}; requests per URL: {args.repeat}; DEBUG={settings.DEBUG}")
    print(f"# pages routed by: {routing}")
    print(f"{'status':>6} {'queries':>7} {'median ms':>10} {'p90 ms':>8} {'KiB':>6}  url")
    results = []
    for url in urls_to_measure(args.max_pages):
        row = measure(url, args.repeat)
        results.append(row)
        print_row(row)
    print("# the booking box: pages with a box (created for this run, then rolled back) and its steps, anonymous")
    box_results = []
    with booking_box_urls() as rows:
        for label, url in rows:
            row = {**measure(url, args.repeat), "label": label}
            box_results.append(row)
            print_row(row, label)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        figures = {"database": connection.vendor, "routing": routing, "pages": results, "booking_box": box_results}
        args.json.write_text(json.dumps(figures, indent=2))
        print(f"# written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
