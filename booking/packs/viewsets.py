"""Packs in the Wagtail admin: the "Packs" menu with the pack templates and the purchases.

Packages are catalog rows staff create and edit (``PackageViewSet``, items inline); a package that was sold cannot
be deleted (its purchases PROTECT it), only deactivated. Purchases have their own read-only screens
(``admin_views``). The menu sits between "Clinic" and "Billing".
"""

from django import forms
from django.db.models import Prefetch
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, FieldRowPanel, InlinePanel, MultiFieldPanel, ObjectList
from wagtail.admin.ui.tables import BooleanColumn, Column
from wagtail.admin.viewsets.base import ViewSetGroup

from booking.scheduling.viewsets import CatalogViewSet

from .admin_forms import PackageAdminForm
from .admin_views import PurchaseViewSet
from .models import Package, PackageItem

PACKS_MENU_HOOK = "register_packs_menu_item"


def package_sessions(package: Package) -> str:
    """ "Psicoterapia × 8" per service, or "9 shared: Psicoterapia, Control" for a pool (prefetched items)."""
    items = list(package.items.all())
    if package.is_pool:
        names = ", ".join(item.service.name for item in items)
        return gettext("%(count)s shared: %(services)s") % {"count": package.pool_sessions, "services": names}
    return ", ".join(f"{item.service.name} × {item.sessions}" for item in items)


class PackageViewSet(CatalogViewSet):
    model = Package
    icon = "list-ul"
    url_prefix = "packs/packages"
    menu_label = _("Packs")
    sort_order_field = "sort_order"
    list_queryset = Package.objects.prefetch_related(
        Prefetch("items", queryset=PackageItem.objects.select_related("service"))
    )
    list_display = [
        "name",
        Column("sessions", label=_("Sessions"), accessor=package_sessions),
        Column("formatted_price", label=_("Price"), sort_key="price"),
        Column("validity_days", label=_("Validity (days)"), sort_key="validity_days"),
        BooleanColumn("public", label=_("Public"), sort_key="public"),
        BooleanColumn("active", label=_("Active"), sort_key="active"),
    ]
    list_filter = ["credit_mode", "active", "public"]
    search_fields = ["name", "slug", "description"]
    search_backend_name = None
    edit_handler = ObjectList(
        [
            MultiFieldPanel(
                [FieldPanel("name"), FieldPanel("slug"), FieldPanel("description")],
                heading=_("Pack"),
            ),
            MultiFieldPanel(
                [
                    FieldRowPanel([FieldPanel("price"), FieldPanel("currency"), FieldPanel("validity_days")]),
                    FieldRowPanel([FieldPanel("active"), FieldPanel("public"), FieldPanel("sort_order")]),
                ],
                heading=_("Price and validity"),
            ),
            MultiFieldPanel(
                [FieldPanel("credit_mode", widget=forms.RadioSelect), FieldPanel("pool_sessions")],
                heading=_("How sessions are counted"),
            ),
            InlinePanel(
                "items",
                heading=_("Services"),
                label=_("Service"),
                min_num=1,
                panels=[FieldRowPanel([FieldPanel("service"), FieldPanel("sessions")])],
            ),
            MultiFieldPanel(
                [
                    FieldPanel(
                        "allowed_professionals",
                        widget=forms.CheckboxSelectMultiple,
                    ),
                    FieldPanel("default_location"),
                    FieldPanel("max_purchases_per_patient"),
                    FieldRowPanel([FieldPanel("pay_at_clinic_allowed"), FieldPanel("patient_may_cancel")]),
                ],
                heading=_("Rules"),
            ),
        ],
        base_form_class=PackageAdminForm,
    )


class PacksViewSetGroup(ViewSetGroup):
    """The "Packs" admin menu: the packs the clinic sells and what each patient bought."""

    menu_label = _("Packs")
    menu_name = "packs"
    menu_icon = "list-ul"
    menu_order = 155
    submenu_hook = PACKS_MENU_HOOK
    items = (PackageViewSet, PurchaseViewSet)


__all__ = ["PacksViewSetGroup"]
