from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.permission_policies import ModelPermissionPolicy
from wagtail.permissions import register_permission_policy

from . import admin_views
from .models import NoteAccess

app_name = "records_admin"
urlpatterns = [
    path("appointments/<slug:reference>/share/", admin_views.share, name="share"),
    path("<slug:reference>/withdraw/", admin_views.withdraw, name="withdraw"),
]


@hooks.register("register_admin_urls")
def register_records_urls():
    return [path("records/documents/", include((urlpatterns, "records_admin"), namespace="records_admin"))]


class ViewOnlyPolicy(ModelPermissionPolicy):
    """Nobody adds, edits or deletes a log entry, superusers included: only "view" is ever granted."""

    def user_has_permission(self, user, action):
        return action == "view" and super().user_has_permission(user, action)


register_permission_policy(NoteAccess, ViewOnlyPolicy(NoteAccess))


class NoteAccessViewSet(ModelViewSet):
    """The access log of the session notes, for the clinic administrators (``records.view_noteaccess``): read only,
    the permissions of the model are only "view"."""

    model = NoteAccess
    icon = "history"
    menu_label = _("Note access log")
    add_to_admin_menu = True
    menu_order = 900
    list_display = ["at", "user", "action", "note"]
    list_filter = ["action"]
    inspect_view_enabled = True
    ordering = ["-at", "-pk"]
    form_fields = ["action"]  # Wagtail builds the edit views; ViewOnlyPolicy lets nobody reach them


@hooks.register("register_admin_viewset")
def register_note_access_log():
    return NoteAccessViewSet("note_access_log")
