"""Chooser modals for the catalog rows a StreamField block names (category, service, professional, place), and the
blocks built from them.

The booking box (``booking.widget.blocks``) and the listing blocks (``website.blocks``) pick catalog rows with these
blocks. They are Wagtail's own chooser blocks (``ChooserViewSet.get_block_class()``), so a value is stored as the
row's primary key, exactly as the hand-made select block they replace stored it: pages saved before read the same.

Kept apart from ``viewsets.py`` on purpose: the blocks are imported while the page models load, and the catalog
screens import the whole admin side of scheduling and billing.
"""

from django.utils.translation import gettext_lazy as _
from wagtail.admin.viewsets.chooser import ChooserViewSet

from .models import Location, Professional, Service, ServiceCategory


class CatalogChooserViewSet(ChooserViewSet):
    """A modal listing every row of one catalog model, searchable, for StreamField blocks."""

    # Only the blocks use these modals: the catalog's own forms and the page forms keep their select boxes.
    register_widget = False
    per_page = 20


category_chooser_viewset = CatalogChooserViewSet(
    "clinic_category_chooser",
    model=ServiceCategory,
    icon="folder-open-inverse",
    url_prefix="clinic/category-chooser",
    choose_one_text=_("Choose a category"),
    choose_another_text=_("Choose another category"),
    edit_item_text=_("Edit category"),
)
service_chooser_viewset = CatalogChooserViewSet(
    "clinic_service_chooser",
    model=Service,
    icon="clipboard-list",
    url_prefix="clinic/service-chooser",
    choose_one_text=_("Choose a service"),
    choose_another_text=_("Choose another service"),
    edit_item_text=_("Edit service"),
)
professional_chooser_viewset = CatalogChooserViewSet(
    "clinic_professional_chooser",
    model=Professional,
    icon="user",
    url_prefix="clinic/professional-chooser",
    choose_one_text=_("Choose a professional"),
    choose_another_text=_("Choose another professional"),
    edit_item_text=_("Edit professional"),
)
location_chooser_viewset = CatalogChooserViewSet(
    "clinic_location_chooser",
    model=Location,
    icon="site",
    url_prefix="clinic/location-chooser",
    choose_one_text=_("Choose a location"),
    choose_another_text=_("Choose another location"),
    edit_item_text=_("Edit location"),
)

#: Registered in ``wagtail_hooks.py`` with the catalog screens.
catalog_chooser_viewsets = [
    category_chooser_viewset,
    service_chooser_viewset,
    professional_chooser_viewset,
    location_chooser_viewset,
]

# ``module_path`` and ``name`` are what migrations write for these blocks: keep them when moving this module.
ServiceCategoryChooserBlock = category_chooser_viewset.get_block_class(
    name="ServiceCategoryChooserBlock", module_path=__name__
)
ServiceChooserBlock = service_chooser_viewset.get_block_class(name="ServiceChooserBlock", module_path=__name__)
ProfessionalChooserBlock = professional_chooser_viewset.get_block_class(
    name="ProfessionalChooserBlock", module_path=__name__
)
LocationChooserBlock = location_chooser_viewset.get_block_class(name="LocationChooserBlock", module_path=__name__)
