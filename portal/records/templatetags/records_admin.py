"""The documents part of an appointment's admin page: what was shared from this session, and the share form."""

from django import template

from .. import notes
from ..admin_views import SHARE_PERMISSION, VIEW_PERMISSION, WITHDRAW_PERMISSION
from ..forms import ShareDocumentForm
from ..models import SessionNote

register = template.Library()


@register.inclusion_tag("records/admin/appointment_documents.html", takes_context=True)
def appointment_documents(context, appointment):
    """One query; nothing at all for staff without the records permissions."""
    request = context["request"]
    user = request.user
    can_share = user.has_perm(SHARE_PERMISSION)
    if not (can_share or user.has_perm(VIEW_PERMISSION)):
        return {"allowed": False}
    return {
        "allowed": True,
        "appointment": appointment,
        "documents": list(appointment.documents.select_related("shared_by").order_by("-shared_at", "-pk")),
        "form": ShareDocumentForm() if can_share else None,
        "can_withdraw": user.has_perm(WITHDRAW_PERMISSION),
        "request": request,
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("records/admin/appointment_note.html", takes_context=True)
def appointment_note(context, appointment):
    """Whether the session has a note, and a link to the patient's clinical record: only for staff who may read
    notes (one query); the text itself shows only on the record page, whose reading is logged."""
    if not context["request"].user.has_perm(notes.READ_PERMISSION):
        return {"allowed": False}
    return {
        "allowed": True,
        "appointment": appointment,
        "note": SessionNote.objects.filter(appointment=appointment).only("signed_at", "appointment_id").first(),
    }
