"""The packs endpoints, included in the API's routes (``booking.scheduling.api.urls``) under /api/v1/."""

from django.urls import path

from . import views

endpoint_patterns = [
    path("packs/", views.PackageListView.as_view(), name="pack-list"),
    path("purchases/", views.PurchaseListView.as_view(), name="purchase-list"),
    path("purchases/<str:reference>/", views.PurchaseDetailView.as_view(), name="purchase-detail"),
    path("purchases/<str:reference>/cancel/", views.PurchaseCancelView.as_view(), name="purchase-cancel"),
    path("purchases/<str:reference>/book/", views.PurchaseBookView.as_view(), name="purchase-book"),
    path(
        "purchases/<str:reference>/schedule/preview/",
        views.SchedulePreviewView.as_view(),
        name="purchase-schedule-preview",
    ),
    path(
        "purchases/<str:reference>/schedule/confirm/",
        views.ScheduleConfirmView.as_view(),
        name="purchase-schedule-confirm",
    ),
]
