"""Reads for the public service and professional pages, also used by the listing blocks.

``service_listing`` and ``professional_listing`` are a contract with ``website.blocks``:
keyword-only, returning lists of pages. Every function here runs a fixed number of
queries however many rows there are (relations are joined or prefetched up front).
"""

from django.db.models import Prefetch

from booking.scheduling.models import Location, Professional, ProfessionalService, Service, ServiceCategory

from .models import ProfessionalPage, ServicePage


def _identify(value) -> dict:
    """Lookup kwargs for a model instance, a slug or a primary key."""
    if isinstance(value, str):
        return {"slug": value}
    if isinstance(value, int):
        return {"pk": value}
    return {"pk": value.pk}


def _apply_limit(pages, limit):
    if limit is not None and int(limit) > 0:
        return pages[: int(limit)]
    return pages


def service_pages():
    """Live, public pages of active services, in the catalog's order, with service and category joined."""
    return (
        ServicePage.objects.live()
        .public()
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
    pages = service_pages()
    if category:
        pages = pages.filter(service__category__in=ServiceCategory.objects.filter(**_identify(category)))
    return list(_apply_limit(pages, limit))


def professional_pages():
    """Live, public profiles of active professionals, with what their cards show loaded up front."""
    return (
        ProfessionalPage.objects.live()
        .public()
        .filter(professional__active=True)
        .select_related("professional", "professional__photo")
        .prefetch_related(
            Prefetch(
                "professional__offered_services",
                queryset=ProfessionalService.objects.filter(service__active=True).select_related(
                    "service", "service__category"
                ),
            ),
            Prefetch("professional__locations", queryset=Location.objects.filter(active=True)),
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
    has its photo joined and its active services and locations prefetched.
    """
    pages = filter_professional_pages(professional_pages(), service=service, category=category)
    return list(_apply_limit(pages, limit))


def professional_profile(professional_id: int) -> Professional:
    """One professional with everything the profile page shows, in a fixed number of queries."""
    return (
        Professional.objects.select_related("photo")
        .prefetch_related(
            Prefetch(
                "offered_services",
                queryset=ProfessionalService.objects.select_related("service", "service__category"),
            ),
            # so each service on the profile can link to its page, when it has a live one
            Prefetch(
                "offered_services__service__pages", queryset=ServicePage.objects.live().public(), to_attr="live_pages"
            ),
            "degrees",
            "experience",
            "locations",
            "photo__renditions",
        )
        .get(pk=professional_id)
    )
