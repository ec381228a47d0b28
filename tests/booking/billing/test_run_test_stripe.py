"""``manage.py run_test_stripe``: the demo's local test Stripe, on 127.0.0.1 only, with webhooks the site accepts.

The command's options are checked with ``devstripe.serve`` replaced (it would serve until stopped); the real
server, started through the command as ``make run`` does, pays a held session end to end and delivers its own
webhook, signed with the site's secret, to the live server.
"""

import io
import socket
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import requests
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation

from booking.billing import devstripe, services
from booking.billing.models import InvoiceStatus, PaymentStatus
from booking.scheduling.models import AppointmentStatus

from .conftest import STRIPE_NOW
from .stripe_server import start_stripe_server


@pytest.fixture
def served(monkeypatch):
    """``devstripe.serve`` recording what it was asked to serve instead of serving."""
    calls = []

    def record(sock, **options):
        calls.append({"address": sock.getsockname(), **options})

    monkeypatch.setattr(devstripe, "serve", record)
    return calls


def test_binds_127_0_0_1_only_never_every_interface():
    sock = devstripe.bind(0)
    try:
        assert sock.family == socket.AF_INET
        assert sock.getsockname()[0] == "127.0.0.1"
    finally:
        sock.close()


def test_the_demo_server_sends_webhooks_to_the_site_signed_with_its_secret(settings, served):
    settings.SITE_URL = "http://127.0.0.1:8100"
    settings.STRIPE_WEBHOOK_SECRET = "whsec_demo"

    call_command("run_test_stripe", "--port", "0", "--clinic-name", "Centro Equilibrio", stdout=io.StringIO())

    [call] = served
    assert call["address"][0] == "127.0.0.1"
    assert call["webhook_url"] == "http://127.0.0.1:8100/billing/stripe/webhook/"
    assert call["webhook_secret"] == "whsec_demo"
    assert call["clinic_name"] == "Centro Equilibrio"
    assert call["stop_with_stdin"] is False


def test_the_port_comes_from_the_settings_make_run_writes(settings, served):
    free = devstripe.bind(0)
    port = free.getsockname()[1]
    free.close()
    settings.STRIPE_ENABLED = True
    settings.STRIPE_LOCAL_PORT = port
    settings.STRIPE_WEBHOOK_SECRET = "whsec_demo"

    call_command("run_test_stripe", "--clinic-name", "Clínica", stdout=io.StringIO())

    assert served[0]["address"] == ("127.0.0.1", port)


def test_real_stripe_keys_keep_the_local_server_off(settings, served, capsys):
    settings.STRIPE_ENABLED = True
    settings.STRIPE_SECRET_KEY = "sk_test_from_the_dashboard"
    settings.STRIPE_API_BASE = ""
    settings.STRIPE_LOCAL_PORT = None

    call_command("run_test_stripe")

    assert served == []
    assert "The local test server is not started" in capsys.readouterr().out


def test_a_taken_port_is_a_clear_error(served):
    taken = devstripe.bind(0)
    taken.listen()
    try:
        with pytest.raises(CommandError, match="choose another port"):
            call_command("run_test_stripe", "--port", str(taken.getsockname()[1]), "--no-webhook")
    finally:
        taken.close()
    assert served == []


def test_webhooks_need_the_sites_secret(settings, served):
    settings.STRIPE_WEBHOOK_SECRET = ""

    with pytest.raises(CommandError, match="STRIPE_WEBHOOK_SECRET"):
        call_command("run_test_stripe", "--port", "0")
    assert served == []


# --------------------------------------------------------------------------------------------- the payment page


SESSION = {
    "id": "cs_test_1",
    "status": "open",
    "locale": "en",
    "amount_total": 35000,
    "currency": "clp",
    "customer_email": "ana@example.com",
    "cancel_url": "http://127.0.0.1:8000/billing/invoices/B1/checkout/cancel/",
    "line_items_description": "B-000001 · Terapia individual",
}


def test_the_payment_page_says_it_is_a_test_in_the_clinics_look():
    with translation.override("es-cl"):
        html = devstripe.render_checkout_page(SESSION, clinic_name="Centro Equilibrio")

    assert '<html lang="en"' in html  # the session's language, not the active one
    assert "Test payment — no real card is charged" in html
    assert "Centro Equilibrio" in html
    assert "$35,000" in html
    assert 'href="/static/css/site.css"' in html
    assert '<form method="post" action="/checkout/cs_test_1/pay"' in html
    assert 'for="card-pays"' in html and 'id="card-pays"' in html
    assert SESSION["cancel_url"] in html


def test_the_payment_page_speaks_the_sites_spanish_for_a_spanish_session():
    html = devstripe.render_checkout_page({**SESSION, "locale": "es-419"})

    assert '<html lang="es-cl"' in html
    assert "$35.000" in html
    with translation.override("es-cl"):
        assert translation.gettext("Test payment — no real card is charged") in html


def test_a_closed_session_gets_no_form():
    html = devstripe.render_checkout_page({**SESSION, "status": "complete"})

    assert "<form" not in html
    assert "This payment is closed" in html


# --------------------------------------------------------------------------------------------- the real server


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_command_pays_a_session_and_its_own_webhook_confirms_it(
    live_server, settings, stripe_clock, make_held_invoice
):
    """As under ``make run``: the server started by the command sends the webhook itself, with the site's secret."""
    webhook_url = live_server.url + reverse("billing:stripe_webhook")
    server = start_stripe_server("--webhook-url", webhook_url, env={"STRIPE_WEBHOOK_SECRET": "whsec_demo_test"})
    try:
        server.set_clock(STRIPE_NOW)
        settings.STRIPE_ENABLED = True
        settings.STRIPE_SECRET_KEY = "sk_test_clinic_local"
        settings.STRIPE_WEBHOOK_SECRET = "whsec_demo_test"
        settings.STRIPE_API_BASE = server.url
        settings.STRIPE_MAX_NETWORK_RETRIES = 0
        invoice = make_held_invoice()
        payment = services.start_checkout(
            invoice=invoice,
            success_url=f"{live_server.url}/billing/checkout/success/?session_id={{CHECKOUT_SESSION_ID}}",
            cancel_url=f"{live_server.url}/",
            actor=invoice.patient.user,
        )

        page = requests.get(payment.checkout_url, timeout=10)
        stylesheet = requests.get(f"{server.url}/static/css/site.css", timeout=10)
        not_listed = requests.get(f"{server.url}/static/js/theme.js", timeout=10)  # only the stylesheets
        paid = requests.post(
            f"{server.url}/checkout/{payment.provider_reference}/pay",
            data={"payment_method": "pm_card_visa"},
            allow_redirects=False,
            timeout=10,
        )
        deliveries = server.wait_for_deliveries("checkout.session.completed")
    finally:
        server.stop()

    assert urlsplit(server.url).hostname == "127.0.0.1"
    assert page.status_code == 200 and "Test payment" in page.text
    assert stylesheet.status_code == 200 and stylesheet.headers["Content-Type"].startswith("text/css")
    assert not_listed.status_code == 404
    assert paid.status_code == 303
    assert paid.headers["Location"].startswith(f"{live_server.url}/billing/checkout/success/?session_id=cs_test_")
    assert [(d["type"], d["url"], d["status"]) for d in deliveries] == [
        ("payment_intent.succeeded", webhook_url, 200),
        ("checkout.session.completed", webhook_url, 200),
    ]
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert (invoice.status, invoice.amount_paid) == (InvoiceStatus.PAID, Decimal("15000"))
    assert invoice.lines.get().appointment.status == AppointmentStatus.CONFIRMED
