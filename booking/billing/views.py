"""Billing's public views: the Stripe webhook and the Checkout return pages."""
