from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PacksConfig(AppConfig):
    name = "booking.packs"
    label = "packs"
    verbose_name = _("Packs")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from booking.scheduling.models import Appointment
        from booking.scheduling.services import appointment_closing, appointment_moving

        from .receivers import guard_pack_session_move, settle_closed_session

        # Synchronous, inside scheduling's transactions (see booking.packs.receivers); dispatch_uid: connected once.
        appointment_closing.connect(settle_closed_session, sender=Appointment, dispatch_uid="packs.settle")
        appointment_moving.connect(guard_pack_session_move, sender=Appointment, dispatch_uid="packs.guard_move")

        from booking.billing.models import Invoice
        from booking.billing.signals import checkout_lapsed, invoice_paid, invoice_voided

        from .services.purchases import activate_paid_purchase, cancel_unpaid_purchase, unpaid_purchase_lapsed

        # Billing's hooks, inside its transactions: a pack's invoice paid, voided, or its checkout lapsed.
        invoice_paid.connect(activate_paid_purchase, sender=Invoice, dispatch_uid="packs.activate_paid")
        invoice_voided.connect(cancel_unpaid_purchase, sender=Invoice, dispatch_uid="packs.cancel_unpaid")
        checkout_lapsed.connect(unpaid_purchase_lapsed, sender=Invoice, dispatch_uid="packs.lapsed")
