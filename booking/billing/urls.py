"""Billing's public addresses, mounted at /billing/: the providers' webhooks (Stripe's at its first address
too), the pay button, the checkout return pages."""

from django.urls import path

from . import views

app_name = "billing"
urlpatterns = [
    path("stripe/webhook/", views.stripe_webhook, name="stripe_webhook"),
    path("webhooks/<slug:provider>/", views.provider_webhook, name="provider_webhook"),
    path("invoices/<slug:reference>/pay/", views.pay, name="pay"),
    path("checkout/success/", views.checkout_success, name="checkout_success"),
    path("invoices/<slug:reference>/checkout/cancel/", views.checkout_cancel, name="checkout_cancel"),
]
