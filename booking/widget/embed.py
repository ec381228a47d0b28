"""The booking box inside another site's iframe: who may frame it, and which language it speaks there.

``/embed/booking/`` serves the same step views as ``/booking/`` (``urls.py`` is mounted twice). Everything else
on the site refuses to be framed (``X-Frame-Options: SAMEORIGIN``, and ``frame-ancestors 'self'`` in the site's
Content-Security-Policy); the embed's responses instead name the sites the clinic allows in that policy's
``frame-ancestors``, from ``SiteSettings`` of the site asked. They are merged into the one policy django-csp builds
(``website.csp``), not sent as a second header, which browsers would enforce on top of the first. X-Frame-Options
cannot list other sites, and browsers that understand ``frame-ancestors`` ignore it, so the embed drops it rather
than send two rules that disagree. The steps that leave the embed for the clinic's own site
(log in, review, pay, done) stay unframeable even under ``/embed/booking/``.

The language cannot come from the clinic's language cookie inside a frame on another site (a third-party cookie,
``SameSite=Lax``, never sent), so the box takes a ``lang`` query parameter; ``embed.js`` fills it from the script
tag's ``data-lang``.
"""

from __future__ import annotations

from django.conf import settings
from django.utils import translation
from wagtail.models import Site

from .views import TOP_LEVEL_STEPS, is_embedded

#: The query parameter that picks the box's language (``en``, ``es-cl``; ``es`` means ``es-cl``).
LANGUAGE_PARAMETER = "lang"


def requested_language(request) -> str:
    """The supported language named by ``?lang=``, or ``""`` when it is absent or not one of ``LANGUAGES``."""
    value = request.GET.get(LANGUAGE_PARAMETER, "").strip().lower()
    if not value:
        return ""
    try:
        code = translation.get_supported_language_variant(value)
    except LookupError:
        return ""
    return code if code in dict(settings.LANGUAGES) else ""


def allowed_frame_ancestors(request) -> list[str]:
    """``'self'`` and the current site's allowed origins: who may show the embed in a frame.

    Reuses the settings the page already loaded for its title (Wagtail keeps them on the request); otherwise reads
    the one column, without creating a settings row on a visitor's request.
    """
    from website.models import SiteSettings

    row = getattr(request, SiteSettings.get_cache_attr_name(), None)
    if row is None:
        site = Site.find_for_request(request)
        text = SiteSettings.objects.filter(site=site).values_list("embed_allowed_origins", flat=True).first()
        row = SiteSettings(embed_allowed_origins=text or "")
    return ["'self'", *row.embed_origins]


def frameable(request) -> bool:
    """Whether this response may be shown in another site's frame: an embedded step, but not a top-level one.

    The steps the embed sends to the clinic's own site (``TOP_LEVEL_STEPS``: identify, review, pay, done) log in,
    take personal data and confirm or pay. They answer under ``/embed/booking/`` too (the URLs are mounted twice),
    but keep ``X-Frame-Options: SAMEORIGIN`` there, so no allowed site can frame a confirm button (clickjacking).
    """
    return is_embedded(request) and request.resolver_match.url_name not in TOP_LEVEL_STEPS


class EmbedMiddleware:
    """Frame permissions and the ``lang`` parameter for the booking box's steps.

    Place it after ``XFrameOptionsMiddleware``, ``ClinicCSPMiddleware`` and ``LocaleMiddleware``: it runs on the
    response before the first two (so the exemption and the frame-ancestors are seen) and picks the language
    after the last (so ``lang`` wins over the browser's ``Accept-Language``). The language hook is a
    ``process_view`` because only then is the URL resolved, and only the box's own URLs take ``lang``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if frameable(request):
            # Read by django-csp's middleware, which runs on the response after this one (it is listed before).
            replace = dict(getattr(response, "_csp_replace", None) or {})
            replace["frame-ancestors"] = allowed_frame_ancestors(request)
            response._csp_replace = replace
            response.xframe_options_exempt = True
            if response.has_header("X-Frame-Options"):
                del response["X-Frame-Options"]
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        """``?lang=en`` on a step of the box (embedded or not) switches the language of that response.

        It is kept as ``request.box_language`` for the step links to carry on, the top-level steps' too, so the
        visitor keeps the box's language when it continues on the clinic's own site.
        """
        match = request.resolver_match
        if match is None or match.app_name != "widget":
            return None
        language = requested_language(request)
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
            request.box_language = language
        return None
