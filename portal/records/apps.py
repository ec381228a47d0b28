from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RecordsConfig(AppConfig):
    name = "portal.records"
    label = "records"
    verbose_name = _("Clinical records")

    def ready(self):
        from booking.scheduling.models import Appointment
        from booking.scheduling.services import appointment_creating

        from .receivers import refuse_booking_after_discharge

        appointment_creating.connect(
            refuse_booking_after_discharge, sender=Appointment, dispatch_uid="records.refuse_after_discharge"
        )
