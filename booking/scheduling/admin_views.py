"""Appointments in the Wagtail admin: the day's list, the detail with its history, the actions and staff booking.

These are thin views over ``booking.scheduling.services``: every change goes through a service with
``actor=request.user``, so it is checked by the same rules as the public booking box and written to the
appointment's history. Cancelling goes through billing's ``cancel_booking`` (as the API does), which settles the
invoice as the policy says. A refused change (``BookingError``) is shown as a message, never a 500.

Permissions are Django's model permissions: ``scheduling.view_appointment`` to see, ``change_appointment`` to
act, ``add_appointment`` to book.
"""

import datetime

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.paginator import Paginator
from django.db.models import Prefetch, Q
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

from booking.billing import services as billing
from booking.billing.errors import PaymentError

from . import services
from .admin_forms import (
    MIDNIGHT,
    AppointmentFilterForm,
    CancelAppointmentForm,
    CreateAppointmentForm,
    RescheduleAppointmentForm,
    clinic_today,
    clinic_zone,
    local_datetime,
    zone_for,
)
from .date_range import validate_in_range
from .errors import BookingError
from .history import appointment_history
from .models import (
    Appointment,
    AppointmentEvent,
    AppointmentSource,
    AppointmentStatus,
    Location,
    Professional,
    WeeklyAvailability,
)

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


class AppointmentAdminView(PermissionRequiredMixin, WagtailAdminTemplateMixin, View):
    # A 403 for a signed-in user without the permission, as Wagtail's own views answer; Wagtail's admin URLs have
    # already sent anonymous visitors to the admin login, so Django's redirect to LOGIN_URL is never wanted here.
    raise_exception = True
    permission_required = VIEW_PERMISSION
    header_icon = "date"

    def get_breadcrumbs_items(self):
        return [
            *self.breadcrumbs_items,
            {"url": reverse("clinic_appointments:index"), "label": gettext("Appointments")},
            {"url": "", "label": self.get_page_title()},
        ]


def appointment_rows(appointments):
    """What a list row shows; the start in the session's own zone (its location's, the clinic's when online)."""
    return [
        {
            "appointment": appointment,
            "local_start": timezone.localtime(appointment.start, zone_for(appointment.location)),
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
        from booking.billing.models import InvoiceLine  # billing builds on scheduling, not the other way round

        events = AppointmentEvent.objects.select_related("actor").order_by("at", "pk")
        invoice_lines = InvoiceLine.objects.select_related("invoice__series").order_by("invoice__created_at", "pk")
        queryset = list_queryset().select_related("created_by", "cancelled_by", "pack_purchase")
        return get_object_or_404(
            queryset.prefetch_related(
                Prefetch("events", queryset=events), Prefetch("invoice_lines", queryset=invoice_lines)
            ),
            reference=self.kwargs["reference"],
        )

    def invoices(self):
        """The appointment's invoices (one per invoice, however many of its lines bill this session)."""
        invoices = {}
        for line in self.appointment.invoice_lines.all():
            invoices.setdefault(line.invoice_id, line.invoice)
        return [
            {"invoice": invoice, "url": reverse("billing_invoices:detail", args=[invoice.reference])}
            for invoice in invoices.values()
        ]

    def pack_session(self):
        """ "Part of pack X, session N of M" for a session booked from a pack (two queries), else None."""
        from booking.packs.selectors import pack_session  # packs builds on scheduling, not the other way round

        return pack_session(self.appointment)

    def get_page_title(self):
        return gettext("Appointment %(reference)s") % {"reference": self.kwargs["reference"]}

    def get(self, request, reference):
        appointment = self.appointment
        now = timezone.now()
        can_change = request.user.has_perm(CHANGE_PERMISSION)
        is_open = appointment.status in (AppointmentStatus.PENDING_PAYMENT, AppointmentStatus.CONFIRMED)
        has_started = appointment.start <= now
        row = appointment_rows([appointment])[0]
        local_start = row["local_start"]
        clinic = clinic_zone()
        context = self.get_context_data(
            appointment=appointment,
            row=row,
            local_end=timezone.localtime(appointment.end, zone_for(appointment.location)),
            local_created_at=timezone.localtime(appointment.created_at, clinic),
            local_hold_expires_at=(
                timezone.localtime(appointment.hold_expires_at, clinic) if appointment.hold_expires_at else None
            ),
            invoices=self.invoices(),
            pack_session=self.pack_session(),
            history=appointment_history(appointment),
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

    raise_exception = True  # as AppointmentAdminView
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
        except (BookingError, PaymentError) as error:
            messages.error(request, error.message)
        else:
            if performed:
                messages.success(request, self.success_messages[action])
        return HttpResponseRedirect(detail_url)

    def perform(self, action, appointment, request) -> bool:
        """Runs ``action``; False when the form was invalid (its errors are already in the messages)."""
        actor = request.user
        if action == "confirm":
            billing.confirm_held_appointment(appointment=appointment, actor=actor)
        elif action == "cancel":
            form = CancelAppointmentForm(request.POST, prefix="cancel")
            if not self._valid(form, request):
                return False
            cancelled = billing.cancel_booking(
                appointment=appointment,
                actor=actor,
                reason=form.cleaned_data["reason"],
                staff_override_reason=form.cleaned_data["staff_override_reason"] or None,
            )
            if cancelled.refund_failed:
                messages.error(
                    request,
                    gettext("The refund could not be made at the payment provider. Retry it from the invoice."),
                )
            outcome = cancelled.outcome
            if outcome.pack_credit == services.PackCredit.RETURNED:
                messages.info(request, gettext("The session was returned to the patient's pack."))
            elif outcome.pack_credit == services.PackCredit.FORFEITED:
                messages.warning(
                    request, gettext("This was a late cancellation: by the policy, the pack session is lost.")
                )
            elif outcome.late and outcome.refund == services.RefundDecision.NO_REFUND:
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


def add_booking_error(form, error: BookingError) -> None:
    """Show a refused staff booking on its form (here and in the packs admin's "book from this pack").

    The patient's other session can be overridden: that message goes next to the override reason's field.
    """
    field = "staff_override_reason" if error.code == "patient_overlap" else None
    form.add_error(field, error.message)


class AppointmentCreateView(AppointmentAdminView):
    template_name = "scheduling/admin/appointment_create.html"
    permission_required = ADD_PERMISSION
    page_title = _("Book an appointment")

    def get(self, request):
        return self.render_to_response(self.get_context_data(form=CreateAppointmentForm()))

    def get_context_data(self, **kwargs):
        # "Use a pack" (booking.packs.admin_sales): sell or pick a pack for the patient, then book from it.
        return super().get_context_data(use_pack_url=reverse("packs_purchases:use"), **kwargs)

    def post(self, request):
        form = CreateAppointmentForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            location = data.get("location")
            try:
                appointment = self.book(request, data, location=location, start=form.start())
            except BookingError as error:
                add_booking_error(form, error)
            except PaymentError as error:
                form.add_error(None, error.message)
            else:
                messages.success(
                    request, gettext("Appointment %(reference)s booked.") % {"reference": appointment.reference}
                )
                return HttpResponseRedirect(reverse("clinic_appointments:detail", args=[appointment.reference]))
        return self.render_to_response(self.get_context_data(form=form))

    @staticmethod
    def book(request, data, *, location, start):
        """Book (confirmed: staff bookings are paid at the clinic or later) and invoice, in ONE transaction."""
        appointment, _invoice = billing.book_with_invoice(
            patient=data["patient"],
            professional=data["professional"],
            service=data["service"],
            location=location,
            modality="in_person" if location else "online",
            start=start,
            source=AppointmentSource.ADMIN,
            actor=request.user,
            note=data["note"],
            hold=False,
            staff_override_reason=data["staff_override_reason"] or None,
        )
        return appointment


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
            path("calendar/", AppointmentCalendarView.as_view(), name="calendar"),
            path("<str:reference>/", AppointmentDetailView.as_view(), name="detail"),
            *(
                path(f"<str:reference>/{action}/", AppointmentActionView.as_view(), {"action": action}, name=action)
                for action in AppointmentActionView.success_messages
            ),
        ]


# --- Calendar ------------------------------------------------------------------------------------------------

CALENDAR_FIRST_HOUR = 7
CALENDAR_LAST_HOUR = 21  # exclusive: the last row is 20:00–21:00


class CalendarFilterForm(forms.Form):
    """The calendar's controls. Each field is read on its own so one bad value never hides the whole calendar."""

    WEEK = "week"
    DAY = "day"
    ONLINE = "online"

    view = forms.ChoiceField(label=_("View"), choices=[(WEEK, _("Week")), (DAY, _("Day"))], required=False)
    date = forms.DateField(
        label=_("Date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[validate_in_range],  # the week around 9999-12-31 cannot be computed
    )
    professional = forms.ModelChoiceField(
        label=_("Professional"),
        required=False,
        queryset=Professional.objects.order_by("display_name"),
        empty_label=_("All professionals"),
    )
    location = forms.ChoiceField(label=_("Location"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["location"].choices = [
            ("", _("Any location")),
            (self.ONLINE, _("Online")),
            *((str(location.pk), location.name) for location in Location.objects.order_by("name")),
        ]

    def value(self, name, default=None):
        """The cleaned value of ``name``, or ``default`` when it was missing or invalid."""
        self.is_valid()
        if name in self.errors:
            return default
        return self.cleaned_data.get(name) or default


def calendar_cell_card(appointment):
    """What a calendar card shows; times are in the appointment's own zone (the clinic's for online sessions)."""
    zone = zone_for(appointment.location)
    return {
        "appointment": appointment,
        "local_start": timezone.localtime(appointment.start, zone),
        "local_end": timezone.localtime(appointment.end, zone),
        "badge": STATUS_BADGES.get(appointment.status, ""),
    }


class AppointmentCalendarView(AppointmentAdminView):
    """A week (one column per day) or a day (one column per professional) of appointments, hour by hour.

    All appointments of the range come from one query; the grid is built in Python so the number of queries does
    not grow with the appointments. Each appointment is placed by its start in its location's time zone, so a
    session at 10:00 stays in the 10:00 row on the day the clocks change.
    """

    template_name = "scheduling/admin/appointment_calendar.html"
    page_title = _("Calendar")

    def get(self, request):
        form = CalendarFilterForm(request.GET)
        today = clinic_today()
        mode = form.value("view", CalendarFilterForm.WEEK)
        day = form.value("date", today)
        if "date" in form.errors:
            messages.warning(request, gettext("That date is not valid; showing today instead."))
        if "professional" in form.errors or "location" in form.errors:
            messages.warning(request, gettext("Unknown professional or location; that filter was ignored."))
        professional = form.value("professional")
        location = form.value("location")

        if mode == CalendarFilterForm.DAY:
            days, step = [day], datetime.timedelta(days=1)
        else:
            monday = day - datetime.timedelta(days=day.weekday())
            days, step = [monday + datetime.timedelta(days=offset) for offset in range(7)], datetime.timedelta(days=7)

        appointments = self.appointments(days, professional, location)
        if mode == CalendarFilterForm.DAY:
            columns = self.day_columns(day, appointments, professional, location)
        else:
            columns = [{"key": column_day, "day": column_day} for column_day in days]
        rows = self.grid(mode, days, columns, appointments)

        context = self.get_context_data(
            form=form,
            mode=mode,
            day=day,
            days=days,
            columns=columns,
            rows=rows,
            appointment_count=len(appointments),
            previous_url=self.navigation_url(request, day - step),
            next_url=self.navigation_url(request, day + step),
            today_url=self.navigation_url(request, None),
            week_url=self.navigation_url(request, day, view=CalendarFilterForm.WEEK),
            day_url=self.navigation_url(request, day, view=CalendarFilterForm.DAY),
        )
        return self.render_to_response(context)

    @staticmethod
    def appointments(days, professional, location):
        """The range's appointments, with everything a card shows, in one query.

        The database window is a day wider on each side because locations may sit in other time zones; the exact
        local day of each appointment is decided in Python.
        """
        zone = clinic_zone()
        window_start = local_datetime(days[0] - datetime.timedelta(days=1), MIDNIGHT, zone)
        window_end = local_datetime(days[-1] + datetime.timedelta(days=2), MIDNIGHT, zone)
        queryset = (
            list_queryset()
            .filter(start__gte=window_start, start__lt=window_end)
            .exclude(status=AppointmentStatus.CANCELLED)
        )
        if professional is not None:
            queryset = queryset.filter(professional=professional)
        if location == CalendarFilterForm.ONLINE:
            queryset = queryset.filter(location__isnull=True)
        elif location:
            queryset = queryset.filter(location_id=int(location))
        wanted = set(days)
        cards = (calendar_cell_card(appointment) for appointment in queryset.order_by("start", "pk"))
        return [card for card in cards if card["local_start"].date() in wanted]

    @staticmethod
    def day_columns(day, appointments, professional, location):
        """Professionals with appointments that day or weekly hours on that weekday (one more query)."""
        hours = WeeklyAvailability.objects.select_related("professional").filter(
            Q(valid_from__isnull=True) | Q(valid_from__lte=day),
            Q(valid_until__isnull=True) | Q(valid_until__gte=day),
            weekday=day.weekday(),
            professional__active=True,
        )
        if professional is not None:
            hours = hours.filter(professional=professional)
        if location == CalendarFilterForm.ONLINE:
            hours = hours.filter(location__isnull=True)
        elif location:
            hours = hours.filter(location_id=int(location))
        professionals = {entry.professional_id: entry.professional for entry in hours}
        for card in appointments:
            professionals.setdefault(card["appointment"].professional_id, card["appointment"].professional)
        ordered = sorted(professionals.values(), key=lambda person: (person.sort_order, person.display_name))
        return [{"key": person.pk, "professional": person} for person in ordered]

    @staticmethod
    def grid(mode, days, columns, appointments):
        """Rows of hours, each with one list of cards per column; early or late sessions get their own row."""
        hours = list(range(CALENDAR_FIRST_HOUR, CALENDAR_LAST_HOUR))
        cells = {}
        earlier, later = False, False
        for card in appointments:
            hour = card["local_start"].hour
            if hour < CALENDAR_FIRST_HOUR:
                hour, earlier = "earlier", True
            elif hour >= CALENDAR_LAST_HOUR:
                hour, later = "later", True
            appointment = card["appointment"]
            key = card["local_start"].date() if mode == CalendarFilterForm.WEEK else appointment.professional_id
            cells.setdefault((hour, key), []).append(card)
        labels = [(hour, f"{hour:02d}:00") for hour in hours]
        if earlier:
            labels.insert(0, ("earlier", gettext("Before %(hour)s") % {"hour": f"{CALENDAR_FIRST_HOUR:02d}:00"}))
        if later:
            labels.append(("later", gettext("From %(hour)s") % {"hour": f"{CALENDAR_LAST_HOUR:02d}:00"}))
        return [
            {"label": label, "cells": [cells.get((hour, column["key"]), []) for column in columns]}
            for hour, label in labels
        ]

    @staticmethod
    def navigation_url(request, day, **overrides):
        query = request.GET.copy()
        query.pop("date", None)
        if day is not None:
            query["date"] = day.isoformat()
        for name, value in overrides.items():
            query[name] = value
        encoded = query.urlencode()
        return reverse("clinic_appointments:calendar") + (f"?{encoded}" if encoded else "")
