"""Registers the "Packs" admin menu (pack templates, purchases)."""

from wagtail import hooks

from .viewsets import PacksViewSetGroup


@hooks.register("register_admin_viewset")
def register_packs_viewsets():
    return PacksViewSetGroup()
