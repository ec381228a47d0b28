"""Invoices, their lines and history, coupons, payments (online or offline), refunds, processed webhook events.

Money is ``Decimal`` in the invoice's currency (CLP has no minor unit); it becomes a gateway's own units only in
its provider (``booking.billing.providers``). Only ``booking.billing.services`` assigns a status or a total; the models
hold the state and answer questions about it (``balance_due``, ``refundable_amount``).

Money rows (invoices, payments, refunds, redemptions) are ``PROTECT``-ed: nothing that was charged disappears
because something it points to was deleted.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _
from wagtail.contrib.settings.models import BaseSiteSetting, register_setting

from booking.scheduling.models import Appointment, Service
from booking.scheduling.models.appointments import new_reference
from booking.scheduling.models.catalog import CURRENCY_CHOICES
from booking.scheduling.money import format_money
from portal.accounts.models import Patient

from .providers import get_provider

ZERO = Decimal("0")


def _money_field(verbose_name, **kwargs):
    return models.DecimalField(verbose_name, max_digits=12, decimal_places=2, default=ZERO, **kwargs)


class TaxDocumentType(models.TextChoices):
    """Chile's electronic tax documents (SII codes). Health services are VAT-exempt, hence the default 41."""

    BOLETA_EXENTA = "41", _("Boleta electrónica exenta (41)")
    BOLETA = "39", _("Boleta electrónica (39)")
    FACTURA_EXENTA = "34", _("Factura electrónica exenta (34)")
    FACTURA = "33", _("Factura electrónica (33)")
    NONE = "", _("No tax document")


@register_setting(icon="doc-full")
class BillingSettings(BaseSiteSetting):
    """The clinic's legal details printed on receipts, and the defaults for new invoices."""

    legal_name = models.CharField(
        _("legal name"),
        max_length=200,
        blank=True,
        help_text=_("The company name on receipts; the clinic's name if empty."),
    )
    tax_id = models.CharField(_("RUT"), max_length=20, blank=True, help_text=_("The clinic's RUT, e.g. 76.123.456-7."))
    business_activity = models.CharField(
        _("business activity (giro)"), max_length=200, blank=True, help_text=_("As registered with the SII.")
    )
    address = models.TextField(_("billing address"), blank=True)
    default_tax_document_type = models.CharField(
        _("default tax document"),
        max_length=4,
        choices=TaxDocumentType.choices,
        default=TaxDocumentType.BOLETA_EXENTA,
        blank=True,
    )
    payment_due_days = models.PositiveSmallIntegerField(
        _("days to pay"),
        default=0,
        help_text=_("How many days after the session an unpaid invoice falls due (0: on the day of the session)."),
    )
    transfer_instructions = models.TextField(
        _("bank transfer details"),
        blank=True,
        help_text=_("Shown to patients who choose to pay by transfer: bank, account, RUT, email for the receipt."),
    )
    receipt_footer = models.TextField(
        _("receipt footer"), blank=True, help_text=_("Printed at the end of every receipt.")
    )

    class Meta:
        verbose_name = _("billing")


class InvoiceSeries(models.Model):
    """A numbering series. Numbers are given under a row lock when an invoice is issued, so there are no gaps."""

    code = models.SlugField(_("code"), max_length=16, unique=True)
    prefix = models.CharField(
        _("prefix"), max_length=8, blank=True, help_text=_("Printed before the number, e.g. B-.")
    )
    next_number = models.PositiveIntegerField(_("next number"), default=1)
    name = models.CharField(_("name"), max_length=80)

    class Meta:
        verbose_name = _("invoice series")
        verbose_name_plural = _("invoice series")

    def __str__(self):
        return self.name


class InvoiceStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    OPEN = "open", _("Open")
    PAID = "paid", _("Paid")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    REFUNDED = "refunded", _("Refunded")
    VOID = "void", _("Void")


class InvoiceQuerySet(models.QuerySet):
    def for_patient(self, user):
        return self.filter(patient__user=user)

    def unpaid(self):
        return self.filter(status=InvoiceStatus.OPEN)


class Invoice(models.Model):
    """What a customer owes for sessions (later packs): a billing snapshot, lines, totals and what was paid."""

    reference = models.CharField(_("reference"), max_length=16, unique=True, default=new_reference, editable=False)
    series = models.ForeignKey(
        InvoiceSeries, on_delete=models.PROTECT, related_name="invoices", verbose_name=_("series")
    )
    number = models.PositiveIntegerField(_("number"), null=True, blank=True, help_text=_("Given when issued."))
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="invoices", verbose_name=_("patient")
    )
    # The billing snapshot: what the customer's details were when the invoice was made.
    billing_name = models.CharField(_("name"), max_length=200)
    billing_email = models.EmailField(_("email"), blank=True)
    billing_phone = models.CharField(_("phone"), max_length=40, blank=True)
    billing_tax_id = models.CharField(_("RUT"), max_length=20, blank=True)
    billing_address = models.TextField(_("address"), blank=True)
    language = models.CharField(
        _("language"), max_length=10, default="es", help_text=_("The language of the receipt and emails.")
    )
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES, default="CLP")
    status = models.CharField(_("status"), max_length=24, choices=InvoiceStatus.choices, default=InvoiceStatus.DRAFT)
    issued_at = models.DateTimeField(_("issued at"), null=True, blank=True)
    due_date = models.DateField(_("due date"), null=True, blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    subtotal = _money_field(_("subtotal"), help_text=_("Sum of the lines before discounts."))
    discount_total = _money_field(_("discount"))
    tax_total = _money_field(_("tax"))
    total = _money_field(_("total"))
    amount_paid = _money_field(_("paid"))
    amount_refunded = _money_field(_("refunded"))
    tax_document_type = models.CharField(
        _("tax document"),
        max_length=4,
        choices=TaxDocumentType.choices,
        default=TaxDocumentType.BOLETA_EXENTA,
        blank=True,
    )
    tax_document_folio = models.CharField(
        _("folio"), max_length=32, blank=True, help_text=_("The number the SII gave the tax document.")
    )
    notes = models.TextField(_("notes"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = InvoiceQuerySet.as_manager()

    class Meta:
        verbose_name = _("invoice")
        verbose_name_plural = _("invoices")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["series", "number"], condition=Q(number__isnull=False), name="billing_invoice_unique_number"
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="billing_invoice_total_non_negative"),
            models.CheckConstraint(
                condition=Q(amount_refunded__lte=F("amount_paid")), name="billing_invoice_refund_not_above_paid"
            ),
        ]
        indexes = [models.Index(fields=["status", "issued_at"], name="billing_invoice_status_issued")]

    def __str__(self):
        return self.display_number

    @property
    def display_number(self) -> str:
        """The human number (``B-000123``) once issued; the reference before (a draft, a hold's invoice until paid)."""
        if self.number is None:
            return self.reference
        return f"{self.series.prefix}{self.number:06d}"

    @property
    def balance_due(self) -> Decimal:
        """What is still to be paid (never negative; refunds do not reopen an invoice)."""
        if self.status in (InvoiceStatus.VOID, InvoiceStatus.DRAFT):
            return ZERO
        return max(self.total - self.amount_paid, ZERO)

    @property
    def refundable_amount(self) -> Decimal:
        return self.amount_paid - self.amount_refunded

    @property
    def is_payable(self) -> bool:
        return self.status == InvoiceStatus.OPEN and self.balance_due > 0

    def formatted(self, amount: Decimal) -> str:
        return format_money(amount, self.currency)


class InvoiceLine(models.Model):
    class Kind(models.TextChoices):
        APPOINTMENT = "appointment", _("Session")
        PACK = "pack", _("Pack")
        ADJUSTMENT = "adjustment", _("Adjustment")

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines", verbose_name=_("invoice"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    description = models.CharField(_("description"), max_length=300)
    quantity = models.PositiveIntegerField(_("quantity"), default=1)
    unit_price = _money_field(_("unit price"))
    discount = _money_field(_("discount"), help_text=_("From a coupon; applied to this line."))
    tax_rate = models.DecimalField(
        _("tax rate (%)"),
        max_digits=5,
        decimal_places=2,
        default=ZERO,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    tax = _money_field(_("tax"))
    total = _money_field(_("total"), help_text=_("Quantity × unit price − discount + tax."))
    appointment = models.ForeignKey(
        Appointment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invoice_lines",
        verbose_name=_("appointment"),
    )
    service = models.ForeignKey(
        Service,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("service"),
        help_text=_("What the line sells, for coupon scopes and sales reports."),
    )
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("invoice line")
        verbose_name_plural = _("invoice lines")
        ordering = ["sort_order", "pk"]

    def __str__(self):
        return self.description

    @property
    def gross(self) -> Decimal:
        return self.unit_price * self.quantity


class InvoiceEvent(models.Model):
    """One change of an invoice: who, when, from which status to which, and why."""

    class Action(models.TextChoices):
        CREATED = "created", _("Created")
        ISSUED = "issued", _("Issued")
        COUPON_APPLIED = "coupon_applied", _("Discount code applied")
        COUPON_REMOVED = "coupon_removed", _("Discount code removed")
        CHECKOUT_STARTED = "checkout_started", _("Online payment started")
        CHECKOUT_EXPIRED = "checkout_expired", _("Online payment abandoned")
        PAYMENT_RECORDED = "payment_recorded", _("Payment received")
        PAYMENT_FAILED = "payment_failed", _("Payment failed")
        REFUNDED = "refunded", _("Refunded")
        VOIDED = "voided", _("Voided")
        LATE_CANCELLATION = "late_cancellation", _("Late cancellation: still charged")
        RECEIPT_SENT = "receipt_sent", _("Receipt sent")
        TAX_DOCUMENT = "tax_document", _("Tax document recorded")

    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="events", verbose_name=_("invoice"))
    action = models.CharField(_("action"), max_length=24, choices=Action.choices)
    from_status = models.CharField(_("from"), max_length=24, choices=InvoiceStatus.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=24, choices=InvoiceStatus.choices, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    at = models.DateTimeField(_("at"))
    reason = models.TextField(_("reason"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("invoice event")
        verbose_name_plural = _("invoice events")
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.invoice} · {self.get_action_display()}"


class Coupon(models.Model):
    """A discount code. Codes are matched without regard to case; the discount applies to the product lines."""

    class Kind(models.TextChoices):
        PERCENT = "percent", _("Percentage")
        AMOUNT = "amount", _("Fixed amount")

    code = models.CharField(
        _("code"), max_length=40, help_text=_("What patients type; upper or lower case is the same.")
    )
    description = models.CharField(_("description"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.PERCENT)
    value = models.DecimalField(
        _("value"),
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"))],
        help_text=_("A percentage (1–100) or an amount in the coupon's currency."),
    )
    currency = models.CharField(
        _("currency"), max_length=3, choices=CURRENCY_CHOICES, default="CLP", help_text=_("For fixed amounts only.")
    )
    services = models.ManyToManyField(
        Service,
        blank=True,
        related_name="coupons",
        verbose_name=_("services"),
        help_text=_("Leave empty to apply to every service."),
    )
    applies_to_packs = models.BooleanField(_("applies to packs"), default=True)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    max_redemptions = models.PositiveIntegerField(
        _("maximum uses"), null=True, blank=True, help_text=_("Empty: no limit.")
    )
    max_per_customer = models.PositiveIntegerField(
        _("maximum uses per patient"), null=True, blank=True, help_text=_("Empty: no limit.")
    )
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("discount code")
        verbose_name_plural = _("discount codes")
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(Lower("code"), name="billing_coupon_code_ci_unique"),
            models.CheckConstraint(
                condition=~Q(kind="percent") | Q(value__lte=100), name="billing_coupon_percent_at_most_100"
            ),
            models.CheckConstraint(condition=Q(value__gt=0), name="billing_coupon_value_positive"),
        ]

    def __str__(self):
        return self.code

    def save(self, *args, **kwargs):
        self.code = self.code.strip().upper()
        super().save(*args, **kwargs)


class CouponRedemption(models.Model):
    """One use of a coupon on one invoice. Redemptions on void invoices no longer count against the limits."""

    coupon = models.ForeignKey(Coupon, on_delete=models.PROTECT, related_name="redemptions", verbose_name=_("coupon"))
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, related_name="coupon_redemptions", verbose_name=_("invoice")
    )
    patient = models.ForeignKey(
        Patient, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("patient")
    )
    amount = _money_field(_("discount"))
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("coupon use")
        verbose_name_plural = _("coupon uses")
        constraints = [
            models.UniqueConstraint(fields=["coupon", "invoice"], name="billing_redemption_once_per_invoice")
        ]

    def __str__(self):
        return f"{self.coupon} · {self.invoice}"


class PaymentMethod(models.TextChoices):
    ONLINE = "online", _("Card (online)")
    CASH = "cash", _("Cash")
    TRANSFER = "transfer", _("Bank transfer")
    CARD_TERMINAL = "card_terminal", _("Card at the clinic")


OFFLINE_METHODS = (PaymentMethod.CASH, PaymentMethod.TRANSFER, PaymentMethod.CARD_TERMINAL)


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class PaymentQuerySet(models.QuerySet):
    def open_checkouts(self):
        """Online payments still waiting at their provider: a checkout the patient may yet pay."""
        return self.filter(method=PaymentMethod.ONLINE, status=PaymentStatus.PENDING)


class Payment(models.Model):
    """Money received (or being received, for an online checkout in progress) against one invoice.

    An online payment names its ``provider`` (``booking.billing.providers``; blank for offline ones) and keeps
    the provider's references:

    - ``provider_reference``: the provider's reference of the checkout (Stripe's Checkout Session), unique per
      provider, so one checkout is never recorded on two payments;
    - ``provider_payment_reference``: the provider's reference of the money movement (Stripe's PaymentIntent),
      unique per provider, so one payment at the provider is never recorded twice. It is a column rather than a
      key of ``provider_data`` on purpose: webhooks and refunds look payments up by it, and a plain partial unique
      index serves both the lookup and the guarantee identically on SQLite and PostgreSQL, where a unique index
      on a JSON expression is only used by queries written with that exact expression (and JSON equality differs
      between the two);
    - ``provider_data``: the rest, which nothing looks up often (the checkout address, Stripe's charge id).
    """

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments", verbose_name=_("invoice"))
    method = models.CharField(_("method"), max_length=16, choices=PaymentMethod.choices)
    amount = _money_field(_("amount"))
    currency = models.CharField(_("currency"), max_length=3, choices=CURRENCY_CHOICES, default="CLP")
    status = models.CharField(_("status"), max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    provider = models.CharField(
        _("payment provider"), max_length=32, blank=True, help_text=_("Who took an online payment; empty if offline.")
    )
    provider_reference = models.CharField(_("provider's checkout reference"), max_length=255, blank=True)
    provider_payment_reference = models.CharField(_("provider's payment reference"), max_length=255, blank=True)
    provider_data = models.JSONField(_("provider details"), default=dict, blank=True)
    expires_at = models.DateTimeField(_("checkout expires at"), null=True, blank=True)
    external_reference = models.CharField(
        _("reference"),
        max_length=100,
        blank=True,
        help_text=_("Transfer number or card voucher, for offline payments."),
    )
    failure_message = models.CharField(_("failure"), max_length=300, blank=True)
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    objects = PaymentQuerySet.as_manager()

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_reference"],
                condition=~Q(provider_reference=""),
                name="billing_payment_unique_provider_reference",
            ),
            models.UniqueConstraint(
                fields=["provider", "provider_payment_reference"],
                condition=~Q(provider_payment_reference=""),
                name="billing_payment_unique_provider_payment",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="billing_payment_amount_positive"),
        ]

    def __str__(self):
        return f"{self.get_method_display()} · {format_money(self.amount, self.currency)}"

    @property
    def checkout_url(self) -> str:
        """Where the patient pays an open online checkout (empty once there is none)."""
        return str((self.provider_data or {}).get("checkout_url") or "")

    @property
    def provider_name(self) -> str:
        """The provider's name for people ("Stripe"), or its stored identifier if it is no longer registered."""
        if not self.provider:
            return ""
        provider = get_provider(self.provider)
        return str(provider) if provider is not None else self.provider

    @property
    def provider_charge_reference(self) -> str:
        """The provider's reference of the charge, printed on receipts of online payments."""
        return str((self.provider_data or {}).get("charge") or "")

    @property
    def refunded_amount(self) -> Decimal:
        """Sum of succeeded and pending refunds (pending ones are already promised)."""
        return sum(
            (r.amount for r in self.refunds.all() if r.status != RefundStatus.FAILED),
            ZERO,
        )

    @property
    def refundable_amount(self) -> Decimal:
        if self.status != PaymentStatus.SUCCEEDED:
            return ZERO
        return self.amount - self.refunded_amount


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")


class Refund(models.Model):
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds", verbose_name=_("payment"))
    amount = _money_field(_("amount"))
    reason = models.TextField(_("reason"), blank=True)
    status = models.CharField(_("status"), max_length=16, choices=RefundStatus.choices, default=RefundStatus.PENDING)
    provider = models.CharField(_("payment provider"), max_length=32, blank=True)
    provider_reference = models.CharField(_("provider's refund reference"), max_length=255, blank=True)
    failure_message = models.CharField(_("failure"), max_length=300, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("refunded by"),
    )
    created_at = models.DateTimeField(_("created at"))
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "provider_reference"],
                condition=~Q(provider_reference=""),
                name="billing_refund_unique_provider_reference",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="billing_refund_amount_positive"),
        ]

    def __str__(self):
        return f"{format_money(self.amount, self.payment.currency)} · {self.get_status_display()}"


class ProcessedEvent(models.Model):
    """A provider's webhook event already handled: a replay finds its id here and changes nothing."""

    provider = models.CharField(_("payment provider"), max_length=32)
    event_id = models.CharField(_("event id"), max_length=255)
    type = models.CharField(_("type"), max_length=100)
    object_id = models.CharField(_("object id"), max_length=255, blank=True)
    received_at = models.DateTimeField(_("received at"))
    livemode = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("processed payment event")
        verbose_name_plural = _("processed payment events")
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "event_id"], name="billing_processed_event_unique"),
        ]

    def __str__(self):
        return f"{self.provider} {self.type} {self.event_id}"
