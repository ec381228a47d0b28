"""HTTP responses the booking apps' views share (billing's return from Stripe, the booking box's steps).

It sits at the root of ``booking`` rather than in one app because it belongs to none: billing and the booking box
both answer with it, and neither should import the other's views for a three-line class.
"""

from django.http import HttpResponseRedirect


class HttpResponseSeeOther(HttpResponseRedirect):
    """303: the browser follows with a GET, whatever the method of the request that led here (e.g. to Stripe's
    Checkout page after the confirmation POST)."""

    status_code = 303
