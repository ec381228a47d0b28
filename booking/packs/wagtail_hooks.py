"""Registers the "Packs" admin menu (pack templates, purchases) and the auto-scheduling pages."""

from wagtail import hooks

from . import autoschedule_views
from .viewsets import PacksViewSetGroup


@hooks.register("register_admin_viewset")
def register_packs_viewsets():
    return PacksViewSetGroup()


@hooks.register("register_admin_urls")
def register_autoschedule_urls():
    return autoschedule_views.get_urlpatterns()
