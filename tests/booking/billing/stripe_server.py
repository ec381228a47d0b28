"""The tests' side of the local Stripe: start ``manage.py run_test_stripe`` and drive it.

The server itself is the product's (``booking.billing.devstripe``: localstripe plus our Checkout Sessions shim,
bound to 127.0.0.1, the one ``make run`` serves to the demo). ``start_stripe_server()`` runs its management command
in a child process on a free port, empty, with no webhook registered, tied to this process through its standard
input (the server stops when the tests end, however they end); ``StripeServer`` calls Stripe's API on it and its
test controls: pay a session without the page, register, pause and await webhooks, set the server's clock.
"""

from __future__ import annotations

import datetime
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

MANAGE_PY = Path(__file__).resolve().parents[3] / "manage.py"
SECRET_KEY = "sk_test_clinic_localstripe"
CLINIC_NAME = "Clínica de prueba"
WEBHOOK_SECRET = "whsec_test_clinic_localstripe"
STARTUP_TIMEOUT = 20
DEFAULT_WAIT = 10


class StripeServerError(AssertionError):
    """The fake Stripe answered something a test did not expect (shown with its body)."""


class StripeServer:
    """The running fake Stripe, as the tests drive it."""

    secret_key = SECRET_KEY
    webhook_secret = WEBHOOK_SECRET

    def __init__(self, url: str, process: subprocess.Popen | None = None, log_path: str | None = None):
        self.url = url.rstrip("/")
        self.process = process
        self.log_path = log_path
        self.first_delivery = 0  # deliveries before this index belong to earlier tests (see start_test)

    def start_test(self) -> None:
        """From now on, waits look only at deliveries made for the current test."""
        self.first_delivery = self.delivery_count()

    # -- plumbing

    def request(self, method: str, path: str, *, data=None, params=None, auth=True, expect=(200,)) -> dict:
        import requests

        headers = {"Authorization": f"Bearer {self.secret_key}"} if auth else {}
        response = requests.request(
            method, self.url + path, data=data, params=params, headers=headers, timeout=DEFAULT_WAIT + 5
        )
        if expect and response.status_code not in expect:
            raise StripeServerError(f"{method} {path} → {response.status_code}: {response.text[:2000]}")
        try:
            return response.json()
        except ValueError:
            return {"status": response.status_code, "text": response.text}

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        return "\n".join(Path(self.log_path).read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            pass
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    # -- Stripe objects

    def retrieve(self, kind: str, object_id: str) -> dict:
        """``retrieve("payment_intents", "pi_...")`` → the object as Stripe's API returns it."""
        return self.request("GET", f"/v1/{kind}/{object_id}")

    def list_refunds(self, payment_intent_id: str) -> list[dict]:
        return self.request("GET", "/v1/refunds", params={"payment_intent": payment_intent_id, "limit": 100})["data"]

    def create_refund(self, payment_intent_id: str, amount: int | None = None) -> dict:
        """A refund made outside the clinic's code, as staff would in Stripe's dashboard."""
        data = {"payment_intent": payment_intent_id}
        if amount is not None:
            data["amount"] = amount
        return self.request("POST", "/v1/refunds", data=data)

    def complete_checkout(self, session_id: str, payment_method: str = "pm_card_visa", *, expect=(200,)) -> dict:
        """Pay the session as the customer would on Stripe's page; returns the session (or the error body)."""
        return self.request(
            "POST",
            f"/_shim/checkout/{session_id}/complete",
            data={"payment_method": payment_method},
            auth=False,
            expect=expect,
        )

    def expire_checkout(self, session_id: str) -> dict:
        return self.request("POST", f"/v1/checkout/sessions/{session_id}/expire")

    # -- clock

    def set_clock(self, moment: datetime.datetime) -> None:
        """From now on the server's clock runs from ``moment`` (as a Stripe test clock would)."""
        self.request("POST", "/_shim/clock", data={"now": f"{moment.timestamp():.6f}"}, auth=False)

    def reset_clock(self) -> None:
        self.request("DELETE", "/_shim/clock", auth=False)

    # -- webhooks

    def register_webhook(self, url: str, *, events: list[str] | None = None, secret: str | None = None) -> None:
        data = {"url": url, "secret": secret or self.webhook_secret}
        if events:
            data["events[]"] = events
        self.request("POST", "/_config/webhooks/clinic", data=data, auth=False)

    def clear_webhooks(self) -> None:
        self.request("DELETE", "/_shim/webhooks", auth=False)

    def pause_webhooks(self) -> None:
        """Hold every event raised from now on until ``resume_webhooks`` (a webhook that arrives late)."""
        self.request("POST", "/_shim/webhooks/pause", auth=False)

    def resume_webhooks(self) -> None:
        self.request("POST", "/_shim/webhooks/resume", auth=False)

    def delivery_count(self) -> int:
        return self.request("GET", "/_shim/deliveries", params={"timeout": 0}, auth=False)["total"]

    def wait_for_deliveries(
        self, event_type: str | None = None, *, count: int = 1, since: int | None = None, timeout: float = DEFAULT_WAIT
    ) -> list[dict]:
        """The deliveries since the index ``since`` (the test's first by default) once ``count`` of ``event_type``
        have been answered."""
        since = self.first_delivery if since is None else since
        params = {"since": since, "count": count, "timeout": timeout}
        if event_type:
            params["type"] = event_type
        answer = self.request("GET", "/_shim/deliveries", params=params, auth=False)
        if not answer["complete"]:
            seen = [(d["type"], d["status"]) for d in answer["deliveries"]]
            raise StripeServerError(f"waited {timeout}s for {count} × {event_type or 'any'}; delivered: {seen}")
        return answer["deliveries"]

    def wait_idle(self, timeout: float = DEFAULT_WAIT) -> None:
        """Until every event already raised has been delivered (or failed to be)."""
        answer = self.request("GET", "/_shim/idle", params={"timeout": timeout}, auth=False)
        if not answer["idle"]:
            raise StripeServerError(f"webhook deliveries still pending after {timeout}s")


def start_stripe_server(*args: str, env: dict[str, str] | None = None) -> StripeServer:
    """Run ``manage.py run_test_stripe`` on a free port of 127.0.0.1 (test settings) and wait until it listens.

    ``args`` are more options for the command (``--webhook-url``; without one, ``--no-webhook``), ``env`` more
    environment variables for it. Its output goes to a log file, shown when it fails to start.
    """
    log = tempfile.NamedTemporaryFile(prefix="localstripe-", suffix=".log", delete=False)  # noqa: SIM115
    options = list(args) if "--webhook-url" in args else [*args, "--no-webhook"]
    if "--clinic-name" not in options:
        options += ["--clinic-name", CLINIC_NAME]  # the test database is not the child's: it must not read one
    process = subprocess.Popen(
        [sys.executable, str(MANAGE_PY), "run_test_stripe", "--port", "0", "--stop-with-stdin", *options],
        stdin=subprocess.PIPE,  # closed when the test process ends, however it ends: the server then stops
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        cwd=tempfile.gettempdir(),
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "website.settings.test", **(env or {})},
    )
    server = StripeServer("http://127.0.0.1:0", process, log.name)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], max(deadline - time.monotonic(), 0))
        if not ready:
            break
        line = process.stdout.readline()
        if not line:  # the child died
            break
        log.write(line.encode())
        log.flush()
        if line.startswith("LISTENING "):
            server.url = line.split()[1].strip()
            # Whatever it prints later goes to the log too: an unread pipe would fill up and stop the server.
            threading.Thread(target=_copy_to_log, args=(process.stdout, log), daemon=True).start()
            return server
    server.stop()
    raise RuntimeError(f"localstripe did not start:\n{server.log_tail()}")


def _copy_to_log(stream, log) -> None:
    for line in stream:
        log.write(line.encode())
        log.flush()
