"""The booking box's admin pieces: the pack chooser its block uses."""

from wagtail import hooks

from .choosers import pack_chooser_viewset


@hooks.register("register_admin_viewset")
def register_pack_chooser():
    return pack_chooser_viewset
