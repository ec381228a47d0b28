"""Which pages everyone may see, decided inside the query that lists them.

Wagtail's ``PageQuerySet.public()`` first reads every view restriction of the site in a query of its own and then
builds one condition per restriction: a listing block, a related-posts box and a menu each pay that extra query,
on every request. ``public`` asks the same question with a subquery, so a listing is one query.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef
from django.db.models.functions import Length, Substr
from wagtail.models import PageViewRestriction


def view_restriction_in_path() -> Exists:
    """True for a page that has a view restriction, or whose ancestor has one (its path starts with theirs).

    Tree paths are prefixes of their descendants' paths, so "the restricted page's path is the first characters of
    this page's path" is exactly Wagtail's "this page is the restricted page or one of its descendants".
    """
    return Exists(PageViewRestriction.objects.filter(page__path=Substr(OuterRef("path"), 1, Length("page__path"))))


def public(pages):
    """``pages`` without the pages that a view restriction (login, password, groups) hides: ``.public()`` in one
    query."""
    return pages.exclude(view_restriction_in_path())
