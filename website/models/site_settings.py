"""Site-wide values editors change in Settings: the clinic's contact details and the menus."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Value
from django.utils.translation import gettext_lazy as _
from modelcluster.fields import ParentalKey
from modelcluster.models import ClusterableModel
from wagtail.admin.panels import FieldPanel, InlinePanel, MultiFieldPanel, ObjectList, TabbedInterface
from wagtail.contrib.settings.models import BaseSiteSetting, register_setting
from wagtail.models import Orderable

from website.visibility import public


class OnlinePaymentFallback(models.TextChoices):
    """What the booking box does with a service paid online at booking while online payment is unavailable."""

    PAY_AT_CLINIC = "clinic", _("Take the booking and let the patient pay at the clinic")
    NOT_BOOKABLE = "not_bookable", _("The service cannot be booked online")


@register_setting(icon="site")
class SiteSettings(BaseSiteSetting):
    """The clinic's name, logo, contact details, social links, legal pages and default booking texts.

    Every field is optional so the settings row can be created on the first request of a new site.
    """

    clinic_name = models.CharField(
        _("clinic name"),
        max_length=150,
        blank=True,
        help_text=_("Shown in the header, the footer and the browser tab. Defaults to the site name."),
    )
    logo = models.ForeignKey(
        "wagtailimages.Image",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("logo"),
        help_text=_("Shown in the header; a transparent PNG or SVG-like image about 200 pixels wide works best."),
    )
    email = models.EmailField(_("contact email"), blank=True, help_text=_("Shown in the footer."))
    phone = models.CharField(
        _("phone"), max_length=30, blank=True, help_text=_("In international format, e.g. +56 2 2345 6789.")
    )
    whatsapp = models.CharField(
        _("WhatsApp number"),
        max_length=30,
        blank=True,
        help_text=_("In international format, e.g. +56 9 1234 5678. The footer links to a WhatsApp chat."),
    )
    address = models.TextField(_("address"), blank=True, help_text=_("Street, number and city; one per line."))
    opening_hours = models.TextField(
        _("opening hours"), blank=True, help_text=_("Free text, e.g. “Monday to Friday, 9:00 to 20:00”.")
    )
    instagram_url = models.URLField(_("Instagram URL"), blank=True)
    facebook_url = models.URLField(_("Facebook URL"), blank=True)
    linkedin_url = models.URLField(_("LinkedIn URL"), blank=True)
    youtube_url = models.URLField(_("YouTube URL"), blank=True)
    privacy_policy_page = models.ForeignKey(
        "wagtailcore.Page",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("privacy policy page"),
        help_text=_("Linked in the footer and accepted by patients when they sign up."),
    )
    terms_page = models.ForeignKey(
        "wagtailcore.Page",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("terms and conditions page"),
        help_text=_("Linked in the footer and accepted by patients when they sign up."),
    )
    booking_heading = models.CharField(
        _("booking heading"),
        max_length=150,
        blank=True,
        help_text=_("The default heading of booking boxes, e.g. “Book your session”."),
    )
    booking_intro = models.TextField(
        _("booking introduction"), blank=True, help_text=_("The default text shown above the booking steps.")
    )
    booking_policy_text = models.TextField(
        _("booking policy text"),
        blank=True,
        help_text=_("The cancellation and rescheduling policy shown before a patient confirms a booking."),
    )
    online_payment_fallback = models.CharField(
        _("when online payment is unavailable"),
        max_length=20,
        choices=OnlinePaymentFallback.choices,
        default=OnlinePaymentFallback.PAY_AT_CLINIC,
        blank=True,  # left empty (a form that leaves it out) means the default, paying at the clinic
        help_text=_(
            "For services paid online at booking, while online payment is switched off: book them and let the "
            "patient pay at the clinic, or say they cannot be booked online (the box then shows the clinic's "
            "contact details)."
        ),
    )
    embed_allowed_origins = models.TextField(
        _("sites allowed to embed the booking box"),
        blank=True,
        help_text=_(
            "One address per line, e.g. https://www.example.com (scheme and host, optionally a port; no path). "
            "Only these sites (and this one) may show the booking box in a frame."
        ),
    )

    select_related = ["logo", "privacy_policy_page", "terms_page"]

    edit_handler = TabbedInterface(
        [
            ObjectList(
                [FieldPanel("clinic_name"), FieldPanel("logo")],
                heading=_("Identity"),
            ),
            ObjectList(
                [
                    FieldPanel("email"),
                    FieldPanel("phone"),
                    FieldPanel("whatsapp"),
                    FieldPanel("address"),
                    FieldPanel("opening_hours"),
                ],
                heading=_("Contact"),
            ),
            ObjectList(
                [
                    FieldPanel("instagram_url"),
                    FieldPanel("facebook_url"),
                    FieldPanel("linkedin_url"),
                    FieldPanel("youtube_url"),
                ],
                heading=_("Social media"),
            ),
            ObjectList(
                [FieldPanel("privacy_policy_page"), FieldPanel("terms_page")],
                heading=_("Legal"),
            ),
            ObjectList(
                [
                    FieldPanel("booking_heading"),
                    FieldPanel("booking_intro"),
                    FieldPanel("booking_policy_text"),
                    FieldPanel("online_payment_fallback"),
                    FieldPanel("embed_allowed_origins"),
                ],
                heading=_("Booking"),
            ),
        ]
    )

    class Meta:
        verbose_name = _("clinic settings")
        verbose_name_plural = _("clinic settings")

    @property
    def display_name(self) -> str:
        return self.clinic_name or settings.WAGTAIL_SITE_NAME

    def clean(self):
        """Refuse what a browser would not take as a ``frame-ancestors`` origin, and store each one normalised.

        A bad line must not reach the Content-Security-Policy header: a stray ``;`` or space there would let the
        line read as another directive, and a path would make the browser match nothing without saying so.
        """
        super().clean()
        origins, errors = [], []
        for line in self.embed_allowed_origins.splitlines():
            if not line.strip():
                continue
            try:
                origin = normalise_origin(line)
            except ValidationError as error:
                errors.extend(error.messages)
                continue
            if origin not in origins:
                origins.append(origin)
        if errors:
            raise ValidationError({"embed_allowed_origins": errors})
        self.embed_allowed_origins = "\n".join(origins)

    @property
    def embed_origins(self) -> list[str]:
        """The valid origins of ``embed_allowed_origins`` (a line that slipped past ``clean()`` is left out)."""
        origins = []
        for line in self.embed_allowed_origins.splitlines():
            try:
                origins.append(normalise_origin(line))
            except ValidationError:
                continue
        return [origin for index, origin in enumerate(origins) if origin not in origins[:index]]

    @property
    def social_links(self) -> list[tuple[str, str]]:
        """(network name, URL) for each configured network, in a fixed order."""
        networks = [
            ("Instagram", self.instagram_url),
            ("Facebook", self.facebook_url),
            ("LinkedIn", self.linkedin_url),
            ("YouTube", self.youtube_url),
        ]
        return [(name, url) for name, url in networks if url]

    @property
    def social_urls(self) -> list[str]:
        return [url for _name, url in self.social_links]

    def get_legal_items(self, request, *, exclude_page_ids=()) -> list[NavItem]:
        """Footer links to the published privacy and terms pages, unless the footer menu has them already."""
        items = []
        for page, label in (
            (self.privacy_policy_page, _("Privacy policy")),
            (self.terms_page, _("Terms and conditions")),
        ):
            if page is not None and page.live and page.pk not in exclude_page_ids:
                items.append(NavItem(label=str(label), url=page.get_url(request) or "", page_id=page.pk))
        return items

    @property
    def phone_href(self) -> str:
        digits = re.sub(r"[^\d+]", "", self.phone)
        return f"tel:{digits}" if digits else ""

    @property
    def whatsapp_href(self) -> str:
        digits = re.sub(r"\D", "", self.whatsapp)
        return f"https://wa.me/{digits}" if digits else ""


def clinic_name(request=None) -> str:
    """The clinic's public name: the settings' name of ``request``'s site (of the default site without a request),
    else ``WAGTAIL_SITE_NAME``.

    Without a request nothing is written: a command that only wants the name must not create a settings row.
    """
    if request is None:
        name = SiteSettings.objects.filter(site__is_default_site=True).values_list("clinic_name", flat=True).first()
        return name or settings.WAGTAIL_SITE_NAME
    try:
        return SiteSettings.for_request(request).display_name
    except SiteSettings.DoesNotExist:  # no Wagtail site answers the request's host: there are no settings to read
        return settings.WAGTAIL_SITE_NAME


def normalise_origin(value: str) -> str:
    """``scheme://host[:port]`` in lower case, from a line an editor typed; a trailing ``/`` is forgiven.

    Raises ``ValidationError`` naming the line when it is not an http(s) origin without path, query or login.
    """
    text = value.strip()
    candidate = text[:-1] if text.endswith("/") and text.count("/") == 3 else text
    message = _("“%(value)s” is not a site address like https://www.example.com (no path, http or https only).")
    error = ValidationError(message, code="invalid_origin", params={"value": text})
    try:
        URLValidator(schemes=["http", "https"])(candidate)
        parts = urlsplit(candidate)
        port = parts.port
    except (ValidationError, ValueError):
        raise error from None
    if parts.path or parts.query or parts.fragment or "@" in parts.netloc or not parts.hostname:
        raise error
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return f"{parts.scheme.lower()}://{host.lower()}" + (f":{port}" if port is not None else "")


@dataclass(frozen=True)
class NavItem:
    """One resolved menu entry, ready for a template."""

    label: str
    url: str
    external: bool = False
    page_id: int | None = None


class NavigationLink(Orderable):
    """A menu entry: an internal page or an external URL, with an optional label."""

    link_page = models.ForeignKey(
        "wagtailcore.Page",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("page"),
    )
    link_url = models.URLField(_("external URL"), blank=True, help_text=_("Used only when no page is chosen."))
    label = models.CharField(
        _("label"), max_length=60, blank=True, help_text=_("Leave empty to use the page's title.")
    )

    panels = [FieldPanel("link_page"), FieldPanel("link_url"), FieldPanel("label")]

    class Meta(Orderable.Meta):
        abstract = True

    def __str__(self):
        return self.label or (self.link_page.title if self.link_page_id else self.link_url)

    def clean(self):
        super().clean()
        if bool(self.link_page_id) == bool(self.link_url):
            raise ValidationError(_("Choose either a page or an external URL."))
        if self.link_url and not self.label:
            raise ValidationError({"label": _("An external link needs a label.")})

    def to_nav_item(self, request) -> NavItem | None:
        """The menu entry, or None when it points at a page that is not published."""
        if self.link_page_id:
            page = self.link_page
            if not page.live:
                return None
            return NavItem(label=self.label or page.title, url=page.get_url(request) or "", page_id=page.pk)
        return NavItem(label=self.label, url=self.link_url, external=True)


class HeaderLink(NavigationLink):
    setting = ParentalKey("website.NavigationSettings", related_name="header_links", on_delete=models.CASCADE)

    class Meta(NavigationLink.Meta):
        verbose_name = _("header link")
        verbose_name_plural = _("header links")


class FooterLink(NavigationLink):
    setting = ParentalKey("website.NavigationSettings", related_name="footer_links", on_delete=models.CASCADE)

    class Meta(NavigationLink.Meta):
        verbose_name = _("footer link")
        verbose_name_plural = _("footer links")


@register_setting(icon="list-ul")
class NavigationSettings(ClusterableModel, BaseSiteSetting):
    """The header and footer menus.

    With no header links, the header lists the home page's published children marked
    "Show in menus", so a new site has a working menu before anyone edits this.
    """

    panels = [
        MultiFieldPanel([InlinePanel("header_links", label=_("Header link"))], heading=_("Header")),
        MultiFieldPanel([InlinePanel("footer_links", label=_("Footer link"))], heading=_("Footer")),
    ]

    class Meta:
        verbose_name = _("navigation")
        verbose_name_plural = _("navigation")

    def get_header_items(self, request, site=None) -> list[NavItem]:
        items = self._resolve(self.header_links, request)
        if items or site is None:
            return items
        return self.default_header_items(request, site)

    def get_footer_items(self, request) -> list[NavItem]:
        return self._resolve(self.footer_links, request)

    @staticmethod
    def _resolve(related_manager, request) -> list[NavItem]:
        links = related_manager.select_related("link_page").order_by("sort_order")
        return [item for item in (link.to_nav_item(request) for link in links) if item is not None]

    @classmethod
    def items_for_site(cls, site, request) -> tuple[list[NavItem], list[NavItem]]:
        """The (header, footer) entries of ``site`` in ONE query, two with the default header.

        Read straight from the links: the settings row holds nothing the menus need, so it is neither loaded nor
        created on a visitor's request just to reach them. Both link tables have the columns of ``NavigationLink``,
        so a UNION ALL reads them together, each row tagged with its menu (rows of both come back as ``HeaderLink``
        objects: ``to_nav_item`` is all that is asked of them).
        """

        def links(model, menu):
            rows = model.objects.filter(setting__site=site).select_related("link_page")
            return rows.annotate(menu=Value(menu)).order_by()  # a part of a UNION may not be ordered

        menus = {"header": [], "footer": []}
        rows = links(HeaderLink, "header").union(links(FooterLink, "footer"), all=True)
        for link in rows.order_by("menu", "sort_order", "id"):
            item = link.to_nav_item(request)
            if item is not None:
                menus[link.menu].append(item)
        return menus["header"] or cls.default_header_items(request, site), menus["footer"]

    @staticmethod
    def default_header_items(request, site) -> list[NavItem]:
        """The home page's live children shown in menus and open to everyone, in ONE query.

        The home page comes with the site (Wagtail's site lookup loads it with the site), and the view restrictions
        are checked inside the same query: a restriction on a page or on any of its ancestors (whose tree paths are
        prefixes of the page's) hides it, as ``.public()`` does after reading every restriction in a query of its own.
        """
        children = public(site.root_page.get_children().live().in_menu())
        return [NavItem(label=page.title, url=page.get_url(request) or "", page_id=page.pk) for page in children]
