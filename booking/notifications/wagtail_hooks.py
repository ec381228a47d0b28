"""The notifications admin: the email templates (a snippet with revisions and drafts: only the live version is
sent), the rules by session number, the email log ("Emails") and the dashboard's failures panel."""

from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from .admin_views import VIEW_PERMISSION, NotificationLogViewSet, RecentFailuresPanel
from .admin_viewsets import SessionNumberRuleViewSet
from .models import NotificationTemplate


class NotificationTemplateViewSet(SnippetViewSet):
    model = NotificationTemplate
    icon = "mail"
    menu_label = _("Email templates")
    list_display = ["event", "audience", "language", "live"]
    list_filter = ["event", "audience", "language"]


register_snippet(NotificationTemplateViewSet)
register_snippet(SessionNumberRuleViewSet)


@hooks.register("register_admin_viewset")
def register_notification_log():
    return NotificationLogViewSet()


@hooks.register("construct_homepage_panels")
def add_recent_failures_panel(request, panels):
    if request.user.has_perm(VIEW_PERMISSION):
        panels.append(RecentFailuresPanel(request))
