"""What happens to a pack, for the Notifications issue (emails, SMS) and anything else that wants to know.

Every signal is sent AFTER the transaction that made the change commits (``transaction.on_commit``), never for a
change that was rolled back, with ``sender=PackagePurchase`` and ``purchase`` (the ``PackagePurchase``, re-read
is not needed: its status is the committed one) plus the arguments listed. Receivers run in the request or the
task that made the change: a slow one (sending email) should enqueue a huey task. A receiver's exception is
logged, not raised (``on_commit(robust=True)``): the change is done either way.

- ``pack_purchased`` — the pack became usable: bought and paid online (the payment's webhook or return page), paid
  at the clinic, assigned by staff, or free. Not sent while it waits for its online payment
  (``pending_payment``). Arguments: ``purchase``, ``actor`` (None when the payment provider's confirmation
  activated it).
- ``pack_cancelled`` — the pack was cancelled: by staff or the patient (``cancel_pack``: its upcoming sessions
  cancelled, the unused part refunded), or an online purchase that was never paid (its checkout lapsed, or its
  invoice was voided). Arguments: ``purchase``, ``actor`` (None for the system), ``refund_amount`` (a
  ``Decimal`` in ``purchase.currency``, zero when nothing is given back), ``paid`` (False for a purchase that
  was never paid: "your pack reservation lapsed" rather than "your pack was cancelled").
- ``pack_expiring`` — the pack expires within ``EXPIRY_NOTICE`` (7 days) and still has sessions to book; sent once
  per purchase by the daily task (``notify_expiring_purchases``; ``PackagePurchase.expiry_notified_at``).
  Arguments: ``purchase``, ``remaining`` (sessions left to book), ``expires_at``.
- ``pack_exhausted`` — the last session of the pack was used: nothing left to book and nothing booked still open.
  Arguments: ``purchase``.
"""

from __future__ import annotations

import django.dispatch
from django.db import transaction

pack_purchased = django.dispatch.Signal()
pack_cancelled = django.dispatch.Signal()
pack_expiring = django.dispatch.Signal()
pack_exhausted = django.dispatch.Signal()


def send_on_commit(signal: django.dispatch.Signal, purchase, **kwargs) -> None:
    """Send ``signal`` about ``purchase`` once the current transaction commits (at once outside one)."""
    from .models import PackagePurchase

    def send(purchase=purchase, kwargs=kwargs) -> None:
        signal.send(sender=PackagePurchase, purchase=purchase, **kwargs)

    transaction.on_commit(send, robust=True)
