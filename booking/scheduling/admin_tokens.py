"""API tokens in the Wagtail admin: who has one, issue a new one, revoke one.

A token lets a program call the booking API as its user (``Authorization: Token <key>``). The key is shown once,
on the page that issues it, and never in a listing or a URL (rows are addressed by the user's id), so it does not
end up in browser history or server logs. ``manage.py api_token`` does the same from a shell.

Permissions are Django REST framework's own: ``authtoken.view_token`` to see the list, ``add_token`` to issue,
``delete_token`` to revoke (superusers have them; no role group gets them by default).
"""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse, reverse_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.generic import View
from rest_framework.authtoken.models import Token
from wagtail.admin.menu import MenuItem
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.viewsets.base import ViewSet

VIEW_TOKENS = "authtoken.view_token"
ADD_TOKEN = "authtoken.add_token"
DELETE_TOKEN = "authtoken.delete_token"


class IssueTokenForm(forms.Form):
    email = forms.EmailField(label=_("Email of the user"), max_length=254)

    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        users = list(get_user_model().objects.filter(email__iexact=email)[:2])
        if len(users) != 1:
            raise forms.ValidationError(_("There is no user with that email."), code="unknown_user")
        if not users[0].is_active:
            raise forms.ValidationError(
                _("That account is deactivated: a token would not work."), code="inactive_user"
            )
        self.user = users[0]
        return email


def issue_token(user) -> Token:
    """A new key for ``user``, replacing any previous one (which stops working at once)."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        return Token.objects.create(user=user)


class ApiTokenIndexView(WagtailAdminTemplateMixin, View):
    """The list of users with a token; POST issues a new token and shows its key on this page, once."""

    template_name = "scheduling/admin/api_tokens.html"
    page_title = _("API tokens")
    header_icon = "key"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm(VIEW_TOKENS):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get_breadcrumbs_items(self):
        return [*self.breadcrumbs_items, {"url": "", "label": self.get_page_title()}]

    def render_page(self, form, issued=None):
        user = self.request.user
        tokens = Token.objects.select_related("user").order_by("user__email")
        context = self.get_context_data(
            form=form,
            issued=issued,
            tokens=tokens,
            can_add=user.has_perm(ADD_TOKEN),
            can_delete=user.has_perm(DELETE_TOKEN),
        )
        return self.render_to_response(context)

    def get(self, request):
        return self.render_page(IssueTokenForm())

    def post(self, request):
        if not request.user.has_perm(ADD_TOKEN):
            raise PermissionDenied
        form = IssueTokenForm(request.POST)
        if not form.is_valid():
            return self.render_page(form)
        token = issue_token(form.user)
        # Rendered, not redirected: the key must not travel through the session's message storage.
        return self.render_page(IssueTokenForm(), issued=token)


class ApiTokenRevokeView(View):
    http_method_names = ["post"]

    def post(self, request, user_id):
        if not request.user.has_perm(DELETE_TOKEN):
            raise PermissionDenied
        token = get_object_or_404(Token.objects.select_related("user"), user_id=user_id)
        email = token.user.email
        token.delete()
        messages.success(request, gettext("The API token of %(email)s was revoked.") % {"email": email})
        return HttpResponseRedirect(reverse("clinic_api_tokens:index"))


class ApiTokenMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm(VIEW_TOKENS)


class ApiTokenViewSet(ViewSet):
    """The "API tokens" screen in the "Clinic" menu."""

    name = "clinic_api_tokens"
    url_prefix = "clinic/api-tokens"
    icon = "key"
    menu_label = _("API tokens")
    menu_name = "api_tokens"
    menu_url = reverse_lazy("clinic_api_tokens:index")
    menu_item_class = ApiTokenMenuItem
    menu_order = 900

    def get_urlpatterns(self):
        return [
            path("", ApiTokenIndexView.as_view(), name="index"),
            path("<int:user_id>/revoke/", ApiTokenRevokeView.as_view(), name="revoke"),
        ]
