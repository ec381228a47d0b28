from django.urls import include, path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail import hooks
from wagtail.admin.menu import MenuItem
from wagtail.admin.viewsets.model import ModelViewSet
from wagtail.permission_policies import ModelPermissionPolicy
from wagtail.permissions import register_permission_policy

from . import admin_views, notes, record_views
from .models import Discharge, NoteAccess, Referral

app_name = "records_admin"
urlpatterns = [
    path("appointments/<slug:reference>/share/", admin_views.share, name="share"),
    path("<slug:reference>/withdraw/", admin_views.withdraw, name="withdraw"),
]


clinical_urlpatterns = [
    path("", record_views.patients, name="patients"),
    path("<int:patient_id>/", record_views.record, name="record"),
]


@hooks.register("register_admin_urls")
def register_records_urls():
    return [
        path("records/documents/", include((urlpatterns, "records_admin"), namespace="records_admin")),
        path("records/clinical/", include((clinical_urlpatterns, "records_clinical"), namespace="records_clinical")),
    ]


class ClinicalRecordsMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm(notes.READ_PERMISSION)


@hooks.register("register_admin_menu_item")
def register_clinical_records_menu_item():
    return ClinicalRecordsMenuItem(
        _("Clinical records"), reverse("records_clinical:patients"), icon_name="doc-full-inverse", order=890
    )


class ViewOnlyPolicy(ModelPermissionPolicy):
    """Nobody adds, edits or deletes a log entry, superusers included: only "view" is ever granted."""

    def user_has_permission(self, user, action):
        return action == "view" and super().user_has_permission(user, action)


register_permission_policy(NoteAccess, ViewOnlyPolicy(NoteAccess))
register_permission_policy(Discharge, ViewOnlyPolicy(Discharge))
register_permission_policy(Referral, ViewOnlyPolicy(Referral))


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


class DischargeViewSet(ModelViewSet):
    """Who was discharged by whom and when, so the front desk knows why a patient cannot book a professional by
    themselves (they book them through the clinic). Read only; the summary is clinical and never listed here."""

    model = Discharge
    icon = "logout"
    menu_label = _("Discharges")
    add_to_admin_menu = True
    menu_order = 891
    list_display = ["date", "patient", "professional", "created_at"]
    list_filter = ["professional"]
    search_fields = ["patient__user__first_name", "patient__user__last_name", "patient__rut"]
    inspect_view_enabled = False  # its fields hold the encrypted summary
    ordering = ["-date", "-pk"]
    form_fields = ["date"]  # Wagtail builds the edit views; ViewOnlyPolicy lets nobody reach them


class ReferralViewSet(ModelViewSet):
    """Referrals between professionals (and to services): who, to whom, when. Read only; the note for the receiver
    is clinical and never listed here."""

    model = Referral
    icon = "redirect"
    menu_label = _("Referrals")
    add_to_admin_menu = True
    menu_order = 892
    list_display = ["created_at", "patient", "from_professional", "to_professional", "to_service"]
    list_filter = ["to_professional", "from_professional"]
    search_fields = ["patient__user__first_name", "patient__user__last_name", "patient__rut"]
    inspect_view_enabled = False  # its fields hold the encrypted note
    ordering = ["-created_at", "-pk"]
    form_fields = ["share_notes"]


@hooks.register("register_admin_viewset")
def register_discharges():
    return DischargeViewSet("discharges")


@hooks.register("register_admin_viewset")
def register_referrals():
    return ReferralViewSet("referrals")
