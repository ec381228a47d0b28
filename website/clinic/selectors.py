"""Reads for the public service and professional pages, also used by the listing blocks.

``service_listing`` and ``professional_listing`` are a contract with ``website.blocks``:
keyword-only, returning lists of pages. Every function here runs a fixed number of
queries however many rows there are (relations are joined or prefetched up front).

The two listings read every live page of their kind and narrow it in Python (a clinic has tens of services and
professionals, not thousands): the read is then the same for every block, so the blocks of one page share it
(``website.request_cache``) however many there are and whatever each one filters.
"""

import dataclasses
import zoneinfo
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Prefetch, prefetch_related_objects
from django.utils import timezone

from booking.scheduling.availability import ALL, next_available
from booking.scheduling.models import Professional, ProfessionalService, Service, ServiceCategory
from booking.scheduling.selectors import load_availability, next_available_dates, service_spec
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


# --- The next free time, on service and profile pages ----------------------------------------------------------------

#: How far ahead a page looks for its next free time (the booking box's own calendar goes up to the service's horizon).
NEXT_FREE_TIME_WEEKS = 4
#: How long a page reuses the time it found. The availability read is six queries, more than a page's budget allows
#: on every visit; the link leads to the booking box's date step, which reads the free times afresh, so a time taken
#: meanwhile costs the visitor nothing but seeing that day's other times.
NEXT_FREE_TIME_CACHE_SECONDS = 120


@dataclasses.dataclass(frozen=True)
class NextFreeTime:
    """The earliest bookable start for a page: when (in the clinic's zone), for which service, with whom if fixed."""

    start: datetime
    service: Service
    professional: Professional | None


def clinic_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _search_days(now: datetime):
    today = now.astimezone(clinic_zone()).date()
    return today, today + timedelta(weeks=NEXT_FREE_TIME_WEEKS)


def _cached_start(key: str, now: datetime, compute) -> tuple[datetime | None, int | None]:
    """``compute()`` -> (UTC start or None, service id), kept ``NEXT_FREE_TIME_CACHE_SECONDS``; a stored start that
    is no longer in the future, or one found at another moment's ``now`` in the past, is looked up again."""
    stored = cache.get(key)
    if stored is not None:
        found_at, start, service_id = stored
        fresh = found_at <= now < found_at + timedelta(seconds=NEXT_FREE_TIME_CACHE_SECONDS)
        if fresh and (start is None or start > now):
            return start, service_id
    start, service_id = compute()
    cache.set(key, (now, start, service_id), NEXT_FREE_TIME_CACHE_SECONDS)
    return start, service_id


def next_free_time_of_service(service: Service, *, now: datetime | None = None) -> NextFreeTime | None:
    """The first free time of ``service`` with anyone ("first available", as the booking box's date step offers
    it) in the next ``NEXT_FREE_TIME_WEEKS`` weeks, or None. Six queries when not cached (``load_availability``)."""
    now = now or timezone.now()
    if not service.active:
        return None

    def compute():
        start_day, end_day = _search_days(now)
        found = next_available_dates(service=service, start_day=start_day, end_day=end_day, now=now)
        starts = [start for start in found.values() if start is not None]
        return (min(starts) if starts else None), service.pk

    start, _service_id = _cached_start(f"clinic:next-free-time:service:{service.pk}", now, compute)
    if start is None:
        return None
    return NextFreeTime(start=start.astimezone(clinic_zone()), service=service, professional=None)


def next_free_time_of_professional(
    professional: Professional, offers: list[ProfessionalService], *, now: datetime | None = None
) -> NextFreeTime | None:
    """The first free time of ``professional`` for any of ``offers`` (their active ProfessionalService rows, with
    their services) in the next ``NEXT_FREE_TIME_WEEKS`` weeks, or None.

    One availability read for all the services (six queries when not cached): the professional's hours, time off
    and bookings are the same whatever the service; only the session's length, buffers, notice and horizon differ,
    and those come from the offers already loaded.
    """
    now = now or timezone.now()
    offers = [offer for offer in offers if offer.service.active]
    if not offers or not professional.active:
        return None

    def compute():
        start_day, end_day = _search_days(now)
        loaded = load_availability(
            service=offers[0].service, professionals=[professional], start_day=start_day, end_day=end_day, now=now
        )
        if not loaded.professionals:
            return None, None
        availability = loaded.professionals[0]
        best: tuple[datetime, int] | None = None
        for offer in offers:
            own_duration = offer.duration_override_minutes
            duration = timedelta(minutes=own_duration) if own_duration else None
            found = next_available(
                professionals=[dataclasses.replace(availability, duration=duration)],
                service=service_spec(offer.service),
                start_day=start_day,
                end_day=end_day,
                now=now,
                location_id=ALL,
                rooms=loaded.rooms,
            ).get(professional.pk)
            if found is not None and (best is None or found < best[0]):
                best = (found, offer.service_id)
        return best if best is not None else (None, None)

    start, service_id = _cached_start(f"clinic:next-free-time:professional:{professional.pk}", now, compute)
    if start is None:
        return None
    service = next((offer.service for offer in offers if offer.service_id == service_id), None)
    if service is None:  # the service stopped being offered since the time was stored
        return None
    return NextFreeTime(start=start.astimezone(clinic_zone()), service=service, professional=professional)
