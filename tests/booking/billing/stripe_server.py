"""A fake Stripe for the tests: localstripe, plus the Checkout Sessions it lacks, on 127.0.0.1.

localstripe (a stateful Stripe imitation) knows PaymentIntents, charges, refunds and signed webhooks, but not
Checkout. This module runs it in a child process together with a small Checkout shim:

- ``POST /v1/checkout/sessions``, ``GET /v1/checkout/sessions/<id>``, ``POST /v1/checkout/sessions/<id>/expire``
  behave like Stripe's (form-encoded, secret key required, ``expires_at`` must be 30 min – 24 h ahead);
- ``POST /_shim/checkout/<id>/complete`` (test only) pays a session as a customer would: it creates and
  confirms a real localstripe PaymentIntent (so refunds work on it) and sends ``payment_intent.succeeded``
  and ``checkout.session.completed``; with ``payment_method=pm_card_chargeCustomerFail`` the card is
  declined, ``payment_intent.payment_failed`` is sent and the session stays open, as on Stripe;
- ``GET /checkout/<id>`` is the hosted payment page (a "Pay" button) for browser tests;
- a refund made through ``POST /v1/refunds`` sends ``charge.refunded``, as a refund made in Stripe's dashboard does.

Webhooks are signed and sent with localstripe's registry (``POST /_config/webhooks/<id>`` with url and secret),
one after the other in the order the events happened, without localstripe's one-second pause. Each delivery
is recorded (payload, signature header, response status); ``GET /_shim/deliveries`` waits for them, so tests
never sleep; ``POST /_shim/webhooks/pause`` and ``/resume`` hold them back to play a webhook that comes late.
``POST /_shim/clock`` sets the server's clock (object timestamps, signatures, the ``expires_at`` window) to the
tests' pinned time. The store starts empty and is never written to ``/tmp/localstripe.pickle``.

The test process imports this module for ``start_stripe_server()`` and the ``StripeServer`` client; only the
child process (``python stripe_server.py --port 0``) imports aiohttp and localstripe.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import hmac
import html
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SECRET_KEY = "sk_test_clinic_localstripe"
WEBHOOK_SECRET = "whsec_test_clinic_localstripe"
STARTUP_TIMEOUT = 20
DEFAULT_WAIT = 10

# --------------------------------------------------------------------------------------------- test side


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


def start_stripe_server() -> StripeServer:
    """Start the fake Stripe in a child process on a free port of 127.0.0.1 and wait until it listens."""
    log = tempfile.NamedTemporaryFile(prefix="localstripe-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--port", "0"],
        stdin=subprocess.PIPE,  # closed when the test process ends, however it ends: the server then stops
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        cwd=tempfile.gettempdir(),
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
        if line.startswith("LISTENING "):
            server.url = line.split()[1].strip()
            return server
    server.stop()
    raise RuntimeError(f"localstripe did not start:\n{server.log_tail()}")


# --------------------------------------------------------------------------------------------- server side


def build_app(base_url_holder: dict):
    """localstripe's routes plus the Checkout shim, in a new aiohttp app (localstripe's own is left unused)."""
    import asyncio

    import aiohttp
    from aiohttp import web
    from localstripe import resources as ls_resources
    from localstripe import server as ls_server
    from localstripe import webhooks as ls_webhooks
    from localstripe.errors import UserError

    # Start empty and never persist: localstripe would otherwise share /tmp/localstripe.pickle between runs.
    ls_resources.Store.dump_to_disk = lambda self: None
    ls_resources.Store.try_load_from_disk = lambda self: None
    ls_resources.store.clear()

    class Clock:
        """localstripe's ``time`` module, with an optional offset that the tests set to their pinned time."""

        offset = 0.0

        def time(self) -> float:
            return time.time() + self.offset

        def __getattr__(self, name):
            return getattr(time, name)

    clock = Clock()
    ls_resources.time = clock

    # -- webhook delivery: in order, no pause, recorded

    queue: asyncio.Queue = asyncio.Queue()
    deliveries: list[dict] = []
    changed = asyncio.Condition()
    state = {"busy": False}
    resumed = asyncio.Event()
    resumed.set()

    async def enqueue(event):
        await queue.put(event)

    ls_webhooks._send_webhook = enqueue  # schedule_webhook() looks it up at call time

    async def deliver(event, session):
        payload = json.dumps(event._export(), indent=2, sort_keys=True)
        for webhook in list(ls_webhooks._webhooks.values()):
            if webhook.events is not None and event.type not in webhook.events:
                continue
            signed = f"{event.created}.{payload}".encode()
            signature = hmac.new(webhook.secret.encode(), signed, hashlib.sha256).hexdigest()
            header = f"t={event.created},v1={signature}"
            record = {
                "event_id": event.id,
                "type": event.type,
                "url": webhook.url,
                "payload": payload,
                "signature": header,
                "status": None,
                "error": "",
            }
            try:
                async with session.post(
                    webhook.url,
                    data=payload.encode(),
                    headers={"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": header},
                ) as response:
                    record["status"] = response.status
                    record["body"] = (await response.text())[:500]
            except (TimeoutError, aiohttp.ClientError) as error:
                record["error"] = repr(error)
            async with changed:
                deliveries.append(record)
                changed.notify_all()

    async def delivery_worker(app):
        # One connection per delivery: a kept-alive one would keep a live-server thread open into the next test.
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
            while True:
                event = await queue.get()
                state["busy"] = True
                try:
                    await resumed.wait()
                    await deliver(event, session)
                finally:
                    state["busy"] = queue.qsize() > 0
                    queue.task_done()
                    async with changed:
                        changed.notify_all()

    async def start_worker(app):
        app["delivery_worker"] = asyncio.ensure_future(delivery_worker(app))

    # -- Checkout Sessions

    StripeObject = ls_resources.StripeObject
    Event = ls_resources.Event
    PaymentIntent = ls_resources.PaymentIntent
    schedule_webhook = ls_webhooks.schedule_webhook

    def as_int(value, name):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise UserError(400, f"Invalid integer: {name}") from None

    class CheckoutSession(StripeObject):
        object = "checkout.session"
        _id_prefix = "cs_test_"

        def __init__(
            self,
            mode=None,
            line_items=None,
            success_url=None,
            cancel_url=None,
            client_reference_id=None,
            customer_email=None,
            metadata=None,
            payment_intent_data=None,
            expires_at=None,
            locale=None,
            **kwargs,
        ):
            if kwargs:
                raise UserError(400, "Received unknown parameter: " + ", ".join(sorted(kwargs)))
            if mode != "payment":
                raise UserError(400, "Only mode=payment is supported by the shim")
            if not isinstance(line_items, list) or not line_items:
                raise UserError(400, "line_items is required")
            for url_name, url in (("success_url", success_url), ("cancel_url", cancel_url)):
                if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                    raise UserError(400, f"Not a valid URL: {url_name}")
            currencies, total = set(), 0
            for item in line_items:
                price = item.get("price_data") or {}
                quantity = as_int(item.get("quantity", 1), "quantity")
                unit_amount = as_int(price.get("unit_amount"), "unit_amount")
                if quantity < 1 or unit_amount < 0 or not (price.get("product_data") or {}).get("name"):
                    raise UserError(400, "Invalid line item")
                currencies.add(str(price.get("currency", "")).lower())
                total += quantity * unit_amount
            if len(currencies) != 1 or "" in currencies:
                raise UserError(400, "All line items need the same currency")
            now = int(clock.time())
            if expires_at is not None:
                expires_at = as_int(expires_at, "expires_at")
                if not now + 30 * 60 <= expires_at <= now + 24 * 3600:
                    raise UserError(
                        400, "The `expires_at` timestamp must be between 30 minutes and 24 hours from now."
                    )
            else:
                expires_at = now + 24 * 3600
            if payment_intent_data is not None and not isinstance(payment_intent_data, dict):
                raise UserError(400, "Invalid payment_intent_data")

            super().__init__()
            self.mode = mode
            self.status = "open"
            self.payment_status = "unpaid"
            self.amount_subtotal = total
            self.amount_total = total
            self.currency = currencies.pop()
            self.client_reference_id = client_reference_id
            self.customer_email = customer_email
            self.metadata = metadata or {}
            self.payment_intent = None
            self.success_url = success_url
            self.cancel_url = cancel_url
            self.expires_at = expires_at
            self.locale = locale
            self.url = f"{base_url_holder['url']}/checkout/{self.id}"
            self._line_items = line_items
            self._payment_intent_metadata = dict((payment_intent_data or {}).get("metadata") or {})

        @property
        def description(self):
            return self._line_items[0]["price_data"]["product_data"]["name"]

        def _expire(self):
            if self.status != "open":
                raise UserError(400, "This Checkout Session is not in an expirable state.")
            self.status = "expired"
            self.url = None
            schedule_webhook(Event("checkout.session.expired", self))

        def _complete(self, payment_method):
            """Pay with ``payment_method``: True when paid; on a decline the session stays open."""
            if self.status != "open":
                raise UserError(400, f"This Checkout Session is {self.status}.")
            intent = PaymentIntent(
                amount=self.amount_total,
                currency=self.currency,
                payment_method=payment_method,
                metadata=dict(self._payment_intent_metadata),
            )
            declined = []
            intent._confirm(on_failure_now=lambda: declined.append(intent._report_async_failure()))
            if declined or intent.status != "succeeded":
                return False, intent
            self.payment_intent = intent.id
            self.status = "complete"
            self.payment_status = "paid"
            self.url = None
            schedule_webhook(Event("checkout.session.completed", self))
            return True, intent

    def export(obj, status=200):
        return ls_server.json_response(obj._export(), status=status)

    async def create_session(request):
        data = await ls_server.get_post_data(request) or {}
        data.pop("expand", None)
        return export(CheckoutSession(**data))

    async def retrieve_session(request):
        return export(CheckoutSession._api_retrieve(request.match_info["id"]))

    async def expire_session(request):
        session = CheckoutSession._api_retrieve(request.match_info["id"])
        session._expire()
        return export(session)

    async def complete_session(request):
        session = CheckoutSession._api_retrieve(request.match_info["id"])
        data = await ls_server.get_post_data(request) or {}
        paid, intent = session._complete(data.get("payment_method") or "pm_card_visa")
        if not paid:
            body = {"error": {**(intent.last_payment_error or {}), "type": "card_error"}, "session": session._export()}
            return ls_server.json_response(body, status=402)
        return export(session)

    def page(session, error=""):
        amount = session.amount_total
        title = html.escape(session.description)
        back = html.escape(session.cancel_url)
        message = f'<p role="alert" class="error">{html.escape(error)}</p>' if error else ""
        return web.Response(
            content_type="text/html",
            text=f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Pay · {title}</title></head>
<body><main><h1>{title}</h1><p class="amount">{amount} {session.currency.upper()}</p>{message}
<form method="post" action="/checkout/{session.id}/pay">
<label>Card <select name="payment_method"><option value="pm_card_visa">Visa 4242</option>
<option value="pm_card_chargeCustomerFail">Declined 0341</option></select></label>
<button type="submit">Pay</button></form><p><a href="{back}">Back</a></p></main></body></html>""",
        )

    async def hosted_page(request):
        session = CheckoutSession._api_retrieve(request.match_info["id"])
        if session.status != "open":
            return web.Response(status=410, text=f"This Checkout Session is {session.status}.")
        return page(session)

    async def hosted_pay(request):
        session = CheckoutSession._api_retrieve(request.match_info["id"])
        form = await request.post()
        paid, intent = session._complete(form.get("payment_method") or "pm_card_visa")
        if not paid:
            return page(session, (intent.last_payment_error or {}).get("message", "Your card was declined."))
        raise web.HTTPSeeOther(session.success_url.replace("{CHECKOUT_SESSION_ID}", session.id))

    # -- a refund made through the API tells the webhooks, as Stripe does with charge.refunded

    original_refund_create = ls_resources.Refund._api_create.__func__

    def refund_create(cls, **data):
        refund = original_refund_create(cls, **data)
        schedule_webhook(Event("charge.refunded", ls_resources.Charge._api_retrieve(refund.charge)))
        return refund

    ls_resources.Refund._api_create = classmethod(refund_create)

    # -- test controls

    async def set_clock(request):
        data = await request.post()
        clock.offset = float(data["now"]) - time.time()
        return web.json_response({"now": clock.time()})

    async def reset_clock(request):
        clock.offset = 0.0
        return web.json_response({"now": clock.time()})

    async def clear_webhooks(request):
        ls_webhooks._webhooks.clear()
        return web.json_response({"cleared": True})

    async def pause_webhooks(request):
        resumed.clear()
        return web.json_response({"paused": True})

    async def resume_webhooks(request):
        resumed.set()
        return web.json_response({"paused": False})

    async def list_deliveries(request):
        since = int(request.query.get("since", 0))
        count = int(request.query.get("count", 0))
        event_type = request.query.get("type")
        timeout = float(request.query.get("timeout", DEFAULT_WAIT))

        def matching():
            return [d for d in deliveries[since:] if event_type is None or d["type"] == event_type]

        async with changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait_for(lambda: len(matching()) >= count), timeout)
        return web.json_response(
            {"deliveries": deliveries[since:], "complete": len(matching()) >= count, "total": len(deliveries)}
        )

    async def wait_idle(request):
        timeout = float(request.query.get("timeout", DEFAULT_WAIT))
        async with changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait_for(lambda: queue.empty() and not state["busy"]), timeout)
        return web.json_response({"idle": queue.empty() and not state["busy"]})

    @web.middleware
    async def auth_middleware(request, handler):
        """Stripe's API needs the secret key; the customer's page and the test controls do not."""
        if request.path.startswith(("/_shim/", "/checkout/")):
            return await handler(request)
        return await ls_server.auth_middleware(request, handler)

    app = web.Application(middlewares=[ls_server.error_middleware, auth_middleware])
    app.on_response_prepare.append(ls_server.add_cors_headers)
    app.on_startup.append(start_worker)
    router = app.router
    router.add_post("/v1/checkout/sessions", create_session)
    router.add_get("/v1/checkout/sessions/{id}", retrieve_session)
    router.add_post("/v1/checkout/sessions/{id}/expire", expire_session)
    router.add_post("/_shim/checkout/{id}/complete", complete_session)
    router.add_post("/_shim/clock", set_clock)
    router.add_delete("/_shim/clock", reset_clock)
    router.add_delete("/_shim/webhooks", clear_webhooks)
    router.add_post("/_shim/webhooks/pause", pause_webhooks)
    router.add_post("/_shim/webhooks/resume", resume_webhooks)
    router.add_get("/_shim/deliveries", list_deliveries)
    router.add_get("/_shim/idle", wait_idle)
    router.add_get("/checkout/{id}", hosted_page)
    router.add_post("/checkout/{id}/pay", hosted_pay)
    for route in ls_server.app.router.routes():
        if route.method != "HEAD":
            router.add_route(route.method, route.resource.canonical, route.handler)
    return app


def serve(port: int) -> None:
    import asyncio
    import socket

    from aiohttp import web

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    base_url_holder = {"url": url}

    async def run():
        runner = web.AppRunner(build_app(base_url_holder), access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        print(f"LISTENING {url}", flush=True)
        parent_gone = asyncio.Event()

        def read_stdin():
            if not os.read(sys.stdin.fileno(), 1024):  # end of file: the test process is gone
                asyncio.get_running_loop().remove_reader(sys.stdin.fileno())
                parent_gone.set()

        asyncio.get_running_loop().add_reader(sys.stdin.fileno(), read_stdin)
        await parent_gone.wait()
        await runner.cleanup()

    asyncio.run(run())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed as LISTENING <url>)")
    serve(parser.parse_args().port)
