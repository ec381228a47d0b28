"""The booking box: a StreamField block an editor places on any page to start a booking.

It lists the services to book (or starts at a fixed one) and links into the step pages at ``/booking/``
(``views.py``) with the editor's filters in the query string. The box itself stays small and cacheable: it
reads the services in one query and never asks for free times; the date step does.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from wagtail import blocks

from booking.scheduling.models import AppointmentModality
from website.model_choice_block import ModelChoiceBlock

from .selectors import box_services


class BookingBoxBlock(blocks.StructBlock):
    """A box that starts a booking, optionally narrowed to one service, professional, place or modality."""

    heading = blocks.CharBlock(
        label=_("Heading"),
        required=False,
        max_length=150,
        help_text=_("Leave empty to use the booking heading of the site settings."),
    )
    intro = blocks.TextBlock(
        label=_("Introduction"), required=False, help_text=_("Leave empty to use the site's booking introduction.")
    )
    service = ModelChoiceBlock(
        "scheduling.Service",
        label=_("Service"),
        required=False,
        help_text=_("Start the booking at this service. Leave empty to let the patient choose."),
    )
    professional = ModelChoiceBlock(
        "scheduling.Professional",
        label=_("Professional"),
        required=False,
        help_text=_("Book only with this professional. Leave empty for every professional."),
    )
    location = ModelChoiceBlock(
        "scheduling.Location",
        label=_("Location"),
        required=False,
        help_text=_("Book only sessions at this place (in person)."),
    )
    modality = blocks.ChoiceBlock(
        label=_("Modality"),
        choices=[("", _("In person or online"))] + list(AppointmentModality.choices),
        required=False,
    )
    show_prices = blocks.BooleanBlock(label=_("Show prices"), required=False, default=True)
    layout = blocks.ChoiceBlock(
        label=_("Layout"),
        choices=[("full", _("Full: service cards")), ("compact", _("Compact: a short list"))],
        default="full",
    )

    class Meta:
        icon = "date"
        template = "blocks/booking_box.html"
        label = _("Booking box")
        description = _("Lets visitors book a session, optionally of one service or with one professional")
        preview_value = {"heading": "Agenda tu sesión", "show_prices": True, "layout": "full"}

    @staticmethod
    def filters(value) -> dict[str, str]:
        """The editor's choices as the step pages' query parameters."""
        location = value.get("location")
        modality = AppointmentModality.IN_PERSON if location is not None else (value.get("modality") or "")
        values = {
            "professional": value["professional"].slug if value.get("professional") else "",
            "location": location.slug if location is not None else "",
            "modality": modality,
        }
        return {key: item for key, item in values.items() if item}

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context=parent_context)
        filters = self.filters(value)
        services = box_services(
            service=value.get("service"),
            professional=value.get("professional"),
            location=value.get("location"),
            modality=filters.get("modality", ""),
        )
        start = reverse("widget:start")
        context["service_links"] = [
            (service, f"{start}?{urlencode({'service': service.slug, **filters})}") for service in services
        ]
        context["fixed_service"] = value.get("service") is not None
        site_settings = _site_settings(context)
        context["heading"] = value.get("heading") or getattr(site_settings, "booking_heading", "")
        context["intro"] = value.get("intro") or getattr(site_settings, "booking_intro", "")
        return context


def _site_settings(context):
    """The page's ``site_settings`` (context processor), else the request's site's; None outside a request."""
    if context.get("site_settings") is not None:
        return context["site_settings"]
    request = context.get("request")
    if request is None:
        return None
    from website.context_processors import _clinic_settings

    return _clinic_settings(request)
