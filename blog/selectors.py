"""Reads of blog posts that other apps use (the "latest posts" StreamField block calls ``latest_posts``)."""

from __future__ import annotations

from blog.models import BlogPage


def latest_posts(limit: int = 3) -> list[BlogPage]:
    """The newest live, public posts, with the featured image loaded in the same query."""
    return list(
        BlogPage.objects.live()
        .public()
        .select_related("featured_image", "author")
        .order_by("-date", "-first_published_at", "-pk")[:limit]
    )
