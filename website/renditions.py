"""Reading the renditions a listing shows together with the listing, instead of one query per card."""

from __future__ import annotations

from django.db.models import Prefetch
from wagtail.images import get_image_model


def prefetch_renditions(image_lookup: str, *filter_specs: str) -> Prefetch:
    """A ``Prefetch`` of the ``filter_specs`` renditions of the image at ``image_lookup`` (joined with
    ``select_related``), in one query for the whole listing.

    Wagtail's ``ImageQuerySet.prefetch_renditions`` does the same from an image queryset, which costs a query for the
    images too; here the images come with the rows (``select_related``) and only their renditions are fetched.
    Wagtail's ``get_rendition`` reads them from ``prefetched_renditions`` and makes any that are missing.
    """
    renditions = get_image_model().get_rendition_model().objects.filter(filter_spec__in=filter_specs)
    return Prefetch(f"{image_lookup}__renditions", queryset=renditions, to_attr="prefetched_renditions")
