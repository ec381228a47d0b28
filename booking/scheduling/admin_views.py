"""Appointments in the Wagtail admin: the day's list, the detail with its history, the actions and staff booking.

These are thin views over ``booking.scheduling.services``: every change goes through a service with
``actor=request.user``, so it is checked by the same rules as the public booking box and written to the
appointment's history. A refused change (``BookingError``) is shown as a message, never a 500.

Permissions are Django's model permissions: ``scheduling.view_appointment`` to see, ``change_appointment`` to
act, ``add_appointment`` to book.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse, reverse_lazy
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.generic import View
from wagtail.admin.menu import MenuItem
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.viewsets.base import ViewSet

from . import services
from .admin_forms import (
    AppointmentFilterForm,
    CancelAppointmentForm,
    CreateAppointmentForm,
    RescheduleAppointmentForm,
    clinic_zone,
)
from .errors import BookingError
from .models import Appointment, AppointmentEvent, AppointmentSource, AppointmentStatus

VIEW_PERMISSION = "scheduling.view_appointment"
CHANGE_PERMISSION = "scheduling.change_appointment"
ADD_PERMISSION = "scheduling.add_appointment"

STATUS_BADGES = {
    AppointmentStatus.PENDING_PAYMENT: "w-status--label",
    AppointmentStatus.CONFIRMED: "w-status--primary",
    AppointmentStatus.COMPLETED: "",
    AppointmentStatus.CANCELLED: "w-status--label",
    AppointmentStatus.NO_SHOW_PATIENT: "w-status--label",
    AppointmentStatus.NO_SHOW_PROFESSIONAL: "w-status--label",
}


def list_queryset():
    """Everything a row shows, loaded in the same query as the rows."""
    return Appointment.objects.select_related("professional", "patient__user", "service", "location", "room")


class PermissionRequiredMixin:
    permission_required = VIEW_PERMISSION

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm(self.permission_required):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class AppointmentAdminView(PermissionRequiredMixin, WagtailAdminTemplateMixin, View):
    header_icon = "date"

    def get_breadcrumbs_items(self):
        return [
            *self.breadcrumbs_items,
            {"url": reverse("clinic_appointments:index"), "label": gettext("Appointments")},
            {"url": "", "label": self.get_page_title()},
        ]


def appointment_rows(appointments):
    zone = clinic_zone()
    return [
        {
            "appointment": appointment,
            "local_start": timezone.localtime(appointment.start, zone),
            "duration_minutes": int((appointment.end - appointment.start).total_seconds() // 60),
            "badge": STATUS_BADGES.get(appointment.status, ""),
        }
        for appointment in appointments
    ]


class AppointmentIndexView(AppointmentAdminView):
    template_name = "scheduling/admin/appointment_index.html"
    page_title = _("Appointments")
    per_page = 100

    def get_breadcrumbs_items(self):
        return [*self.breadcrumbs_items, {"url": "", "label": self.get_page_title()}]

    def get(self, request):
        filter_form = AppointmentFilterForm(request.GET)
        appointments = Appointment.objects.none()
        if filter_form.is_valid():
            appointments = filter_form.filter(list_queryset()).order_by("start", "professional__display_name", "pk")
        page = Paginator(appointments, self.per_page).get_page(request.GET.get("p"))
        query = request.GET.copy()
        query.pop("p", None)
        context = self.get_context_data(
            filter_form=filter_form,
            page=page,
            rows=appointment_rows(page.object_list),
            query_string=query.urlencode(),
            can_add=request.user.has_perm(ADD_PERMISSION),
        )
        return self.render_to_response(context)


class AppointmentDetailView(AppointmentAdminView):
    template_name = "scheduling/admin/appointment_detail.html"

    @cached_property
    def appointment(self):
        events = AppointmentEvent.objects.select_related("actor").order_by("at", "pk")
        queryset = list_queryset().select_related("created_by", "cancelled_by")
        return get_object_or_404(
            queryset.prefetch_related(Prefetch("events", queryset=events)), reference=self.kwargs["reference"]
        )

    def get_page_title(self):
        return gettext("Appointment %(reference)s") % {"reference": self.kwargs["reference"]}

    def get(self, request, reference):
        appointment = self.appointment
        now = timezone.now()
        can_change = request.user.has_perm(CHANGE_PERMISSION)
        is_open = appointment.status in (AppointmentStatus.PENDING_PAYMENT, AppointmentStatus.CONFIRMED)
        has_started = appointment.start <= now
        zone = clinic_zone()
        local_start = timezone.localtime(appointment.start, zone)
        context = self.get_context_data(
            appointment=appointment,
            row=appointment_rows([appointment])[0],
            local_end=timezone.localtime(appointment.end, zone),
            events=[
                {
                    "event": event,
                    "local_at": timezone.localtime(event.at, zone),
                    "before": sorted(event.before.items()),
                    "after": sorted(event.after.items()),
                }
                for event in appointment.events.all()
            ],
            can_change=can_change,
            show_confirm=can_change and appointment.status == AppointmentStatus.PENDING_PAYMENT,
            show_cancel=can_change and is_open,
            show_reschedule=can_change and is_open,
            show_close=can_change and appointment.status == AppointmentStatus.CONFIRMED and has_started,
            cancel_form=CancelAppointmentForm(prefix="cancel"),
            reschedule_form=RescheduleAppointmentForm(
                prefix="reschedule", initial={"date": local_start.date(), "time": local_start.time()}
            ),
        )
        return self.render_to_response(context)


class AppointmentActionView(PermissionRequiredMixin, View):
    """POST-only actions on one appointment; each calls one service and comes back to the detail page."""

    permission_required = CHANGE_PERMISSION
    http_method_names = ["post"]
    success_messages = {
        "confirm": _("The appointment was confirmed."),
        "cancel": _("The appointment was cancelled."),
        "reschedule": _("The appointment was moved."),
        "complete": _("The appointment was marked as completed."),
        "no_show_patient": _("The appointment was marked as “patient did not attend”."),
        "no_show_professional": _("The appointment was marked as “professional did not attend”."),
    }

    def post(self, request, reference, action):
        appointment = get_object_or_404(Appointment.objects.select_related("location"), reference=reference)
        detail_url = reverse("clinic_appointments:detail", args=[reference])
        try:
            performed = self.perform(action, appointment, request)
        except BookingError as error:
            messages.error(request, error.message)
        else:
            if performed:
                messages.success(request, self.success_messages[action])
        return HttpResponseRedirect(detail_url)

    def perform(self, action, appointment, request) -> bool:
        """Runs ``action``; False when the form was invalid (its errors are already in the messages)."""
        actor = request.user
        if action == "confirm":
            services.confirm_appointment(appointment=appointment, actor=actor)
        elif action == "cancel":
            form = CancelAppointmentForm(request.POST, prefix="cancel")
            if not self._valid(form, request):
                return False
            outcome = services.cancel_appointment(
                appointment=appointment,
                actor=actor,
                reason=form.cleaned_data["reason"],
                staff_override_reason=form.cleaned_data["staff_override_reason"] or None,
            )
            if outcome.late and outcome.refund == services.RefundDecision.NO_REFUND:
                messages.warning(request, gettext("This was a late cancellation: by the policy, nothing is refunded."))
        elif action == "reschedule":
            form = RescheduleAppointmentForm(request.POST, prefix="reschedule")
            if not self._valid(form, request):
                return False
            services.reschedule_appointment(
                appointment=appointment,
                start=form.new_start(appointment.location),
                actor=actor,
                staff_override_reason=form.cleaned_data["staff_override_reason"] or None,
            )
        elif action == "complete":
            services.mark_completed(appointment=appointment, actor=actor)
        elif action in ("no_show_patient", "no_show_professional"):
            services.mark_no_show(appointment=appointment, who=action.removeprefix("no_show_"), actor=actor)
        else:  # the URL pattern only lets the actions above through
            raise BookingError("invalid_request")
        return True

    @staticmethod
    def _valid(form, request) -> bool:
        if form.is_valid():
            return True
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            for error in errors:
                messages.error(request, f"{label}: {error}" if label else error)
        return False


class AppointmentCreateView(AppointmentAdminView):
    template_name = "scheduling/admin/appointment_create.html"
    permission_required = ADD_PERMISSION
    page_title = _("Book an appointment")

    def get(self, request):
        return self.render_to_response(self.get_context_data(form=CreateAppointmentForm()))

    def post(self, request):
        form = CreateAppointmentForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            location = data.get("location")
            try:
                appointment = services.book_appointment(
                    patient=data["patient"],
                    professional=data["professional"],
                    service=data["service"],
                    location=location,
                    modality="in_person" if location else "online",
                    start=form.start(),
                    source=AppointmentSource.ADMIN,
                    actor=request.user,
                    note=data["note"],
                )
            except BookingError as error:
                form.add_error(None, error.message)
            else:
                messages.success(
                    request, gettext("Appointment %(reference)s booked.") % {"reference": appointment.reference}
                )
                return HttpResponseRedirect(reverse("clinic_appointments:detail", args=[appointment.reference]))
        return self.render_to_response(self.get_context_data(form=form))


class AppointmentMenuItem(MenuItem):
    def is_shown(self, request):
        return request.user.has_perm(VIEW_PERMISSION)


class AppointmentViewSet(ViewSet):
    """The appointment screens, registered under the "Clinic" menu (see ``ClinicViewSetGroup``)."""

    name = "clinic_appointments"
    url_prefix = "clinic/appointments"
    icon = "date"
    menu_label = _("Appointments")
    menu_name = "appointments"
    menu_url = reverse_lazy("clinic_appointments:index")
    menu_item_class = AppointmentMenuItem

    def get_urlpatterns(self):
        return [
            path("", AppointmentIndexView.as_view(), name="index"),
            path("new/", AppointmentCreateView.as_view(), name="create"),
            path("<str:reference>/", AppointmentDetailView.as_view(), name="detail"),
            *(
                path(f"<str:reference>/{action}/", AppointmentActionView.as_view(), {"action": action}, name=action)
                for action in AppointmentActionView.success_messages
            ),
        ]
