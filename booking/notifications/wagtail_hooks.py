"""Editors customise a message as a snippet with revisions and drafts: only the live version is sent."""

from django.utils.translation import gettext_lazy as _
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from .models import NotificationTemplate


class NotificationTemplateViewSet(SnippetViewSet):
    model = NotificationTemplate
    icon = "mail"
    menu_label = _("Email templates")
    list_display = ["event", "audience", "language", "live"]
    list_filter = ["event", "audience", "language"]


register_snippet(NotificationTemplateViewSet)
