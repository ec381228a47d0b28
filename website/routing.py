"""Finding the page for a URL in a fixed number of queries, and checking its view restrictions in the same query.

Wagtail routes ``/equipo/ana/`` one level at a time: the home page's specific row, then for each level the child
with that slug and its specific row; then, before serving, the page's ancestors and their view restrictions. That
is two queries per level plus two, before the page shows anything. Here:

* every page on the path is read in ONE query, by ``url_path`` (Wagtail keeps it as the parent's plus the slug, and
  builds every page URL from it, so it answers what the slug-by-slug walk answers; where it finds no page, Wagtail's
  own walk takes over for the rest of the path);
* the pages on the way are turned into their specific classes without a query (``get_specific(deferred=True)``):
  routing only needs their methods (``route`` of a routable page) and the page fields already read; a template that
  shows a field of their own still gets it, loaded when first read;
* the page itself is read with what it always shows (``route_select_related``) and with whether a view restriction
  or an alias is on its path, so Wagtail's restriction check costs no query for the usual, public page.

What it relies on that Wagtail does not promise (``tests/website/test_routing_internals.py`` fails on any upgrade
that changes one of them): ``Page.route_for_request`` answering from ``request._wagtail_route_for_request``,
treebeard's ``get_parent`` answering from ``_cached_parent_obj``, Wagtail's restriction check going through
``get_view_restrictions`` only, and Wagtail's page URL being the pattern named ``wagtail_serve``. It was measured
against Wagtail's own routing with ``{% wagtailcache %}`` on the menus and listing blocks (issue 11, item 14): a page
two levels down then runs 5-8 more queries, 15-18 with the fragments cached, over the budget of 15; the fragments
cannot save the routing queries themselves. ``bench/pages.py --wagtail-routing`` prints the comparison.

Each page class keeps Wagtail's ``route()`` contract: ``PathRoutingMixin.route`` only answers from the pages read
for this request, and defers to Wagtail where it has none (a page routed outside ``serve``, a path that read no
page), so a routable page, a 404 and a restricted page behave as they always did.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import Exists
from django.http import Http404
from wagtail.models import PageViewRestriction, Site

#: The pages read for this request's path, by ``url_path``: set by ``find_route``, read by ``PathRoutingMixin.route``.
PAGES_ATTRIBUTE = "_website_route_pages"


def _ancestor_paths(page) -> list[str]:
    """The tree paths of ``page`` and of all its ancestors (each a prefix of the next)."""
    step = page.steplen
    return [page.path[:end] for end in range(step, len(page.path) + 1, step)]


def load_routed_page(page):
    """``page`` as its specific class in one query, with its ``route_select_related`` joined and two flags.

    ``routing_restricted``: a view restriction sits on the page or an ancestor. ``routing_aliased``: the page or an
    ancestor is an alias (Wagtail then checks the restrictions of the alias's source instead; we let it). Non-field
    attributes of ``page`` (its cached parent) are carried over as ``Page.get_specific`` does.
    """
    model = page.specific_class
    if model is None:
        return page
    paths = _ancestor_paths(page)
    pages = model._default_manager.annotate(
        routing_restricted=Exists(PageViewRestriction.objects.filter(page__path__in=paths)),
        routing_aliased=Exists(page.base_page_model.objects.filter(path__in=paths, alias_of__isnull=False)),
    )
    related = getattr(model, "route_select_related", ())
    if related:
        pages = pages.select_related(*related)
    specific = pages.get(pk=page.pk)
    for name, value in page.__dict__.items():
        specific.__dict__.setdefault(name, value)
    return specific


def _path_pages(root, path_components) -> dict:
    """The pages under ``root`` at each prefix of the path, by ``url_path``, in one query.

    ``url_path`` has no index; the slugs (the path's components) have one, so the database looks at those rows only.
    The query goes to the project's page model (``base_page_model``: Wagtail's ``Page`` unless swapped).
    """
    url_paths, url_path = [], root.url_path
    for component in path_components:
        url_path += component + "/"
        url_paths.append(url_path)
    pages = root.base_page_model.objects.filter(
        slug__in=path_components, url_path__in=url_paths, path__startswith=root.path
    )
    return {page.url_path: page for page in pages}


class PathRoutingMixin:
    """For every page class of the site: routing from the pages read in one query, and a free restriction check.

    Put it before ``Page`` (after ``RoutablePageMixin``, whose ``route`` falls back to this one for child pages).
    ``route_select_related`` names the relations the page's template always shows (its service, its photo...):
    they are joined to the query that reads the page.
    """

    route_select_related: tuple[str, ...] = ()

    def route(self, request, path_components):
        pages = getattr(request, PAGES_ATTRIBUTE, None)
        child = pages.get(f"{self.url_path}{path_components[0]}/") if pages and path_components else None
        if child is None or child.depth != self.depth + 1 or not child.path.startswith(self.path):
            return super().route(request, path_components)
        # Treebeard's get_parent() answers from here: a template's breadcrumb costs no query.
        child._cached_parent_obj = self
        remaining = path_components[1:]
        if remaining and f"{child.url_path}{remaining[0]}/" in pages:
            return child.get_specific(deferred=True).route(request, remaining)
        # The page itself, or a routable page answering the rest of the path (a blog's archive, its feed).
        return load_routed_page(child).route(request, remaining)

    def get_view_restrictions(self):
        """None, without a query, when the page was read with no restriction and no alias on its path."""
        if getattr(self, "routing_restricted", None) is False and getattr(self, "routing_aliased", None) is False:
            return PageViewRestriction.objects.none()
        return super().get_view_restrictions()


def find_route(request, path: str):
    """What ``Page.route_for_request`` answers (a ``RouteResult``, or None for 404), in fewer queries.

    The site's root page comes with the site (Wagtail's site lookup joins it); with a path below it, the root is made
    specific without a query, since only its class's ``route`` is needed.
    """
    site = Site.find_for_request(request)
    if site is None:
        return None
    path_components = [component for component in path.split("/") if component]
    root = site.root_page
    try:
        if not path_components:
            return load_routed_page(root).route(request, [])
        setattr(request, PAGES_ATTRIBUTE, _path_pages(root, path_components))
        return root.get_specific(deferred=True).route(request, path_components)
    except Http404:
        return None


def serve(request, path):
    """Wagtail's page view (hooks, restrictions, ``page.serve``) on the route ``find_route`` found.

    Wagtail's ``serve`` asks ``Page.route_for_request``, which answers from ``request._wagtail_route_for_request``
    when it is set: everything after routing stays Wagtail's own.
    """
    from wagtail import views as wagtail_views  # it loads the page model: not importable while models load

    if not hasattr(request, "_wagtail_route_for_request") and not getattr(settings, "WAGTAIL_I18N_ENABLED", False):
        request._wagtail_route_for_request = find_route(request, path)
    return wagtail_views.serve(request, path)
