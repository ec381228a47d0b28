"""Reads of the records, scoped to who asks."""

from __future__ import annotations

from .models import PatientDocument


def documents_for_user(user):
    """The documents shared with ``user`` as a patient (none for anybody else), newest first."""
    if not getattr(user, "is_authenticated", False):
        return PatientDocument.objects.none()
    return (
        PatientDocument.objects.filter(patient__user=user)
        .select_related("appointment__service", "appointment__professional")
        .order_by("-shared_at", "-pk")
    )
