"""Fixtures shared by the whole suite."""

import os

import pytest
from django.conf import settings


def pytest_collection_modifyitems(config, items):
    """Skip PostgreSQL- and Redis-only tests where those servers are not configured."""
    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    has_redis = bool(os.environ.get("REDIS_URL"))
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL")
    skip_redis = pytest.mark.skip(reason="needs Redis: set REDIS_URL")
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip_pg)
        if "redis" in item.keywords and not has_redis:
            item.add_marker(skip_redis)


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Uploaded files of one test never leak into another's, nor into the real media folder."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def site_root(db):
    """The default Wagtail site's root page (the home page once the website app creates one)."""
    from wagtail.models import Site

    return Site.objects.get(is_default_site=True).root_page.specific
