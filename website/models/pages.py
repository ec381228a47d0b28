"""The home page (the site root) and the general-purpose standard page."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.html import strip_tags
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, MultiFieldPanel
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Page
from wagtail.search import index

from website.blocks import BaseStreamBlock
from website.renditions import rendition_url_or_none
from website.routing import PathRoutingMixin

#: Longer meta descriptions are cut by search engines; every fallback description is cut here instead.
META_DESCRIPTION_LENGTH = 160


def meta_description_text(value) -> str:
    """The plain words of a text or rich text, cut to ``META_DESCRIPTION_LENGTH`` for a meta description."""
    return Truncator(" ".join(strip_tags(str(value or "")).split())).chars(META_DESCRIPTION_LENGTH)


class SeoMixin:
    """What base.html needs for meta tags, shared by the site shell's pages and the clinic catalog pages.

    ``get_meta_description`` falls back to the intro so that an editor who forgets the
    search description still gets a sensible snippet in search engines and link previews.
    """

    og_type = "website"

    def get_meta_description(self):
        return self.search_description or meta_description_text(getattr(self, "intro", ""))


class HomePage(SeoMixin, PathRoutingMixin, Page):
    """The site root: a hero with a call to action, an introduction and a free-form body.

    The other apps' index pages (services, professionals, blog, resources) live directly
    under it, so their URLs are short (``/servicios/``, ``/blog/``).
    """

    hero_heading = models.CharField(
        _("hero heading"),
        max_length=150,
        blank=True,
        help_text=_("The large heading at the top of the page. Leave empty to use the page title."),
    )
    hero_subheading = models.TextField(
        _("hero subheading"),
        blank=True,
        help_text=_("One or two sentences under the heading that say what the clinic offers."),
    )
    hero_image = models.ForeignKey(
        "wagtailimages.Image",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("hero image"),
        help_text=_("A wide, calm photo (at least 1600 pixels wide). Also used when the page is shared."),
    )
    hero_cta_label = models.CharField(
        _("call to action label"),
        max_length=60,
        blank=True,
        help_text=_("The hero button's text, e.g. “Book a session”. Leave empty for no button."),
    )
    hero_cta_page = models.ForeignKey(
        "wagtailcore.Page",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("call to action page"),
        help_text=_("Where the button leads. Choose a page or enter a URL below."),
    )
    hero_cta_url = models.URLField(
        _("call to action URL"),
        blank=True,
        help_text=_("An external address for the button, used only when no page is chosen."),
    )
    intro = RichTextField(
        _("introduction"),
        blank=True,
        features=["bold", "italic", "link"],
        help_text=_("A short welcome shown under the hero."),
    )
    body = StreamField(BaseStreamBlock(), blank=True, verbose_name=_("body"))

    content_panels = [
        *Page.content_panels,
        MultiFieldPanel(
            [
                FieldPanel("hero_heading"),
                FieldPanel("hero_subheading"),
                FieldPanel("hero_image"),
                FieldPanel("hero_cta_label"),
                FieldPanel("hero_cta_page"),
                FieldPanel("hero_cta_url"),
            ],
            heading=_("Hero"),
        ),
        FieldPanel("intro"),
        FieldPanel("body"),
    ]

    search_fields = [*Page.search_fields, index.SearchField("intro"), index.SearchField("body")]

    parent_page_types = ["wagtailcore.Page"]
    subpage_types = [
        "website.StandardPage",
        "clinic.ServiceIndexPage",
        "clinic.ProfessionalIndexPage",
        "blog.BlogIndexPage",
        "resources.ResourceIndexPage",
    ]
    # One clinic, one home: a second HomePage would only confuse editors.
    max_count = 1
    route_select_related = ("hero_image", "hero_cta_page")

    class Meta:
        verbose_name = _("home page")
        verbose_name_plural = _("home pages")

    def clean(self):
        super().clean()
        if self.hero_cta_label and not (self.hero_cta_page or self.hero_cta_url):
            raise ValidationError({"hero_cta_page": _("Choose a page or enter a URL for the button.")})

    def get_hero_cta_url(self, request=None):
        if self.hero_cta_page_id and self.hero_cta_page and self.hero_cta_page.live:
            return self.hero_cta_page.get_url(request)
        return self.hero_cta_url

    def get_og_image(self):
        return self.hero_image

    def get_json_ld(self, request):
        """A schema.org MedicalClinic built from the site settings, for search engines' knowledge panels."""
        from .site_settings import SiteSettings

        clinic = SiteSettings.for_request(request) if request is not None else SiteSettings.for_site(self.get_site())
        data = {
            "@context": "https://schema.org",
            "@type": "MedicalClinic",
            "name": clinic.display_name,
            "url": self.get_full_url(request),
            "description": self.get_meta_description(),
            "telephone": clinic.phone,
            "email": clinic.email,
        }
        if clinic.address:
            data["address"] = {
                "@type": "PostalAddress",
                "streetAddress": " ".join(clinic.address.split()),
                "addressCountry": "CL",
            }
        logo_url = rendition_url_or_none(clinic.logo, "max-512x512")
        if logo_url:
            data["logo"] = request.build_absolute_uri(logo_url) if request is not None else logo_url
        same_as = clinic.social_urls
        if same_as:
            data["sameAs"] = same_as
        return {key: value for key, value in data.items() if value}


class StandardPage(SeoMixin, PathRoutingMixin, Page):
    """A general content page (about us, FAQ, policies): an introduction and a free-form body."""

    intro = models.TextField(
        _("introduction"),
        blank=True,
        help_text=_("A short lead paragraph shown under the title, and in search results."),
    )
    body = StreamField(BaseStreamBlock(), blank=True, verbose_name=_("body"))

    content_panels = [*Page.content_panels, FieldPanel("intro"), FieldPanel("body")]

    search_fields = [*Page.search_fields, index.SearchField("intro"), index.SearchField("body")]

    parent_page_types = ["website.HomePage", "website.StandardPage"]
    subpage_types = ["website.StandardPage"]

    class Meta:
        verbose_name = _("standard page")
        verbose_name_plural = _("standard pages")
