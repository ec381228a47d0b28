"""Serve the local Stripe-compatible test server (``booking.billing.devstripe``) on 127.0.0.1.

``make run`` starts it next to runserver and the huey consumer, so the demo clinic takes online payments with
nothing but test money: the development settings point the site at it (``LOCAL_STRIPE_PORT``) unless real Stripe
keys are configured, in which case this command says so and serves nothing. Webhooks go to the site's own
``/billing/stripe/webhook/``, signed with its ``STRIPE_WEBHOOK_SECRET``, as Stripe would send them.

The tests start it on a free port (``--port 0 --no-webhook --stop-with-stdin``) and read the ``LISTENING <url>``
line it prints once it accepts connections.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from django.urls import reverse

from booking.billing import devstripe
from website.models import clinic_name


class Command(BaseCommand):
    help = "Serve a local Stripe-compatible test server (localstripe + Checkout) on 127.0.0.1: no card is charged."
    # It touches no database and no model: the checks would only slow the tests' start.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument(
            "--port",
            type=int,
            default=None,
            help=f"port on 127.0.0.1 (default: LOCAL_STRIPE_PORT, else {devstripe.DEFAULT_PORT}; 0: any free port)",
        )
        parser.add_argument(
            "--webhook-url",
            default=None,
            help="where to send the signed webhooks (default: SITE_URL + the billing webhook's path)",
        )
        parser.add_argument(
            "--clinic-name", default="", help="the name heading the payment page (default: the site's, from Settings)"
        )
        parser.add_argument("--no-webhook", action="store_true", help="send no webhook until one is registered")
        parser.add_argument(
            "--stop-with-stdin",
            action="store_true",
            help="stop when standard input closes (how the tests tie the server to their own process)",
        )

    def handle(self, *args, **options):
        if settings.STRIPE_ENABLED and settings.STRIPE_LOCAL_PORT is None:
            where = settings.STRIPE_API_BASE or "Stripe"
            self.stdout.write(
                f"STRIPE_SECRET_KEY is set: online payments go to {where}. The local test server is not started."
            )
            return
        port = options["port"]
        if port is None:
            port = settings.STRIPE_LOCAL_PORT or devstripe.DEFAULT_PORT
        if not 0 <= port <= 65535:
            raise CommandError(f"Not a port number: {port}")
        webhook_url = "" if options["no_webhook"] else options["webhook_url"]
        if webhook_url is None:
            webhook_url = settings.SITE_URL.rstrip("/") + reverse("billing:stripe_webhook")
        secret = settings.STRIPE_WEBHOOK_SECRET
        if webhook_url and not secret:
            raise CommandError("STRIPE_WEBHOOK_SECRET is empty: the site could not verify the test server's webhooks.")
        try:
            sock = devstripe.bind(port)
        except OSError as error:
            raise CommandError(
                f"Cannot listen on {devstripe.HOST}:{port} ({error.strerror}). "
                "Stop what uses it, or choose another port (make run STRIPE_PORT=8421)."
            ) from error

        def listening(url):
            self.stdout.write(f"LISTENING {url}")
            self.stdout.write(
                f"Online payments in the demo are test payments, served locally by {url}: no real card is charged."
            )
            if webhook_url:
                self.stdout.write(f"Its webhooks go to {webhook_url}.")
            if not settings.STRIPE_ENABLED:
                self.stdout.write(
                    "The site is not using it yet: set STRIPE_SECRET_KEY=sk_test_local, "
                    f"STRIPE_API_BASE={url} and STRIPE_WEBHOOK_SECRET={secret or 'whsec_...'} for the web process."
                )
            self.stdout.flush()

        try:
            name = options["clinic_name"] or clinic_name()  # as the site shows it (Settings → Site), read once
        except DatabaseError:  # not migrated yet: the page still says which clinic it is
            name = settings.WAGTAIL_SITE_NAME
        try:
            devstripe.serve(
                sock,
                webhook_url=webhook_url,
                webhook_secret=secret,
                clinic_name=name,
                stop_with_stdin=options["stop_with_stdin"],
                on_listening=listening,
            )
        except KeyboardInterrupt:
            pass
        finally:
            sock.close()
