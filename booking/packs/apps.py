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
