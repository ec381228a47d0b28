"""The booking box's steps, mounted at ``/booking/`` (every step is a GET page but the final POST)."""

from django.urls import path

from . import identify, views

app_name = "widget"

urlpatterns = [
    path("", views.choose, name="start"),
    path("date/", views.choose_date, name="date"),
    path("identify/", identify.identify, name="identify"),
    path("review/", views.review, name="review"),
    path("pay/<slug:reference>/", views.pay, name="pay"),
    path("done/<slug:reference>/", views.done, name="done"),
]
