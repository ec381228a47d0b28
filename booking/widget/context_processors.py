"""Which frame the booking steps render in: the site's page, a bare fragment for htmx, or the embed's page."""

from __future__ import annotations


def widget_frame(request) -> dict:
    """``widget_frame`` (the template ``widget/base.html`` extends) and ``embed`` for the booking steps only.

    - an htmx request (not a history restore) gets ``widget/frame_htmx.html``: the step alone, no menus, so
      swapping a step costs no site-chrome queries;
    - a request under ``/embed/booking/`` gets ``widget/frame_embed.html``: a page without the site's header
      and footer, for another site's iframe;
    - anything else gets the site's ``base.html``.
    """
    match = getattr(request, "resolver_match", None)
    if match is None or match.app_name != "widget":
        return {}
    embed = match.namespace == "embed"
    htmx = getattr(request, "htmx", None)
    if htmx and not htmx.history_restore_request:
        frame = "widget/frame_htmx.html"
    elif embed:
        frame = "widget/frame_embed.html"
    else:
        frame = "base.html"
    return {"widget_frame": frame, "embed": embed}
