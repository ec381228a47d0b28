"""The one-query router (``website.routing``) stays safe: Wagtail's internals it leans on, restrictions, the mixin.

Issue 11, item 14 measured Wagtail's own routing with ``{% wagtailcache %}`` fragments against the budget of 15
queries per page (``bench/pages.py --wagtail-routing``): pages two levels down went over it, so the router stays,
guarded by three kinds of test:

* the internals it relies on and Wagtail does not promise (a private request attribute, treebeard's parent cache,
  restrictions checked through ``get_view_restrictions`` only, the ``wagtail_serve`` URL name): checked by behaviour,
  and by a fingerprint of Wagtail's source, so an upgrade that touches any of them fails here and says what to
  re-check;
* every kind of view restriction (password, login, groups), on the page itself or on an ancestor, on every page
  type: refused through the router exactly as Wagtail refuses it, and let through for the visitor it admits;
* every page class carries ``PathRoutingMixin`` ahead of the page model (a class without it would silently fall
  back to Wagtail's slower routing and break the budget).
"""

from __future__ import annotations

import hashlib
import inspect
from unittest import mock

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.http import Http404
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import get_resolver, resolve, reverse
from treebeard.mp_tree import MP_Node
from wagtail import urls as wagtail_urls
from wagtail import views as wagtail_views
from wagtail import wagtail_hooks
from wagtail.models import Page, PageViewRestriction, get_page_models
from wagtail.url_routing import RouteResult

from tests.factories.accounts import UserFactory
from tests.factories.blog import BlogIndexPageFactory, BlogPageFactory
from tests.factories.clinic import (
    ProfessionalIndexPageFactory,
    ProfessionalPageFactory,
    ServiceIndexPageFactory,
    ServicePageFactory,
)
from tests.factories.resources import ResourceIndexPageFactory, ResourcePageFactory
from tests.factories.website import StandardPageFactory
from website import routing
from website.routing import PathRoutingMixin, find_route

pytestmark = pytest.mark.django_db

# --- the internals: an upgrade that changes one fails here ---------------------------------------------------------

#: sha256 (first 16 hex digits) of the source of each piece of Wagtail or treebeard the router relies on, as of
#: Wagtail 8.0.1. When one changes, read the new source against ``website/routing.py`` (what the router assumes is
#: in the message), then update the fingerprint.
FINGERPRINTS = {
    "wagtail.models.Page.route": (
        Page.route,
        "643c9afcc2deb381",
        "PathRoutingMixin.route must answer what it answers: the live child by slug, 404 otherwise",
    ),
    "wagtail.models.Page.route_for_request": (
        Page.route_for_request,
        "5530d229b2de42ba",
        "it must still answer from request._wagtail_route_for_request when set (routing.serve sets it)",
    ),
    "wagtail.models.Page.get_view_restrictions": (
        Page.get_view_restrictions,
        "f41021bde7cdda11",
        "load_routed_page's routing_restricted/routing_aliased flags must cover every case it checks",
    ),
    "wagtail.views.serve": (
        wagtail_views.serve,
        "eab2a9d475a33843",
        "it must route through Page.route_for_request and run the on_serve_page hooks",
    ),
    "wagtail.wagtail_hooks.check_view_restrictions": (
        wagtail_hooks.check_view_restrictions,
        "8b1087719a946338",
        "restrictions must be read through page.get_view_restrictions() only",
    ),
    "treebeard.mp_tree.MP_Node.get_parent": (
        MP_Node.get_parent,
        "bfeb7b9d494a1320",
        "get_parent() must answer from _cached_parent_obj without a query",
    ),
}


@pytest.mark.parametrize("name", FINGERPRINTS)
def test_wagtails_internals_the_router_relies_on_have_not_changed(name):
    function, expected, assumption = FINGERPRINTS[name]
    actual = hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]

    assert actual == expected, (
        f"{name} changed in this Wagtail/treebeard version ({actual}); website/routing.py assumes {assumption}. "
        "Re-check the router against the new source, then update FINGERPRINTS."
    )


@pytest.fixture
def pages(home_page):
    """One page of every type under the home page, and a section index for each."""
    site = {"home": home_page}
    site["standard"] = StandardPageFactory(parent=home_page, slug="sobre")
    site["service-index"] = ServiceIndexPageFactory(parent=home_page, slug="servicios")
    site["service"] = ServicePageFactory(parent=site["service-index"], slug="terapia")
    site["team"] = ProfessionalIndexPageFactory(parent=home_page, slug="equipo")
    site["professional"] = ProfessionalPageFactory(parent=site["team"], slug="ana")
    site["blog"] = BlogIndexPageFactory(parent=home_page, slug="blog")
    site["blog-post"] = BlogPageFactory(parent=site["blog"], slug="dormir")
    site["resources"] = ResourceIndexPageFactory(parent=home_page, slug="recursos")
    site["resource"] = ResourcePageFactory(parent=site["resources"], slug="guia")
    return site


def test_wagtails_serve_takes_the_route_the_router_leaves_on_the_request(pages):
    request = RequestFactory().get("/sobre/")
    route = RouteResult(pages["standard"])
    request._wagtail_route_for_request = route

    assert Page.route_for_request(request, "/no-existe/") is route
    with (
        mock.patch.object(Page, "route_for_request", return_value=None) as route_for_request,
        pytest.raises(Http404),
    ):
        wagtail_views.serve(request, "/sobre/")
    route_for_request.assert_called_once_with(request, "/sobre/")


def test_treebeards_get_parent_answers_from_the_parent_the_router_caches(pages):
    child = Page.objects.get(pk=pages["service"].pk)
    child._cached_parent_obj = pages["service-index"]

    with CaptureQueriesContext(connection) as queries:
        parent = child.get_parent()

    assert parent is pages["service-index"]
    assert len(queries) == 0


def test_wagtail_checks_restrictions_through_get_view_restrictions_only(client, pages):
    """The router answers ``get_view_restrictions`` from its own flags: that must be the only door Wagtail checks."""
    page = pages["standard"]
    restriction = PageViewRestriction.objects.create(page=pages["service"], restriction_type="login")
    restricted = PageViewRestriction.objects.filter(pk=restriction.pk)

    with mock.patch.object(type(page), "get_view_restrictions", return_value=restricted):
        assert client.get(page.url).status_code == 302
    with mock.patch.object(type(page), "get_view_restrictions", return_value=PageViewRestriction.objects.none()):
        assert client.get(page.url).status_code == 200


def test_pages_are_served_by_the_router_under_wagtails_url_name(pages):
    """``website/urls.py`` swaps Wagtail's page pattern, found by its name, for ``routing.serve``."""
    serve_patterns = [pattern for pattern in wagtail_urls.urlpatterns if pattern.name == "wagtail_serve"]
    assert len(serve_patterns) == 1
    assert serve_patterns[0].pattern.regex.pattern == wagtail_urls.serve_pattern
    assert serve_patterns[0].callback is wagtail_views.serve

    assert resolve(pages["service"].url).func is routing.serve
    assert resolve("/").func is routing.serve
    assert reverse("wagtail_serve", args=["sobre/"]) == "/sobre/"
    names = get_resolver().reverse_dict
    assert all(pattern.name in names for pattern in wagtail_urls.urlpatterns), "Wagtail's other URLs are kept"


# --- every restricted page is refused through the router --------------------------------------------------------

#: (page type, path below the page's own URL): a routable page's sub-view (the blog's feed) is routed too.
PAGE_TYPES = [
    ("home", ""),
    ("standard", ""),
    ("service-index", ""),
    ("service", ""),
    ("professional", ""),
    ("blog", ""),
    ("blog", "feed/rss/"),
    ("blog-post", ""),
    ("resources", ""),
    ("resource", ""),
]
#: Where the restriction sits: on the page, on its parent, on the site's home page (every page's ancestor).
PLACES = ["page", "parent", "home"]
KINDS = [PageViewRestriction.PASSWORD, PageViewRestriction.LOGIN, PageViewRestriction.GROUPS]


def restrict(page, kind: str) -> tuple[PageViewRestriction, Group | None]:
    group = Group.objects.create(name=f"pacientes-{page.pk}") if kind == PageViewRestriction.GROUPS else None
    restriction = PageViewRestriction.objects.create(page=page, restriction_type=kind, password="s3cret")
    if group:
        restriction.groups.add(group)
    return restriction, group


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize(("page_type", "subpath"), PAGE_TYPES)
def test_a_restricted_page_is_refused_through_the_router(client, pages, page_type, subpath, place, kind):
    page = pages[page_type]
    holder = {"page": page, "parent": page.get_parent().specific, "home": pages["home"]}[place]
    if holder.depth < pages["home"].depth:  # the home page's parent is the tree root, outside the site
        holder = page
    restriction, group = restrict(holder, kind)
    url = page.url + subpath

    # The router reads the page with a flag saying a restriction is on its path, and hands Wagtail that restriction.
    routed, _args, _kwargs = find_route(RequestFactory().get(url), url)
    assert routed.pk == page.pk
    assert routed.routing_restricted is True
    assert list(routed.get_view_restrictions()) == list(Page.get_view_restrictions(routed)) == [restriction]

    response = client.get(url)
    if kind == PageViewRestriction.PASSWORD:
        assert response.status_code == 200
        assert 'name="password"' in response.content.decode()
        assert page.get_template(response.wsgi_request) not in [template.name for template in response.templates]
    else:
        assert response.status_code == 302
        assert "/login/" in response["Location"]
    assert "no-cache" in response["Cache-Control"]

    # ... and lets through the visitor the restriction admits, so the refusal above is the restriction's.
    if kind == PageViewRestriction.PASSWORD:
        action = reverse("wagtailcore_authenticate_with_password", args=[restriction.pk, page.pk])
        client.post(action, {"password": "s3cret", "return_url": url})
    else:
        user = UserFactory()
        if group:
            client.force_login(user)
            assert client.get(url).status_code == 302, "a logged-in visitor outside the group is refused too"
            user.groups.add(group)
        client.force_login(user)
    assert client.get(url).status_code == 200


@pytest.mark.parametrize(("page_type", "subpath"), PAGE_TYPES)
def test_an_unrestricted_page_is_routed_with_no_restriction_and_served(client, pages, page_type, subpath):
    url = pages[page_type].url + subpath
    elsewhere = StandardPageFactory(parent=pages["home"], slug="privada")
    PageViewRestriction.objects.create(page=elsewhere, restriction_type="login")  # a sibling's, not an ancestor's

    routed, _args, _kwargs = find_route(RequestFactory().get(url), url)

    assert routed.routing_restricted is False
    with CaptureQueriesContext(connection) as queries:
        assert list(routed.get_view_restrictions()) == []
    assert len(queries) == 0
    assert list(Page.get_view_restrictions(routed)) == []
    assert client.get(url).status_code == 200


def test_a_page_below_an_alias_gets_wagtails_own_restriction_check(client, pages):
    """Under an alias, Wagtail checks the source's restrictions; the router leaves that case to Wagtail."""
    alias = pages["standard"].create_alias(update_slug="sobre-copia")
    PageViewRestriction.objects.create(page=pages["standard"], restriction_type="login")

    routed, _args, _kwargs = find_route(RequestFactory().get(alias.url), alias.url)

    assert routed.routing_aliased is True
    assert [r.page_id for r in routed.get_view_restrictions()] == [pages["standard"].pk]
    assert client.get(alias.url).status_code == 302


# --- every page class carries the mixin ------------------------------------------------------------------------


def test_every_page_class_routes_through_the_mixin():
    page_models = [model for model in get_page_models() if model is not model.base_page_model]
    assert len(page_models) >= 10  # the project's page types, not an empty list

    for model in page_models:
        assert issubclass(model, PathRoutingMixin), f"{model.__name__} lacks PathRoutingMixin"
        mro = model.__mro__
        assert mro.index(PathRoutingMixin) < mro.index(model.base_page_model), (
            f"{model.__name__}: PathRoutingMixin must come before the page model in its bases"
        )
        for relation in model.route_select_related:
            field = model._meta.get_field(relation.split("__")[0])
            assert field.is_relation and not field.many_to_many, f"{model.__name__}.route_select_related: {relation}"
