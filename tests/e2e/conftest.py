"""Browser tests: Debian's Chromium driven by Playwright's sync API against pytest-django's live server.

Run them with ``make e2e`` (pyproject's addopts keep them out of ``make test``). Playwright's
own browser downloads are never used: there is no network, so ``playwright install`` is not an
option and the browser is the system's ``/usr/bin/chromium`` (or ``CHROMIUM_PATH``).

Each test gets a fresh browser context (cookies, language, storage) in one Chromium process
shared by the session. A test uses the ``live_server`` fixture together with
``@pytest.mark.django_db(transaction=True, serialized_rollback=True)``: the server runs in
another thread, so the test's data must be committed for it to see them, and the serialized
rollback puts back the rows the migrations created (Wagtail's root page and default site)
that a transactional test's flush would otherwise remove for the next test.
"""

import os
import re
from pathlib import Path

import pytest

# The booking flows' clinic, logged-in contexts, pinned clock and fake Stripe (test_booking.py, the embed test).
from tests.booking.billing.conftest import pinned_clock, stripe_api, stripe_clock, stripe_live, stripe_server  # noqa: F401

from .booking_fixtures import booking_clinic, logged_in_context, make_patient  # noqa: F401

# Playwright's sync API runs an event loop in this thread; Django's ORM refuses to run in a
# thread with a running loop unless told that the caller knows it is synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT_DIR = Path(__file__).resolve().parent / "screenshots"
VIEWPORTS = {
    "phone": {"width": 390, "height": 844},
    "desktop": {"width": 1280, "height": 800},
}
DEFAULT_TIMEOUT_MS = 10_000


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session; a missing browser fails loudly, it never skips."""
    if not os.access(CHROMIUM_PATH, os.X_OK):
        pytest.fail(f"Chromium not found at {CHROMIUM_PATH}: run `apt-get install chromium` (or set CHROMIUM_PATH).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def django_db_setup(browser, django_db_setup):
    """Create the test database only once Chromium (and Playwright's event loop) is running.

    Django keeps its connections per execution context, and Playwright's sync API starts a new one: a test database
    created (and serialized for ``serialized_rollback``) before the browser started is then reached through a new
    connection object without that serialized copy, and Django silently skips the restore, so every later test
    finds no root page. Starting the browser first keeps one connection object for the whole session, whichever
    e2e file runs first or alone.
    """
    yield


@pytest.fixture
def page(browser):
    """A page in a new context that speaks Chilean Spanish, as most visitors' browsers do.

    JavaScript errors raised by the page are collected on ``page.js_errors`` so tests can
    assert that a page runs without them.
    """
    context = browser.new_context(viewport=VIEWPORTS["desktop"], locale="es-CL", timezone_id="America/Santiago")
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    browser_page = context.new_page()
    browser_page.js_errors = []
    browser_page.on("pageerror", lambda error: browser_page.js_errors.append(str(error)))
    yield browser_page
    context.close()


@pytest.fixture
def screenshot(request):
    """``screenshot(page, "step")`` saves the page at phone and at desktop width.

    Files land in tests/e2e/screenshots/ (git-ignored) as ``<test>-<step>-<width>.png`` so a
    person can look at what each step showed at both sizes. The page is left at desktop width.
    """
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    test_name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")

    def take(browser_page, step: str) -> list[Path]:
        paths = []
        for device, viewport in VIEWPORTS.items():
            browser_page.set_viewport_size(viewport)
            path = SCREENSHOT_DIR / f"{test_name}-{step}-{device}.png"
            browser_page.screenshot(path=str(path), full_page=True)
            paths.append(path)
        browser_page.set_viewport_size(VIEWPORTS["desktop"])
        return paths

    return take


@pytest.fixture(autouse=True)
def content_types_cached_for_the_next_restore(request):
    """Leave Django's content type cache full when a test ends, before its database is flushed.

    The next test's serialized rollback rebuilds Wagtail's workflow tasks before the content type rows, and
    ``wagtail.models.Task.__init__`` calls ``ContentType.objects.get_for_model``: with a warm cache that is a
    lookup, with an empty one it inserts a content type that the restore then inserts again (a UNIQUE error
    that fails the next test's set-up). ``seed_demo`` (through ``create_permissions``) empties the cache.
    Set up after pytest-django's database fixture, so this runs while the test's rows still exist.
    """
    yield
    if request.node.get_closest_marker("django_db") is None:
        return
    from django.apps import apps
    from django.contrib.contenttypes.models import ContentType

    ContentType.objects.get_for_models(*apps.get_models(), for_concrete_models=False)
