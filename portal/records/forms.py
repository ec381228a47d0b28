"""The staff's form that shares a document from an appointment's admin page."""

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import ALLOWED_EXTENSIONS, DocumentKind


class ShareDocumentForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=DocumentKind.choices)
    title = forms.CharField(label=_("Title"), max_length=200, help_text=_("What the patient sees in their portal."))
    message = forms.CharField(
        label=_("Message to the patient"), required=False, max_length=2000, widget=forms.Textarea({"rows": 2})
    )
    file = forms.FileField(
        label=_("File"),
        help_text=_("PDF, JPG or PNG, up to 10 MB."),
        widget=forms.ClearableFileInput({"accept": ",".join(f".{extension}" for extension in ALLOWED_EXTENSIONS)}),
    )
