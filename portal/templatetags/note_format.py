"""Session notes' simple rich text: the professional types plain text with three marks, shown formatted.

``**bold**``, ``*italic*`` and lines starting with ``- `` (a list); blank lines separate paragraphs. The text is
escaped first and only these marks become HTML, so a note can never carry markup of its own.
"""

from __future__ import annotations

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
ITALIC = re.compile(r"(?<![*\w])\*(?=\S)([^*]+?)(?<=\S)\*(?![*\w])")


def _inline(line: str) -> str:
    return ITALIC.sub(r"<em>\1</em>", BOLD.sub(r"<strong>\1</strong>", line))


@register.filter
def note_html(text: str) -> SafeString:
    blocks: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append("<p>" + "<br>".join(paragraph) + "</p>")
            paragraph.clear()
        if items:
            blocks.append("<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>")
            items.clear()

    for raw in (text or "").splitlines():
        line = _inline(escape(raw.rstrip()))
        if not line.strip():
            flush()
        elif raw.lstrip().startswith("- "):
            if paragraph:
                flush()
            items.append(line.lstrip()[2:])
        else:
            if items:
                flush()
            paragraph.append(line)
    flush()
    return mark_safe("".join(blocks))
