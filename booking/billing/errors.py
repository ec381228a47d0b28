"""The billing domain's one error type: a translated message for people and a stable code for programs."""

from django.utils.translation import gettext_lazy as _

from booking.errors import DomainError

DEFAULT_MESSAGES = {
    "coupon_unknown": _("That discount code does not exist."),
    "coupon_inactive": _("That discount code is no longer active."),
    "coupon_not_started": _("That discount code is not valid yet."),
    "coupon_expired": _("That discount code has expired."),
    "coupon_not_applicable": _("That discount code does not apply to this purchase."),
    "coupon_limit_reached": _("That discount code has been used as many times as allowed."),
    "coupon_customer_limit_reached": _("You have already used that discount code as many times as allowed."),
    "coupon_already_applied": _("A discount code is already applied to this invoice."),
    "invalid_state": _("This invoice can no longer be changed this way."),
    "invalid_amount": _("The amount is not valid."),
    "amount_too_large": _("The amount is larger than what can be refunded."),
    "nothing_to_pay": _("There is nothing left to pay on this invoice."),
    "payments_unavailable": _("Online payment is not available right now. You can pay at the clinic."),
    "provider_error": _("The payment provider could not be reached. Please try again in a moment."),
    "payment_failed": _("The payment did not go through. No money was taken."),
    "not_allowed": _("You are not allowed to do that."),
    "invalid_request": _("The payment details are not valid."),
    "coupon_not_applied": _("No discount code is applied to this invoice."),
    "amount_above_balance": _("The amount is larger than what is still owed on this invoice."),
    "nothing_to_refund": _("Nothing is left to refund on this payment."),
    "refund_failed": _("The refund could not be made. Please try again or refund another way."),
    "reason_required": _("Please give a reason."),
    "hold_expired": _("The time held for you has run out. Please choose a time again."),
    "slot_unavailable": _(
        "The session's time has been taken by someone else meanwhile, so the payment was not recorded."
    ),
}


class PaymentError(DomainError):
    """A billing rule said no. Views show ``message``; the API and webhooks use ``code``."""

    messages = DEFAULT_MESSAGES
