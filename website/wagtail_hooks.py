"""Admin screens of the site shell: the professionals' news snippet."""

from django.utils.translation import gettext_lazy as _
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from website.models import ProfessionalNews


class ProfessionalNewsViewSet(SnippetViewSet):
    model = ProfessionalNews
    icon = "info-circle"
    menu_label = _("News for professionals")
    menu_order = 320
    add_to_admin_menu = True
    list_display = ["title", "show_from", "show_until"]
    search_fields = ["title"]


register_snippet(ProfessionalNewsViewSet)
