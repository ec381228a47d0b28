"""Billing in the Wagtail admin: the "Billing" menu with invoices and discount codes.

Invoices have their own screens (``admin_views``): they are never added or edited through a generic form,
because every change of money goes through ``booking.billing.services``. Discount codes are plain rows that
staff create and edit (``CouponViewSet``); one that was already used cannot be deleted, only deactivated.
"""

from django import forms
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.db.models import Count, Prefetch, Q
from django.utils import formats, timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel, ObjectList
from wagtail.admin.ui.tables import BooleanColumn, Column
from wagtail.admin.views import generic
from wagtail.admin.viewsets.base import ViewSetGroup

from booking.scheduling.models import Service
from booking.scheduling.money import format_money
from booking.scheduling.viewsets import CatalogEditView, CatalogViewSet

from .admin_forms import CouponForm
from .admin_views import InvoiceViewSet
from .models import Coupon, InvoiceStatus

BILLING_MENU_HOOK = "register_billing_menu_item"


class DuplicateCodeMixin:
    """Two people saving the same new code at once: the database refuses the second, the form says why."""

    def form_valid(self, form):
        try:
            return super().form_valid(form)
        except IntegrityError:
            message = _("The code “%(code)s” already exists (upper and lower case count as the same code).")
            code = (form.cleaned_data.get("code") or "").upper()
            form.add_error("code", ValidationError(message, code="duplicate_code", params={"code": code}))
            self.produced_error_code = "duplicate_code"
            self.produced_error_message = _("The discount code could not be saved due to errors.")
            return self.form_invalid(form)


class CouponCreateView(DuplicateCodeMixin, generic.CreateView):
    pass


class CouponEditView(DuplicateCodeMixin, CatalogEditView):
    pass


def coupon_value(coupon: Coupon) -> str:
    if coupon.kind == Coupon.Kind.PERCENT:
        return f"{coupon.value.normalize():f} %"
    return format_money(coupon.value, coupon.currency)


def coupon_validity(coupon: Coupon) -> str:
    if coupon.valid_from and coupon.valid_until:
        return gettext("%(start)s to %(end)s") % {
            "start": _short_date(coupon.valid_from),
            "end": _short_date(coupon.valid_until),
        }
    if coupon.valid_from:
        return gettext("From %(start)s") % {"start": _short_date(coupon.valid_from)}
    if coupon.valid_until:
        return gettext("Until %(end)s") % {"end": _short_date(coupon.valid_until)}
    return gettext("Always")


def _short_date(moment) -> str:
    return formats.date_format(timezone.localtime(moment), "SHORT_DATE_FORMAT")


def coupon_uses(coupon: Coupon) -> str:
    """ "3 / 10" against the limit, or just "3"; redemptions on void invoices do not count."""
    if coupon.max_redemptions is None:
        return str(coupon.use_count)
    return f"{coupon.use_count} / {coupon.max_redemptions}"


def coupon_services(coupon: Coupon) -> str:
    names = [service.name for service in coupon.services.all()]
    return ", ".join(names) if names else gettext("Every service")


def coupon_list_queryset():
    """Each code with its use count and services, in one query plus one for the services of the page."""
    return Coupon.objects.annotate(
        use_count=Count("redemptions", filter=~Q(redemptions__invoice__status=InvoiceStatus.VOID), distinct=True)
    ).prefetch_related(Prefetch("services", queryset=Service.objects.only("pk", "name").order_by("name")))


class CouponViewSet(CatalogViewSet):
    model = Coupon
    icon = "tag"
    url_prefix = "billing/coupons"
    menu_label = _("Discount codes")
    add_view_class = CouponCreateView
    edit_view_class = CouponEditView
    list_queryset = coupon_list_queryset()
    list_display = [
        "code",
        Column("kind", label=_("Kind"), accessor="get_kind_display", sort_key="kind"),
        Column("value", label=_("Value"), accessor=coupon_value, sort_key="value"),
        Column("validity", label=_("Valid"), accessor=coupon_validity, sort_key="valid_until"),
        Column("services", label=_("Services"), accessor=coupon_services),
        Column("uses", label=_("Uses"), accessor=coupon_uses, sort_key="use_count"),
        BooleanColumn("active", label=_("Active"), sort_key="active"),
    ]
    list_filter = ["kind", "active", "applies_to_packs"]
    search_fields = ["code", "description"]
    search_backend_name = None
    ordering = ["code"]
    edit_handler = ObjectList(
        [
            MultiFieldPanel([FieldPanel("code"), FieldPanel("description")], heading=_("Code")),
            MultiFieldPanel(
                [FieldRowPanel([FieldPanel("kind"), FieldPanel("value"), FieldPanel("currency")])],
                heading=_("Discount"),
            ),
            MultiFieldPanel(
                [
                    FieldPanel("services", widget=forms.CheckboxSelectMultiple),
                    FieldPanel("applies_to_packs"),
                ],
                heading=_("Applies to"),
            ),
            MultiFieldPanel(
                [
                    FieldRowPanel([FieldPanel("valid_from"), FieldPanel("valid_until")]),
                    FieldRowPanel([FieldPanel("max_redemptions"), FieldPanel("max_per_customer")]),
                    FieldPanel("active"),
                ],
                heading=_("Limits"),
            ),
        ],
        base_form_class=CouponForm,
    )


class BillingViewSetGroup(ViewSetGroup):
    """The "Billing" admin menu: invoices and payments, and the discount codes patients can use."""

    menu_label = _("Billing")
    menu_name = "billing"
    menu_icon = "doc-full-inverse"
    menu_order = 160
    submenu_hook = BILLING_MENU_HOOK
    items = (InvoiceViewSet, CouponViewSet)
