"""Public pages that show the clinic catalog: the services and the professionals who offer them.

The catalog itself (``booking.scheduling``: services, prices, professionals) is plain Django
data that staff edit in the "Clinic" admin menu. These pages only *show* it: an editor adds
a ServicePage for a Service or a ProfessionalPage for a Professional and writes the
marketing text around it, while prices, durations and policies always come from the catalog.
"""

import html
import logging
from functools import cached_property

from django.core.cache import cache
from django.db import models
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import strip_tags
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext, pgettext_lazy
from wagtail.admin.panels import FieldPanel
from wagtail.embeds import embeds
from wagtail.embeds.embeds import get_embed_hash
from wagtail.embeds.exceptions import EmbedException
from wagtail.fields import RichTextField, StreamField
from wagtail.models import Page
from wagtail.search import index

from booking.scheduling.models import ServiceCategory
from booking.scheduling.money import quantize
from booking.scheduling.timefmt import format_local_time
from booking.widget.pack_offers import professional_pack_links, service_pack_links
from website.blocks import BaseStreamBlock
from website.models import clinic_name
from website.models.pages import SeoMixin, meta_description_text
from website.renditions import rendition_url_or_none
from website.routing import PathRoutingMixin

logger = logging.getLogger(__name__)

INTRO_FEATURES = ["bold", "italic", "link"]
PORTRAIT_SPEC = "fill-600x600"
EMBED_RETRY_SECONDS = 15 * 60
# schema.org's MedicalSpecialty is a fixed list; only categories that map onto it are announced.
MEDICAL_SPECIALTY_BY_CATEGORY_SLUG = {
    "nutricion": "DietNutrition",
    "nutrition": "DietNutrition",
    "psiquiatria": "Psychiatric",
    "psychiatry": "Psychiatric",
}


def _words(value) -> str:
    """The plain words of a text or rich text, for comparing two texts whatever their markup and spacing."""
    return " ".join(html.unescape(strip_tags(str(value or ""))).split())


#: Weekday names as they read inside a sentence (Spanish writes them in lower case: "jueves 10:00"); the catalogue's
#: plain "Thursday" is capitalised, for lists and headings.
WEEKDAYS_IN_A_SENTENCE = [
    pgettext_lazy("weekday in a sentence", "Monday"),
    pgettext_lazy("weekday in a sentence", "Tuesday"),
    pgettext_lazy("weekday in a sentence", "Wednesday"),
    pgettext_lazy("weekday in a sentence", "Thursday"),
    pgettext_lazy("weekday in a sentence", "Friday"),
    pgettext_lazy("weekday in a sentence", "Saturday"),
    pgettext_lazy("weekday in a sentence", "Sunday"),
]


def next_free_time_context(next_free_time, *, now) -> dict:
    """What ``clinic/includes/next_free_time.html`` shows: the time, its label and the booking box's date step for
    that day (service, and professional on a profile, already chosen), or that nothing is free in the weeks looked at.
    """
    from .selectors import NEXT_FREE_TIME_WEEKS

    context = {"next_free_time": next_free_time, "next_free_time_weeks": NEXT_FREE_TIME_WEEKS}
    if next_free_time is None:
        return context
    start = next_free_time.start
    days_ahead = (start.date() - now.astimezone(start.tzinfo).date()).days
    # Within the week the weekday says which day it is ("jueves 10:00"); later the date is needed too.
    label = f"{WEEKDAYS_IN_A_SENTENCE[start.weekday()]} {format_local_time(start)}"
    if days_ahead >= 7:
        day = date_format(start, pgettext("day and month of the next free time", "F j"))
        label = f"{WEEKDAYS_IN_A_SENTENCE[start.weekday()]} {day}, {format_local_time(start)}"
    query = {"service": next_free_time.service.slug}
    if next_free_time.professional is not None:
        query["professional"] = next_free_time.professional.slug
    query.update({"month": f"{start:%Y-%m}", "day": f"{start:%Y-%m-%d}"})
    context["next_free_time_label"] = label
    context["next_free_time_url"] = f"{reverse('widget:date')}?{urlencode(query)}"
    return context


# --- Services -----------------------------------------------------------------------------


class ServiceIndexPage(SeoMixin, PathRoutingMixin, Page):
    """The list of the clinic's services, grouped by category (e.g. /servicios/)."""

    intro = RichTextField(
        _("introduction"),
        blank=True,
        features=INTRO_FEATURES,
        help_text=_("A short paragraph under the title, e.g. what kinds of therapy the clinic offers."),
    )
    body = StreamField(
        BaseStreamBlock(),
        blank=True,
        verbose_name=_("body"),
        help_text=_("Optional content shown after the list of services."),
    )

    content_panels = [*Page.content_panels, FieldPanel("intro"), FieldPanel("body")]
    search_fields = [*Page.search_fields, index.SearchField("intro"), index.SearchField("body")]

    parent_page_types = ["website.HomePage"]
    subpage_types = ["clinic.ServicePage"]
    max_count = 1

    class Meta:
        verbose_name = _("service index page")
        verbose_name_plural = _("service index pages")

    def get_service_groups(self) -> list[tuple[ServiceCategory, list["ServicePage"]]]:
        """The live service pages under this page as ``(category, pages)`` in the catalog's order."""
        from .selectors import service_pages

        groups: dict[int, tuple[ServiceCategory, list[ServicePage]]] = {}
        for service_page in service_pages().child_of(self):
            category = service_page.service.category
            groups.setdefault(category.pk, (category, []))[1].append(service_page)
        return list(groups.values())

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["service_groups"] = self.get_service_groups()
        return context


class ServicePage(SeoMixin, PathRoutingMixin, Page):
    """One service's public page: what it is, price, duration, policy, and who offers it.

    Prices, durations and policies are read from the linked Service, so they never go
    out of date when staff change them in the Clinic menu.
    """

    service = models.ForeignKey(
        "scheduling.Service",
        on_delete=models.PROTECT,
        related_name="pages",
        verbose_name=_("service"),
        help_text=_("The service in the clinic catalog this page describes; price and duration come from it."),
    )
    intro = RichTextField(
        _("introduction"),
        blank=True,
        features=INTRO_FEATURES,
        help_text=_("One or two sentences shown under the title and on the services list."),
    )
    body = StreamField(
        BaseStreamBlock(),
        blank=True,
        verbose_name=_("body"),
        help_text=_("What a patient should know: who it is for, what a session is like, how to prepare."),
    )

    content_panels = [*Page.content_panels, FieldPanel("service"), FieldPanel("intro"), FieldPanel("body")]
    search_fields = [
        *Page.search_fields,
        index.SearchField("intro"),
        index.SearchField("body"),
        index.RelatedFields("service", [index.SearchField("name"), index.SearchField("description")]),
    ]

    parent_page_types = ["clinic.ServiceIndexPage"]
    subpage_types = []
    route_select_related = ("service__category",)

    class Meta:
        verbose_name = _("service page")
        verbose_name_plural = _("service pages")

    def get_meta_description(self):
        return super().get_meta_description() or meta_description_text(self.service.description)

    def get_providers(self) -> list["ProfessionalPage"]:
        """Live profiles of active professionals offering this service, each with its ``offer``.

        ``offer`` is the professional's ProfessionalService row, so the template can show
        their own price or duration where it differs from the service's.
        """
        from .selectors import professional_listing

        providers = professional_listing(service=self.service)
        for professional_page in providers:
            professional_page.offer = next(
                (
                    offer
                    for offer in professional_page.professional.offered_services.all()
                    if offer.service_id == self.service_id
                ),
                None,
            )
        return providers

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["service"] = self.service
        context["service_description"] = self.get_service_description()
        context["providers"] = self.get_providers() if self.service.active else []
        context["pack_links"] = service_pack_links(self.service) if self.service.active else []
        if self.service.active:
            from .selectors import next_free_time_of_service

            now = timezone.now()
            context.update(next_free_time_context(next_free_time_of_service(self.service, now=now), now=now))
        return context

    def get_service_description(self) -> str:
        """The catalog's description, unless the page's introduction already says it.

        Editors often start the introduction from the catalog's text (the demo does): shown under the title and again
        in the body, the page read its first paragraph twice.
        """
        description = self.service.description or ""
        if _words(description) == _words(self.intro):
            return ""
        return description

    def get_json_ld(self, request):
        """A schema.org Service with its price, while the service is bookable."""
        service = self.service
        if not service.active:
            return None
        data = {
            "@context": "https://schema.org",
            "@type": "Service",
            "name": service.name,
            "serviceType": service.category.name,
            "description": self.get_meta_description(),
            "url": self.get_full_url(request),
            "provider": {"@type": "MedicalClinic", "name": clinic_name(request)},
            "offers": {
                "@type": "Offer",
                "price": str(quantize(service.price, service.currency)),
                "priceCurrency": service.currency,
            },
        }
        return {key: value for key, value in data.items() if value}


# --- Professionals ------------------------------------------------------------------------


class ProfessionalIndexPage(SeoMixin, PathRoutingMixin, Page):
    """The team page: cards of the clinic's professionals, filterable by service or area."""

    intro = RichTextField(
        _("introduction"),
        blank=True,
        features=INTRO_FEATURES,
        help_text=_("A short paragraph under the title, e.g. how to choose a professional."),
    )

    content_panels = [*Page.content_panels, FieldPanel("intro")]
    search_fields = [*Page.search_fields, index.SearchField("intro")]

    parent_page_types = ["website.HomePage"]
    subpage_types = ["clinic.ProfessionalPage"]
    max_count = 1

    class Meta:
        verbose_name = _("professional index page")
        verbose_name_plural = _("professional index pages")

    def get_context(self, request, *args, **kwargs):
        from .forms import ProfessionalFilterForm
        from .selectors import filter_professional_pages, professional_pages

        context = super().get_context(request, *args, **kwargs)
        filter_form = ProfessionalFilterForm(request.GET or None)
        pages = professional_pages().child_of(self)
        if filter_form.is_bound:
            if filter_form.is_valid():
                pages = filter_professional_pages(
                    pages,
                    service=filter_form.cleaned_data["service"],
                    category=filter_form.cleaned_data["category"],
                )
                context["is_filtered"] = any(filter_form.cleaned_data.values())
            else:
                pages = pages.none()
                context["is_filtered"] = True
        context["filter_form"] = filter_form
        context["professional_pages"] = list(pages)
        return context


class ProfessionalPage(SeoMixin, PathRoutingMixin, Page):
    """One professional's public profile, built from their record in the clinic catalog.

    The photo, biography, degrees, services and locations are edited once, in the Clinic
    menu, and shown here; this page adds the address on the site and optional extra content.
    The page answers 404 while the professional is inactive (e.g. after leaving the clinic).
    """

    professional = models.OneToOneField(
        "scheduling.Professional",
        on_delete=models.PROTECT,
        related_name="page",
        verbose_name=_("professional"),
        help_text=_("Whose profile this is. Photo, biography and services are edited in the Clinic menu."),
    )
    body = StreamField(
        BaseStreamBlock(),
        blank=True,
        verbose_name=_("extra content"),
        help_text=_("Optional content shown after the profile, e.g. an article or frequently asked questions."),
    )

    content_panels = [*Page.content_panels, FieldPanel("professional"), FieldPanel("body")]
    search_fields = [
        *Page.search_fields,
        index.SearchField("body"),
        index.RelatedFields(
            "professional",
            [index.SearchField("display_name"), index.SearchField("title"), index.SearchField("bio")],
        ),
    ]

    parent_page_types = ["clinic.ProfessionalIndexPage"]
    subpage_types = []
    route_select_related = ("professional__photo",)

    class Meta:
        verbose_name = _("professional page")
        verbose_name_plural = _("professional pages")

    def get_meta_description(self):
        if self.search_description:
            return self.search_description
        professional = self.professional
        return meta_description_text(" — ".join(part for part in (professional.title, professional.bio) if part))

    def get_og_image(self):
        return self.profile.photo

    def serve(self, request, *args, **kwargs):
        if not self.professional.active and not getattr(request, "is_preview", False):
            raise Http404
        return super().serve(request, *args, **kwargs)

    def get_video_embed_html(self) -> str:
        """The embedded presentation video, or "" when there is none or it cannot be fetched.

        Providers fail in many ways (offline, private video, rate limits); the profile must
        still render, so the template falls back to a plain link.
        """
        url = self.professional.video_url
        if not url:
            return ""
        failure_key = f"clinic:video-embed-failed:{get_embed_hash(url)}"
        if cache.get(failure_key):
            return ""
        try:
            return embeds.get_embed(url).html
        except EmbedException as error:
            logger.info("professional video not embeddable url=%s error=%s", url, error)
        except Exception:
            logger.warning("professional video embed failed url=%s", url, exc_info=True)
        # Do not make every visitor wait for a provider that just failed.
        cache.set(failure_key, True, EMBED_RETRY_SECONDS)
        return ""

    @cached_property
    def profile(self):
        """The professional with everything the profile shows, loaded in a fixed number of queries.

        It is ``self.professional`` itself (read with the page when routed, see ``route_select_related``), so the
        booking box and the meta description use the same object without another query.
        """
        from .selectors import professional_profile

        return professional_profile(self.professional)

    @property
    def active_offers(self):
        # Orderable's sort_order may tie (offers added outside the editor): the pk keeps one order on every database.
        offers = [offer for offer in self.profile.offered_services.all() if offer.service.active]
        return sorted(offers, key=lambda offer: (offer.sort_order is None, offer.sort_order or 0, offer.pk))

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["professional"] = self.profile
        context["offered_services"] = self.active_offers
        context["locations"] = [location for location in self.profile.locations.all() if location.active]
        context["video_embed_html"] = self.get_video_embed_html()
        context["pack_links"] = professional_pack_links(self.profile) if self.profile.active else []
        if self.profile.accepting_new_patients:
            from .selectors import next_free_time_of_professional

            now = timezone.now()
            offers = self.active_offers
            found = next_free_time_of_professional(self.profile, offers, now=now)
            context.update(next_free_time_context(found, now=now))
            context["next_free_time_names_service"] = len(offers) > 1
        return context

    def get_json_ld(self, request):
        """A schema.org Physician for search engines: name, specialty, photo, places and services."""
        professional = self.profile
        active_offers = self.active_offers
        specialties = {
            MEDICAL_SPECIALTY_BY_CATEGORY_SLUG.get(offer.service.category.slug) for offer in active_offers
        } - {None}
        data = {
            "@context": "https://schema.org",
            "@type": "Physician",
            "name": professional.display_name,
            "description": self.get_meta_description(),
            "url": self.get_full_url(request),
            "medicalSpecialty": sorted(specialties),
            "availableService": [{"@type": "MedicalTherapy", "name": offer.service.name} for offer in active_offers],
            "worksFor": {"@type": "MedicalClinic", "name": clinic_name(request)},
            "address": [
                {
                    "@type": "PostalAddress",
                    "name": location.name,
                    "streetAddress": location.address,
                    "addressLocality": location.city,
                    "addressRegion": location.region,
                }
                for location in professional.locations.all()
                if location.active
            ],
        }
        photo_url = rendition_url_or_none(professional.photo, PORTRAIT_SPEC)
        if photo_url:
            data["image"] = request.build_absolute_uri(photo_url)
        for address in data["address"]:
            for key in [key for key, value in address.items() if not value]:
                del address[key]
        return {key: value for key, value in data.items() if value}
