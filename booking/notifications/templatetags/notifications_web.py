"""Small pieces other apps' pages include: the profile's email preference, an appointment's emails in the admin."""

from django import template

from ..forms import EmailPreferencesForm
from ..preferences import non_essential_email_enabled

register = template.Library()


@register.inclusion_tag("notifications/includes/email_preferences.html", takes_context=True)
def email_preferences_form(context):
    """The "emails after my sessions" box for the logged-in user (one query)."""
    user = context["request"].user
    form = EmailPreferencesForm(initial={"non_essential_email": non_essential_email_enabled(user)})
    return {"form": form, "request": context["request"]}


@register.inclusion_tag("notifications/admin/appointment_notifications.html", takes_context=True)
def appointment_notifications(context, appointment):
    """The emails planned and sent about ``appointment``, for its admin page (one query; none without permission)."""
    from ..admin_views import VIEW_PERMISSION, log_queryset, notification_rows
    from ..resend import RESEND_PERMISSION
    from ..web_models import AttendanceConfirmation

    request = context["request"]
    if not request.user.has_perm(VIEW_PERMISSION):
        return {"allowed": False}
    notifications = log_queryset().filter(appointment=appointment).order_by("scheduled_for", "pk")
    rows = notification_rows(notifications, can_resend=request.user.has_perm(RESEND_PERMISSION))
    confirmation = AttendanceConfirmation.objects.filter(appointment=appointment).first()
    return {
        "allowed": True,
        "rows": rows,
        "confirmation": confirmation,
        "next_url": request.get_full_path(),
        "request": request,
        "csrf_token": context.get("csrf_token"),
    }
