"""A StreamField block that picks a row of a plain Django model; its own module so apps' blocks can use it
without importing ``website.blocks`` (which composes those apps' blocks into BaseStreamBlock)."""

from django import forms
from wagtail import blocks


class ModelChoiceBlock(blocks.ChooserBlock):
    """Choose a row of a plain Django model from a drop-down (for short lists such as categories).

    Wagtail's chooser blocks need a chooser modal (pages, images, snippets); the clinic's
    catalog models are plain models with a handful of rows, so a select box is enough.
    """

    widget = forms.Select

    def __init__(self, target_model, **kwargs):
        self.target_model = target_model
        super().__init__(**kwargs)

    def get_form_state(self, value):
        return blocks.FieldBlock.get_form_state(self, value)
