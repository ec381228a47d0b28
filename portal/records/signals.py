"""Facts of the records other apps react to, sent INSIDE the transaction that records them (``sender`` is the
model; keyword arguments listed):

- ``document_shared`` (``document``, ``now``): a document has just been shared with its patient. Notifications
  plans the nutrition evaluation email when the document is an evaluation.
- ``document_withdrawn`` (``document``): a document is about to be deleted (the clinic stopped sharing it).
  Notifications cancels its email if it has not gone out yet.
- ``referral_made`` (``referral``, ``now``): a professional has just referred a patient. Notifications plans the
  patient's email with the booking link, in the same transaction.
"""

import django.dispatch

document_shared = django.dispatch.Signal()
document_withdrawn = django.dispatch.Signal()
referral_made = django.dispatch.Signal()
