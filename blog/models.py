"""The clinic's blog: an index page with category, tag and feed routes, and the posts under it."""

from __future__ import annotations

import datetime
from urllib.parse import urljoin

from django.conf import settings
from django.core.paginator import Paginator
from django.db import models
from django.db.models import Q, prefetch_related_objects
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed, SyndicationFeed
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from modelcluster.contrib.taggit import ClusterTaggableManager
from modelcluster.fields import ParentalKey, ParentalManyToManyField
from taggit.models import Tag, TaggedItemBase
from wagtail.admin.panels import FieldPanel, MultiFieldPanel
from wagtail.contrib.routable_page.models import RoutablePageMixin, path, re_path
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Page
from wagtail.search import index

from website.blocks import BaseStreamBlock
from website.clinic.models import ProfessionalPage
from website.models import clinic_name
from website.renditions import prefetch_renditions, rendition_url_or_none
from website.routing import PathRoutingMixin
from website.visibility import public

POSTS_PER_PAGE = 10
FEED_LENGTH = 20
RELATED_POSTS_LIMIT = 3
# One rendition spec for every card, so the listing can prefetch it (see BlogIndexPage.get_posts).
CARD_IMAGE_SPEC = "fill-640x360"


class BlogCategory(models.Model):
    """A broad theme (e.g. "Anxiety", "Nutrition") that groups posts; editors manage the list as a snippet."""

    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(
        _("slug"), max_length=100, unique=True, help_text=_("Used in the category archive's address.")
    )
    description = models.TextField(
        _("description"), blank=True, help_text=_("Shown at the top of the category archive.")
    )

    panels = [FieldPanel("name"), FieldPanel("slug"), FieldPanel("description")]

    class Meta:
        ordering = ["name"]
        verbose_name = _("blog category")
        verbose_name_plural = _("blog categories")

    def __str__(self):
        return self.name


class BlogPageTag(TaggedItemBase):
    """Links free-form taggit tags to blog posts (through model of ``BlogPage.tags``)."""

    content_object = ParentalKey("blog.BlogPage", on_delete=models.CASCADE, related_name="tagged_items")


def _noon(date: datetime.date) -> datetime.datetime:
    """A post has only a date; noon in the clinic's time zone keeps that date in almost every reader's zone."""
    return timezone.make_aware(datetime.datetime.combine(date, datetime.time(12)))


class BlogIndexPage(RoutablePageMixin, PathRoutingMixin, Page):
    """The blog's home: the newest posts, category and tag archives, and RSS / Atom feeds."""

    intro = RichTextField(_("intro"), blank=True, help_text=_("A short text shown above the list of posts."))

    content_panels = Page.content_panels + [FieldPanel("intro")]

    parent_page_types = ["website.HomePage"]
    subpage_types = ["blog.BlogPage"]

    class Meta:
        verbose_name = _("blog index page")

    def get_posts(self):
        """Live, public posts under this index, newest first, with everything a card shows loaded up front."""
        return (
            public(BlogPage.objects.live())
            .descendant_of(self)
            .select_related("author", "featured_image")
            .prefetch_related(prefetch_renditions("featured_image", CARD_IMAGE_SPEC), "categories", "tags")
            .order_by("-date", "-first_published_at", "-pk")
        )

    def get_context(self, request, *args, posts=None, archive_category=None, archive_tag=None, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        if posts is None:
            posts = self.get_posts()
        # get_page() turns a non-numeric page into the first and a too large one into the last: never a 500.
        context["posts"] = Paginator(posts, POSTS_PER_PAGE).get_page(request.GET.get("page"))
        context["archive_category"] = archive_category
        context["archive_tag"] = archive_tag
        context["categories"] = BlogCategory.objects.filter(posts__in=self.get_posts().values("pk")).distinct()
        context["rss_feed_url"] = self.absolute_url(request) + self.reverse_subpage("feed_rss")
        context["atom_feed_url"] = self.absolute_url(request) + self.reverse_subpage("feed_atom")
        return context

    def absolute_url(self, request) -> str:
        """The index's full URL on its site (or the requested host when previewed outside any site)."""
        return self.get_full_url(request) or request.build_absolute_uri(self.get_url(request) or "/")

    # Unicode-aware: Spanish tags and categories have accents (taggit slugs keep them).
    @re_path(r"^category/(?P<slug>[-\w]+)/$", name="category")
    def category_archive(self, request, slug):
        category = get_object_or_404(BlogCategory, slug=slug)
        return self.render(
            request,
            posts=self.get_posts().filter(categories=category),
            archive_category=category,
        )

    @re_path(r"^tag/(?P<slug>[-\w]+)/$", name="tag")
    def tag_archive(self, request, slug):
        tag = get_object_or_404(Tag, slug=slug)
        return self.render(request, posts=self.get_posts().filter(tags=tag), archive_tag=tag)

    @path("feed/rss/", name="feed_rss")
    def rss_feed(self, request):
        return self._feed_response(request, Rss201rev2Feed, "feed_rss")

    @path("feed/atom/", name="feed_atom")
    def atom_feed(self, request):
        return self._feed_response(request, Atom1Feed, "feed_atom")

    def _feed_response(self, request, feed_class: type[SyndicationFeed], route_name: str) -> HttpResponse:
        index_url = self.absolute_url(request)
        feed = feed_class(
            title=self.seo_title or self.title,
            link=index_url,
            description=self.search_description or self.title,
            language=get_language() or settings.LANGUAGE_CODE,
            feed_url=index_url + self.reverse_subpage(route_name),
        )
        for post in self.get_posts()[:FEED_LENGTH]:
            post_url = post.get_full_url(request)
            feed.add_item(
                title=post.title,
                link=post_url,
                description=post.excerpt,
                unique_id=post_url,
                pubdate=_noon(post.date),
                updateddate=post.last_published_at or _noon(post.date),
                author_name=post.author_display_name or None,
                categories=[category.name for category in post.categories.all()],
            )
        response = HttpResponse(content_type=feed.content_type)
        feed.write(response, "utf-8")
        return response


class BlogPage(PathRoutingMixin, Page):
    """One blog post. Its cards, feed entries and meta description all use the excerpt."""

    date = models.DateField(
        _("post date"), default=timezone.localdate, help_text=_("The date shown on the post and used to order posts.")
    )
    author = models.ForeignKey(
        "scheduling.Professional",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="blog_posts",
        verbose_name=_("author"),
        help_text=_("A professional of the clinic; their public profile is linked from the post."),
    )
    author_name = models.CharField(
        _("author name"),
        max_length=150,
        blank=True,
        help_text=_("Used when the author is not one of the clinic's professionals (e.g. a guest author)."),
    )
    excerpt = models.TextField(
        _("excerpt"),
        max_length=300,
        blank=True,
        help_text=_("One or two sentences shown in post lists, feeds and search results."),
    )
    featured_image = models.ForeignKey(
        "wagtailimages.Image",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("featured image"),
        help_text=_("Shown on the post's card, at the top of the post and when it is shared."),
    )
    body = StreamField(BaseStreamBlock(), blank=True, verbose_name=_("body"))
    categories = ParentalManyToManyField(BlogCategory, blank=True, related_name="posts", verbose_name=_("categories"))
    tags = ClusterTaggableManager(through=BlogPageTag, blank=True, verbose_name=_("tags"))

    content_panels = Page.content_panels + [
        MultiFieldPanel(
            [FieldPanel("date"), FieldPanel("author"), FieldPanel("author_name")],
            heading=_("Publication"),
        ),
        FieldPanel("excerpt"),
        FieldPanel("featured_image"),
        FieldPanel("body"),
        MultiFieldPanel([FieldPanel("categories"), FieldPanel("tags")], heading=_("Classification")),
    ]

    search_fields = Page.search_fields + [
        index.SearchField("excerpt"),
        index.SearchField("body"),
    ]

    parent_page_types = ["blog.BlogIndexPage"]
    subpage_types = []
    route_select_related = ("author__photo", "featured_image")
    og_type = "article"

    class Meta:
        verbose_name = _("blog post")
        verbose_name_plural = _("blog posts")

    @property
    def author_display_name(self) -> str:
        if self.author_id and self.author:
            return self.author.display_name
        return self.author_name

    def get_meta_description(self) -> str:
        return self.search_description or self.excerpt

    def get_og_image(self):
        return self.featured_image

    def get_related_posts(self, limit: int = RELATED_POSTS_LIMIT) -> list[BlogPage]:
        """Other live posts sharing a category or a tag, most recent first; three queries whatever the sizes (none
        for this post's categories and tags once ``get_context`` has prefetched them)."""
        category_ids = [category.pk for category in self.categories.all()]
        tag_ids = [tag.pk for tag in self.tags.all()]
        if not category_ids and not tag_ids:
            return []
        return list(
            public(BlogPage.objects.live())
            .exclude(pk=self.pk)
            .filter(Q(categories__in=category_ids) | Q(tagged_items__tag_id__in=tag_ids))
            .distinct()
            .select_related("featured_image", "author")
            .order_by("-date", "-first_published_at", "-pk")[:limit]
        )

    def get_author_profile_url(self, request=None) -> str | None:
        """The author's public profile page, when one is published (one query, cached per instance)."""
        if not self.author_id:
            return None
        if hasattr(self, "_author_profile_url"):
            return self._author_profile_url
        profile = public(ProfessionalPage.objects.live()).filter(professional_id=self.author_id).first()
        url = profile.get_url(request) if profile is not None else None
        self._author_profile_url = url
        return url

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        if self.pk:  # read once for the related posts and for the template's badges (a new post's preview has none)
            prefetch_related_objects([self], "categories", "tags")
        related_posts = self.get_related_posts()
        # What their cards show (post_card.html): categories and the card image, for all of them at once.
        prefetch_related_objects(related_posts, "categories", prefetch_renditions("featured_image", CARD_IMAGE_SPEC))
        context["blog_index"] = self.get_parent().specific
        context["author_profile_url"] = self.get_author_profile_url(request)
        context["related_posts"] = related_posts
        return context

    def get_json_ld(self, request) -> dict:
        """A schema.org BlogPosting, so search engines show the post's date, author and image.

        Every URL in it is absolute on the site's own host (as the page URL is), whatever host the request used.
        """
        page_url = self.get_full_url(request) or (request.build_absolute_uri(self.url) if request else self.url)
        modified = self.last_published_at or self.latest_revision_created_at
        author = {"@type": "Person", "name": self.author_display_name or clinic_name(request)}
        profile_url = self.get_author_profile_url(request)
        if profile_url:
            author["url"] = urljoin(page_url, profile_url)
        data = {
            "@context": "https://schema.org",
            "@type": "BlogPosting",
            "headline": self.seo_title or self.title,
            "datePublished": self.date.isoformat(),
            "dateModified": modified.isoformat() if modified else self.date.isoformat(),
            "author": author,
            "description": str(self.get_meta_description()),
            "mainEntityOfPage": {"@type": "WebPage", "@id": page_url},
            "url": page_url,
            "publisher": {"@type": "Organization", "name": str(clinic_name(request))},
        }
        image_url = rendition_url_or_none(self.featured_image, "fill-1200x630")
        if image_url:
            data["image"] = urljoin(page_url, image_url)
        return data
