from django.urls import path

from . import views  # noqa: F401

app_name = "billing"
urlpatterns: list = []
