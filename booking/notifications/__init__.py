"""Every email the clinic sends: planned as ``Notification`` rows when a fact happens, sent by one dispatcher.

- ``events``: the list of events with audience, essential or not, and timing (``RULES``).
- ``services``: the planners, one per use case (appointment confirmed / rescheduled / cancelled / no-show, pack
  purchased / cancelled / expiring, staff alerts); idempotent through the rows' unique constraint.
- ``signals``: scheduling's ``appointment_changed`` (every booking source) → the planners, then a quick dispatch.
- ``dispatch`` + ``tasks``: the every-minute huey job that claims due rows (skip locked), sends, retries, records.
- ``rendering``: editors' ``NotificationTemplate`` snippets, else the built-in defaults (files), in a sandbox.
- ``links``: signed, single-purpose, expiring tokens for the confirm / cancel / unsubscribe pages.
"""
