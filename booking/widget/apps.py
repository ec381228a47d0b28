from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WidgetConfig(AppConfig):
    name = "booking.widget"
    label = "widget"
    verbose_name = _("Booking box")
    default_auto_field = "django.db.models.BigAutoField"
    # The booking confirmation email of every source, box included, is booking.notifications'.
