"""``{% load local_time %}`` then ``{{ start|local_time }}`` or ``{{ start|local_time:"l j F Y, H:i" }}``.

A drop-in for the ``date``/``time`` filters on session times: the same output, plus "(before/after the clock
change)" for a time in the hour that repeats when daylight saving time ends (see ``booking.scheduling.timefmt``).
Like ``date``, it shows aware datetimes in the current time zone unless ``{% localtime off %}`` is in force.
"""

from django import template

from booking.scheduling.timefmt import format_local_time

register = template.Library()


@register.filter(name="local_time", expects_localtime=True)
def local_time_filter(value, arg="H:i"):
    if not value:
        return ""
    return format_local_time(value, arg)
