"""The project's URL map. Each app owns its own ``urls`` module; Wagtail's pages come last."""

from django.conf import settings
from django.conf.urls.static import static
from django.urls import include, path, re_path
from django.views.i18n import set_language
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from website import routing
from website import views as website_views

urlpatterns = [
    path("healthz", website_views.healthz, name="healthz"),
    path("favicon.ico", website_views.favicon, name="favicon"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("accounts/", include("portal.accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("portal/", include("portal.urls")),
    path("api/v1/", include("booking.scheduling.api.urls")),
    path("billing/", include("booking.billing.urls")),
    path("notifications/", include("booking.notifications.urls")),
    path("booking/", include("booking.widget.urls", namespace="widget")),
    path("embed/booking/", include("booking.widget.urls", namespace="embed")),
    path("", include("website.site_urls")),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

# Wagtail's own URLs, with its page view wrapped by ``routing.serve``: the same view, routed in fewer queries.
urlpatterns += [pattern for pattern in wagtail_urls.urlpatterns if pattern.name != "wagtail_serve"]
urlpatterns.append(re_path(wagtail_urls.serve_pattern, routing.serve, name="wagtail_serve"))

handler404 = "website.views.page_not_found"
handler500 = "website.views.server_error"
