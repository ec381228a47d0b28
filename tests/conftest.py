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
        if item.get_closest_marker("postgres") and not on_postgres:
            item.add_marker(skip_pg)
        if item.get_closest_marker("redis") and not has_redis:
            item.add_marker(skip_redis)


@pytest.fixture(autouse=True)
def _empty_cache():
    """Wagtail caches site root paths and renditions; a test's rolled-back data must not linger there."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    """Uploaded files of one test never leak into another's, nor into the real media folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PRIVATE_MEDIA_ROOT = tmp_path / "private_media"


@pytest.fixture
def site_root(db):
    """The default Wagtail site's root page (the home page once the website app creates one)."""
    from wagtail.models import Site

    return Site.objects.get(is_default_site=True).root_page.specific


@pytest.fixture
def home_page(db):
    """The site's HomePage at the root of the default site, created if a migration has not made it."""
    return default_home_page()


def default_home_page():
    """``home_page`` for fixtures of a wider scope, which cannot request it (tests/website/test_query_budget.py)."""
    from wagtail.models import Page, Site

    from website.models import HomePage

    site = Site.objects.filter(is_default_site=True).select_related("root_page").first()
    if site and isinstance(site.root_page.specific, HomePage):
        return site.root_page.specific
    root = Page.get_first_root_node()
    home = root.add_child(instance=HomePage(title="Inicio", slug="inicio-test"))
    if site:
        site.root_page = home
        site.save()
    else:
        Site.objects.create(hostname="localhost", root_page=home, is_default_site=True)
    return home


@pytest.fixture
def superuser(db):
    """A superuser with a verified email and an activated authenticator app (the admin demands 2FA)."""
    from tests.factories.scheduling import SuperuserFactory

    return SuperuserFactory(email="admin@clinic.example")


@pytest.fixture
def superuser_client(superuser):
    """A fresh test client logged in as ``superuser``: reaches /admin/ without the 2FA set-up detour."""
    from django.test import Client

    client = Client()
    client.force_login(superuser)
    return client


@pytest.fixture
def admin_user(db, django_user_model):
    """pytest-django's ``admin_user``, but verified and enrolled in TOTP so the 2FA middleware lets it in."""
    from tests.factories.accounts import activate_totp, verify_email

    user = django_user_model.objects.create_superuser(email="admin@example.com", password="password")
    verify_email(user)
    activate_totp(user)
    return user
