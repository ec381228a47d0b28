"""The booking box's steps, mounted at ``/booking/`` (every step is a GET page but the final POST), and its pack
path under ``/booking/packs/``."""

from django.urls import path

from . import identify, pack_schedule, pack_views, views

app_name = "widget"

urlpatterns = [
    path("", views.choose, name="start"),
    path("date/", views.choose_date, name="date"),
    path("identify/", identify.identify, name="identify"),
    path("review/", views.review, name="review"),
    path("pay/<slug:reference>/", views.pay, name="pay"),
    path("done/<slug:reference>/", views.done, name="done"),
    path("packs/", pack_views.packs, name="packs"),
    path("my-packs/<slug:reference>/", pack_views.purchase, name="pack_purchase"),
    path("my-packs/<slug:reference>/cancel/", pack_views.cancel_purchase, name="pack_cancel"),
    path("my-packs/<slug:reference>/schedule/", pack_schedule.schedule, name="pack_schedule"),
    path("packs/<slug:slug>/", pack_views.pack, name="pack"),
    path("packs/<slug:slug>/identify/", pack_views.pack_identify, name="pack_identify"),
]
