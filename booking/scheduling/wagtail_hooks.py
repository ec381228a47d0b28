"""Registers the clinic catalog screens (the "Clinic" menu) in the Wagtail admin."""

from wagtail import hooks

from .choosers import catalog_chooser_viewsets
from .viewsets import ClinicViewSetGroup, user_account_chooser_viewset


@hooks.register("register_admin_viewset")
def register_clinic_viewsets():
    return [ClinicViewSetGroup(), user_account_chooser_viewset, *catalog_chooser_viewsets]
