"""Downloadable documents, videos and links the clinic shares, some of them for its patients only."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import models
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, MultiFieldPanel
from wagtail.embeds import embeds
from wagtail.embeds.exceptions import EmbedException
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Page
from wagtail.search import index

from website.blocks import BaseStreamBlock
from website.routing import PathRoutingMixin
from website.visibility import public

logger = logging.getLogger(__name__)

RESOURCES_PER_PAGE = 12


class ResourceCategory(models.Model):
    """A topic that groups resources (e.g. "Guides", "Recipes"); visitors filter the list by it."""

    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=100, unique=True, help_text=_("Used in the list's filter address."))

    panels = [FieldPanel("name"), FieldPanel("slug")]

    class Meta:
        ordering = ["name"]
        verbose_name = _("resource category")
        verbose_name_plural = _("resource categories")

    def __str__(self):
        return self.name


class ResourceKind(models.TextChoices):
    DOCUMENT = "document", _("Document")
    VIDEO = "video", _("Video")
    LINK = "link", _("Link")


class Audience(models.TextChoices):
    PUBLIC = "public", _("Everyone")
    PATIENTS = "patients", _("Patients only (log in required)")


class ResourceIndexPage(PathRoutingMixin, Page):
    """The list of resources, filterable by category and kind."""

    intro = RichTextField(_("intro"), blank=True, help_text=_("A short text shown above the list of resources."))

    content_panels = Page.content_panels + [FieldPanel("intro")]

    parent_page_types = ["website.HomePage"]
    subpage_types = ["resources.ResourcePage"]

    class Meta:
        verbose_name = _("resource index page")

    def get_resources(self):
        return (
            public(ResourcePage.objects.live())
            .descendant_of(self)
            .select_related("category", "document")
            .order_by("path")
        )

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        resources = self.get_resources()
        categories = list(ResourceCategory.objects.filter(resourcepage__in=resources.values("pk")).distinct())

        # Unknown filter values are ignored (and said so), rather than answered with an empty list or an error.
        category_slug = request.GET.get("category", "")
        selected_category = next((c for c in categories if c.slug == category_slug), None)
        if selected_category:
            resources = resources.filter(category=selected_category)
        kind = request.GET.get("kind", "")
        selected_kind = kind if kind in ResourceKind.values else ""
        if selected_kind:
            resources = resources.filter(kind=selected_kind)

        context.update(
            resources=Paginator(resources, RESOURCES_PER_PAGE).get_page(request.GET.get("page")),
            categories=categories,
            kinds=ResourceKind.choices,
            selected_category=selected_category,
            selected_kind=selected_kind,
            ignored_filter=bool((category_slug and not selected_category) or (kind and not selected_kind)),
        )
        return context


class ResourcePage(PathRoutingMixin, Page):
    """One resource: a document to download, a video to watch or a link to another site."""

    kind = models.CharField(_("kind"), max_length=20, choices=ResourceKind.choices, default=ResourceKind.DOCUMENT)
    document = models.ForeignKey(
        "wagtaildocs.Document",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("document"),
        help_text=_("Required for a document resource."),
    )
    video_url = models.URLField(
        _("video URL"), blank=True, help_text=_("Required for a video resource: a YouTube or Vimeo address.")
    )
    external_url = models.URLField(_("external URL"), blank=True, help_text=_("Required for a link resource."))
    summary = models.TextField(
        _("summary"), max_length=300, blank=True, help_text=_("One or two sentences shown in the list of resources.")
    )
    body = StreamField(BaseStreamBlock(), blank=True, verbose_name=_("body"))
    category = models.ForeignKey(
        ResourceCategory,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        verbose_name=_("category"),
    )
    audience = models.CharField(
        _("audience"),
        max_length=20,
        choices=Audience.choices,
        default=Audience.PUBLIC,
        help_text=_("Patients-only resources, and their documents, need a logged-in account."),
    )

    content_panels = Page.content_panels + [
        FieldPanel("summary"),
        MultiFieldPanel(
            [FieldPanel("kind"), FieldPanel("document"), FieldPanel("video_url"), FieldPanel("external_url")],
            heading=_("Resource"),
        ),
        FieldPanel("category"),
        FieldPanel("audience"),
        FieldPanel("body"),
    ]

    search_fields = Page.search_fields + [
        index.SearchField("summary"),
        index.SearchField("body"),
        index.FilterField("kind"),
    ]

    parent_page_types = ["resources.ResourceIndexPage"]
    subpage_types = []
    route_select_related = ("category", "document")

    class Meta:
        verbose_name = _("resource")
        verbose_name_plural = _("resources")

    @property
    def is_patients_only(self) -> bool:
        return self.audience == Audience.PATIENTS

    def get_meta_description(self) -> str:
        return self.search_description or self.summary

    def clean(self):
        super().clean()
        required_field = {
            ResourceKind.DOCUMENT: ("document", _("Choose the document to share for a document resource.")),
            ResourceKind.VIDEO: ("video_url", _("Enter the video's address for a video resource.")),
            ResourceKind.LINK: ("external_url", _("Enter the address to link to for a link resource.")),
        }.get(self.kind)
        if required_field is None:
            return
        field_name, message = required_field
        value = self.document_id if field_name == "document" else getattr(self, field_name)
        if not value:
            raise ValidationError({field_name: message})

    def get_video_embed_html(self) -> str:
        """The provider's player, or "" when it cannot be embedded (the template then shows a plain link)."""
        if self.kind != ResourceKind.VIDEO or not self.video_url:
            return ""
        try:
            return embeds.get_embed(self.video_url).html
        except EmbedException as error:
            logger.info("resource video not embeddable url=%s error=%s", self.video_url, error)
        except Exception:  # a provider failing in an unexpected way must not take the page down
            logger.warning("resource video embed failed url=%s", self.video_url, exc_info=True)
        return ""

    def get_sitemap_urls(self, request=None):
        """Patients-only resources stay out of the sitemap: crawlers would only meet the login page."""
        if self.is_patients_only:
            return []
        return super().get_sitemap_urls(request)

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["video_embed_html"] = self.get_video_embed_html()
        return context

    def serve(self, request, *args, **kwargs):
        if self.is_patients_only:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
            response = super().serve(request, *args, **kwargs)
            patch_cache_control(response, private=True)
            return response
        return super().serve(request, *args, **kwargs)
