"""The portal's navigation: one list of sections, shown on every portal page (``portal/layout.html``).

A section is shown to the roles it names and is marked current when the request's path starts with its address
(or one of ``also_under``), so a page needs no flag of its own. Add a section here when a new area of the portal
lands; the order of the list is the order on screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from portal.accounts import roles


@dataclass(frozen=True)
class Section:
    url_name: str
    label: str | Promise
    audience: frozenset[str]
    also_under: tuple[str, ...] = field(default=())
    exact: bool = False


PATIENT = frozenset({roles.ROLE_PATIENT})
PROFESSIONAL = frozenset({roles.ROLE_PROFESSIONAL})
EVERYONE = frozenset({roles.ROLE_PATIENT, roles.ROLE_PROFESSIONAL, roles.ROLE_STAFF})

SECTIONS: tuple[Section, ...] = (
    Section("portal:home", _("Home"), EVERYONE, exact=True),
    Section("portal:pro_today", _("Today"), PROFESSIONAL),
    Section("portal:pro_agenda", _("Agenda"), PROFESSIONAL),
    Section("portal:pro_patients", _("Patients"), PROFESSIONAL),
    Section("portal:pro_availability", _("Availability"), PROFESSIONAL),
    Section("portal:sessions", _("Sessions"), PATIENT),
    Section("portal:packs", _("Packs"), PATIENT),
    Section("portal:invoices", _("Payments"), PATIENT),
    Section("portal:documents", _("Documents"), PATIENT),
    Section("portal:profile", _("Profile"), PATIENT, also_under=("portal:calendar",)),
)


def sections_for(user_roles: set[str], path: str) -> list[dict]:
    """The sections these roles see, each with its address and whether ``path`` is inside it."""
    shown = []
    for section in SECTIONS:
        if not section.audience & user_roles:
            continue
        url = reverse(section.url_name)
        prefixes = [url, *(reverse(name) for name in section.also_under)]
        current = path == url if section.exact else any(path.startswith(prefix) for prefix in prefixes)
        shown.append({"url": url, "label": section.label, "current": current})
    return shown
