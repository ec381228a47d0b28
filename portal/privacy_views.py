"""The patient's "my data" page: download everything the clinic holds about them (JSON and a readable PDF) and
close the account. Only the logged-in user's own data; closing is a POST with an explicit confirmation."""

import json

from allauth.account.decorators import verified_email_required
from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from . import privacy


class CloseAccountForm(forms.Form):
    confirm = forms.BooleanField(
        label=gettext_lazy("I understand that closing my account cannot be undone."),
        error_messages={"required": gettext_lazy("Tick the box to confirm that you want to close your account.")},
    )


def _filename(extension: str) -> str:
    return f"my-data-{timezone.localdate():%Y-%m-%d}.{extension}"


def _download(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@never_cache
@verified_email_required
@require_GET
def my_data(request):
    now = timezone.now()
    context = {"blockers": privacy.closure_blockers(request.user, now=now), "form": CloseAccountForm()}
    return render(request, "portal/privacy.html", context)


@never_cache
@verified_email_required
@require_GET
def export_json(request):
    data = privacy.export_data(request.user)
    content = json.dumps(data, ensure_ascii=False, indent=2).encode()
    return _download(content, "application/json", _filename("json"))


@never_cache
@verified_email_required
@require_GET
def export_pdf(request):
    from weasyprint import HTML

    html = render_to_string("portal/privacy_export_pdf.html", {"data": privacy.export_data(request.user)})
    return _download(HTML(string=html).write_pdf(), "application/pdf", _filename("pdf"))


@verified_email_required
@require_POST
def close_account(request):
    form = CloseAccountForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(error) for error in form.errors.get("confirm", [])))
        return redirect("portal:privacy")
    try:
        privacy.close_account(user=request.user)
    except privacy.ClosureRefused as refused:
        messages.error(request, refused.message)
        return redirect("portal:privacy")
    logout(request)
    messages.success(
        request, _("Your account is closed. What the law requires us to keep is kept; the rest was erased.")
    )
    return redirect("/")
