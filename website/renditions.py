"""Renditions made in Python code: read together with a listing, and never a 500 when an original file is missing."""

from __future__ import annotations

from django.db.models import Prefetch
from wagtail.images import get_image_model
from wagtail.images.models import SourceImageIOError


def prefetch_renditions(image_lookup: str, *filter_specs: str) -> Prefetch:
    """A ``Prefetch`` of the ``filter_specs`` renditions of the image at ``image_lookup`` (joined with
    ``select_related``), in one query for the whole listing.

    Wagtail's ``ImageQuerySet.prefetch_renditions`` does the same from an image queryset, which costs a query for the
    images too; here the images come with the rows (``select_related``) and only their renditions are fetched.
    Wagtail's ``get_rendition`` reads them from ``prefetched_renditions`` and makes any that are missing.
    """
    renditions = get_image_model().get_rendition_model().objects.filter(filter_spec__in=filter_specs)
    return Prefetch(f"{image_lookup}__renditions", queryset=renditions, to_attr="prefetched_renditions")


def rendition_url_or_none(image, filter_spec: str) -> str | None:
    """The URL of ``image``'s ``filter_spec`` rendition, or None when its original file is missing.

    The media folder and the database can disagree (a restore of one without the other, a file removed by hand);
    Wagtail's ``{% image %}`` tag then shows a broken image instead of failing the page. Code that builds URLs
    for Open Graph tags or JSON-LD must not fail either, and a "not-found" URL is worse than none there: search
    engines and link previews would fetch it. So the image is left out.
    """
    if not image:
        return None
    try:
        return image.get_rendition(filter_spec).url
    except SourceImageIOError:
        return None
