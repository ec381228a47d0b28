"""Reads of the records, scoped to who asks."""

from __future__ import annotations

from django.db.models import Exists, OuterRef

from .models import Discharge, PatientDocument, Referral


def documents_for_user(user):
    """The documents shared with ``user`` as a patient (none for anybody else), newest first."""
    if not getattr(user, "is_authenticated", False):
        return PatientDocument.objects.none()
    return (
        PatientDocument.objects.filter(patient__user=user)
        .select_related("appointment__service", "appointment__professional")
        .order_by("-shared_at", "-pk")
    )


def latest_discharge(*, patient_id: int, professional_id: int) -> Discharge | None:
    return (
        Discharge.objects.filter(patient_id=patient_id, professional_id=professional_id)
        .order_by("-created_at", "-pk")
        .first()
    )


def discharge_blocks_booking(*, patient_id: int | None, professional_id: int | None) -> bool:
    """Whether the patient's own new booking with the professional is refused: the professional discharged them
    and nobody referred them back to that professional since. One query."""
    if patient_id is None or professional_id is None:
        return False
    referred_back = Referral.objects.filter(
        patient_id=patient_id, to_professional_id=professional_id, created_at__gt=OuterRef("created_at")
    )
    return (
        Discharge.objects.filter(patient_id=patient_id, professional_id=professional_id)
        .annotate(referred_back=Exists(referred_back))
        .order_by("-created_at", "-pk")
        .values_list("referred_back", flat=True)
        .first()
        is False
    )
