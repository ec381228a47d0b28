from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "booking.notifications"
    label = "notifications"
    verbose_name = _("Notifications")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import (
            hooks,  # noqa: F401  (plans the pack emails and the payment receipt)
            signals,  # noqa: F401  (plans the emails of every appointment change)
            web_signals,  # noqa: F401  (Mailgun's tracking events; emails by session number)
        )
