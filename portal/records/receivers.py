"""Records' rules that scheduling enforces without importing records (connected in ``RecordsConfig.ready``).

- ``appointment_creating`` → ``refuse_booking_after_discharge``: a patient discharged by a professional cannot book
  that professional again by themselves (the box, the portal, the API, a pack) until a newer referral to that
  professional; the clinic's staff still can. Sessions already booked are not touched.
"""

from __future__ import annotations

from collections.abc import Callable

from booking.scheduling.errors import BookingError

from .selectors import discharge_blocks_booking


def refuse_booking_after_discharge(sender, *, patient, professional, for_clinic: Callable[[], bool], **kwargs) -> None:
    """One query for the discharge; the actor's permissions are read only for a discharged patient."""
    if discharge_blocks_booking(patient_id=patient.pk, professional_id=professional.pk) and not for_clinic():
        raise BookingError("discharged")
