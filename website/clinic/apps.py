from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ClinicPagesConfig(AppConfig):
    name = "website.clinic"
    label = "clinic"
    verbose_name = _("Clinic pages")
