"""The patient's email preference, as the profile page shows it."""

from django import forms
from django.utils.translation import gettext_lazy as _


class EmailPreferencesForm(forms.Form):
    """One box: the emails the clinic does not have to send. Unticked (absent from the POST) means "no"."""

    non_essential_email = forms.BooleanField(
        label=_("Send me emails after my sessions and about my progress"),
        required=False,
        help_text=_("Confirmations, reminders and receipts of your sessions are always sent."),
    )
