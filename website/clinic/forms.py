"""The public filter form of the team page."""

from django import forms
from django.utils.translation import gettext_lazy as _

from booking.scheduling.models import Service, ServiceCategory


class ProfessionalFilterForm(forms.Form):
    """Filter the team page by service or by area: ``?service=<slug>&category=<slug>``.

    Slugs keep the addresses readable and shareable. An unknown slug makes the form
    invalid, and the page then shows no professionals and says why.
    """

    service = forms.ModelChoiceField(
        label=_("Service"),
        queryset=Service.objects.none(),
        to_field_name="slug",
        required=False,
        empty_label=_("All services"),
        error_messages={"invalid_choice": _("We could not find that service.")},
    )
    category = forms.ModelChoiceField(
        label=_("Area"),
        queryset=ServiceCategory.objects.none(),
        to_field_name="slug",
        required=False,
        empty_label=_("All areas"),
        error_messages={"invalid_choice": _("We could not find that area.")},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = Service.objects.active()
        self.fields["category"].queryset = ServiceCategory.objects.filter(services__active=True).distinct()
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-select"
