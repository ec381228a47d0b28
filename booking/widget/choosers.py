"""The chooser modal and block for a pack named by a booking box (``BookingBoxBlock.pack``).

Kept apart from ``booking.packs``'s admin screens for the same reason as ``booking.scheduling.choosers``: blocks are
imported while the page models load.
"""

from django.utils.translation import gettext_lazy as _
from wagtail.admin.viewsets.chooser import ChooserViewSet

from booking.packs.models import Package


class PackChooserViewSet(ChooserViewSet):
    """A modal listing the packs, searchable; only the booking box's block uses it."""

    register_widget = False
    per_page = 20


pack_chooser_viewset = PackChooserViewSet(
    "packs_package_chooser",
    model=Package,
    icon="list-ul",
    url_prefix="packs/package-chooser",
    choose_one_text=_("Choose a pack"),
    choose_another_text=_("Choose another pack"),
    edit_item_text=_("Edit pack"),
)

# ``module_path`` and ``name`` are what migrations write for this block: keep them when moving this module.
PackChooserBlock = pack_chooser_viewset.get_block_class(name="PackChooserBlock", module_path=__name__)
