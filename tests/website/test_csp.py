"""Every response carries one enforced Content-Security-Policy (issue 11, item 9).

Strict on the public site, the login, the booking steps, the portal and the API (scripts and styles from the site
itself, a nonce for anything inline); looser in Wagtail's admin; the booking embed's allowed origins merged into the
same policy's ``frame-ancestors``. The pages are also checked for what such a policy would block without a report
in these tests: inline scripts without the response's nonce, ``style`` attributes, inline event handlers.
"""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from bs4 import BeautifulSoup
from django.http import HttpResponse, HttpResponseServerError
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.urls import reverse
from wagtail.models import Site

from tests.factories.accounts import PatientFactory, VerifiedUserFactory
from tests.website.test_query_budget import (  # noqa: F401
    _clinic_site_once,
    clinic_site,
    demo_home,
    page_with_a_box,
    pinned_clock,
)
from website.csp import ClinicCSPMiddleware, error_page_style_source
from website.models import SiteSettings

pytestmark = pytest.mark.django_db

HEADER = "Content-Security-Policy"
#: Script types a browser runs (and CSP governs); JSON-LD and other data blocks are never run.
EXECUTABLE_SCRIPT_TYPES = {"", "text/javascript", "module", "application/javascript"}


def policy(response) -> dict[str, list[str]]:
    """The response's policy as {directive: [sources]}; fails when there is none."""
    assert HEADER in response, f"no {HEADER} header"
    assert "Content-Security-Policy-Report-Only" not in response, "enforced, not report-only"
    directives = {}
    for part in response[HEADER].split(";"):
        name, *sources = part.split()
        directives[name] = sources
    return directives


def nonce_of(directives: dict[str, list[str]]) -> str | None:
    sources = [source for source in directives.get("script-src", []) if source.startswith("'nonce-")]
    return sources[0][len("'nonce-") : -1] if sources else None


def assert_strict(response):
    """The public policy: nothing inline without the nonce, nothing from elsewhere but the listed video players."""
    directives = policy(response)
    assert directives["default-src"] == ["'self'"]
    for directive in ("script-src", "style-src"):
        assert directives[directive][0] == "'self'"
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "https:", "data:"} & set(directives[directive]), directive
    assert directives["object-src"] == ["'none'"]
    assert directives["base-uri"] == ["'self'"]
    assert directives["form-action"][0] == "'self'"
    assert directives["img-src"] == ["'self'", "data:"]
    assert "https://www.youtube-nocookie.com" in directives["frame-src"]
    assert directives["frame-ancestors"] == ["'self'"]
    return directives


def assert_page_passes(response):
    """What the strict policy would refuse is absent from the page: inline code without the response's nonce."""
    directives = assert_strict(response)
    nonce = nonce_of(directives)
    soup = BeautifulSoup(response.content, "html.parser")
    for script in soup.find_all("script"):
        if script.get("type", "").lower() not in EXECUTABLE_SCRIPT_TYPES:
            continue
        if not script.get("src"):
            assert nonce and script.get("nonce") == nonce, f"inline script without the nonce: {script}"
        else:
            assert script["src"].startswith("/static/"), script
    for style in soup.find_all("style"):
        assert nonce and style.get("nonce") == nonce, f"inline <style> without the nonce: {style}"
    assert not soup.select("[style]"), "style attributes are refused by style-src: " + str(soup.select("[style]")[:3])
    handlers = [tag for tag in soup.find_all(True) if any(name.startswith("on") for name in tag.attrs)]
    assert not handlers, f"inline event handlers are refused by script-src: {handlers[:3]}"
    return directives, soup


# --- the public site -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["home", "standard", "service", "professional", "blog-post", "resource"])
def test_every_page_type_carries_the_strict_policy_and_passes_it(client, clinic_site, kind):  # noqa: F811
    response = client.get(page_with_a_box(kind, clinic_site).url)
    assert response.status_code == 200
    assert_page_passes(response)


def test_the_home_page_with_its_listing_blocks_passes_the_policy(client, clinic_site):  # noqa: F811
    response = client.get(demo_home(clinic_site).url)
    assert response.status_code == 200
    assert_page_passes(response)


def test_listing_pages_pass_the_policy(client, clinic_site):  # noqa: F811
    for page in (clinic_site.posts[0], clinic_site.professional_pages[0], clinic_site.service_pages[0]):
        response = client.get(page.get_parent().url)
        assert response.status_code == 200, page
        assert_page_passes(response)


@pytest.mark.parametrize("url", ["/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"])
def test_the_account_pages_carry_the_strict_policy(client, home_page, url):
    response = client.get(url)
    assert response.status_code == 200
    assert_page_passes(response)


def test_a_not_found_page_carries_the_strict_policy(client, home_page):
    response = client.get("/no-existe/")
    assert response.status_code == 404
    assert_page_passes(response)


def test_the_api_carries_the_strict_policy(client, home_page):
    response = client.get("/api/v1/services/")
    assert response.status_code == 200
    assert_strict(response)


def test_the_booking_steps_load_htmx_with_the_nonce_of_their_policy(client, clinic_site):  # noqa: F811
    response = client.get("/booking/")
    assert response.status_code == 200
    directives, soup = assert_page_passes(response)
    nonce = nonce_of(directives)
    assert nonce, "the step page prints a nonce, so its header names it"
    htmx = soup.select_one("script[src$='htmx-2.min.js']")
    assert htmx["nonce"] == nonce
    assert nonce in soup.select_one("meta[name='htmx-config']")["content"], "htmx's indicator <style> gets it too"
    assert nonce_of(policy(client.get("/booking/"))) != nonce, "a new nonce per response"


def test_a_booking_step_swapped_by_htmx_carries_the_policy(client, clinic_site):  # noqa: F811
    response = client.get("/booking/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert_page_passes(response)


def test_the_portal_carries_the_strict_policy(home_page):
    patient = PatientFactory(user=VerifiedUserFactory(email="pia@example.com"))
    client = Client()
    client.force_login(patient.user)
    for url in ("/portal/", "/portal/profile/", "/portal/invoices/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert_page_passes(response)


# --- the admin ------------------------------------------------------------------------------------------------


def test_the_admin_gets_the_looser_admin_policy_even_on_its_login_redirect(client, home_page):
    response = client.get(reverse("wagtailadmin_login"))
    assert response.status_code == 302  # to the site's own login page, which has the strict policy
    directives = policy(response)
    assert directives["script-src"] == ["'self'", "'unsafe-inline'"]
    assert directives["style-src"] == ["'self'", "'unsafe-inline'"]
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'self'"]


def test_the_admin_dashboard_gets_the_looser_admin_policy(superuser_client, home_page):
    response = superuser_client.get(reverse("wagtailadmin_home"))
    assert response.status_code == 200
    directives = policy(response)
    assert "'unsafe-inline'" in directives["script-src"]
    assert "blob:" in directives["img-src"]
    assert "'unsafe-eval'" not in directives["script-src"]


# --- the embed --------------------------------------------------------------------------------------------------


def test_the_embed_keeps_its_allowed_origins_in_the_one_policy(client, clinic_site):  # noqa: F811
    row = SiteSettings.for_site(Site.objects.get(is_default_site=True))
    row.embed_allowed_origins = "https://www.example.com"
    row.save()

    response = client.get("/embed/booking/")

    assert response.status_code == 200
    directives = policy(response)
    assert directives["frame-ancestors"] == ["'self'", "https://www.example.com"]
    assert directives["script-src"][0] == "'self'" and "'unsafe-inline'" not in directives["script-src"]
    assert "X-Frame-Options" not in response
    soup = BeautifulSoup(response.content, "html.parser")
    assert soup.select_one("script[src$='htmx-2.min.js']")["nonce"] == nonce_of(directives)


# --- what depends on the deployment -----------------------------------------------------------------------------


def middleware_policy(path="/", response=None) -> dict[str, list[str]]:
    request = RequestFactory().get(path)
    middleware = ClinicCSPMiddleware(lambda request: response or HttpResponse())
    return policy(middleware(request))


def test_paying_may_redirect_to_stripe_checkout(settings):
    settings.STRIPE_ENABLED = True
    settings.STRIPE_API_BASE = ""
    assert middleware_policy()["form-action"] == ["'self'", "https://checkout.stripe.com"]


def test_paying_through_the_local_test_server_may_redirect_there(settings):
    settings.STRIPE_ENABLED = True
    settings.STRIPE_API_BASE = "http://127.0.0.1:12111"
    assert middleware_policy()["form-action"] == ["'self'", "http://127.0.0.1:12111"]


def test_without_stripe_forms_post_to_the_site_only(settings):
    settings.STRIPE_ENABLED = False
    assert middleware_policy()["form-action"] == ["'self'"]


def test_images_from_an_s3_bucket_are_allowed(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": "clinic-media", "region_name": "sa-east-1"},
        },
    }
    assert middleware_policy()["img-src"] == [
        "'self'",
        "data:",
        "https://clinic-media.s3.amazonaws.com",
        "https://clinic-media.s3.sa-east-1.amazonaws.com",
    ]
    settings.STORAGES["default"]["OPTIONS"]["custom_domain"] = "media.clinic.example"
    assert middleware_policy()["img-src"] == ["'self'", "data:", "https://media.clinic.example"]


def test_the_error_page_style_is_allowed_by_its_hash():
    """500.html is rendered without a request (no nonce): its fixed <style> is allowed by hash on a 500."""
    html = render_to_string("500.html")
    style = re.search(r"<style>(.*?)</style>", html, re.DOTALL).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert error_page_style_source() == f"'sha256-{digest}'"

    assert f"'sha256-{digest}'" in middleware_policy(response=HttpResponseServerError(html))["style-src"]
    assert f"'sha256-{digest}'" not in middleware_policy()["style-src"]
