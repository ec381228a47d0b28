"""``{% page_booking_box page %}``: the booking box a profile or service page shows when its body has none.

Rendered through ``BookingBoxBlock`` itself, so the page's box looks and behaves exactly like one an editor places
(and is prefiltered the same way, from the page in the context).
"""

from django import template

from booking.widget.blocks import BookingBoxBlock

register = template.Library()

# One definition for every page: each block instance registers itself with Wagtail for the lifetime of the process.
_BOX = BookingBoxBlock()


def has_booking_box(page) -> bool:
    """Whether the page's body already holds a booking box (read from the raw JSON: no block is built)."""
    body = getattr(page, "body", None)
    if body is None:
        return False
    return any(item.get("type") == "booking_box" for item in body.raw_data)


@register.simple_tag(takes_context=True)
def page_booking_box(context, page, layout="full", show_prices=True):
    """The page's default box, or nothing when the editor placed one in the body (they chose where it goes).

    ``show_prices=False`` where the page shows the prices next to the box already.
    """
    if has_booking_box(page):
        return ""
    value = _BOX.to_python({"layout": layout, "show_prices": show_prices})
    return _BOX.render(value, context=context.flatten())
