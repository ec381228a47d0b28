"""Forms: allauth's signup with the clinic's extra fields and consents, and the patient profile."""

from __future__ import annotations

from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.core import context as allauth_context
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone, translation
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import ConsentRecord, Patient
from .rut import rut_or_none
from .services import legal_documents, register_patient


def _language_choices():
    return [(code, name) for code, name in settings.LANGUAGES]


def _current_language() -> str:
    codes = {code for code, _name in settings.LANGUAGES}
    language = (translation.get_language() or "").lower()
    return language if language in codes else settings.LANGUAGE_CODE


def _consent_label(url: str | None, *, linked: str, plain: str):
    """The checkbox label, linking to the document when the site settings name a published page."""
    if url:
        return format_html(linked, url=url)
    return plain


class SignupForm(AllauthSignupForm):
    """allauth's signup (email + password) plus names, language, phone and the two consents."""

    first_name = forms.CharField(
        label=_("First name"), max_length=150, widget=forms.TextInput({"autocomplete": "given-name"})
    )
    last_name = forms.CharField(
        label=_("Last name"), max_length=150, widget=forms.TextInput({"autocomplete": "family-name"})
    )
    preferred_language = forms.ChoiceField(
        label=_("Preferred language"),
        choices=_language_choices,
        help_text=_("We write to you and show the site in this language."),
    )
    phone = forms.CharField(
        label=_("Phone (optional)"),
        max_length=32,
        required=False,
        widget=forms.TextInput({"autocomplete": "tel", "inputmode": "tel"}),
    )
    accept_privacy = forms.BooleanField(
        required=True,
        error_messages={"required": _("You must accept the privacy policy to create an account.")},
    )
    accept_terms = forms.BooleanField(
        required=True,
        error_messages={"required": _("You must accept the terms of service to create an account.")},
    )

    field_order = [
        "first_name",
        "last_name",
        "email",
        "password1",
        "password2",
        "preferred_language",
        "phone",
        "accept_privacy",
        "accept_terms",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = getattr(allauth_context, "request", None)
        self.legal_documents = legal_documents(request)
        privacy = self.legal_documents[ConsentRecord.Document.PRIVACY]
        terms = self.legal_documents[ConsentRecord.Document.TERMS]
        self.fields["accept_privacy"].label = _consent_label(
            privacy.url,
            linked=gettext('I have read and accept the <a href="{url}" target="_blank">privacy policy</a>.'),
            plain=gettext("I have read and accept the privacy policy."),
        )
        self.fields["accept_terms"].label = _consent_label(
            terms.url,
            linked=gettext('I accept the <a href="{url}" target="_blank">terms of service</a>.'),
            plain=gettext("I accept the terms of service."),
        )
        self.fields["preferred_language"].initial = _current_language()
        self.fields["email"].widget.attrs.pop("placeholder", None)

    def signup(self, request, user):
        """Called by allauth once the user row exists (names and email are already saved)."""
        from allauth.account.adapter import get_adapter

        register_patient(
            user,
            phone=self.cleaned_data.get("phone", "").strip(),
            preferred_language=self.cleaned_data["preferred_language"],
            accepted_documents=self.legal_documents,
            ip_address=get_adapter(request).get_client_ip(request) if request else None,
        )


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class ProfileForm(forms.Form):
    """What a patient edits about themselves. The RUT is normalised; ``update_profile`` keeps it unique."""

    first_name = forms.CharField(
        label=_("First name"), max_length=150, widget=forms.TextInput({"autocomplete": "given-name"})
    )
    last_name = forms.CharField(
        label=_("Last name"), max_length=150, widget=forms.TextInput({"autocomplete": "family-name"})
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=32,
        required=False,
        widget=forms.TextInput({"autocomplete": "tel", "inputmode": "tel"}),
    )
    preferred_language = forms.ChoiceField(label=_("Preferred language"), choices=_language_choices)
    rut = forms.CharField(
        label=_("RUT"),
        max_length=20,
        required=False,
        help_text=_("Chilean national ID, for example 12.345.678-5. Optional."),
    )
    birth_date = forms.DateField(label=_("Birth date"), required=False, widget=DateInput({"autocomplete": "bday"}))
    emergency_contact_name = forms.CharField(label=_("Emergency contact name"), max_length=150, required=False)
    emergency_contact_phone = forms.CharField(
        label=_("Emergency contact phone"), max_length=32, required=False, widget=forms.TextInput({"inputmode": "tel"})
    )

    def __init__(self, *args, patient: Patient, **kwargs):
        self.patient = patient
        user = patient.user
        kwargs.setdefault(
            "initial",
            {
                "first_name": user.first_name,
                "last_name": user.last_name,
                "phone": user.phone or patient.phone,
                "preferred_language": user.preferred_language,
                "rut": patient.rut or "",
                "birth_date": patient.birth_date,
                "emergency_contact_name": patient.emergency_contact_name,
                "emergency_contact_phone": patient.emergency_contact_phone,
            },
        )
        super().__init__(*args, **kwargs)

    def clean_rut(self):
        """The RUT's format only: whether another patient has it is never said here (``update_profile``)."""
        return rut_or_none(self.cleaned_data.get("rut"))

    def clean_birth_date(self):
        birth_date = self.cleaned_data.get("birth_date")
        if birth_date and birth_date > timezone.localdate():
            raise ValidationError(_("The birth date cannot be in the future."), code="birth_date_future")
        return birth_date

    def clean_first_name(self):
        return self.cleaned_data["first_name"].strip()

    def clean_last_name(self):
        return self.cleaned_data["last_name"].strip()
