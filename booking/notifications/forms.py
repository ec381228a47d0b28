"""Email choices people make themselves: the patient's in the profile, the professional's on the portal home."""

from django import forms
from django.utils.translation import gettext_lazy as _


class EmailPreferencesForm(forms.Form):
    """One box: the emails the clinic does not have to send. Unticked (absent from the POST) means "no"."""

    non_essential_email = forms.BooleanField(
        label=_("Send me emails after my sessions and about my progress"),
        required=False,
        help_text=_("Confirmations, reminders and receipts of your sessions are always sent."),
    )


class DailyAgendaForm(forms.Form):
    """The professional's box on the portal home. Unticked (absent from the POST) means "no"."""

    daily_agenda_email = forms.BooleanField(
        label=_("Email me my agenda every morning"),
        required=False,
        help_text=_("At 07:00, on days with sessions: each session's time, patient, service and place."),
    )
