"""Whether the booking box can take a service's online payment now, and what it does when it cannot.

Online payment is available when a payment provider is switched on (``providers.online_payment_available``,
e.g. Stripe with a secret key): that is all step 4 ever knew. When it is not, a service that asks to be paid
online at booking follows the clinic's choice in *Settings → Clinic settings → Booking*: booked and paid at the
clinic (the default), or not bookable online at all. The box says which at step 1, so nobody signs up to find a
dead end at the review.

A gateway that is configured but down cannot be known before calling it; that shows at the pay step, where the
time stays held and the patient can try again or give it back.
"""

from __future__ import annotations

from dataclasses import dataclass

from wagtail.models import Site

from booking.billing import providers
from booking.scheduling.models import PaymentMode, Service
from website.models.site_settings import OnlinePaymentFallback, SiteSettings


@dataclass(frozen=True)
class OnlinePayment:
    """How the box takes one service's payment right now."""

    asked: bool  # the service is paid online at booking
    available: bool  # online payment is switched on
    fallback: str  # an ``OnlinePaymentFallback`` value

    @property
    def unavailable(self) -> bool:
        """The service asks for online payment and online payment is off."""
        return self.asked and not self.available

    @property
    def pay_at_clinic_instead(self) -> bool:
        return self.unavailable and self.fallback == OnlinePaymentFallback.PAY_AT_CLINIC

    @property
    def bookable(self) -> bool:
        return not self.unavailable or self.pay_at_clinic_instead

    @property
    def pays_online(self) -> bool:
        """The booking is held and paid at the payment provider (step 5)."""
        return self.asked and self.available


def clinic_fallback(request) -> str:
    """The clinic's choice for this request's site (the default where no site matches the request)."""
    if Site.find_for_request(request) is None:
        return OnlinePaymentFallback.PAY_AT_CLINIC
    value = SiteSettings.for_request(request).online_payment_fallback
    return value if value in OnlinePaymentFallback.values else OnlinePaymentFallback.PAY_AT_CLINIC


def online_payment_for(request, service: Service) -> OnlinePayment:
    """The online-payment situation of ``service`` for this request's site (no query when a provider is on)."""
    asked = service.payment_mode == PaymentMode.ONLINE_AT_BOOKING
    available = providers.online_payment_available()
    fallback = clinic_fallback(request) if asked and not available else OnlinePaymentFallback.PAY_AT_CLINIC
    return OnlinePayment(asked=asked, available=available, fallback=fallback)


def online_payment_test_mode() -> bool:
    """The default provider is in test mode (Stripe with a test key): no real card is charged, and the pay step
    says so."""
    provider = providers.default_provider()
    return provider is not None and provider.is_test_mode()
