"""Small pieces other apps' pages include: the profile's email preference, an appointment's emails in the admin."""

from django import template

from ..forms import EmailPreferencesForm
from ..preferences import non_essential_email_enabled

register = template.Library()


@register.inclusion_tag("notifications/includes/email_preferences.html", takes_context=True)
def email_preferences_form(context):
    """The "emails after my sessions" box for the logged-in user (one query)."""
    user = context["request"].user
    form = EmailPreferencesForm(initial={"non_essential_email": non_essential_email_enabled(user)})
    return {"form": form, "request": context["request"]}
