"""The clinic in the Wagtail admin: appointments, professionals (with weekly hours), time off and the catalog.

Staff manage these plain Django models through ``ModelViewSet`` screens grouped under one
"Clinic" menu. Wagtail's model permissions apply (``scheduling.view_service`` and friends),
list views load their relations up front so they run a fixed number of queries, and the
forms validate with the models' own rules so bad input comes back as a message, not a 500.

Other apps can put their own screens in the same menu by giving their viewset
``menu_hook = CLINIC_MENU_HOOK``.
"""

import datetime

import django_filters
from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Prefetch, ProtectedError, Q, RestrictedError
from django.http import HttpResponseRedirect
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.forms import WagtailAdminModelForm
from wagtail.admin.forms.choosers import BaseFilterForm
from wagtail.admin.panels import FieldPanel, FieldRowPanel, InlinePanel, MultiFieldPanel, ObjectList, TabbedInterface
from wagtail.admin.ui.tables import BooleanColumn, Column
from wagtail.admin.views import generic
from wagtail.admin.views.generic import chooser as chooser_views
from wagtail.admin.viewsets.chooser import ChooserViewSet
from wagtail.admin.viewsets.model import ModelViewSet, ModelViewSetGroup

from portal.accounts.models import User

from .admin_forms import DateOverrideForm, TimeOffForm, WeeklyAvailabilityForm, clinic_zone, local_datetime
from .admin_tokens import ApiTokenViewSet
from .admin_views import AppointmentViewSet
from .date_range import validate_in_range
from .models import DateOverride, Location, Professional, ProfessionalService, Service, ServiceCategory, TimeOff

CLINIC_MENU_HOOK = "register_clinic_menu_item"


class CatalogDeleteView(generic.DeleteView):
    """Refuses, with a message, to delete rows that other records still need.

    Wagtail's usage check only knows about references it has indexed; bookings and pages
    created elsewhere can still PROTECT a service or a location, and that must not be a 500.
    """

    def delete_action(self):
        try:
            super().delete_action()
        except (ProtectedError, RestrictedError):
            raise _StillInUse from None

    def form_valid(self, form):
        try:
            return super().form_valid(form)
        except _StillInUse:
            messages.error(
                self.request,
                gettext("“%(object)s” is still used by other records, so it cannot be deleted. Deactivate it instead.")
                % {"object": self.object},
            )
            return HttpResponseRedirect(self.get_success_url())


class _StillInUse(Exception):
    pass


class CatalogEditView(generic.EditView):
    """Turns "this inline row is still used elsewhere" (e.g. a room with bookings) into a form error.

    The save runs in one transaction, so nothing of the refused edit is stored.
    """

    def form_valid(self, form):
        try:
            return super().form_valid(form)
        except (ProtectedError, RestrictedError):
            message = _(
                "A row you removed is still used by other records, so nothing was saved. Deactivate it instead."
            )
            form.add_error(None, ValidationError(message, code="protected"))
            self.produced_error_code = "protected"
            self.produced_error_message = message
            return self.form_invalid(form)


class CatalogViewSet(ModelViewSet):
    """Common settings: an inspect view (so "view" permissions mean something) and safe saves and deletes."""

    inspect_view_enabled = True
    edit_view_class = CatalogEditView
    delete_view_class = CatalogDeleteView
    list_per_page = 50
    #: A queryset with the relations the listing's columns read, so rows cost no extra queries.
    list_queryset = None

    def get_index_view_kwargs(self, **kwargs):
        if self.list_queryset is not None:
            kwargs.setdefault("queryset", self.list_queryset)
        return super().get_index_view_kwargs(**kwargs)


# --- Service categories -------------------------------------------------------------------


class ServiceCategoryViewSet(CatalogViewSet):
    model = ServiceCategory
    icon = "folder-open-inverse"
    url_prefix = "clinic/categories"
    sort_order_field = "sort_order"
    list_queryset = ServiceCategory.objects.annotate(service_count=Count("services"))
    list_display = [
        "name",
        "slug",
        Column("service_count", label=_("Services"), sort_key="service_count"),
        "sort_order",
    ]
    search_fields = ["name", "description"]
    search_backend_name = None
    panels = [
        FieldPanel("name"),
        FieldPanel("slug", help_text=_("Used in web addresses, e.g. “psychology”.")),
        FieldPanel("description"),
        FieldPanel("sort_order"),
    ]


# --- Services -----------------------------------------------------------------------------


class ServiceViewSet(CatalogViewSet):
    model = Service
    icon = "clipboard-list"
    url_prefix = "clinic/services"
    list_queryset = Service.objects.select_related("category")
    list_display = [
        "name",
        "category",
        Column("duration_minutes", label=_("Duration (min)"), sort_key="duration_minutes"),
        Column("formatted_price", label=_("Price"), sort_key="price"),
        Column("modality", label=_("Modality"), accessor="get_modality_display", sort_key="modality"),
        Column("payment_mode", label=_("Payment"), accessor="get_payment_mode_display", sort_key="payment_mode"),
        BooleanColumn("active", label=_("Active"), sort_key="active"),
    ]
    list_filter = ["category", "modality", "payment_mode", "active"]
    list_export = ["name", "slug", "category", "duration_minutes", "price", "currency", "modality", "active"]
    search_fields = ["name", "slug", "description"]
    search_backend_name = None
    panels = [
        MultiFieldPanel(
            [FieldPanel("name"), FieldPanel("slug"), FieldPanel("category"), FieldPanel("description")],
            heading=_("Service"),
        ),
        MultiFieldPanel(
            [
                FieldPanel("modality"),
                FieldRowPanel(
                    [
                        FieldPanel("duration_minutes"),
                        FieldPanel("buffer_before_minutes"),
                        FieldPanel("buffer_after_minutes"),
                    ]
                ),
            ],
            heading=_("Session"),
        ),
        MultiFieldPanel(
            [
                FieldRowPanel([FieldPanel("price"), FieldPanel("currency")]),
                FieldPanel("payment_mode"),
                FieldPanel("available_in_packs"),
                FieldPanel("pack_late_cancel_returns_session"),
            ],
            heading=_("Price and payment"),
        ),
        MultiFieldPanel(
            [
                FieldRowPanel([FieldPanel("min_notice_minutes"), FieldPanel("booking_horizon_days")]),
                FieldRowPanel(
                    [
                        FieldPanel("cancellation_window_hours"),
                        FieldPanel("reschedule_window_hours"),
                        FieldPanel("max_reschedules"),
                    ]
                ),
                FieldPanel("control_reminder_days"),
            ],
            heading=_("Booking rules"),
        ),
        FieldRowPanel([FieldPanel("active"), FieldPanel("sort_order")], heading=_("Publishing")),
    ]


# --- Locations ----------------------------------------------------------------------------


class LocationViewSet(CatalogViewSet):
    model = Location
    icon = "site"
    url_prefix = "clinic/locations"
    list_queryset = Location.objects.annotate(room_count=Count("rooms"))
    list_display = [
        "name",
        "address",
        "city",
        "time_zone",
        Column("room_count", label=_("Rooms"), sort_key="room_count"),
        BooleanColumn("active", label=_("Active"), sort_key="active"),
    ]
    list_filter = ["active"]
    search_fields = ["name", "address", "city", "region"]
    search_backend_name = None
    panels = [
        MultiFieldPanel([FieldPanel("name"), FieldPanel("slug")], heading=_("Location")),
        MultiFieldPanel(
            [
                FieldPanel("address"),
                FieldRowPanel([FieldPanel("city"), FieldPanel("region")]),
                FieldPanel("directions"),
                FieldPanel("time_zone"),
                FieldPanel("observes_public_holidays"),
            ],
            heading=_("Address"),
        ),
        FieldRowPanel([FieldPanel("phone"), FieldPanel("email")], heading=_("Contact")),
        InlinePanel(
            "rooms",
            heading=_("Rooms"),
            label=_("Room"),
            panels=[FieldPanel("name"), FieldPanel("active")],
        ),
        FieldRowPanel([FieldPanel("active"), FieldPanel("sort_order")], heading=_("Publishing")),
    ]


# --- The user account chooser for professionals --------------------------------------------


class UserChooserFilterForm(BaseFilterForm):
    """Search users by email or name with the ORM: the user model is not in the search index."""

    q = forms.CharField(
        label=_("Search term"), required=False, widget=forms.TextInput(attrs={"placeholder": _("Search")})
    )

    def filter(self, objects):
        objects = super().filter(objects)
        query = (self.cleaned_data.get("q") or "").strip()
        if query:
            objects = objects.filter(
                Q(email__icontains=query) | Q(first_name__icontains=query) | Q(last_name__icontains=query)
            )
            self.is_searching = True
            self.search_query = query
        return objects


class ManagesProfessionalsRequired:
    """Only staff who may add or edit professionals can browse user accounts (emails are personal data)."""

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if not (user.has_perm("scheduling.add_professional") or user.has_perm("scheduling.change_professional")):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class UserChooseView(ManagesProfessionalsRequired, chooser_views.ChooseView):
    filter_form_class = UserChooserFilterForm

    @property
    def columns(self):
        return [*super().columns, Column("email", label=_("Email"), accessor="email")]


class UserChooseResultsView(ManagesProfessionalsRequired, chooser_views.ChooseResultsView):
    filter_form_class = UserChooserFilterForm

    @property
    def columns(self):
        return [*super().columns, Column("email", label=_("Email"), accessor="email")]


class UserChosenView(ManagesProfessionalsRequired, chooser_views.ChosenView):
    pass


class UserAccountChooserViewSet(ChooserViewSet):
    """A modal to pick the login account a professional uses for the portal."""

    model = User
    icon = "user"
    url_prefix = "clinic/user-chooser"
    choose_one_text = _("Choose a user account")
    choose_another_text = _("Choose another user account")
    edit_item_text = _("Edit user")
    choose_view_class = UserChooseView
    choose_results_view_class = UserChooseResultsView
    chosen_view_class = UserChosenView
    # Only this form uses it; other apps' user fields keep their own widgets and rules.
    register_widget = False
    per_page = 20

    def get_object_list(self):
        return User.objects.filter(is_active=True).order_by("last_name", "first_name", "email")


user_account_chooser_viewset = UserAccountChooserViewSet("clinic_user_chooser")


# --- Schedules --------------------------------------------------------------------------------------------


class WeeklyAvailabilityInlinePanel(InlinePanel):
    """An InlinePanel whose rows use ``WeeklyAvailabilityForm``, so a bad time range is a message, not a 500."""

    def get_form_options(self):
        options = super().get_form_options()
        options["formsets"][self.relation_name]["form"] = WeeklyAvailabilityForm
        return options


class TimeOffFilterSet(WagtailFilterSet):
    professional = django_filters.ModelChoiceFilter(
        label=_("Professional"),
        queryset=Professional.objects.order_by("display_name"),
        null_label=_("Whole clinic"),
    )
    date = django_filters.DateFilter(label=_("On date"), method="filter_on_date", validators=[validate_in_range])

    class Meta:
        model = TimeOff
        fields = ["professional", "location"]

    def filter_on_date(self, queryset, name, value):
        """Time off that covers any part of that day in the clinic's time zone."""
        day_start = local_datetime(value, datetime.time(0), clinic_zone())
        return queryset.filter(start__lt=day_start + datetime.timedelta(days=1), end__gt=day_start)


def _time_off_who(time_off):
    return time_off.professional or gettext("Whole clinic")


def _time_off_where(time_off):
    return time_off.location or gettext("Every location")


class TimeOffViewSet(CatalogViewSet):
    model = TimeOff
    icon = "date"
    url_prefix = "clinic/time-off"
    menu_label = _("Time off")
    list_queryset = TimeOff.objects.select_related("professional", "location")
    list_display = [
        Column("professional", label=_("Professional"), accessor=_time_off_who, sort_key="professional__display_name"),
        Column("location", label=_("Location"), accessor=_time_off_where),
        "start",
        "end",
        BooleanColumn("all_day", label=_("All day"), sort_key="all_day"),
        "reason",
    ]
    ordering = ["-start"]
    filterset_class = TimeOffFilterSet
    edit_handler = ObjectList(
        [
            FieldPanel("professional"),
            FieldPanel("location"),
            FieldRowPanel([FieldPanel("start"), FieldPanel("end")]),
            FieldPanel("all_day"),
            FieldPanel("reason"),
        ],
        base_form_class=TimeOffForm,
    )


# --- Date overrides ("special hours" on one date) ---------------------------------------------------------


class DateOverrideFilterSet(WagtailFilterSet):
    professional = django_filters.ModelChoiceFilter(
        label=_("Professional"), queryset=Professional.objects.order_by("display_name")
    )
    location = django_filters.ModelChoiceFilter(
        label=_("Location"), queryset=Location.objects.order_by("name"), null_label=_("Online")
    )
    date_from = django_filters.DateFilter(label=_("From"), field_name="date", lookup_expr="gte")
    date_to = django_filters.DateFilter(label=_("Until"), field_name="date", lookup_expr="lte")

    class Meta:
        model = DateOverride
        fields = ["professional", "location"]


def _override_where(override):
    return override.location or gettext("Online")


def _override_hours(override):
    if override.is_closed:
        return gettext("Closed")
    return f"{override.start_time:%H:%M}–{override.end_time:%H:%M}"


class DateOverrideViewSet(CatalogViewSet):
    """One date's own hours for a professional: extra hours, replaced hours, or closed (both times empty).

    Permissions follow the weekly hours' (see ``permission_policies``), so reception staff find it next to
    "Time off" without a separate grant.
    """

    model = DateOverride
    icon = "calendar-alt"
    url_prefix = "clinic/date-overrides"
    menu_label = _("Date overrides")
    list_queryset = DateOverride.objects.select_related("professional", "location")
    list_display = [
        Column("professional", label=_("Professional"), sort_key="professional__display_name"),
        Column("date", label=_("Date"), sort_key="date"),
        Column("location", label=_("Location"), accessor=_override_where),
        Column("hours", label=_("Hours"), accessor=_override_hours, sort_key="start_time"),
    ]
    ordering = ["-date", "start_time"]
    filterset_class = DateOverrideFilterSet
    edit_handler = ObjectList(
        [
            FieldPanel("professional"),
            FieldRowPanel([FieldPanel("date"), FieldPanel("location")]),
            FieldRowPanel([FieldPanel("start_time"), FieldPanel("end_time")]),
        ],
        base_form_class=DateOverrideForm,
        help_text=_(
            "These hours replace the professional's weekly hours at that location on that date; several rows add "
            "up. Leave both times empty to close that date. Wall-clock times in the location's time zone (online: "
            "the clinic's)."
        ),
    )


# --- Professionals ------------------------------------------------------------------------


class ProfessionalAdminForm(WagtailAdminModelForm):
    """Adds a plain-words message when the same service is listed twice for one professional."""

    def clean(self):
        cleaned_data = super().clean()
        formset = self.formsets.get("offered_services") if hasattr(self, "formsets") else None
        if formset is None:
            return cleaned_data
        seen = set()
        for form in formset.forms:
            if not form.has_changed() and not form.instance.pk:
                continue
            form.is_valid()  # cleans the row so its service can be read
            if formset.can_delete and formset._should_delete_form(form):
                continue
            service = form.cleaned_data.get("service")
            if service is None:
                continue
            if service.pk in seen:
                form.add_error(
                    "service",
                    ValidationError(
                        _("“%(service)s” is already listed. A service can be offered only once: edit the other row."),
                        code="duplicate_service",
                        params={"service": service},
                    ),
                )
            seen.add(service.pk)
        return cleaned_data


class ProfessionalFilterSet(WagtailFilterSet):
    service = django_filters.ModelChoiceFilter(
        label=_("Service"),
        field_name="offered_services__service",
        queryset=Service.objects.all(),
        distinct=True,
    )
    location = django_filters.ModelChoiceFilter(
        label=_("Location"),
        field_name="locations",
        queryset=Location.objects.all(),
        distinct=True,
    )

    class Meta:
        model = Professional
        fields = ["active", "accepting_new_patients"]


def _offered_service_names(professional):
    return ", ".join(offer.service.name for offer in professional.offered_services.all())


def _location_names(professional):
    return ", ".join(location.name for location in professional.locations.all())


class ProfessionalViewSet(CatalogViewSet):
    model = Professional
    icon = "user"
    url_prefix = "clinic/professionals"
    sort_order_field = "sort_order"
    list_queryset = Professional.objects.select_related("user").prefetch_related(
        Prefetch("offered_services", queryset=ProfessionalService.objects.select_related("service")),
        "locations",
    )
    list_display = [
        "display_name",
        "title",
        Column("services", label=_("Services"), accessor=_offered_service_names),
        Column("locations", label=_("Locations"), accessor=_location_names),
        BooleanColumn("accepting_new_patients", label=_("Accepting new patients"), sort_key="accepting_new_patients"),
        BooleanColumn("active", label=_("Active"), sort_key="active"),
    ]
    filterset_class = ProfessionalFilterSet
    search_fields = ["display_name", "title", "slug", "bio"]
    search_backend_name = None

    edit_handler = TabbedInterface(
        [
            ObjectList(
                [
                    MultiFieldPanel(
                        [FieldPanel("display_name"), FieldPanel("slug"), FieldPanel("title"), FieldPanel("rut")],
                        heading=_("Identity"),
                    ),
                    FieldPanel("photo"),
                    FieldPanel("bio"),
                    FieldPanel("video_url"),
                ],
                heading=_("Profile"),
            ),
            ObjectList(
                [
                    InlinePanel(
                        "offered_services",
                        heading=_("Services offered"),
                        label=_("Service"),
                        panels=[
                            FieldPanel("service"),
                            FieldRowPanel([FieldPanel("price_override"), FieldPanel("duration_override_minutes")]),
                        ],
                    ),
                    FieldPanel("locations", widget=forms.CheckboxSelectMultiple),
                    FieldRowPanel([FieldPanel("accepting_new_patients"), FieldPanel("active")]),
                    FieldPanel("daily_agenda_email"),
                    FieldPanel("availability_self_service"),
                    FieldPanel("sort_order"),
                ],
                heading=_("Practice"),
            ),
            ObjectList(
                [
                    InlinePanel(
                        "degrees",
                        heading=_("Postgraduate degrees"),
                        label=_("Degree"),
                        panels=[FieldPanel("title"), FieldRowPanel([FieldPanel("institution"), FieldPanel("year")])],
                    ),
                    InlinePanel(
                        "experience",
                        heading=_("Experience"),
                        label=_("Position"),
                        panels=[
                            FieldRowPanel([FieldPanel("role"), FieldPanel("organisation")]),
                            FieldPanel("period"),
                            FieldPanel("description"),
                        ],
                    ),
                ],
                heading=_("Background"),
            ),
            ObjectList(
                [
                    WeeklyAvailabilityInlinePanel(
                        "weekly_availability",
                        heading=_("Weekly hours"),
                        label=_("Hours"),
                        help_text=_("Wall-clock times in the location's time zone; online hours use the clinic's."),
                        panels=[
                            FieldRowPanel([FieldPanel("weekday"), FieldPanel("location")]),
                            FieldRowPanel([FieldPanel("start_time"), FieldPanel("end_time")]),
                            FieldRowPanel([FieldPanel("valid_from"), FieldPanel("valid_until")]),
                        ],
                    ),
                ],
                heading=_("Schedule"),
            ),
            ObjectList(
                [FieldPanel("user", widget=user_account_chooser_viewset.widget_class)],
                heading=_("Account"),
            ),
        ],
        base_form_class=ProfessionalAdminForm,
    )


class ClinicViewSetGroup(ModelViewSetGroup):
    """The "Clinic" admin menu: everything staff keep about what the clinic offers."""

    menu_label = _("Clinic")
    menu_name = "clinic"
    menu_icon = "clipboard-list"
    menu_order = 150
    submenu_hook = CLINIC_MENU_HOOK
    items = (
        AppointmentViewSet,
        ProfessionalViewSet,
        TimeOffViewSet,
        DateOverrideViewSet,
        ServiceViewSet,
        ServiceCategoryViewSet,
        LocationViewSet,
        ApiTokenViewSet,
    )
