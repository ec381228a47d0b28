"""Reads for the public service and professional pages, also used by the listing blocks.

``service_listing`` and ``professional_listing`` are a contract with ``website.blocks``:
keyword-only, returning lists of pages. Every function here runs a fixed number of
queries however many rows there are (relations are joined or prefetched up front).

The two listings read every live page of their kind and narrow it in Python (a clinic has tens of services and
professionals, not thousands): the read is then the same for every block, so the blocks of one page share it
(``website.request_cache``) however many there are and whatever each one filters.
"""

from django.db.models import Prefetch, prefetch_related_objects

from booking.scheduling.models import Professional, ProfessionalService, Service, ServiceCategory
from website.request_cache import cached
from website.visibility import public

from .models import ProfessionalPage, ServicePage


def _identify(value) -> dict:
    """Lookup kwargs for a model instance, a slug or a primary key."""
    if isinstance(value, str):
        return {"slug": value}
    if isinstance(value, int):
        return {"pk": value}
    return {"pk": value.pk}


def _is(obj, value) -> bool:
    """Whether ``obj`` is ``value``: the same row given as a model instance, a slug or a primary key."""
    if isinstance(value, str):
        return obj.slug == value
    if isinstance(value, int):
        return obj.pk == value
    return obj.pk == value.pk


def _apply_limit(pages, limit):
    if limit is not None and int(limit) > 0:
        return pages[: int(limit)]
    return pages


def service_pages():
    """Live, public pages of active services, in the catalog's order, with service and category joined."""
    return (
        public(ServicePage.objects.live())
        .filter(service__active=True)
        .select_related("service", "service__category")
        .order_by(
            "service__category__sort_order",
            "service__category__name",
            "service__sort_order",
            "service__name",
            "pk",
        )
    )


def service_listing(*, category=None, limit=None) -> list[ServicePage]:
    """Live pages of active services, optionally of one category (a ServiceCategory or its slug)."""
    pages = cached("clinic.service_listing", lambda: list(service_pages()))
    if category:
        pages = [page for page in pages if _is(page.service.category, category)]
    return list(_apply_limit(pages, limit))


def professional_pages():
    """Live, public profiles of active professionals, with what their cards show loaded up front."""
    return (
        public(ProfessionalPage.objects.live())
        .filter(professional__active=True)
        .select_related("professional", "professional__photo")
        .prefetch_related(
            Prefetch(
                "professional__offered_services",
                queryset=ProfessionalService.objects.filter(service__active=True).select_related(
                    "service", "service__category"
                ),
            ),
            "professional__photo__renditions",
        )
        .order_by("professional__sort_order", "professional__display_name", "pk")
    )


def filter_professional_pages(pages, *, service=None, category=None):
    """Narrow ``pages`` to professionals offering an active ``service`` and/or a service of ``category``.

    Each argument may be a model instance, a slug or a primary key. Subqueries instead of
    joins keep one row per page without ``distinct()``.
    """
    if service:
        services = Service.objects.active().filter(**_identify(service))
        pages = pages.filter(professional__in=Professional.objects.filter(offered_services__service__in=services))
    if category:
        services = Service.objects.active().filter(category__in=ServiceCategory.objects.filter(**_identify(category)))
        pages = pages.filter(professional__in=Professional.objects.filter(offered_services__service__in=services))
    return pages


def professional_listing(*, service=None, category=None, limit=None) -> list[ProfessionalPage]:
    """Live profiles of active professionals, optionally only those offering a service or a category.

    ``service`` and ``category`` may be model instances or slugs. Each page's professional
    has its photo joined and its active services and locations prefetched; the narrowing
    reads those active services, as ``filter_professional_pages`` does in SQL.
    """
    pages = cached("clinic.professional_listing", lambda: list(professional_pages()))
    if service or category:
        pages = [page for page in pages if _offers(page.professional, service=service, category=category)]
    return list(_apply_limit(pages, limit))


def _offers(professional, *, service=None, category=None) -> bool:
    """Whether ``professional`` offers ``service`` and a service of ``category`` (their prefetched active offers)."""
    services = [offer.service for offer in professional.offered_services.all()]
    if service and not any(_is(offered, service) for offered in services):
        return False
    return not category or any(_is(offered.category, category) for offered in services)


def professional_profile(professional: Professional | int) -> Professional:
    """One professional with everything the profile page shows, in a fixed number of queries.

    Given the professional already read (a profile page reads it with the page), only the related rows are fetched.
    """
    lookups = [
        Prefetch(
            "offered_services",
            queryset=ProfessionalService.objects.select_related("service", "service__category"),
        ),
        # so each service on the profile can link to its page, when it has a live one
        Prefetch(
            "offered_services__service__pages", queryset=public(ServicePage.objects.live()), to_attr="live_pages"
        ),
        "degrees",
        "experience",
        "locations",
        "photo__renditions",
    ]
    if isinstance(professional, Professional):
        prefetch_related_objects([professional], *lookups)
        return professional
    return Professional.objects.select_related("photo").prefetch_related(*lookups).get(pk=professional)
