"""Reads of blog posts that other apps use (the "latest posts" StreamField block calls ``latest_posts``)."""

from __future__ import annotations

from blog.models import BlogPage
from website.renditions import prefetch_renditions
from website.request_cache import cached
from website.visibility import public

#: The image size of the "latest posts" block's cards (templates/blocks/latest_posts.html).
LATEST_POSTS_IMAGE_SPEC = "fill-480x360"
#: The most posts a "latest posts" block shows: every block of a page is served from one read of this many.
LATEST_POSTS_MAX = 12


def latest_posts(limit: int = 3) -> list[BlogPage]:
    """The newest live, public posts, with the featured image loaded in the same query and the cards' renditions
    in one more; read once per request for all the blocks of a page (``website.request_cache``)."""
    if limit > LATEST_POSTS_MAX:
        return _newest_posts(limit)
    return cached("blog.latest_posts", lambda: _newest_posts(LATEST_POSTS_MAX))[:limit]


def _newest_posts(limit: int) -> list[BlogPage]:
    return list(
        public(BlogPage.objects.live())
        .select_related("featured_image", "author")
        .prefetch_related(prefetch_renditions("featured_image", LATEST_POSTS_IMAGE_SPEC))
        .order_by("-date", "-first_published_at", "-pk")[:limit]
    )
