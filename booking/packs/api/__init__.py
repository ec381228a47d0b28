"""The packs part of the JSON API at /api/v1/ (mounted by ``booking.scheduling.api.urls``)."""
