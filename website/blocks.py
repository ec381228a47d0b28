"""Shared StreamField blocks: every page body in the project is built from ``BaseStreamBlock``.

Apps that need their own blocks compose these in ``<app>/blocks.py``. The listing blocks
(services, professionals, latest posts) ask the other apps' selectors for their content
when the page renders, so editors place a block once and it stays up to date.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.blocks.struct_block import StructBlockValidationError
from wagtail.embeds.blocks import EmbedBlock
from wagtail.images.blocks import ImageBlock
from wagtail.rich_text import RichText

from booking.scheduling.choosers import ServiceCategoryChooserBlock, ServiceChooserBlock
from booking.widget.blocks import BookingBoxBlock
from website.request_cache import shared_reads

RICH_TEXT_FEATURES = ["h2", "h3", "h4", "bold", "italic", "ol", "ul", "link", "document-link", "hr"]
ANSWER_FEATURES = ["bold", "italic", "ol", "ul", "link", "document-link"]


def call_selector(selector, *, request=None, **kwargs) -> list:
    """Call another app's listing selector with the page's reads shared.

    With the page's ``request``, the selector's reads are shared by every block of the page
    (``website.request_cache``): five service lists cost one query. An error in the selector propagates: a
    listing that silently rendered empty would hide the breakage from everyone but the visitors.
    """
    with shared_reads(request):
        return list(selector(**kwargs))


class HeadingBlock(blocks.StructBlock):
    """A section heading. The level is explicit so headings stay in order for screen readers."""

    text = blocks.CharBlock(label=_("Text"), max_length=150)
    level = blocks.ChoiceBlock(
        label=_("Level"),
        choices=[("h2", _("Level 2 (section)")), ("h3", _("Level 3 (subsection)")), ("h4", _("Level 4"))],
        default="h2",
        help_text=_("The page title is level 1; use level 2 for sections and level 3 inside them."),
    )

    class Meta:
        icon = "title"
        template = "blocks/heading.html"
        label = _("Heading")
        description = _("A section heading")
        preview_value = {"text": "Cómo trabajamos", "level": "h2"}


class ParagraphBlock(blocks.RichTextBlock):
    """Formatted text: paragraphs, lists, links and sub-headings."""

    def __init__(self, features=None, **kwargs):
        super().__init__(features=features or RICH_TEXT_FEATURES, **kwargs)

    class Meta:
        icon = "pilcrow"
        template = "blocks/rich_text.html"
        label = _("Rich text")
        description = _("Paragraphs, lists and links")
        preview_value = RichText(
            "<p>Acompañamos a cada persona con un plan de trabajo <b>claro</b> y cercano.</p>"
            "<ul><li>Psicoterapia individual</li><li>Nutrición clínica</li></ul>"
        )


class ImageWithCaptionBlock(blocks.StructBlock):
    """An image with its alt text (or marked decorative) and an optional caption and credit."""

    image = ImageBlock(label=_("Image"))
    caption = blocks.CharBlock(label=_("Caption"), required=False, max_length=250)
    attribution = blocks.CharBlock(
        label=_("Credit"), required=False, max_length=150, help_text=_("Photographer or source, if required.")
    )

    class Meta:
        icon = "image"
        template = "blocks/image_with_caption.html"
        label = _("Image")
        description = _("An image with alt text and an optional caption")
        preview_value = {"caption": "Nuestra sala de espera", "attribution": ""}


class QuoteBlock(blocks.StructBlock):
    """A highlighted quotation, e.g. a patient's testimony, with who said it."""

    text = blocks.TextBlock(label=_("Quote"))
    attribution = blocks.CharBlock(label=_("Attribution"), required=False, max_length=150)

    class Meta:
        icon = "openquote"
        template = "blocks/quote.html"
        label = _("Quote")
        description = _("A quotation with its author")
        preview_value = {
            "text": "Me sentí escuchada desde la primera sesión.",
            "attribution": "Paciente de psicoterapia",
        }


class CallToActionBlock(blocks.StructBlock):
    """A short invitation with a button to a page of the site or an external address."""

    title = blocks.CharBlock(label=_("Title"), max_length=150)
    text = blocks.TextBlock(label=_("Text"), required=False)
    button_label = blocks.CharBlock(label=_("Button label"), max_length=60)
    page = blocks.PageChooserBlock(label=_("Page"), required=False)
    url = blocks.URLBlock(label=_("External URL"), required=False, help_text=_("Used only when no page is chosen."))

    class Meta:
        icon = "pick"
        template = "blocks/call_to_action.html"
        label = _("Call to action")
        description = _("A highlighted box with a button")
        preview_value = {
            "title": "¿Quieres agendar una primera sesión?",
            "text": "Te ayudamos a encontrar al profesional adecuado.",
            "button_label": "Agendar",
            "url": "https://example.com/",
        }

    def clean(self, value):
        value = super().clean(value)
        if bool(value.get("page")) == bool(value.get("url")):
            message = _("Choose either a page or an external URL for the button.")
            raise StructBlockValidationError(block_errors={"page": ValidationError(message)})
        return value


class FAQItemBlock(blocks.StructBlock):
    """One question and its answer."""

    question = blocks.CharBlock(label=_("Question"), max_length=250)
    answer = ParagraphBlock(label=_("Answer"), features=ANSWER_FEATURES)

    class Meta:
        icon = "help"
        label = _("Question")


class FAQBlock(blocks.StructBlock):
    """Frequently asked questions, rendered as an accordion that works without JavaScript."""

    heading = blocks.CharBlock(label=_("Heading"), required=False, max_length=150)
    items = blocks.ListBlock(FAQItemBlock(), label=_("Questions"), min_num=1)

    class Meta:
        icon = "help"
        template = "blocks/faq.html"
        label = _("FAQ")
        description = _("Questions and answers that open on click")
        preview_value = {
            "heading": "Preguntas frecuentes",
            "items": [
                {"question": "¿Cuánto dura una sesión?", "answer": RichText("<p>Cincuenta minutos.</p>")},
                {"question": "¿Atienden online?", "answer": RichText("<p>Sí, por videollamada.</p>")},
            ],
        }


class MediaEmbedBlock(blocks.StructBlock):
    """A video or other media from YouTube, Vimeo and similar, by its address."""

    embed = EmbedBlock(label=_("Address"), help_text=_("E.g. https://www.youtube.com/watch?v=…"))
    caption = blocks.CharBlock(label=_("Caption"), required=False, max_length=250)

    class Meta:
        icon = "media"
        template = "blocks/embed.html"
        label = _("Embed")
        description = _("A YouTube or Vimeo video")
        # No preview value: rendering one would fetch the provider over the network.


class ServicesListBlock(blocks.StructBlock):
    """Cards of the published services, optionally of one category."""

    heading = blocks.CharBlock(label=_("Heading"), required=False, max_length=150)
    category = ServiceCategoryChooserBlock(
        label=_("Category"),
        required=False,
        help_text=_("Leave empty to list every service."),
    )
    limit = blocks.IntegerBlock(
        label=_("Maximum number"), required=False, min_value=1, max_value=24, help_text=_("Leave empty for all.")
    )

    class Meta:
        icon = "list-ul"
        template = "blocks/services_list.html"
        label = _("Services list")
        description = _("Cards of the clinic's services")
        preview_value = {"heading": "Nuestros servicios"}

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context=parent_context)
        from website.clinic.selectors import service_listing  # on render: website.clinic.models imports this module

        context["service_pages"] = call_selector(
            service_listing,
            request=context.get("request"),
            category=value.get("category"),
            limit=value.get("limit"),
        )
        return context


class ProfessionalsGridBlock(blocks.StructBlock):
    """Cards of the published professionals, optionally only those offering one service."""

    heading = blocks.CharBlock(label=_("Heading"), required=False, max_length=150)
    service = ServiceChooserBlock(
        label=_("Service"),
        required=False,
        help_text=_("Leave empty to show every professional."),
    )
    limit = blocks.IntegerBlock(
        label=_("Maximum number"), required=False, min_value=1, max_value=48, help_text=_("Leave empty for all.")
    )

    class Meta:
        icon = "group"
        template = "blocks/professionals_grid.html"
        label = _("Professionals grid")
        description = _("Cards of the clinic's professionals")
        preview_value = {"heading": "Nuestro equipo"}

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context=parent_context)
        from website.clinic.selectors import professional_listing  # on render, as above

        context["professional_pages"] = call_selector(
            professional_listing,
            request=context.get("request"),
            service=value.get("service"),
            limit=value.get("limit"),
        )
        return context


class LatestPostsBlock(blocks.StructBlock):
    """The most recent blog posts."""

    heading = blocks.CharBlock(label=_("Heading"), required=False, max_length=150)
    number_of_posts = blocks.IntegerBlock(label=_("Number of posts"), default=3, min_value=1, max_value=12)

    class Meta:
        icon = "doc-full"
        template = "blocks/latest_posts.html"
        label = _("Latest posts")
        description = _("The newest blog posts")
        preview_value = {"heading": "Del blog", "number_of_posts": 3}

    def get_context(self, value, parent_context=None):
        context = super().get_context(value, parent_context=parent_context)
        from blog.selectors import latest_posts  # on render: blog.models imports this module

        context["posts"] = call_selector(
            latest_posts, request=context.get("request"), limit=value.get("number_of_posts") or 3
        )
        return context


class BaseStreamBlock(blocks.StreamBlock):
    """The blocks every page body may use."""

    heading = HeadingBlock()
    paragraph = ParagraphBlock()
    image = ImageWithCaptionBlock()
    quote = QuoteBlock()
    call_to_action = CallToActionBlock()
    faq = FAQBlock()
    embed = MediaEmbedBlock()
    services_list = ServicesListBlock()
    professionals_grid = ProfessionalsGridBlock()
    latest_posts = LatestPostsBlock()
    booking_box = BookingBoxBlock()
