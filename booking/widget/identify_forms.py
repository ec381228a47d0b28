"""The booking box's "new here?" form: the portal's signup without a password, with phone and optional RUT.

A visitor booking a session should not have to invent a password first: the account gets an unusable password
(allauth's adapter does that when the form has no ``password1``) and the patient proves the address with the
emailed code; later visits sign in with a code or set a password from the portal. Everything else (names,
consents, the patient profile) is the portal's ``SignupForm``, so both ways in create the same kind of account.
"""

from __future__ import annotations

import logging
import re

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row
from django import forms
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from portal.accounts.forms import SignupForm
from portal.accounts.models import Patient
from portal.accounts.rut import rut_or_none
from portal.accounts.services import ensure_patient

logger = logging.getLogger(__name__)

#: Digits with the usual separators and an optional leading "+"; at least eight digits in all.
PHONE_PATTERN = re.compile(r"^\+?[\d\s().-]+$")
MIN_PHONE_DIGITS = 8


def _page_language() -> str:
    """The language the visitor is reading the page in, if the site offers it (else the site's default)."""
    codes = {code for code, _name in settings.LANGUAGES}
    language = (translation.get_language() or "").lower()
    return language if language in codes else settings.LANGUAGE_CODE


class BookingSignupForm(SignupForm):
    """Name, email, phone (required: the clinic must be able to reach a new patient) and an optional RUT.

    The RUT is checked for format only. Whether another patient already has it is NOT said here: that would
    tell a stranger that a given person is a patient of the clinic. A RUT already taken is simply not stored
    (logged at INFO); the patient can add it later from the portal profile, which is behind a login.
    """

    phone = forms.CharField(
        label=_("Phone"),
        max_length=32,
        widget=forms.TextInput({"autocomplete": "tel", "inputmode": "tel"}),
        help_text=_("So the clinic can reach you about this session."),
        error_messages={"required": _("Please enter a phone number so the clinic can reach you.")},
    )
    rut = forms.CharField(
        label=_("RUT (optional)"),
        max_length=20,
        required=False,
        widget=forms.TextInput({"autocomplete": "off"}),
        help_text=_("Chilean national ID, for example 12.345.678-5. Useful for your receipts."),
    )
    # The page's language; a hidden field so the booking form stays short (it can be changed in the portal).
    preferred_language = forms.CharField(required=False, max_length=10, widget=forms.HiddenInput)

    field_order = [
        "first_name",
        "last_name",
        "email",
        "phone",
        "rut",
        "preferred_language",
        "accept_privacy",
        "accept_terms",
    ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # No password: the address is proven with the emailed code, and allauth then stores an unusable one.
        self.fields.pop("password1", None)
        self.fields.pop("password2", None)
        self.fields["preferred_language"].initial = _page_language()
        self.fields["email"].widget.attrs["autocomplete"] = "email"
        self.fields["email"].help_text = _("We send you a code to confirm it, then the booking confirmation.")
        # Rendered by crispy-forms (Bootstrap 5): labels, help texts and errors tied to each input by
        # aria-describedby; the <form> and its button stay in the template (the step's own markup).
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            Row(Column("first_name", css_class="col-sm-6"), Column("last_name", css_class="col-sm-6")),
            "email",
            "phone",
            "rut",
            "preferred_language",
            "accept_privacy",
            "accept_terms",
        )

    def clean_first_name(self):
        return self.cleaned_data["first_name"].strip()

    def clean_last_name(self):
        return self.cleaned_data["last_name"].strip()

    def clean_phone(self) -> str:
        phone = " ".join(self.cleaned_data["phone"].split())
        if not PHONE_PATTERN.match(phone) or sum(char.isdigit() for char in phone) < MIN_PHONE_DIGITS:
            raise forms.ValidationError(
                _("Enter a valid phone number, for example +56 9 1234 5678."), code="phone_invalid"
            )
        return phone

    def clean_rut(self) -> str | None:
        return rut_or_none(self.cleaned_data.get("rut"))

    def clean_preferred_language(self) -> str:
        """A hidden field can be tampered with: anything the site does not offer becomes the page's language."""
        language = (self.cleaned_data.get("preferred_language") or "").lower()
        return language if language in {code for code, _name in settings.LANGUAGES} else _page_language()

    def signup(self, request, user):
        """The portal's signup (contact details, patient profile, consents), then the RUT when it is free."""
        super().signup(request, user)
        rut = self.cleaned_data.get("rut")
        if rut:
            self._store_rut(ensure_patient(user), rut)

    @staticmethod
    def _store_rut(patient: Patient, rut: str) -> None:
        if Patient.objects.filter(rut=rut).exclude(pk=patient.pk).exists():
            logger.info("Booking signup: RUT already registered to another patient; not stored for %s", patient.pk)
            return
        try:
            with transaction.atomic():  # a savepoint: a concurrent twin must not undo the new account
                Patient.objects.filter(pk=patient.pk).update(rut=rut)
        except IntegrityError:
            logger.info("Booking signup: RUT taken meanwhile by another patient; not stored for %s", patient.pk)
            return
        patient.rut = rut
