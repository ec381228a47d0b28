"""Tags base.html uses for the <title>, meta description, canonical URL, Open Graph and JSON-LD.

Pages opt in through optional methods: ``get_meta_description()``, ``get_og_image()``
(a Wagtail image or None) and ``get_json_ld(request)`` (a dict or None).
"""

import json

from django import template
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe

from website.models.pages import meta_description_text
from website.renditions import rendition_url_or_none

register = template.Library()

OG_IMAGE_FILTER = "fill-1200x630"
# The same escapes as django.utils.html.json_script: the JSON can never close the <script>.
JSON_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


class TitleWithSiteNameNode(template.Node):
    def __init__(self, nodelist):
        self.nodelist = nodelist

    def render(self, context):
        # The block's output is already escaped by the template engine; the site name is not.
        title = " ".join(self.nodelist.render(context).split())
        site_settings = context.get("site_settings")
        site_name = conditional_escape(str(getattr(site_settings, "display_name", "") or ""))
        if title and site_name and title != site_name:
            return mark_safe(f"{title} | {site_name}")
        return mark_safe(title or site_name)


@register.tag
def title_with_site_name(parser, token):
    """``{% title_with_site_name %}{% block title %}…{% endblock %}{% endtitle_with_site_name %}``

    Appends " | clinic name" to whatever the title block renders, and shows the clinic name
    alone when the block is empty, so templates only ever write their own title.
    """
    nodelist = parser.parse(("endtitle_with_site_name",))
    parser.delete_first_token()
    return TitleWithSiteNameNode(nodelist)


@register.simple_tag
def page_seo_title(page):
    if page is None:
        return ""
    return getattr(page, "seo_title", "") or getattr(page, "title", "")


@register.simple_tag
def meta_description(page):
    if page is None:
        return ""
    if hasattr(page, "get_meta_description"):
        return page.get_meta_description() or ""
    return meta_description_text(getattr(page, "search_description", ""))


@register.simple_tag(takes_context=True)
def canonical_url(context, page=None):
    request = context.get("request")
    if page is not None and hasattr(page, "get_full_url"):
        url = page.get_full_url(request)
        if url:
            return url
    if request is None:
        return ""
    return request.build_absolute_uri(request.path)


@register.simple_tag(takes_context=True)
def og_image_url(context, page):
    """The absolute URL of a 1200×630 rendition of ``page.get_og_image()``, or "" (also when its file is missing)."""
    get_og_image = getattr(page, "get_og_image", None)
    if get_og_image is None:
        return ""
    url = rendition_url_or_none(get_og_image(), OG_IMAGE_FILTER)
    if not url:
        return ""
    request = context.get("request")
    return request.build_absolute_uri(url) if request is not None else url


@register.simple_tag(takes_context=True)
def json_ld(context, page):
    """``<script type="application/ld+json">`` with ``page.get_json_ld(request)``, or nothing."""
    get_json_ld = getattr(page, "get_json_ld", None)
    if get_json_ld is None:
        return ""
    data = get_json_ld(context.get("request"))
    if not data:
        return ""
    payload = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False).translate(JSON_SCRIPT_ESCAPES)
    return format_html('<script type="application/ld+json">{}</script>', mark_safe(payload))
