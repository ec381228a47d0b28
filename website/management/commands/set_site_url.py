"""Point the default Wagtail Site at ``SITE_URL`` so canonical links, Open Graph and the sitemap are right.

Run once per deploy (``make run`` does it through ``seed_demo``). Safe to run again.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from wagtail.models import Site


def apply_site_url(site_url: str) -> Site:
    parts = urlsplit(site_url)
    if not parts.hostname:
        raise CommandError(f"SITE_URL is not an absolute URL: {site_url!r}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    site = Site.objects.get(is_default_site=True)
    if (site.hostname, site.port) != (parts.hostname, port):
        site.hostname, site.port = parts.hostname, port
        site.save()
    return site


class Command(BaseCommand):
    help = "Set the default site's hostname and port from SITE_URL."

    def handle(self, *args, **options):
        site = apply_site_url(settings.SITE_URL)
        self.stdout.write(f"Default site: {site.hostname}:{site.port}")
