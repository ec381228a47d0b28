from django.urls import include, path
from wagtail import hooks

from . import admin_views

app_name = "records_admin"
urlpatterns = [
    path("appointments/<slug:reference>/share/", admin_views.share, name="share"),
    path("<slug:reference>/withdraw/", admin_views.withdraw, name="withdraw"),
]


@hooks.register("register_admin_urls")
def register_records_urls():
    return [path("records/documents/", include((urlpatterns, "records_admin"), namespace="records_admin"))]
