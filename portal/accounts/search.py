"""Finding patients by what staff and professionals type: part of a name, an email or a RUT in any format."""

from __future__ import annotations

import re

from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Replace

RUT_NOISE = re.compile(r"[.\s-]")


def search_patients(patients: QuerySet, query: str) -> QuerySet:
    """``patients`` whose first or last name, email or RUT contains ``query``.

    RUTs are stored formatted ("15.432.876-9") and typed any way ("15432876", "15.432", "154328769"): both sides
    are compared without dots, spaces or the dash.
    """
    query = (query or "").strip()
    if not query:
        return patients
    matches = Q(user__first_name__icontains=query) | Q(user__last_name__icontains=query)
    matches |= Q(user__email__icontains=query)
    compact = RUT_NOISE.sub("", query)
    if compact:
        patients = patients.alias(rut_compact=Replace(Replace("rut", Value("."), Value("")), Value("-"), Value("")))
        matches |= Q(rut_compact__icontains=compact)
    return patients.filter(matches)
