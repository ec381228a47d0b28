"""The notification log in the Wagtail admin: every message with its state, filters, "resend", and the dashboard
panel of the last 24 hours' failures.

Thin views: the list reads, the resend POST calls ``resend.resend_notification``. The list loads each page's
rows with their recipient and their appointment in one query (plus the count), whatever the number of rows.

Permissions are Django's model permissions: ``notifications.view_notification`` to see the log and the panel,
``notifications.change_notification`` to resend.
"""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse, reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.generic import View
from wagtail.admin.menu import MenuItem
from wagtail.admin.ui.components import Component
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.viewsets.base import ViewSet

from booking.scheduling.admin_forms import MIDNIGHT, clinic_zone, local_datetime
from booking.scheduling.date_range import validate_in_range

from .events import Event
from .models import Notification, State
from .resend import RESEND_PERMISSION, RESENDABLE, ResendError, resend_notification

VIEW_PERMISSION = "notifications.view_notification"
FAILED_STATES = (State.FAILED, State.BOUNCED, State.COMPLAINED)
STATE_BADGES = {
    State.SCHEDULED: "w-status--label",
    State.SENDING: "w-status--label",
    State.SENT: "w-status--primary",
    State.DELIVERED: "w-status--primary",
    State.FAILED: "w-status--label",
    State.BOUNCED: "w-status--label",
    State.COMPLAINED: "w-status--label",
    State.CANCELLED: "",
    State.SKIPPED: "",
}
DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
PANEL_ROWS = 10


class NotificationFilterForm(forms.Form):
    """The log's filters; every one optional. Dates are the planned day in the clinic's time zone."""

    state = forms.ChoiceField(label=_("State"), required=False, choices=[("", _("Any state")), *State.choices])
    event = forms.ChoiceField(label=_("Event"), required=False, choices=[("", _("Any event")), *Event.choices])
    recipient = forms.CharField(
        label=_("Recipient"), required=False, max_length=254, help_text=_("Part of the email address or the name.")
    )
    date_from = forms.DateField(label=_("From"), required=False, widget=DATE_WIDGET, validators=[validate_in_range])
    date_to = forms.DateField(label=_("Until"), required=False, widget=DATE_WIDGET, validators=[validate_in_range])

    def clean(self):
        cleaned_data = super().clean()
        date_from, date_to = cleaned_data.get("date_from"), cleaned_data.get("date_to")
        if date_from and date_to and date_to < date_from:
            self.add_error("date_to", ValidationError(_("“Until” cannot be before “From”."), code="bad_range"))
        return cleaned_data

    def filter(self, queryset):
        data = self.cleaned_data
        zone = clinic_zone()
        if data.get("state"):
            queryset = queryset.filter(state=data["state"])
        if data.get("event"):
            queryset = queryset.filter(event=data["event"])
        recipient = (data.get("recipient") or "").strip()
        if recipient:
            queryset = queryset.filter(
                Q(email__icontains=recipient)
                | Q(user__first_name__icontains=recipient)
                | Q(user__last_name__icontains=recipient)
            )
        if data.get("date_from"):
            queryset = queryset.filter(scheduled_for__gte=local_datetime(data["date_from"], MIDNIGHT, zone))
        if data.get("date_to"):
            end = local_datetime(data["date_to"] + datetime.timedelta(days=1), MIDNIGHT, zone)
            queryset = queryset.filter(scheduled_for__lt=end)
        return queryset


def log_queryset():
    return Notification.objects.select_related("user", "appointment")


def notification_rows(notifications, *, can_resend: bool):
    """What a row shows: the planned time in the clinic's zone, the state's badge, the appointment's page."""
    zone = clinic_zone()
    return [
        {
            "notification": notification,
            "local_scheduled_for": timezone.localtime(notification.scheduled_for, zone),
            "badge": STATE_BADGES.get(notification.state, ""),
            "appointment_url": (
                reverse("clinic_appointments:detail", args=[notification.appointment.reference])
                if notification.appointment is not None
                else ""
            ),
            "can_resend": can_resend and notification.state in RESENDABLE,
        }
        for notification in notifications
    ]


class NotificationAdminView(PermissionRequiredMixin, WagtailAdminTemplateMixin, View):
    raise_exception = True  # a 403 for a signed-in user without the permission, as Wagtail's own views
    permission_required = VIEW_PERMISSION
    header_icon = "mail"


class NotificationLogView(NotificationAdminView):
    template_name = "notifications/admin/log.html"
    page_title = _("Emails")
    per_page = 50

    def get(self, request):
        filter_form = NotificationFilterForm(request.GET)
        notifications = Notification.objects.none()
        if filter_form.is_valid():
            notifications = filter_form.filter(log_queryset()).order_by("-scheduled_for", "-pk")
        page = Paginator(notifications, self.per_page).get_page(request.GET.get("p"))
        query = request.GET.copy()
        query.pop("p", None)
        context = self.get_context_data(
            filter_form=filter_form,
            page=page,
            rows=notification_rows(page.object_list, can_resend=request.user.has_perm(RESEND_PERMISSION)),
            query_string=query.urlencode(),
        )
        return self.render_to_response(context)


class NotificationResendView(PermissionRequiredMixin, View):
    """POST only: send one message again (see ``resend``), then back to where the button was."""

    raise_exception = True
    permission_required = RESEND_PERMISSION
    http_method_names = ["post"]

    def post(self, request, pk):
        notification = get_object_or_404(Notification, pk=pk)
        try:
            resent = resend_notification(notification=notification, actor=request.user)
        except ResendError as error:
            messages.error(request, error.message)
        else:
            if resent.pk == notification.pk:
                messages.success(request, gettext("The message was queued to be sent again."))
            else:
                messages.success(request, gettext("A new copy of the message was queued to be sent."))
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = reverse("notification_log:index")
        return HttpResponseRedirect(back)


class NotificationMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm(VIEW_PERMISSION)


class NotificationLogViewSet(ViewSet):
    """The log's screens, with their own menu item "Emails"."""

    name = "notification_log"
    url_prefix = "notifications/log"
    icon = "mail"
    menu_label = _("Emails")
    menu_name = "notification_log"
    menu_url = reverse_lazy("notification_log:index")
    menu_item_class = NotificationMenuItem
    menu_order = 160
    add_to_admin_menu = True

    def get_urlpatterns(self):
        return [
            path("", NotificationLogView.as_view(), name="index"),
            path("<int:pk>/resend/", NotificationResendView.as_view(), name="resend"),
        ]


# --- Dashboard -------------------------------------------------------------------------------------------


def recent_failures(now: datetime.datetime | None = None):
    """Messages that failed, bounced or drew a complaint in the last 24 hours (the latest first), and how many."""
    since = (now or timezone.now()) - datetime.timedelta(hours=24)
    failures = log_queryset().filter(state__in=FAILED_STATES, updated_at__gte=since).order_by("-updated_at", "-pk")
    rows = list(failures[:PANEL_ROWS])
    count = len(rows) if len(rows) < PANEL_ROWS else failures.count()
    return rows, count


class RecentFailuresPanel(Component):
    """The dashboard's "Emails not delivered (last 24 hours)" panel, for staff who may see the log."""

    name = "notification_failures"
    template_name = "notifications/admin/failures_panel.html"
    order = 95

    def __init__(self, request):
        self.request = request

    def get_context_data(self, parent_context):
        context = super().get_context_data(parent_context)
        rows, count = recent_failures()
        zone = clinic_zone()
        context["failures"] = [
            {"notification": row, "local_at": timezone.localtime(row.updated_at, zone)} for row in rows
        ]
        context["count"] = count
        context["log_url"] = reverse("notification_log:index")
        return context
