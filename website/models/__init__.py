"""The site shell's models: home and standard pages, site-wide settings and navigation."""

from .news import ProfessionalNews
from .pages import HomePage, StandardPage
from .site_settings import FooterLink, HeaderLink, NavigationSettings, NavItem, SiteSettings, clinic_name

__all__ = [
    "FooterLink",
    "HeaderLink",
    "HomePage",
    "NavItem",
    "NavigationSettings",
    "ProfessionalNews",
    "SiteSettings",
    "StandardPage",
    "clinic_name",
]
