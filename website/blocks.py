"""Shared StreamField blocks (expanded by the website work)."""

from django.utils.translation import gettext_lazy as _
from wagtail import blocks


class BaseStreamBlock(blocks.StreamBlock):
    """The blocks every page body may use."""

    heading = blocks.CharBlock(label=_("Heading"), icon="title")
    paragraph = blocks.RichTextBlock(label=_("Rich text"), icon="pilcrow")
