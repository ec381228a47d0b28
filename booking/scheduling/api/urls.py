"""The scheduling API's routes, mounted at /api/v1/ by website/urls.py, and its OpenAPI schema."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from . import views

API_PREFIX = "api/v1/"  # where website/urls.py mounts this module; the schema's paths carry it

# Services offer "both" modalities, an appointment has one: two enums behind fields named "modality", so they get
# explicit names instead of drf-spectacular's hashed fallback (and its warning).
SCHEMA_SETTINGS = {
    "ENUM_NAME_OVERRIDES": {
        "ServiceModalityEnum": "booking.scheduling.models.catalog.Modality",
        "AppointmentModalityEnum": "booking.scheduling.models.appointments.AppointmentModality",
    },
}

endpoint_patterns = [
    path("services/", views.ServiceListView.as_view(), name="service-list"),
    path("professionals/", views.ProfessionalListView.as_view(), name="professional-list"),
    path("availability/", views.AvailabilityView.as_view(), name="availability"),
    path("appointments/", views.AppointmentCreateView.as_view(), name="appointment-list"),
    path("appointments/<str:reference>/", views.AppointmentDetailView.as_view(), name="appointment-detail"),
    path(
        "appointments/<str:reference>/reschedule/",
        views.AppointmentRescheduleView.as_view(),
        name="appointment-reschedule",
    ),
    path("appointments/<str:reference>/cancel/", views.AppointmentCancelView.as_view(), name="appointment-cancel"),
]

# The schema describes this API only: Wagtail's own admin API (also DRF) is not part of the public contract.
schema_view = SpectacularAPIView.as_view(
    custom_settings=SCHEMA_SETTINGS, patterns=[path(API_PREFIX, include(endpoint_patterns))]
)

app_name = "api"
urlpatterns = [path("schema/", schema_view, name="schema"), *endpoint_patterns]
