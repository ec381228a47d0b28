from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PacksConfig(AppConfig):
    name = "booking.packs"
    label = "packs"
    verbose_name = _("Packs")
    default_auto_field = "django.db.models.BigAutoField"
