from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "portal.accounts"
    label = "accounts"
    verbose_name = _("Accounts")

    def ready(self):
        from . import signals

        # Sent once per app at the end of every migrate; one receiver call per migrate is enough.
        post_migrate.connect(signals.create_role_groups, sender=self, dispatch_uid="accounts_create_role_groups")
