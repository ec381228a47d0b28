"""The notification log ("Emails"), the rules by session number, and the dashboard's failures panel."""

from wagtail import hooks
from wagtail.snippets.models import register_snippet

from .admin_viewsets import SessionNumberRuleViewSet
from .admin_views import VIEW_PERMISSION, NotificationLogViewSet, RecentFailuresPanel

register_snippet(SessionNumberRuleViewSet)


@hooks.register("register_admin_viewset")
def register_notification_log():
    return NotificationLogViewSet()


@hooks.register("construct_homepage_panels")
def add_recent_failures_panel(request, panels):
    if request.user.has_perm(VIEW_PERMISSION):
        panels.append(RecentFailuresPanel(request))
