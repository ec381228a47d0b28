"""Sharing a document with a session's patient from the appointment's admin page, and withdrawing it.

Both are POSTs that redirect back to the appointment (Post/Redirect/Get) with a message; a refused upload says why.
Sharing needs ``records.add_patientdocument``, withdrawing ``records.delete_patientdocument`` (the clinic
administrators have both).
"""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from wagtail.admin.auth import permission_required

from booking.scheduling.models import Appointment

from . import services
from .forms import ShareDocumentForm
from .models import PatientDocument

SHARE_PERMISSION = "records.add_patientdocument"
VIEW_PERMISSION = "records.view_patientdocument"
WITHDRAW_PERMISSION = "records.delete_patientdocument"


def _back(appointment):
    return redirect("clinic_appointments:detail", appointment.reference)


@require_POST
@permission_required(SHARE_PERMISSION)
def share(request, reference):
    appointment = get_object_or_404(Appointment.objects.select_related("patient__user"), reference=reference)
    form = ShareDocumentForm(request.POST, request.FILES)
    if not form.is_valid():
        problems = "; ".join(f"{form.fields[name].label}: {' '.join(errors)}" for name, errors in form.errors.items())
        messages.error(request, _("The document was not shared. %(problems)s") % {"problems": problems})
        return _back(appointment)
    try:
        document = services.share_document(
            appointment=appointment,
            upload=form.cleaned_data["file"],
            title=form.cleaned_data["title"],
            kind=form.cleaned_data["kind"],
            message=form.cleaned_data["message"],
            actor=request.user,
        )
    except services.DocumentError as error:
        messages.error(request, _("The document was not shared. %(problems)s") % {"problems": error.message})
        return _back(appointment)
    messages.success(request, _("“%(title)s” is now in the patient's portal.") % {"title": document.title})
    return _back(appointment)


@require_POST
@permission_required(WITHDRAW_PERMISSION)
def withdraw(request, reference):
    document = get_object_or_404(PatientDocument.objects.select_related("appointment"), reference=reference)
    appointment = document.appointment
    services.withdraw_document(document, actor=request.user)
    messages.success(request, _("“%(title)s” is no longer shared with the patient.") % {"title": document.title})
    if appointment is None:
        return redirect("wagtailadmin_home")
    return _back(appointment)
