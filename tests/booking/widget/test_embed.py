"""The booking box at /embed/booking/ for other sites' iframes: its page, who may frame it, its language.

The clock and the clinic come from conftest.py (Sunday 29 November 2026; Ana at Providencia and online).
"""

import re
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.contrib.staticfiles import finders
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from wagtail.models import Site

from website.models import SiteSettings

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
SLOT_DAY = {
    "service": "therapy",
    "professional": "ana",
    "location": "providencia",
    "modality": "in_person",
    "day": "2026-12-01",
}


def embed(path: str = "", **params) -> str:
    return f"/embed/booking/{path}" + (f"?{urlencode(params)}" if params else "")


def hrefs(html: str) -> list[str]:
    return [href.replace("&amp;", "&") for href in re.findall(r'href="([^"]*)"', html)]


def frame_ancestors(response) -> str:
    """The ``frame-ancestors`` directive of the response's one Content-Security-Policy."""
    directives = [part.strip() for part in response["Content-Security-Policy"].split(";")]
    return next(part for part in directives if part.startswith("frame-ancestors"))


def allow(*lines: str) -> SiteSettings:
    row = SiteSettings.for_site(Site.objects.get(is_default_site=True))
    row.embed_allowed_origins = "\n".join(lines)
    row.save()
    return row


# --- the page -----------------------------------------------------------------------------------------------------


def test_embed_start_page_has_the_box_but_not_the_site_chrome(client, clinic):
    response = client.get(embed(), **EN)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Individual therapy" in html
    assert "site-header" not in html and "site-footer" not in html
    assert 'id="site-nav"' not in html
    assert '<meta name="robots" content="noindex">' in html
    for script in ("django_htmx/htmx-2.min.js", "widget/booking.js", "widget/embed-frame.js"):
        assert f'src="/static/{script}"' in html
    assert re.search(r'<a href="/" target="_blank" rel="noopener">Online booking by ', html)


def test_the_normal_booking_page_keeps_the_site_chrome_and_no_embed_script(client, clinic):
    html = client.get("/booking/", **EN).content.decode()
    assert "site-header" in html
    assert "embed-frame.js" not in html


def test_step_links_stay_in_the_embed(client, clinic):
    start = client.get(embed(), **EN).content.decode()
    assert "/embed/booking/?service=therapy" in hrefs(start)

    redirect = client.get(embed(service="therapy", professional="ana", modality="online"))
    assert redirect.status_code == 302
    assert redirect["Location"].startswith("/embed/booking/date/?")

    date_page = hrefs(client.get(embed("date/", **SLOT_DAY), **EN).content.decode())
    day_links = [href for href in date_page if "day=" in href and "start=" not in href]
    assert day_links and all(href.startswith("/embed/booking/date/?") for href in day_links)


def test_review_leaves_the_embed_for_the_clinics_own_site(client, clinic):
    """Logging in and paying need first-party cookies and an unframed page (Stripe Checkout refuses frames)."""
    date_page = hrefs(client.get(embed("date/", **SLOT_DAY), **EN).content.decode())
    time_links = [href for href in date_page if "start=" in href]
    assert time_links
    assert all(href.startswith("/booking/review/?") for href in time_links)


def test_the_place_form_submits_inside_the_embed(client, clinic):
    html = client.get(embed(service="therapy"), **EN).content.decode()
    assert 'action="/embed/booking/date/"' in html


def test_embed_get_sets_no_cookie(client, clinic):
    """Inside another site's frame the clinic's cookies are third-party: the box must not depend on them."""
    for url in (embed(), embed(service="therapy"), embed("date/", **SLOT_DAY)):
        response = client.get(url, **EN)
        assert response.status_code == 200
        assert not response.cookies, url


def test_embed_start_page_queries_are_bounded_and_skip_the_menus(client, clinic):
    allow("https://www.example.com")
    client.get(embed(), **EN)  # the settings row exists now; the count below is a steady visit's
    with CaptureQueriesContext(connection) as context:
        assert client.get(embed(), **EN).status_code == 200
    sql = " ".join(query["sql"] for query in context.captured_queries)
    assert len(context.captured_queries) <= 5
    assert "website_headerlink" not in sql and "website_footerlink" not in sql


# --- who may frame it ---------------------------------------------------------------------------------------------


def test_only_the_site_itself_may_frame_the_embed_by_default(client, clinic):
    response = client.get(embed())
    assert frame_ancestors(response) == "frame-ancestors 'self'"


def test_the_allowed_origins_and_no_others_may_frame_the_embed(client, clinic):
    allow("https://www.example.com", "http://localhost:8080")
    for url in (embed(), embed(service="therapy"), embed("date/", **SLOT_DAY)):
        response = client.get(url)
        assert frame_ancestors(response) == "frame-ancestors 'self' https://www.example.com http://localhost:8080", url
    # An htmx step is a fragment that never reads the settings for a title: the middleware reads them itself.
    swapped = client.get(embed(service="therapy"), HTTP_HX_REQUEST="true")
    assert "<html" not in swapped.content.decode()
    assert frame_ancestors(swapped) == "frame-ancestors 'self' https://www.example.com http://localhost:8080"


def test_embed_drops_x_frame_options_and_every_other_page_keeps_it(client, clinic):
    allow("https://www.example.com")
    embedded = client.get(embed())
    assert "X-Frame-Options" not in embedded
    for url in ("/booking/", "/"):
        response = client.get(url)
        assert response["X-Frame-Options"] == "SAMEORIGIN", url
        assert frame_ancestors(response) == "frame-ancestors 'self'", url


@pytest.mark.parametrize("step", ["identify/", "review/", "pay/abc123/", "done/abc123/"])
def test_top_level_steps_refuse_other_frames_even_under_the_embed(client, clinic, step):
    """Log-in, review, payment and confirmation pages are never framed by another site (clickjacking)."""
    allow("https://www.example.com")
    response = client.get(embed(step, service="therapy", start="2026-12-01T12:00Z"))
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert "https://www.example.com" not in response.get("Content-Security-Policy", "")


def test_an_invalid_choice_in_the_embed_is_still_framed_with_its_message(client, clinic):
    response = client.get(embed(service="nope"), **EN)
    assert response.status_code == 400
    assert "That service cannot be booked online." in response.content.decode()
    assert frame_ancestors(response) == "frame-ancestors 'self'"
    assert "X-Frame-Options" not in response


def test_the_embed_sends_one_policy_with_the_rest_of_the_site_policy(client, clinic):
    """frame-ancestors is merged into the site's policy, not sent as a second header that browsers would add."""
    allow("https://www.example.com")
    response = client.get(embed())
    assert len(response.headers.get("Content-Security-Policy", "").split("frame-ancestors")) == 2
    assert "script-src 'self'" in response["Content-Security-Policy"]


# --- the allow-list in the settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "https://www.example.com/booking",
        "ftp://www.example.com",
        "garbage",
        "www.example.com",
        "https://www.example.com; script-src *",
        "https://*.example.com",
        "https://user:secret@www.example.com",
        "https://www.example.com?x=1",
        "https://www.example.com:99999",
        "'self'",
    ],
    ids=["path", "ftp", "garbage", "no-scheme", "directive", "wildcard", "login", "query", "port", "keyword"],
)
def test_settings_refuse_what_is_not_an_origin(clinic, line):
    row = allow()
    row.embed_allowed_origins = f"https://ok.example.com\n{line}"
    with translation.override("en"), pytest.raises(ValidationError) as raised:
        row.full_clean()
    messages = raised.value.message_dict["embed_allowed_origins"]
    assert messages == [f"“{line}” is not a site address like https://www.example.com (no path, http or https only)."]


def test_settings_keep_origins_normalised_one_per_line(clinic):
    row = allow()
    row.embed_allowed_origins = "  HTTPS://WWW.Example.com/ \n\nhttp://localhost:8080\nhttps://www.example.com\n"
    row.full_clean()
    assert row.embed_allowed_origins == "https://www.example.com\nhttp://localhost:8080"
    assert row.embed_origins == ["https://www.example.com", "http://localhost:8080"]


def test_the_admin_settings_form_shows_the_origin_error(superuser_client, clinic):
    site = Site.objects.get(is_default_site=True)
    url = f"/admin/settings/website/sitesettings/{site.pk}/"
    form = superuser_client.get(url).context["form"]
    data = dict.fromkeys(form.fields, "")
    data["embed_allowed_origins"] = "https://www.example.com/booking/"
    with translation.override("en"):
        response = superuser_client.post(url, data, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "is not a site address like https://www.example.com" in response.content.decode()
    assert SiteSettings.for_site(site).embed_allowed_origins == ""


# --- language -------------------------------------------------------------------------------------------------------


def test_lang_parameter_renders_english_whatever_the_browser_asks(client, clinic):
    html = client.get(embed(lang="en"), HTTP_ACCEPT_LANGUAGE="es-CL").content.decode()
    assert '<html lang="en"' in html
    assert "Choose a service" in html


def test_spanish_is_the_default_and_lang_es_picks_chilean_spanish(client, clinic):
    for url in (embed(), embed(lang="es")):
        html = client.get(url, HTTP_ACCEPT_LANGUAGE="es-CL").content.decode()
        assert '<html lang="es-cl"' in html, url
        assert "Choose a service" not in html, url


@pytest.mark.parametrize("value", ["xx", "de", "en" * 200, "../en", ""], ids=["xx", "de", "long", "path", "empty"])
def test_an_unknown_lang_is_ignored(client, clinic, value):
    response = client.get(embed(lang=value), HTTP_ACCEPT_LANGUAGE="es-CL")
    assert response.status_code == 200
    assert '<html lang="es-cl"' in response.content.decode()


def test_lang_follows_the_visitor_to_the_next_steps(client, clinic):
    start = hrefs(client.get(embed(lang="en"), HTTP_ACCEPT_LANGUAGE="es-CL").content.decode())
    assert "/embed/booking/?service=therapy&lang=en" in start
    date_page = hrefs(client.get(embed("date/", lang="en", **SLOT_DAY)).content.decode())
    assert all("lang=en" in href for href in date_page if "service=therapy" in href)


# --- the scripts ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["widget/embed.js", "widget/embed-frame.js"])
def test_embed_scripts_are_static_files(name):
    assert finders.find(name) is not None


def test_the_installer_and_the_frame_agree_on_the_message():
    installer = Path(finders.find("widget/embed.js")).read_text(encoding="utf-8")
    frame = Path(finders.find("widget/embed-frame.js")).read_text(encoding="utf-8")
    for message in ('"clinic-booking:resize"', '"clinic-booking:step"'):
        assert message in installer and message in frame
    assert '"/embed/booking/"' in installer
    assert "event.origin !== origin" in installer and "event.source !== iframe.contentWindow" in installer
