"""Billing's synchronous hooks for the apps that sell through invoices (packs), sent INSIDE billing's transactions.

Billing knows nothing of what an invoice line sells beyond its kind, and must not import the apps built on it
(``booking.packs`` imports billing). Those apps connect receivers here in their ``AppConfig.ready()`` and do their
part in the same transaction as the invoice change: a receiver that raises rolls the whole change back (a
``PaymentError`` it raises reaches the caller, e.g. the admin, with its message). Every signal has
``sender=Invoice`` and the keyword arguments listed.

- ``invoice_paid`` (``invoice``, ``now``): the invoice has just been paid in full (an online payment confirmed by
  the webhook or the return page, a payment at the clinic, or an invoice of nothing), before it takes its number.
  Packs activates the purchase it sells (idempotent: a payment reported twice activates once).
- ``invoice_voided`` (``invoice``, ``actor``, ``reason``, ``now``): the invoice has just been voided. Packs cancels
  the purchase still waiting for that payment, or refuses (``PaymentError``) to void the invoice of a pack in use.
- ``checkout_lapsed`` (``invoice``, ``now``): the last open checkout of an unpaid, open invoice has just been
  cancelled or expired (the patient went back, or the time ran out). A receiver returns True when nothing is owed
  on that invoice any more (packs: a pack bought online that was never paid); billing then voids it, which sends
  ``invoice_voided``.
- ``refund_succeeded`` (``invoice``, ``refund``, ``now``): a refund has just been confirmed by the provider (or
  recorded as given back at the desk) and counted on the invoice. Notifications plans the "refund issued" email.
- ``payment_failed`` (``invoice``, ``payment``, ``now``): a checkout's payment was just declined (the hold
  stays; the patient may try again). Notifications plans the staff's "payment failed" alert.
"""

import django.dispatch

invoice_paid = django.dispatch.Signal()
invoice_voided = django.dispatch.Signal()
checkout_lapsed = django.dispatch.Signal()
refund_succeeded = django.dispatch.Signal()
payment_failed = django.dispatch.Signal()
