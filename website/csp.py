"""The Content-Security-Policy of every response: strict on the site, looser in Wagtail's admin.

``CONTENT_SECURITY_POLICY`` (settings) is the public site's policy: the booking steps, the portal, the accounts
pages and the API. ``ADMIN_CONTENT_SECURITY_POLICY`` is Wagtail's admin's, which runs inline scripts and styles of
its own that a project cannot nonce. One header either way: the booking embed merges its ``frame-ancestors`` into
it (``booking.widget.embed``) instead of sending a second one, which browsers would apply on top of the first.

The sources that depend on the deployment (where uploaded images are served from, where Stripe Checkout lives)
are added per response from the settings, so that ``make run``'s local test Stripe and an S3 bucket work without
a second copy of the policy.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from urllib.parse import urlsplit

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings

#: Stripe Checkout's origin: paying posts a form that the server answers with a redirect there, and browsers check
#: redirects after a form submission against ``form-action``.
STRIPE_CHECKOUT_ORIGIN = "https://checkout.stripe.com"


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, or "" when it is not absolute."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def media_sources() -> list[str]:
    """Where uploaded images are served from when that is not this site: the S3 bucket or its custom domain."""
    storage = settings.STORAGES.get("default", {})
    sources = [origin(settings.MEDIA_URL)]
    if storage.get("BACKEND", "").startswith("storages.backends.s3"):
        options = storage.get("OPTIONS", {})
        if options.get("custom_domain"):
            sources.append(f"https://{options['custom_domain']}")
        elif options.get("endpoint_url"):
            sources.append(origin(options["endpoint_url"]))
        else:
            bucket = options.get("bucket_name", "")
            sources.append(f"https://{bucket}.s3.amazonaws.com")
            if options.get("region_name"):
                sources.append(f"https://{bucket}.s3.{options['region_name']}.amazonaws.com")
    return [source for source in sources if source]


def payment_sources() -> list[str]:
    """Where a payment form's redirect may go: Stripe Checkout, or the local test server ``make run`` starts."""
    if not getattr(settings, "STRIPE_ENABLED", False):
        return []
    local = origin(getattr(settings, "STRIPE_API_BASE", "") or "")
    return [local] if local else [STRIPE_CHECKOUT_ORIGIN]


@cache
def error_page_style_source() -> str:
    """The hash source of ``500.html``'s ``<style>``: that page is rendered without a request, so without a nonce.

    It keeps its styles inline so that it shows even when the failure is in static files; its ``<style>`` holds no
    template code, so its hash is fixed and read from the template itself.
    """
    path = settings.BASE_DIR / "templates" / "500.html"
    match = re.search(r"<style>(.*?)</style>", path.read_text(encoding="utf-8"), re.DOTALL)
    digest = hashlib.sha256(match.group(1).encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def is_admin_path(path: str) -> bool:
    return path.startswith(tuple(settings.ADMIN_CONTENT_SECURITY_POLICY["URL_PREFIXES"]))


class ClinicCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, choosing the admin's policy by path and adding the deployment's sources.

    A view or middleware that sets its own ``_csp_config`` / ``_csp_replace`` (django-csp's decorators, the embed)
    still wins: those are applied on top of the policy chosen here.
    """

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only=report_only)
        if report_only:
            return parts
        if parts.config is None and is_admin_path(request.path_info):
            parts.config = settings.ADMIN_CONTENT_SECURITY_POLICY["DIRECTIVES"]
        extra = {"img-src": media_sources(), "form-action": payment_sources()}
        if response.status_code >= 500:
            extra["style-src"] = [error_page_style_source()]
        update = dict(parts.update or {})
        for directive, sources in extra.items():
            if sources:
                update[directive] = [*update.get(directive, []), *sources]
        parts.update = update
        return parts


def csp_nonce(request) -> dict:
    """``csp_nonce`` in every template: the name django-htmx's ``{% htmx_script %}`` (and Django 6) read.

    The value stays lazy: the nonce is made, and named in the header, only when a template prints it.
    """
    return {"csp_nonce": getattr(request, "csp_nonce", None)}
