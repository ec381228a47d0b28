"""The scheduling API's routes, mounted at /api/v1/ by website/urls.py, and its OpenAPI schema."""

from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView

from booking.packs.api.urls import endpoint_patterns as pack_endpoint_patterns

from . import views

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
    *pack_endpoint_patterns,
]

# Only /api/v1/ is described (settings.SPECTACULAR_SETTINGS["PREPROCESSING_HOOKS"]).
schema_view = SpectacularAPIView.as_view()

app_name = "api"
urlpatterns = [
    path("schema/", schema_view, name="schema"),
    *endpoint_patterns,
    # Last: any other address ending in a slash answers the API's JSON 404 (one without the slash is first
    # redirected here by APPEND_SLASH, as before).
    re_path(r"^.+/$", views.UnknownEndpointView.as_view(), name="unknown"),
]
