"""The booking box: a StreamField block an editor places on any page to start a booking.

It lists the services to book (or starts at a fixed one) and links into the step pages at ``/booking/``
(``views.py``) with the editor's filters in the query string, where every step validates them again. The box itself
stays small and cacheable: it reads the services in one query and never asks for free times; the date step does.

A box may also offer packs (``offer_packs``): the public packs (on a service's page, those that include it), or
one pack the editor chose. Each links to the pack's page in the flow (``pack_views.py``), where the visitor buys it
and then books the first session. Boxes saved before this option offer none, as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.apps import apps
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from wagtail import blocks

from booking.scheduling.choosers import (
    LocationChooserBlock,
    ProfessionalChooserBlock,
    ServiceCategoryChooserBlock,
    ServiceChooserBlock,
)
from booking.scheduling.models import AppointmentModality, Location, Professional, Service, ServiceCategory
from website.request_cache import memoise

from .choosers import PackChooserBlock
from .forms import MAX_TEAM
from .pack_offers import offered_packs, pack_links
from .selectors import box_services

#: ``BookingBoxBlock.offer_packs`` values.
PACKS_NONE, PACKS_PUBLIC, PACKS_ONE = "", "public", "one"


@dataclass
class BoxChoices:
    """What a box offers once the page it sits on has filled in what the editor left empty."""

    service: Service | None = None
    category: ServiceCategory | None = None
    team: list[Professional] = field(default_factory=list)
    location: Location | None = None
    modality: str = ""
    #: Hide the steps' links back to the other services (and to another professional or place): only for a box that
    #: fixes a service; without one, the visitor chose the service and may choose again. The team limits either way.
    lock: bool = False
    #: The editor named something that can no longer be booked (a professional who left, a closed place): the box
    #: must say so rather than quietly widen to everybody.
    gone: bool = False

    def filters(self) -> dict[str, str]:
        """The choices as the step pages' query parameters (``forms.ChoiceForm``), empty ones left out."""
        values = {
            "professional": self.team[0].slug if len(self.team) == 1 else "",
            "location": self.location.slug if self.location is not None else "",
            "modality": self.modality,
            "category": self.category.slug if self.category is not None else "",
            "team": ",".join(member.slug for member in self.team),
            "lock": "1" if self.lock else "",
        }
        return {key: value for key, value in values.items() if value}


class BookingBoxBlock(blocks.StructBlock):
    """A box that starts a booking, optionally narrowed to a category, a service, some professionals, a place or a
    modality.

    On a professional's profile a box naming no professional books with that professional; on a service page a box
    naming no service books that service: editors place one box in a template-like way and it fits the page.
    """

    heading = blocks.CharBlock(
        label=_("Heading"),
        required=False,
        max_length=150,
        help_text=_("Leave empty to use the booking heading of the site settings."),
    )
    intro = blocks.TextBlock(
        label=_("Introduction"), required=False, help_text=_("Leave empty to use the site's booking introduction.")
    )
    category = ServiceCategoryChooserBlock(
        label=_("Category"),
        required=False,
        help_text=_("List only the services of this category. Leave empty for every category."),
    )
    service = ServiceChooserBlock(
        label=_("Service"),
        required=False,
        help_text=_("Start the booking at this service. Leave empty to let the visitor choose."),
    )
    professionals = blocks.ListBlock(
        ProfessionalChooserBlock(label=_("Professional")),
        label=_("Professionals"),
        default=[],
        max_num=MAX_TEAM,
        help_text=_("Book only with these professionals; leave empty for all."),
    )
    location = LocationChooserBlock(
        label=_("Location"),
        required=False,
        help_text=_("Book only sessions at this place (in person)."),
    )
    modality = blocks.ChoiceBlock(
        label=_("Modality"),
        choices=[("", _("In person or online"))] + list(AppointmentModality.choices),
        required=False,
    )
    allow_changes = blocks.BooleanBlock(
        label=_("Allow changes"),
        required=False,
        default=True,
        help_text=_("Visitors may choose another service or professional than the preselected one."),
    )
    show_prices = blocks.BooleanBlock(label=_("Show prices"), required=False, default=True)
    layout = blocks.ChoiceBlock(
        label=_("Layout"),
        choices=[("full", _("Full: service cards")), ("compact", _("Compact: a short list"))],
        default="full",
    )
    offer_packs = blocks.ChoiceBlock(
        label=_("Packs"),
        choices=[
            (PACKS_NONE, _("No packs")),
            (PACKS_PUBLIC, _("The public packs")),
            (PACKS_ONE, _("One pack, chosen below")),
        ],
        default=PACKS_NONE,
        required=False,
        help_text=_(
            "Also offer packs of sessions. On a service's page, or with a service chosen above, only the packs "
            "that include it."
        ),
    )
    pack = PackChooserBlock(
        label=_("Pack"),
        required=False,
        help_text=_("The pack this box offers when “One pack” is chosen. It must be active and public."),
    )

    class Meta:
        icon = "date"
        template = "blocks/booking_box.html"
        preview_template = "blocks/booking_box_preview.html"
        label = _("Booking box")
        description = _(
            "Lets visitors book a session: all services, or those of one category, service, professional or place"
        )
        preview_value = {
            "heading": "Agenda tu sesión",
            "intro": "Elige el servicio y te mostramos las horas libres.",
            "professionals": [],
            "allow_changes": True,
            "show_prices": True,
            "layout": "full",
        }

    @staticmethod
    def choices(value, page=None) -> BoxChoices:
        """The editor's choices, completed from ``page`` (a profile or a service page) where left empty."""
        named = list(value.get("professionals") or [])
        team = [member for member in named if member is not None and member.active]
        service = value.get("service")
        if page is not None:
            if not named and isinstance(page, apps.get_model("clinic", "ProfessionalPage")):
                team = [page.professional]
            if service is None and isinstance(page, apps.get_model("clinic", "ServicePage")):
                service = page.service
        location = value.get("location")
        return BoxChoices(
            service=service,
            category=value.get("category"),
            team=team,
            location=location,
            modality=AppointmentModality.IN_PERSON if location is not None else (value.get("modality") or ""),
            lock=service is not None and not value.get("allow_changes", True),
            gone=bool(named and not team) or (location is not None and not location.active),
        )

    @classmethod
    def filters(cls, value, page=None) -> dict[str, str]:
        """The editor's choices as the step pages' query parameters."""
        return cls.choices(value, page).filters()

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context=parent_context)
        choices = self.choices(value, context.get("page"))
        services = []
        if not choices.gone:
            # Two boxes with the same choices on one page (the page's own and an editor's) read the services once.
            services = memoise(
                context.get("request"),
                ("booking_box.services", getattr(choices.service, "pk", None), *sorted(choices.filters().items())),
                lambda: box_services(
                    service=choices.service,
                    professional=None,
                    location=choices.location,
                    modality=choices.modality,
                    category=choices.category,
                    team=choices.team,
                ),
            )
        start = reverse("widget:start")
        filters = choices.filters()
        context["service_links"] = [
            (service, f"{start}?{urlencode({'service': service.slug, **filters})}") for service in services
        ]
        context["fixed_service"] = choices.service is not None
        context["pack_links"] = self.pack_links(value, choices, context.get("request"))
        site_settings = _site_settings(context)
        context["heading"] = value.get("heading") or getattr(site_settings, "booking_heading", "")
        context["intro"] = value.get("intro") or getattr(site_settings, "booking_intro", "")
        return context

    @staticmethod
    def pack_links(value, choices: BoxChoices, request) -> list[tuple]:
        """(pack, what it includes, its page in the flow) for the packs the box offers: two queries, memoised."""
        mode = value.get("offer_packs") or PACKS_NONE
        if mode == PACKS_NONE:
            return []
        if mode == PACKS_ONE:
            chosen = value.get("pack")
            if chosen is None:
                return []
            key, load = ("booking_box.pack", chosen.pk), lambda: offered_packs(slugs=[chosen.slug])
        else:
            service = choices.service
            key = ("booking_box.packs", getattr(service, "pk", None))
            load = lambda: offered_packs(service=service)  # noqa: E731
        return pack_links(memoise(request, key, load))


def _site_settings(context):
    """The page's ``site_settings`` (context processor), else the request's site's; None outside a request."""
    if context.get("site_settings") is not None:
        return context["site_settings"]
    request = context.get("request")
    if request is None:
        return None
    from website.context_processors import _clinic_settings

    return _clinic_settings(request)
