"""Template context for the site's header and footer.

Everything is lazy: Wagtail's admin and the JSON endpoints also render with a
RequestContext, and they must not pay for menus they never show.
"""

from django.utils.functional import SimpleLazyObject
from wagtail.models import Site


def _site(request):
    if not hasattr(request, "_website_site"):
        request._website_site = Site.find_for_request(request)
    return request._website_site


def _clinic_settings(request):
    from website.models import SiteSettings

    site = _site(request)
    if site is None:
        return SiteSettings()  # unsaved, all blank: the templates still render
    return SiteSettings.for_request(request)


def _navigation(request):
    from website.models import NavigationSettings

    site = _site(request)
    if site is None:
        return {"header": [], "footer": [], "legal": []}
    header, footer = NavigationSettings.items_for_site(site, request)
    linked_pages = {item.page_id for item in footer if item.page_id}
    return {
        "header": header,
        "footer": footer,
        "legal": _clinic_settings(request).get_legal_items(request, exclude_page_ids=linked_pages),
    }


def site_chrome(request):
    """``site_settings`` (SiteSettings) and the menus: ``header_links``, ``footer_links``, ``legal_links``.

    The menus are lists of ``NavItem``; ``legal_links`` are the privacy and terms pages from
    the settings that the footer menu does not already link to.
    """
    navigation = SimpleLazyObject(lambda: _navigation(request))
    return {
        "site_settings": SimpleLazyObject(lambda: _clinic_settings(request)),
        "header_links": SimpleLazyObject(lambda: navigation["header"]),
        "footer_links": SimpleLazyObject(lambda: navigation["footer"]),
        "legal_links": SimpleLazyObject(lambda: navigation["legal"]),
    }
