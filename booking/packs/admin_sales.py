"""Selling and cancelling packs in the Wagtail admin: "use a pack" from "Book appointment", and "Cancel pack".

The staff workflow of the issue, steps 1–3: "Book appointment" links here ("Use a pack"); staff choose the patient
and see two groups — the patient's packs with sessions left (and expiry), and every active pack not assigned to
them (with price). Choosing one asks how it is paid (at the clinic, or by the online payment link sent to the
patient) and calls ``purchase_pack``; the purchase's page follows, from which its sessions are booked.

"Cancel pack" shows what cancelling would do (``pack_refund_quote``: the sessions cancelled, the refund or the
void) and cancels on POST (``cancel_pack``). Refusals and tampered forms come back as messages, never a 500.

==========================  ==============================================================================
use a pack (sell, pick)      ``packs.view_packagepurchase`` and ``services.SELL_PERMISSIONS``
cancel a pack                ``packs.view_packagepurchase`` and ``services.CANCEL_PERMISSIONS``
==========================  ==============================================================================
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from booking.scheduling.admin_forms import PatientChoiceField
from booking.scheduling.models import AppointmentSource
from booking.scheduling.money import format_money
from portal.accounts.models import Patient

from . import services
from .admin_views import PurchaseAdminView
from .errors import PackError
from .models import Package, PackageItem, PackagePurchase, PurchaseStatus
from .selectors import balances_for_purchases

PAY_AT_CLINIC = "clinic"
PAY_ONLINE = "online"


def _patients():
    return Patient.objects.select_related("user").order_by("user__email")


class ChoosePatientForm(forms.Form):
    patient = PatientChoiceField(label=_("Patient"), queryset=_patients())


class AssignPackForm(forms.Form):
    """The pack chosen for the patient and how it is paid; a tampered id is "not a valid choice", not a 500."""

    patient = forms.ModelChoiceField(queryset=_patients(), widget=forms.HiddenInput)
    package = forms.ModelChoiceField(
        queryset=Package.objects.all(),
        widget=forms.HiddenInput,
        error_messages={"invalid_choice": _("That pack does not exist. Please choose one from the list.")},
    )
    payment = forms.ChoiceField(
        label=_("Payment"),
        choices=[(PAY_AT_CLINIC, _("Paid at the clinic")), (PAY_ONLINE, _("Send the online payment link"))],
        widget=forms.RadioSelect,
        initial=PAY_AT_CLINIC,
    )


class CancelPackForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Kept in the pack's ledger and the invoice's history."),
    )


class _SalesView(PurchaseAdminView):
    """A purchases' admin page (``packs.view_packagepurchase``) that also needs ``may_act(user)``."""

    @staticmethod
    def may_act(user) -> bool:
        raise NotImplementedError

    def dispatch(self, request, *args, **kwargs):
        if not self.may_act(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class UsePackView(_SalesView):
    """Choose the patient, then a pack of theirs or a pack to assign (bounded queries whatever the counts)."""

    template_name = "packs/admin/use_pack.html"
    page_title = _("Use a pack")
    header_icon = "list-ul"
    may_act = staticmethod(services.may_sell_for_clinic)

    def get(self, request):
        if "patient" not in request.GET:
            return self.render_page(choose_form=ChoosePatientForm())
        choose_form = ChoosePatientForm(request.GET)
        if not choose_form.is_valid():
            return self.render_page(choose_form=choose_form)
        return self.render_page(choose_form=choose_form, patient=choose_form.cleaned_data["patient"])

    def post(self, request):
        form = AssignPackForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
            patient = form.cleaned_data.get("patient")
            return self.render_page(choose_form=ChoosePatientForm(initial={"patient": patient}), patient=patient)
        data = form.cleaned_data
        try:
            purchase = services.purchase_pack(
                package=data["package"],
                patient=data["patient"],
                actor=request.user,
                pay_at_clinic=data["payment"] == PAY_AT_CLINIC,
                source=AppointmentSource.ADMIN,
            )
        except PackError as error:
            messages.error(request, error.message)
            return self.render_page(
                choose_form=ChoosePatientForm(initial={"patient": data["patient"]}), patient=data["patient"]
            )
        if purchase.status == PurchaseStatus.PENDING_PAYMENT:
            messages.success(
                request,
                gettext("Pack %(reference)s assigned: send the patient the payment link shown below.")
                % {"reference": purchase.reference},
            )
        else:
            messages.success(
                request,
                gettext("Pack %(reference)s assigned, to be paid at the clinic. Book its sessions below.")
                % {"reference": purchase.reference},
            )
        return HttpResponseRedirect(reverse("packs_purchases:detail", args=[purchase.reference]))

    def render_page(self, *, choose_form, patient=None):
        context = {"choose_form": choose_form, "patient": patient}
        if patient is not None:
            context.update(self.groups(patient))
        return self.render_to_response(self.get_context_data(**context))

    def groups(self, patient) -> dict:
        """The patient's packs still usable (or waiting for payment), and the active packs they do not have."""
        now = timezone.now()
        mine = list(
            PackagePurchase.objects.filter(
                patient=patient,
                status__in=(PurchaseStatus.ACTIVE, PurchaseStatus.PENDING_PAYMENT),
                expires_at__gt=now,
            ).order_by("expires_at", "pk")
        )
        current = balances_for_purchases(mine)
        assigned = [
            {
                "purchase": purchase,
                "balances": current[purchase.pk],
                "local_expires_at": timezone.localtime(purchase.expires_at),
            }
            for purchase in mine
            if purchase.status == PurchaseStatus.PENDING_PAYMENT or current[purchase.pk].remaining > 0
        ]
        held = {purchase.package_id for purchase in mine}
        packages = (
            Package.objects.active()
            .exclude(pk__in=held)
            .prefetch_related(Prefetch("items", queryset=PackageItem.objects.select_related("service")))
        )
        offered = [
            {
                "package": package,
                "form": AssignPackForm(
                    initial={"patient": patient.pk, "package": package.pk}, auto_id=f"id_pack{package.pk}_%s"
                ),
                "sessions": _sessions_label(package),
            }
            for package in packages
        ]
        return {"assigned": assigned, "offered": offered}


def _sessions_label(package: Package) -> str:
    items = list(package.items.all())
    if package.is_pool:
        return gettext("%(count)s shared: %(services)s") % {
            "count": package.pool_sessions,
            "services": ", ".join(item.service.name for item in items),
        }
    return ", ".join(f"{item.service.name} × {item.sessions}" for item in items)


class CancelPackView(_SalesView):
    """ "Cancel pack": the confirmation (sessions cancelled, amount refunded or invoice voided), then the POST."""

    template_name = "packs/admin/purchase_cancel.html"
    header_icon = "list-ul"
    may_act = staticmethod(services.may_cancel_for_clinic)

    @cached_property
    def purchase(self) -> PackagePurchase:
        return get_object_or_404(
            PackagePurchase.objects.select_related("patient__user", "invoice_line__invoice"),
            reference=self.kwargs["reference"],
        )

    def get_page_title(self):
        return gettext("Cancel pack %(reference)s") % {"reference": self.purchase.reference}

    def get(self, request, reference):
        return self.render_page(CancelPackForm())

    def post(self, request, reference):
        form = CancelPackForm(request.POST)
        if not form.is_valid():
            return self.render_page(form)
        try:
            result = services.cancel_pack(
                purchase=self.purchase, actor=request.user, reason=form.cleaned_data["reason"]
            )
        except PackError as error:
            messages.error(request, error.message)
            return self.render_page(form)
        if result.refund_amount > 0:
            message = gettext("Pack cancelled; %(amount)s is being refunded.") % {
                "amount": format_money(result.refund_amount, self.purchase.currency)
            }
        elif result.invoice_voided:
            message = gettext("Pack cancelled; its invoice was voided.")
        else:
            message = gettext("Pack cancelled; nothing is left to refund.")
        messages.success(request, message)
        return HttpResponseRedirect(reverse("packs_purchases:detail", args=[reference]))

    def render_page(self, form):
        try:
            quote = services.pack_refund_quote(purchase=self.purchase, actor=self.request.user)
        except PackError as error:
            messages.error(self.request, error.message)
            return HttpResponseRedirect(reverse("packs_purchases:detail", args=[self.purchase.reference]))
        context = self.get_context_data(
            purchase=self.purchase,
            quote=quote,
            upcoming=[
                {"appointment": session, "local_start": timezone.localtime(session.start)}
                for session in quote.upcoming
            ],
            form=form,
        )
        return self.render_to_response(context)
