from django.urls import path

from . import views

app_name = "portal"
urlpatterns = [
    path("", views.home, name="home"),
    path("profile/", views.profile, name="profile"),
    path("calendar/", views.calendar, name="calendar"),
    path("calendar/feed/<slug:token>.ics", views.calendar_feed, name="calendar_feed"),
    path("appointments/<slug:reference>/calendar.ics", views.appointment_calendar, name="appointment_calendar"),
]
