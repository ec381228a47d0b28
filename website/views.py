"""Site-wide views that are not Wagtail pages: health check, search, robots.txt and error pages."""

import html
import logging
import unicodedata
from collections import defaultdict

from django.conf import settings
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import prefetch_related_objects
from django.http import HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import strip_tags
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.http import require_GET
from wagtail.models import Page, Site

from website.heartbeat import heartbeat_status

SEARCH_RESULTS_PER_PAGE = 10
SEARCH_QUERY_MAX_LENGTH = 200
ROBOTS_DISALLOWED_PATHS = ["/admin/", "/portal/", "/accounts/", "/search/"]
SEARCH_SNIPPET_LENGTH = 200

#: What a search result is, by page model (``app_label.modelname``); any other page is a "Page".
SEARCH_RESULT_KINDS = {
    "clinic.servicepage": gettext_lazy("Service"),
    "clinic.professionalpage": gettext_lazy("Professional"),
    "blog.blogpage": gettext_lazy("Article"),
    "resources.resourcepage": gettext_lazy("Resource"),
}
#: Relations a result's snippet reads (a service page's description, a profile's biography), loaded per model at once.
SEARCH_SNIPPET_RELATIONS = {"clinic.servicepage": "service", "clinic.professionalpage": "professional"}

logger = logging.getLogger(__name__)


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_redis() -> str:
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    client.ping()
    return "ok"


#: Heartbeat answers that mean nothing runs the periodic tasks; "ok" and "waiting" (just started) are healthy.
UNHEALTHY_HEARTBEAT = {"stale", "missing"}


@never_cache
@require_GET
def healthz(request):
    """Liveness and readiness in one: the database always, Redis when it is configured, and the task consumer's
    heartbeat (website/heartbeat.py).

    Answers 200 with ``{"status": "ok", ...}`` or 503 naming what failed. A stale heartbeat fails the check too: a
    dead consumer releases no holds and sends no emails, and only a failing check gets anyone's attention.
    """
    checks = {"database": _check_database}
    if settings.REDIS_URL:
        checks["redis"] = _check_redis
    checks["heartbeat"] = heartbeat_status
    results = {}
    healthy = True
    for name, check in checks.items():
        try:
            results[name] = check()
        except Exception as exc:  # a health check reports every failure, whatever it is
            logger.warning("healthz check=%s failed error=%s", name, exc.__class__.__name__)
            results[name] = "error"
            healthy = False
        if results[name] in UNHEALTHY_HEARTBEAT:
            logger.warning("healthz check=%s result=%s", name, results[name])
            healthy = False
    return JsonResponse({"status": "ok" if healthy else "error", "checks": results}, status=200 if healthy else 503)


def _search_terms(query: str) -> str:
    """The query as the search backend can take it.

    Double quotes break SQLite's full-text syntax in the database backend, and NUL or other
    control characters are rejected by PostgreSQL; neither carries meaning in a plain search.
    """
    return "".join(" " if char == '"' or unicodedata.category(char) == "Cc" else char for char in query).strip()


def cut_at_word(text: str, length: int = SEARCH_SNIPPET_LENGTH) -> str:
    """``text`` as plain words, at most ``length`` characters, cut after a whole word and ended with "…" when cut.

    Search snippets used to stop in the middle of a word ("psicoterap…"), which reads as a broken page.
    """
    words = " ".join(html.unescape(strip_tags(str(text or ""))).split())
    if len(words) <= length:
        return words
    cut = words[: length + 1]
    # Without a space, one very long "word" (a URL): cutting it is all one can do.
    cut = cut[: cut.rindex(" ")] if " " in cut else cut[:length]
    return cut.rstrip(" ,;:.-–—") + "…"


def _snippet_text(page) -> str:
    """The fullest plain description a page has: its search description, excerpt, summary or introduction, else
    what the catalog says (a service's description, a professional's title and biography)."""
    for attribute in ("search_description", "excerpt", "summary", "intro"):
        value = getattr(page, attribute, "")
        if value and strip_tags(str(value)).strip():
            return str(value)
    service = getattr(page, "service", None)
    if service is not None:
        return service.description
    professional = getattr(page, "professional", None)
    if professional is not None:
        return " — ".join(part for part in (professional.title, professional.bio) if part)
    return ""


def _describe_results(pages) -> list:
    """The result pages as their own types, each with ``kind`` and ``snippet``, in a bounded number of queries.

    One query per page type among the results (``specific()``) and one per relation a snippet reads.
    """
    specific = {page.pk: page for page in Page.objects.filter(pk__in=[page.pk for page in pages]).specific()}
    results = [specific[page.pk] for page in pages if page.pk in specific]
    by_model = defaultdict(list)
    for result in results:
        by_model[result._meta.label_lower].append(result)
    for model, relation in SEARCH_SNIPPET_RELATIONS.items():
        if by_model.get(model):
            prefetch_related_objects(by_model[model], relation)
    for result in results:
        result.kind = SEARCH_RESULT_KINDS.get(result._meta.label_lower, gettext_lazy("Page"))
        result.snippet = cut_at_word(_snippet_text(result))
    return results


@require_GET
def search(request):
    """Full-text search over the live, public pages of the current site.

    An empty or over-long query shows a message instead of results; a non-numeric or
    out-of-range ``page`` falls back to the first or last page.
    """
    query = request.GET.get("q", "").strip()
    message = ""
    results_page = None
    if not query:
        message = _("Type one or more words to search the site.")
    elif len(query) > SEARCH_QUERY_MAX_LENGTH:
        message = _("Your search is too long. Use at most %(max)d characters.") % {"max": SEARCH_QUERY_MAX_LENGTH}
    else:
        pages = Page.objects.live().public().filter(depth__gt=1)
        site = Site.find_for_request(request)
        if site is not None:
            pages = pages.descendant_of(site.root_page, inclusive=True)
        terms = _search_terms(query)
        results = pages.search(terms) if terms else []
        paginator = Paginator(results, SEARCH_RESULTS_PER_PAGE)
        results_page = paginator.get_page(request.GET.get("page"))
        results_page.object_list = _describe_results(list(results_page.object_list))
        if not paginator.count:
            message = _("No pages match “%(query)s”. Try other words.") % {"query": query}
    return render(
        request,
        "search/search.html",
        {"search_query": query, "results_page": results_page, "search_message": message},
    )


@require_GET
@cache_control(max_age=3600, public=True)
def robots_txt(request):
    """robots.txt: keep crawlers out of private areas and point them at the sitemap."""
    lines = ["User-agent: *", *(f"Disallow: {path}" for path in ROBOTS_DISALLOWED_PATHS), ""]
    lines.append(f"Sitemap: {request.build_absolute_uri(reverse('sitemap'))}")
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")


@require_GET
@cache_control(max_age=86400, public=True)
def favicon(request):
    """``/favicon.ico``: browsers and crawlers ask for it on every site, whatever the page links to.

    A permanent redirect to the static icon (the pages link it themselves); a 404 here went through Wagtail's page
    lookup on every visit. The target is the icon's plain name, which WhiteNoise serves beside the hashed copy: a
    hashed name would change with the icon, and browsers keep a permanent redirect.
    """
    return HttpResponsePermanentRedirect(f"{settings.STATIC_URL}icons/favicon.ico")


def page_not_found(request, exception=None):
    return render(request, "404.html", status=404)


def server_error(request):
    # No context processors that touch the database: the error may be the database.
    from django.http import HttpResponseServerError
    from django.template import loader

    template = loader.get_template("500.html")
    return HttpResponseServerError(template.render())
