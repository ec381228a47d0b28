from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SchedulingConfig(AppConfig):
    name = "booking.scheduling"
    label = "scheduling"
    verbose_name = _("Clinic")

    def ready(self):
        from wagtail.permissions import register_permission_policy

        from .models import DateOverride
        from .permission_policies import DateOverridePermissionPolicy

        # Before the admin viewsets register: they read the policy from Wagtail's registry.
        register_permission_policy(DateOverride, DateOverridePermissionPolicy(), exact_class=True)
