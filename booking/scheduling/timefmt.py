"""Session times as a patient reads them: the local wall-clock time, told apart when the clock shows it twice.

When daylight saving time ends, the clocks go back and an hour repeats: in America/Santiago the night of the
first Saturday of April runs 23:00-23:59 twice (UTC-3, then UTC-4). Two sessions at "23:00" that night are an
hour apart, so a list of times would otherwise show two identical labels for different instants, and an email
or a calendar entry would not say which one was booked. Every place that shows a session time (the booking box,
the portal, emails, calendar files, the staff screens) formats it here, so the times of a repeated hour say
"before the clock change" or "after the clock change" everywhere, in words a screen reader reads as they are.

An offset such as "GMT-3" would be exact too, but few patients know their own, and "23:00 (GMT-3)" next to
"23:00 (GMT-4)" does not tell them which comes first; the words do. The ``<time datetime>`` of each label still
carries the exact instant.

Times skipped when the clocks go forward (Sunday 00:00-00:59 in September) never need a note: no real instant
shows them, and the engine never offers one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from django.utils import formats
from django.utils.translation import gettext

__all__ = ["clock_change_showing", "format_local_time"]


def clock_change_showing(moment: datetime) -> Literal["before", "after"] | None:
    """Which showing of a repeated wall-clock time ``moment`` is, in its own zone, or None for an ordinary time.

    ``moment`` may carry any ``fold``: it is first normalised through UTC, which is how ``astimezone`` (and so
    Django's ``localtime``) sets ``fold=1`` on the second showing. Naive datetimes have no zone and no answer.
    """
    zone = moment.tzinfo
    if zone is None or moment.utcoffset() is None:
        return None
    moment = moment.astimezone(UTC).astimezone(zone)
    other = moment.replace(fold=1 - moment.fold)
    if other.utcoffset() == moment.utcoffset():
        return None
    # The other fold names a real instant showing the same time only inside a repeated hour.
    if other.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment.replace(tzinfo=None):
        return None
    return "after" if moment.fold else "before"


def format_local_time(moment: datetime | None, format: str = "H:i") -> str:
    """``moment`` in its own zone with Django's ``format`` (a format name or a ``date`` filter string).

    Gives "23:00" for an ordinary time and "23:00 (before the clock change)" / "23:00 (after the clock change)"
    for the two showings of a repeated one, in the active language. ``None`` gives an empty string.
    Convert ``moment`` to the zone the patient should read (the location's) before calling.
    """
    if moment is None:
        return ""
    text = formats.date_format(moment, format)
    showing = clock_change_showing(moment)
    if showing == "before":
        return gettext("%(time)s (before the clock change)") % {"time": text}
    if showing == "after":
        return gettext("%(time)s (after the clock change)") % {"time": text}
    return text
