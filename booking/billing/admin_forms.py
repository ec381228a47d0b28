"""Forms of the billing admin: the invoice list's filters, the invoice actions and the discount code form.

The action forms only check the shape of what staff typed (a positive amount in the currency's minor unit, a
reason); the money rules themselves (what is left to pay or to refund, which status allows what) belong to
``booking.billing.services``, which re-checks them under a row lock.
"""

import datetime
import zoneinfo
from decimal import Decimal

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.admin.forms import WagtailAdminModelForm

from booking.scheduling.date_range import DatesInRangeMixin, validate_in_range
from booking.scheduling.money import currency_exponent, format_money, quantize
from portal.accounts.rut import normalize_rut

from .models import OFFLINE_METHODS, Coupon, InvoiceStatus, Payment, PaymentMethod, PaymentStatus, TaxDocumentType

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
MIDNIGHT = datetime.time(0, 0)
MAX_REFERENCE_LENGTH = 100


def clinic_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def clinic_day_bounds(day: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """The first instant of ``day`` and of the next day in the clinic's zone.

    Chile's clocks change at midnight: on the spring-forward day 00:00 does not exist, and ``zoneinfo`` reads it
    with the offset before the change, which is exactly the instant the day begins (01:00 new time).
    """
    zone = clinic_zone()
    start = datetime.datetime.combine(day, MIDNIGHT, tzinfo=zone)
    end = datetime.datetime.combine(day + datetime.timedelta(days=1), MIDNIGHT, tzinfo=zone)
    return start, end


def clinic_today(now: datetime.datetime | None = None) -> datetime.date:
    return timezone.localtime(now or timezone.now(), clinic_zone()).date()


def check_minor_unit(amount: Decimal, currency: str) -> None:
    """Refuse amounts the currency cannot hold (pesos have no cents)."""
    exponent = currency_exponent(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-exponent)):
        if exponent == 0:
            message = _("Amounts in %(currency)s have no decimals.")
        else:
            message = _("Amounts in %(currency)s have at most two decimals.")
        raise ValidationError(message, code="minor_unit", params={"currency": currency})


def use_minor_unit_step(field: forms.DecimalField, currency: str) -> None:
    """The browser's number input steps by the currency's smallest unit (1 peso, 0.01 dollar)."""
    field.widget.attrs["step"] = str(Decimal(1).scaleb(-currency_exponent(currency)))


class MoneyField(forms.DecimalField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("min_value", Decimal("0.01"))
        super().__init__(**kwargs)


# --- The invoice list --------------------------------------------------------------------------------------


class InvoiceFilterForm(forms.Form):
    """Filters of the invoice list; an empty form lists every invoice, newest first."""

    q = forms.CharField(
        label=_("Patient"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": _("Name, email or RUT")}),
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status")), *InvoiceStatus.choices]
    )
    issued_from = forms.DateField(
        label=_("Issued from"), required=False, widget=DATE_WIDGET, validators=[validate_in_range]
    )
    issued_to = forms.DateField(
        label=_("Issued until"), required=False, widget=DATE_WIDGET, validators=[validate_in_range]
    )
    method = forms.ChoiceField(
        label=_("Payment method"), required=False, choices=[("", _("Any method")), *PaymentMethod.choices]
    )

    def clean(self):
        cleaned_data = super().clean()
        issued_from, issued_to = cleaned_data.get("issued_from"), cleaned_data.get("issued_to")
        if issued_from and issued_to and issued_to < issued_from:
            self.add_error("issued_to", ValidationError(_("“Until” cannot be before “From”."), code="bad_range"))
        return cleaned_data

    def filter(self, queryset):
        data = self.cleaned_data
        query = (data.get("q") or "").strip()
        if query:
            matches = (
                Q(billing_name__icontains=query)
                | Q(billing_email__icontains=query)
                | Q(billing_tax_id__icontains=query)
                | Q(patient__user__email__icontains=query)
                | Q(patient__user__first_name__icontains=query)
                | Q(patient__user__last_name__icontains=query)
            )
            rut = _canonical_rut(query)
            if rut:
                matches |= Q(patient__rut=rut) | Q(billing_tax_id=rut)
            queryset = queryset.filter(matches)
        if data.get("status"):
            queryset = queryset.filter(status=data["status"])
        if data.get("issued_from"):
            queryset = queryset.filter(issued_at__gte=clinic_day_bounds(data["issued_from"])[0])
        if data.get("issued_to"):
            queryset = queryset.filter(issued_at__lt=clinic_day_bounds(data["issued_to"])[1])
        if data.get("method"):
            paid_with = Payment.objects.filter(
                invoice=OuterRef("pk"), method=data["method"], status=PaymentStatus.SUCCEEDED
            )
            queryset = queryset.filter(Exists(paid_with))
        return queryset


def _canonical_rut(text: str) -> str:
    """``12345678-5`` or ``123456785`` written the way RUTs are stored (``12.345.678-5``); "" if not a RUT."""
    try:
        return normalize_rut(text)
    except ValidationError:
        return ""


# --- Invoice actions ----------------------------------------------------------------------------------------


class RecordPaymentForm(forms.Form):
    """Money received at the clinic: cash, a bank transfer or the card terminal."""

    method = forms.ChoiceField(label=_("Method"), choices=[(method.value, method.label) for method in OFFLINE_METHODS])
    amount = MoneyField(label=_("Amount"))
    external_reference = forms.CharField(
        label=_("Reference"),
        required=False,
        max_length=MAX_REFERENCE_LENGTH,
        help_text=_("Transfer number or card voucher."),
    )

    def __init__(self, *args, invoice, **kwargs):
        self.invoice = invoice
        balance = quantize(invoice.balance_due, invoice.currency) if invoice.balance_due else None
        kwargs.setdefault("initial", {"amount": balance, "method": PaymentMethod.CASH})
        super().__init__(*args, **kwargs)
        use_minor_unit_step(self.fields["amount"], invoice.currency)

    def clean_amount(self):
        amount = self.cleaned_data["amount"]
        check_minor_unit(amount, self.invoice.currency)
        return amount


class PaymentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, payment):
        return _("%(method)s of %(amount)s (%(refundable)s refundable)") % {
            "method": payment.get_method_display(),
            "amount": format_money(payment.amount, payment.currency),
            "refundable": format_money(payment.refundable_amount, payment.currency),
        }


class RefundForm(forms.Form):
    FULL = "full"
    PARTIAL = "partial"

    payment = PaymentChoiceField(label=_("Payment"), queryset=Payment.objects.none(), empty_label=None)
    scope = forms.ChoiceField(
        label=_("Refund"),
        choices=[(FULL, _("Everything still refundable")), (PARTIAL, _("Part of it"))],
        initial=FULL,
        widget=forms.RadioSelect,
    )
    amount = MoneyField(label=_("Amount"), required=False, help_text=_("Only for a partial refund."))
    reason = forms.CharField(label=_("Reason"), max_length=500, widget=forms.Textarea({"rows": 2}))

    def __init__(self, *args, payments, **kwargs):
        """``payments``: the invoice's succeeded payments (with their refunds prefetched)."""
        super().__init__(*args, **kwargs)
        self.refundable = {payment.pk: payment for payment in payments if payment.refundable_amount > 0}
        if self.refundable:
            use_minor_unit_step(self.fields["amount"], next(iter(self.refundable.values())).currency)
        self.fields["payment"].queryset = Payment.objects.filter(pk__in=list(self.refundable)).order_by("pk")
        # The labels come from the prefetched payments, so listing the choices costs no query per payment.
        self.fields["payment"].choices = [
            (payment.pk, self.fields["payment"].label_from_instance(payment)) for payment in self.refundable.values()
        ]

    @property
    def has_choices(self) -> bool:
        return bool(self.refundable)

    def clean(self):
        cleaned_data = super().clean()
        payment = cleaned_data.get("payment")
        if payment is None:
            return cleaned_data
        payment = self.refundable.get(payment.pk, payment)
        cleaned_data["payment"] = payment
        if cleaned_data.get("scope") == self.PARTIAL:
            amount = cleaned_data.get("amount")
            if amount is None:
                if "amount" not in self.errors:
                    self.add_error("amount", ValidationError(_("Enter the amount to refund."), code="required"))
                return cleaned_data
            try:
                check_minor_unit(amount, payment.currency)
            except ValidationError as error:
                self.add_error("amount", error)
                return cleaned_data
            if amount > payment.refundable_amount:
                self.add_error(
                    "amount",
                    ValidationError(
                        _("At most %(amount)s can be refunded from this payment."),
                        code="amount_too_large",
                        params={"amount": format_money(payment.refundable_amount, payment.currency)},
                    ),
                )
        else:
            cleaned_data["amount"] = None
        return cleaned_data

    def refund_amount(self) -> Decimal | None:
        """None means "everything still refundable", as ``refund_payment`` reads it."""
        return self.cleaned_data.get("amount")


class VoidInvoiceForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea({"rows": 2}),
        help_text=_("Kept in the invoice's history. The number stays used: series have no gaps."),
    )


class TaxDocumentForm(forms.Form):
    document_type = forms.ChoiceField(label=_("Tax document"), choices=TaxDocumentType.choices)
    folio = forms.CharField(
        label=_("Folio"), required=False, max_length=32, help_text=_("The number the SII gave the document.")
    )

    def clean(self):
        cleaned_data = super().clean()
        folio = (cleaned_data.get("folio") or "").strip()
        cleaned_data["folio"] = folio
        if cleaned_data.get("document_type") and not folio and "folio" not in self.errors:
            self.add_error("folio", ValidationError(_("Enter the folio of the document."), code="required"))
        return cleaned_data


# --- Discount codes ---------------------------------------------------------------------------------------


class CouponForm(DatesInRangeMixin, WagtailAdminModelForm):
    """Says in words what the database would refuse: a code that exists in another case, >100 %, a bad range."""

    def clean_code(self):
        code = (self.cleaned_data.get("code") or "").strip().upper()
        if not code:
            raise ValidationError(_("Enter a code."), code="required")
        taken = Coupon.objects.filter(code__iexact=code)
        if self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise ValidationError(
                _("The code “%(code)s” already exists (upper and lower case count as the same code)."),
                code="duplicate_code",
                params={"code": code},
            )
        return code

    def clean(self):
        cleaned_data = super().clean()
        kind, value = cleaned_data.get("kind"), cleaned_data.get("value")
        if kind == Coupon.Kind.PERCENT and value is not None and value > 100:
            self.add_error("value", ValidationError(_("A percentage cannot be more than 100."), code="over_100"))
        if kind == Coupon.Kind.AMOUNT and value is not None and "value" not in self.errors:
            try:
                check_minor_unit(value, cleaned_data.get("currency") or "CLP")
            except ValidationError as error:
                self.add_error("value", error)
        valid_from, valid_until = cleaned_data.get("valid_from"), cleaned_data.get("valid_until")
        if valid_from and valid_until and valid_until <= valid_from:
            self.add_error(
                "valid_until",
                ValidationError(_("“Valid until” must be later than “valid from”."), code="invalid_range"),
            )
        return cleaned_data
