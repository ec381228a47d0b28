"""Admin screens for resource snippets, and the guard that keeps patients-only documents private."""

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from resources.models import Audience, ResourceCategory, ResourcePage


class ResourceCategoryViewSet(SnippetViewSet):
    model = ResourceCategory
    icon = "folder-open-inverse"
    menu_label = _("Resource categories")
    menu_order = 310
    add_to_admin_menu = True
    list_display = ["name", "slug"]
    search_fields = ["name"]


register_snippet(ResourceCategoryViewSet)


@hooks.register("before_serve_document")
def require_login_for_patients_only_documents(document, request):
    """Send anonymous visitors to log in before downloading a document shared on a patients-only resource.

    Without this, the page would be protected but its file could still be fetched by anyone with the
    /documents/<id>/<filename> address. A document linked from any live patients-only resource is protected,
    even if a public resource links it too: keeping it private is the safer mistake.
    """
    if request.user.is_authenticated:
        return None
    is_protected = ResourcePage.objects.live().filter(document=document, audience=Audience.PATIENTS).exists()
    if is_protected:
        return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
    return None
