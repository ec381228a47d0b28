"""The professional's discharge and referral forms on a patient's page (POSTs; the services check every rule)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from booking.scheduling.date_range import validate_in_range
from booking.scheduling.models import Professional, Service
from portal.records.services import MAX_REFERRAL_NOTE_LENGTH, MAX_SUMMARY_LENGTH


class DischargeForm(forms.Form):
    date = forms.DateField(
        label=_("Discharge date"),
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput({"type": "date"}),
        validators=[validate_in_range],
        error_messages={"invalid": _("That date is not valid."), "required": _("Give the discharge date.")},
    )
    summary = forms.CharField(
        label=_("Summary"),
        max_length=MAX_SUMMARY_LENGTH,
        widget=forms.Textarea({"rows": 4}),
        help_text=_("Only you and authorised clinic staff read it."),
        error_messages={"required": _("Write the discharge summary.")},
    )


class ReferralForm(forms.Form):
    to_professional = forms.ModelChoiceField(
        Professional.objects.none(),
        label=_("To professional"),
        required=False,
        empty_label=_("Any professional"),
        error_messages={"invalid_choice": _("Choose a professional from the list.")},
    )
    to_service = forms.ModelChoiceField(
        Service.objects.none(),
        label=_("To service"),
        required=False,
        empty_label=_("Any service"),
        error_messages={"invalid_choice": _("Choose a service from the list.")},
    )
    note = forms.CharField(
        label=_("Note for the professional who receives the patient"),
        max_length=MAX_REFERRAL_NOTE_LENGTH,
        widget=forms.Textarea({"rows": 3}),
        help_text=_("The patient does not see it. They get an email with a link to book."),
        error_messages={"required": _("Write a note for the professional who receives the patient.")},
    )
    share_notes = forms.BooleanField(
        label=_("Share my signed session notes of this patient with that professional"), required=False
    )

    def __init__(self, *args, professional: Professional, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_professional"].queryset = (
            Professional.objects.filter(active=True).exclude(pk=professional.pk).order_by("display_name")
        )
        self.fields["to_service"].queryset = Service.objects.filter(active=True).order_by("name")

    def clean(self):
        data = super().clean()
        if not self.errors and data.get("to_professional") is None and data.get("to_service") is None:
            raise forms.ValidationError(_("Choose the professional or the service you refer the patient to."))
        return data
