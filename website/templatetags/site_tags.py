"""Small helpers for the site's layout templates."""

from django import template
from django.contrib.messages import constants

register = template.Library()

ALERT_CLASSES = {
    constants.DEBUG: "secondary",
    constants.INFO: "info",
    constants.SUCCESS: "success",
    constants.WARNING: "warning",
    constants.ERROR: "danger",
}


@register.filter
def alert_class(message):
    """The Bootstrap alert variant for a django.contrib.messages message."""
    return ALERT_CLASSES.get(getattr(message, "level", None), "info")
