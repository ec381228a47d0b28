"""Forms of the packs admin: the package form's rules across its items, the staff credit adjustment, and booking a
session from a pack."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminModelForm

from booking.scheduling.admin_forms import CreateAppointmentForm
from booking.scheduling.models import Professional, Service

from .models import CreditMode, PackagePurchase
from .services import MAX_SESSIONS

POOL_CHOICE = "pool"


class PackageAdminForm(WagtailAdminModelForm):
    """Checks what one row cannot check alone: the items agree with the credit mode, and no service twice.

    Per service: every item has its number of sessions and the pack has no pool. Shared pool: the pack has its
    number of sessions and the items none (they only list the services the pool can be spent on).
    """

    def clean(self):
        cleaned_data = super().clean()
        mode = cleaned_data.get("credit_mode")
        pool_sessions = cleaned_data.get("pool_sessions")
        if mode == CreditMode.SHARED_POOL and not pool_sessions:
            self.add_error("pool_sessions", _("A shared pool needs its number of sessions."))
        if mode == CreditMode.PER_SERVICE and pool_sessions:
            self.add_error("pool_sessions", _("Leave this empty: a pack counted per service has no pool."))
        formset = self.formsets.get("items") if hasattr(self, "formsets") else None
        if formset is None:
            return cleaned_data
        seen, kept = set(), 0
        for form in formset.forms:
            if not form.has_changed() and not form.instance.pk:
                continue
            form.is_valid()  # cleans the row so its values can be read
            if formset.can_delete and formset._should_delete_form(form):
                continue
            service = form.cleaned_data.get("service")
            if service is None:
                continue
            kept += 1
            sessions = form.cleaned_data.get("sessions")
            if service.pk in seen:
                form.add_error("service", _("“%(service)s” is already listed.") % {"service": service})
            seen.add(service.pk)
            if not service.available_in_packs:
                form.add_error("service", _("“%(service)s” is not available in packs.") % {"service": service})
            if mode == CreditMode.PER_SERVICE and not sessions:
                form.add_error("sessions", _("How many sessions of this service does the pack give?"))
            if mode == CreditMode.SHARED_POOL and sessions:
                form.add_error("sessions", _("Leave this empty: the pool's number of sessions counts."))
        if not kept:
            raise ValidationError(_("A pack needs at least one service."), code="no_items")
        return cleaned_data


class AdjustCreditsForm(forms.Form):
    """Staff add or take away sessions of one service (or of the pool), with a reason kept in the ledger."""

    bucket = forms.ChoiceField(label=_("Sessions of"))
    quantity = forms.IntegerField(
        label=_("Sessions to add"),
        min_value=-MAX_SESSIONS,
        max_value=MAX_SESSIONS,
        help_text=_("A negative number takes sessions away."),
    )
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, balances, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["bucket"].choices = [
            (POOL_CHOICE if bucket.service_id is None else str(bucket.service_id), bucket.label)
            for bucket in balances.buckets
        ]

    def clean_quantity(self):
        quantity = self.cleaned_data["quantity"]
        if quantity == 0:
            raise ValidationError(_("Enter a number of sessions other than zero."), code="zero")
        return quantity

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError(_("Please give a reason."), code="required")
        return reason

    @property
    def service_id(self) -> int | None:
        bucket = self.cleaned_data["bucket"]
        return None if bucket == POOL_CHOICE else int(bucket)


class BookFromPackForm(CreateAppointmentForm):
    """Staff book one session paid by a pack: the admin's booking form without the patient (the pack's), its
    choices narrowed to what the pack covers.

    Only the pack's active services, and only active professionals who offer one of them (among those the pack
    allows, if it names any). A tampered id outside those choices is a form error before any service runs; whether
    the professional offers *that* service, the time is free, and the pack has a session left is the services'
    call (``book_from_pack``), whose refusals the view shows on this form.
    """

    patient = None  # the purchase's patient: not a choice

    def __init__(self, *args, purchase: PackagePurchase, **kwargs):
        super().__init__(*args, **kwargs)
        self.purchase = purchase
        self.fields["service"].queryset = Service.objects.filter(active=True, pk__in=purchase.service_ids).order_by(
            "name"
        )
        professionals = Professional.objects.filter(
            active=True, offered_services__service_id__in=purchase.service_ids
        ).distinct()
        if purchase.allowed_professional_ids:
            professionals = professionals.filter(pk__in=purchase.allowed_professional_ids)
        self.fields["professional"].queryset = professionals.order_by("display_name")
        default_location = (purchase.snapshot or {}).get("default_location_id")
        if default_location and not self.is_bound:
            self.initial.setdefault("location", default_location)
