"""The booking box on another site: one script tag, an iframe that loads, grows and stays put, and CSP's veto.

"Another site" is a tiny HTTP server on 127.0.0.1 at a free port (another origin than the live server's), serving
a partner's page with the one ``<script>`` tag of ``embed.js``. The clinic and its pinned clock are the booking
tests' (``booking_fixtures.booking_clinic``): two services at Providencia, Ana Rojas on Tuesdays.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect
from wagtail.models import Site

from website.models import SiteSettings

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

FRAME = "iframe.clinic-booking-frame"
#: A browser's default iframe height: the box must grow beyond it once the step tells its height.
DEFAULT_FRAME_HEIGHT = 150


@dataclass
class PartnerSite:
    """A local site on its own origin whose pages the test writes (path → HTML)."""

    origin: str
    pages: dict[str, str] = field(default_factory=dict)

    def publish(self, path: str, body: str) -> str:
        self.pages[path] = (
            '<!DOCTYPE html><html lang="es"><head><meta charset="utf-8"><title>Centro asociado</title></head>'
            f"<body><h1>Centro asociado</h1><p>Reserva con nuestros profesionales.</p>{body}"
            "<p id='after-box'>Gracias por visitarnos.</p></body></html>"
        )
        return self.origin + path


@pytest.fixture
def partner_site() -> Iterator[PartnerSite]:
    site = PartnerSite(origin="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            html = site.pages.get(self.path)
            self.send_response(200 if html is not None else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write((html or "not found").encode())

        def log_message(self, format, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.origin = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield site
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def script_tag(live_server, **data: str) -> str:
    attributes = "".join(f' data-{name}="{value}"' for name, value in data.items())
    return f'<script src="{live_server.url}/static/widget/embed.js"{attributes} async></script>'


def allow_origins(*origins: str) -> None:
    settings_row = SiteSettings.for_site(Site.objects.get(is_default_site=True))
    settings_row.embed_allowed_origins = "\n".join(origins)
    settings_row.save()


def frame_height(page, index: int = 0) -> float:
    return page.locator(FRAME).nth(index).evaluate("frame => frame.getBoundingClientRect().height")


def wait_until_taller_than_default(page, index: int = 0) -> None:
    page.wait_for_function(
        "([selector, index, height]) => document.querySelectorAll(selector)[index]"
        ".getBoundingClientRect().height > height",
        arg=[FRAME, index, DEFAULT_FRAME_HEIGHT],
    )


def test_the_box_loads_grows_and_navigates_inside_a_partners_page(
    live_server, page, booking_clinic, partner_site, screenshot
):
    allow_origins(partner_site.origin)
    host_url = partner_site.publish("/reservas.html", script_tag(live_server))

    page.goto(host_url)
    iframe = page.locator(FRAME)
    expect(iframe).to_have_count(1)
    expect(iframe).to_have_attribute("title", "Agenda tu sesión")
    expect(page.locator(f"{FRAME} + #after-box")).to_have_count(1)  # placed right after its script tag
    box = page.frame_locator(FRAME)
    service_link = box.locator("a[href*='service=terapia-individual']")
    expect(service_link).to_be_visible()
    expect(box.locator("a[href*='service=terapia-pago-en-linea']")).to_be_visible()
    expect(box.locator(".site-header")).to_have_count(0)
    wait_until_taller_than_default(page)
    start_height = frame_height(page)
    screenshot(page, "partner-page")

    service_link.click()
    expect(box.locator("#id_where")).to_be_visible()
    assert page.url == host_url  # the partner's page stays; the step changed inside the frame
    frame = next(frame for frame in page.frames if frame.parent_frame is not None)
    assert frame.url.startswith(f"{live_server.url}/embed/booking/?service=terapia-individual")
    page.wait_for_function(
        "([selector, height]) => document.querySelector(selector).getBoundingClientRect().height !== height",
        arg=[FRAME, start_height],
    )
    assert frame_height(page) > DEFAULT_FRAME_HEIGHT
    screenshot(page, "partner-page-options")
    assert page.js_errors == []


def test_two_boxes_on_one_page_each_size_and_speak_for_themselves(
    live_server, page, booking_clinic, partner_site, screenshot
):
    allow_origins(partner_site.origin)
    host_url = partner_site.publish(
        "/dos.html",
        script_tag(live_server)
        + "<hr>"
        + script_tag(live_server, service="terapia-individual", lang="en", title="Book with us"),
    )

    page.goto(host_url)
    frames = page.locator(FRAME)
    expect(frames).to_have_count(2)
    expect(frames.nth(1)).to_have_attribute("title", "Book with us")
    first, second = page.frame_locator(FRAME).nth(0), page.frame_locator(FRAME).nth(1)
    expect(first.locator("a[href*='service=terapia-pago-en-linea']")).to_be_visible()
    expect(second.locator("#id_where")).to_be_visible()
    expect(first.locator("html")).to_have_attribute("lang", "es-cl")
    expect(second.locator("html")).to_have_attribute("lang", "en")
    wait_until_taller_than_default(page, 0)
    wait_until_taller_than_default(page, 1)
    screenshot(page, "two-boxes")
    assert page.js_errors == []


def test_a_site_missing_from_the_allow_list_cannot_show_the_box(
    live_server, page, booking_clinic, partner_site, screenshot
):
    allow_origins("https://www.example.com")
    console = []
    page.on("console", lambda message: console.append(message.text))
    host_url = partner_site.publish("/ajeno.html", script_tag(live_server))

    with page.expect_response(lambda response: "/embed/booking/" in response.url) as embed_response:
        page.goto(host_url)
    assert embed_response.value.status == 200  # the clinic answered; the browser refused to show it
    iframe = page.locator(FRAME)
    expect(iframe).to_have_count(1)
    page.wait_for_timeout(500)  # time enough for a frame that was allowed to render and post its height
    box = page.frame_locator(FRAME)
    expect(box.locator("a[href*='service=']")).to_have_count(0)
    assert frame_height(page) == DEFAULT_FRAME_HEIGHT
    assert any("frame-ancestors" in text for text in console), console
    screenshot(page, "refused")


def test_a_new_step_brings_the_top_of_the_box_back_into_view(live_server, page, booking_clinic, partner_site):
    """A visitor who scrolled down the partner's page must not land in the middle of the next step."""
    allow_origins(partner_site.origin)
    spacer = '<div style="height: 2000px"></div>'
    page.goto(partner_site.publish("/largo.html", spacer + script_tag(live_server) + spacer))
    service_link = page.frame_locator(FRAME).locator("a[href*='service=terapia-individual']")
    expect(service_link).to_be_visible()
    wait_until_taller_than_default(page)
    page.locator(FRAME).evaluate(
        "frame => window.scrollTo(0, window.scrollY + frame.getBoundingClientRect().top + 100)"
    )
    assert page.locator(FRAME).evaluate("frame => frame.getBoundingClientRect().top") < 0

    service_link.evaluate("link => link.click()")  # a click that does not scroll, as a finger after scrolling
    expect(page.frame_locator(FRAME).locator("#id_where")).to_be_visible()
    page.wait_for_function("selector => document.querySelector(selector).getBoundingClientRect().top > -1", arg=FRAME)
    assert page.js_errors == []
