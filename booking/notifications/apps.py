from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "booking.notifications"
    label = "notifications"
    verbose_name = _("Notifications")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        """Connect the planner to the changes it plans from, and Mailgun's tracking to the outbox.

        Scheduling's and the packs' signals are sent after the commit; billing's ``invoice_paid`` inside its
        transaction (the receipt's row is written in it). None of those apps imports this one.
        """
        from anymail.signals import tracking

        from booking.billing.signals import invoice_paid
        from booking.packs.signals import pack_cancelled, pack_expiring, pack_purchased
        from booking.scheduling.models import Appointment
        from booking.scheduling.services import appointment_changed

        from . import services
        from .webhooks import record_tracking_event

        tracking.connect(record_tracking_event, dispatch_uid="notifications.record_tracking_event")
        appointment_changed.connect(
            services.on_appointment_changed, sender=Appointment, dispatch_uid="notifications.appointment_changed"
        )
        pack_purchased.connect(services.on_pack_purchased, dispatch_uid="notifications.pack_purchased")
        pack_cancelled.connect(services.on_pack_cancelled, dispatch_uid="notifications.pack_cancelled")
        pack_expiring.connect(services.on_pack_expiring, dispatch_uid="notifications.pack_expiring")
        invoice_paid.connect(services.on_invoice_paid, dispatch_uid="notifications.invoice_paid")
