"""Registers the "Billing" admin menu (invoices, discount codes) and the dashboard's "Today's sales" panel."""

from wagtail import hooks

from .admin_views import VIEW_PERMISSION, TodaysSalesPanel
from .viewsets import BillingViewSetGroup


@hooks.register("register_admin_viewset")
def register_billing_viewsets():
    return BillingViewSetGroup()


@hooks.register("construct_homepage_panels")
def add_todays_sales_panel(request, panels):
    if request.user.has_perm(VIEW_PERMISSION):
        panels.append(TodaysSalesPanel(request))
