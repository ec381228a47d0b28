"""The clinical record in the admin: the clinic's authorised staff (``records.read_clinical_notes``, the clinic
administrators) find a patient who has session notes and read all of them, every professional's, oldest first.

Every note shown is logged as read (``notes.read_record``); staff without the permission get Wagtail's "permission
denied", and the menu item is hidden from them.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.db.models import Count, Max
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from wagtail.admin.auth import permission_required

from portal.accounts.models import Patient
from portal.accounts.search import search_patients

from . import notes

PATIENTS_PER_PAGE = 30


@never_cache
@require_GET
@permission_required(notes.READ_PERMISSION)
def patients(request):
    """The patients with at least one session note, searchable by name, email or RUT, most recent note first."""
    query = request.GET.get("q", "").strip()[:100]
    found = (
        Patient.objects.filter(appointments__note__isnull=False)
        .select_related("user")
        .annotate(note_count=Count("appointments__note"), last_note=Max("appointments__start"))
        .order_by("-last_note", "pk")
    )
    found = search_patients(found, query)
    page = Paginator(found.distinct(), PATIENTS_PER_PAGE).get_page(request.GET.get("p"))
    return render(
        request,
        "records/admin/clinical_records.html",
        {"page": page, "query": query, "page_title": _("Clinical records")},
    )


@never_cache
@require_GET
@permission_required(notes.READ_PERMISSION)
def record(request, patient_id: int):
    """One patient's clinical record: every session note and its amendments (each read logged)."""
    patient = get_object_or_404(Patient.objects.select_related("user"), pk=patient_id)
    entries = notes.read_record(patient=patient, reader=request.user)
    name = patient.user.get_full_name() or patient.user.email
    return render(
        request,
        "records/admin/clinical_record.html",
        {"patient": patient, "entries": entries, "page_title": _("Clinical record of %(name)s") % {"name": name}},
    )
