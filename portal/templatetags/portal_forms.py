"""Render form widgets with Bootstrap classes and the ARIA attributes that tie them to help and errors.

Used by the allauth element templates (``templates/allauth/elements/fields.html``) and the portal's
own forms through ``templates/portal/includes/form_field.html``, so every form looks and reads alike.
"""

from django import forms, template

register = template.Library()

_CHECK_WIDGETS = (forms.CheckboxInput,)
_SELECT_WIDGETS = (forms.Select, forms.SelectMultiple)
_CHOICE_LIST_WIDGETS = (forms.RadioSelect, forms.CheckboxSelectMultiple)


def _widget_class(widget) -> str:
    if isinstance(widget, _CHECK_WIDGETS):
        return "form-check-input"
    if isinstance(widget, _CHOICE_LIST_WIDGETS):
        return ""
    if isinstance(widget, _SELECT_WIDGETS):
        return "form-select"
    return "form-control"


@register.filter
def field_kind(bound_field) -> str:
    """ "hidden", "check" (a single checkbox), "choices" (radio/checkbox list) or "input"."""
    widget = bound_field.field.widget
    if bound_field.is_hidden:
        return "hidden"
    if isinstance(widget, _CHECK_WIDGETS):
        return "check"
    if isinstance(widget, _CHOICE_LIST_WIDGETS):
        return "choices"
    return "input"


@register.filter
def help_id(bound_field) -> str:
    return f"{bound_field.auto_id or bound_field.html_name}_helptext"


@register.filter
def errors_id(bound_field) -> str:
    return f"{bound_field.auto_id or bound_field.html_name}_errors"


@register.simple_tag
def bootstrap_widget(bound_field, placeholder=""):
    """The field's widget with Bootstrap classes, aria-invalid and aria-describedby (help text, errors)."""
    widget = bound_field.field.widget
    classes = [widget.attrs.get("class", ""), _widget_class(widget)]
    attrs = {}
    described_by = []
    if bound_field.help_text:
        described_by.append(help_id(bound_field))
    if bound_field.errors:
        classes.append("is-invalid")
        attrs["aria-invalid"] = "true"
        described_by.append(errors_id(bound_field))
    if described_by:
        attrs["aria-describedby"] = " ".join(described_by)
    if placeholder and "placeholder" not in widget.attrs:
        attrs["placeholder"] = placeholder
    css = " ".join(c for c in classes if c).strip()
    if css:
        attrs["class"] = css
    return bound_field.as_widget(attrs=attrs)
