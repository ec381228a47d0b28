"""The editors' rules "after the Nth session, send this email" as a Wagtail snippet screen.

Plain rows (no revisions: the email's words are the ``session_number`` templates'; a rule adds one paragraph).
Model permissions apply (``notifications.add_sessionnumberrule`` and friends); two rules for the same service and
number are refused by the form with a message, as the database would.
"""

from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.admin.ui.tables import BooleanColumn, Column
from wagtail.snippets.views.snippets import SnippetViewSet

from .web_models import SessionNumberRule


def _rule_service(rule):
    return rule.service.name if rule.service else _("Any service")


class SessionNumberRuleViewSet(SnippetViewSet):
    model = SessionNumberRule
    icon = "list-ol"
    menu_label = _("Emails by session number")
    url_prefix = "notifications/session-number-rules"
    add_to_admin_menu = False
    list_display = [
        "name",
        Column("service", label=_("Service"), accessor=_rule_service),
        "session_number",
        BooleanColumn("active", label=_("Active"), sort_key="active"),
    ]
    list_filter = ["active"]
    ordering = ["session_number", "pk"]
    panels = [
        FieldPanel("name"),
        FieldPanel("service"),
        FieldPanel("session_number"),
        FieldPanel("message_es"),
        FieldPanel("message_en"),
        FieldPanel("active"),
    ]

    def get_queryset(self, request):
        return SessionNumberRule.objects.select_related("service")
