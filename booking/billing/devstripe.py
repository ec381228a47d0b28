"""A Stripe-compatible test server on 127.0.0.1: localstripe plus the Checkout Sessions it lacks.

``make run`` starts it (``manage.py run_test_stripe``) so that the demo clinic takes online payments end to end
without Stripe and without the internet: every payment is a test payment and no card is ever charged. The tests
start the same command on a free port (``tests/booking/billing/stripe_server.py``).

localstripe (a stateful Stripe imitation) knows PaymentIntents, charges, refunds and signed webhooks, but not
Checkout. This module serves localstripe's API together with a small Checkout shim:

- ``POST /v1/checkout/sessions``, ``GET /v1/checkout/sessions/<id>``, ``POST /v1/checkout/sessions/<id>/expire``
  behave like Stripe's (form-encoded, secret key required, ``expires_at`` must be 30 min – 24 h ahead);
- ``GET /checkout/<id>`` is the hosted payment page: the clinic's look, labelled as a test payment, in the
  session's language (rendered by Django from ``billing/test_checkout.html``), with a card that pays and one
  that is declined; ``POST /checkout/<id>/pay`` pays and sends the patient back to the session's success URL;
- ``POST /_shim/checkout/<id>/complete`` pays a session as a customer would, without the page: it creates and
  confirms a real localstripe PaymentIntent (so refunds work on it) and sends ``payment_intent.succeeded`` and
  ``checkout.session.completed``; with ``payment_method=pm_card_chargeCustomerFail`` the card is declined,
  ``payment_intent.payment_failed`` is sent and the session stays open, as on Stripe;
- a refund made through ``POST /v1/refunds`` sends ``charge.refunded``, as a refund made in Stripe's dashboard does.

Webhooks are signed and sent with localstripe's registry (``POST /_config/webhooks/<id>`` with url and secret, or
``webhook_url`` when serving), one after the other in the order the events happened, without localstripe's
one-second pause. Each delivery is recorded (payload, signature header, response status); ``GET /_shim/deliveries``
waits for them, so tests never sleep; ``POST /_shim/webhooks/pause`` and ``/resume`` hold them back to play a
webhook that comes late. ``POST /_shim/clock`` sets the server's clock (object timestamps, signatures, the
``expires_at`` window) to the tests' pinned time.

The store starts empty each time (localstripe's ``--from-scratch``) and is never written to
``/tmp/localstripe.pickle``. The socket is bound to 127.0.0.1 only: localstripe's own ``start()`` listens on every
interface, which would let anyone on the network play with the clinic's test payments.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import os
import socket
import sys
import time
from collections.abc import Callable

HOST = "127.0.0.1"
DEFAULT_PORT = 8420
DEFAULT_WAIT = 10
# The site's own stylesheets, served by this server so the payment page looks like the clinic without depending
# on the site's static files being reachable from here (the tests' live server changes address every run).
STATIC_FILES = ("vendor/bootstrap/bootstrap.min.css", "css/site.css")
# The cards the payment page offers, as Stripe's test payment methods.
TEST_CARDS = ("pm_card_visa", "pm_card_chargeCustomerFail")


def bind(port: int) -> socket.socket:
    """A socket bound to 127.0.0.1:``port`` (0: any free port), never to every interface. OSError when taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError:
        sock.close()
        raise
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


def render_checkout_page(session: dict, *, declined: bool = False, clinic_name: str = "") -> str:
    """The hosted payment page of ``session`` (the Checkout Session as Stripe exports it), in its language.

    Rendered by Django's templates and gettext, so the page speaks the site's languages and carries the clinic's
    name (``clinic_name``, else ``CLINIC_NAME``); it needs Django set up (the management command does it) but never
    the database.
    """
    from django.conf import settings
    from django.template.loader import render_to_string
    from django.utils import translation

    from .stripe_gateway import from_stripe_amount

    try:
        language = translation.get_supported_language_variant(session.get("locale") or settings.LANGUAGE_CODE)
    except LookupError:
        language = settings.LANGUAGE_CODE
    with translation.override(language):
        return render_to_string(
            "billing/test_checkout.html",
            {
                "clinic_name": clinic_name or settings.WAGTAIL_SITE_NAME,
                "site_url": settings.SITE_URL,
                "description": session["line_items_description"],
                "amount": from_stripe_amount(session["amount_total"], session["currency"]),
                "currency": session["currency"].upper(),
                "customer_email": session.get("customer_email") or "",
                "action": f"/checkout/{session['id']}/pay",
                "cancel_url": session["cancel_url"],
                "open": session["status"] == "open",
                "declined": declined,
                "cards": TEST_CARDS,
                "stylesheets": [f"/static/{path}" for path in STATIC_FILES],
            },
        )


def build_app(base_url_holder: dict, *, clinic_name: str = "", render_page: Callable[..., str] = render_checkout_page):
    """localstripe's routes plus the Checkout shim, in a new aiohttp app (localstripe's own is left unused).

    ``base_url_holder["url"]`` is the server's own address, for the sessions' ``url``; ``clinic_name`` heads the
    payment page.
    """
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

    def page(session, *, declined=False, status=200):
        exported = {**session._export(), "line_items_description": session.description}
        return web.Response(
            content_type="text/html",
            status=status,
            text=render_page(exported, declined=declined, clinic_name=clinic_name),
        )

    async def hosted_page(request):
        session = CheckoutSession._api_retrieve(request.match_info["id"])
        return page(session, status=200 if session.status == "open" else 410)

    async def hosted_pay(request):
        session = CheckoutSession._api_retrieve(request.match_info["id"])
        form = await request.post()
        if session.status != "open":  # paid in another tab, or expired: say so instead of an API error
            return page(session, status=410)
        payment_method = form.get("payment_method")
        paid, intent = session._complete(payment_method if payment_method in TEST_CARDS else TEST_CARDS[0])
        if not paid:
            return page(session, declined=True, status=402)
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

    # -- the site's stylesheets, for the payment page

    static_paths = static_files()

    async def static_file(request):
        path = static_paths.get(request.match_info["path"])
        if path is None:
            raise web.HTTPNotFound()
        return web.FileResponse(path, headers={"Cache-Control": "max-age=3600"})

    @web.middleware
    async def auth_middleware(request, handler):
        """Stripe's API needs the secret key; the customer's page, its stylesheets and the test controls do not."""
        if request.path.startswith(("/_shim/", "/checkout/", "/static/")):
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
    router.add_get("/static/{path:.+}", static_file)
    router.add_post("/checkout/{id}/pay", hosted_pay)
    for route in ls_server.app.router.routes():
        if route.method != "HEAD":
            router.add_route(route.method, route.resource.canonical, route.handler)
    return app


def static_files() -> dict[str, str]:
    """Where Django's staticfiles finders find ``STATIC_FILES`` (only those are served)."""
    from django.contrib.staticfiles import finders

    found = {}
    for path in STATIC_FILES:
        location = finders.find(path)
        if location:
            found[path] = location
    return found


def serve(
    sock: socket.socket,
    *,
    webhook_url: str = "",
    webhook_secret: str = "",
    clinic_name: str = "",
    stop_with_stdin: bool = False,
    on_listening: Callable[[str], None] | None = None,
) -> None:
    """Serve on ``sock`` (see ``bind``) until the process is stopped.

    ``clinic_name`` heads the payment page. ``webhook_url``: every event is sent there, signed with
    ``webhook_secret`` (the site's ``STRIPE_WEBHOOK_SECRET``). ``stop_with_stdin``: stop when standard input
    reaches its end, which is how a parent process (the tests) ties the server to its own life, however it ends.
    """
    from aiohttp import web
    from localstripe import webhooks as ls_webhooks

    url = url_of(sock)
    app = build_app({"url": url}, clinic_name=clinic_name)
    if webhook_url:
        ls_webhooks.register_webhook("site", webhook_url, webhook_secret, None)

    async def run():
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        if on_listening is not None:
            on_listening(url)
        stop = asyncio.Event()
        if stop_with_stdin:
            loop = asyncio.get_running_loop()

            def read_stdin():
                if not os.read(sys.stdin.fileno(), 1024):  # end of file: the parent is gone
                    loop.remove_reader(sys.stdin.fileno())
                    stop.set()

            loop.add_reader(sys.stdin.fileno(), read_stdin)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()

    asyncio.run(run())
