"""A visitor opens the site and switches its language."""

import re

import pytest
from django.conf import settings
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

SET_LANGUAGE_FORM = "form[action*='/i18n/setlang/']"


def test_home_page_loads(live_server, page, home_page, screenshot):
    response = page.goto(f"{live_server.url}/")

    assert response is not None and response.status == 200
    expect(page).to_have_title(re.compile(re.escape(home_page.seo_title or home_page.title)))
    expect(page.locator("main")).to_be_visible()
    clinic_or_page = re.compile(f"{re.escape(home_page.title)}|{re.escape(settings.WAGTAIL_SITE_NAME)}")
    expect(page.locator("body")).to_contain_text(clinic_or_page)
    screenshot(page, "home")
    assert page.js_errors == []


def test_language_switch_changes_the_page_language(live_server, page, home_page, screenshot):
    page.goto(f"{live_server.url}/")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "es-cl")
    english = page.locator(f"{SET_LANGUAGE_FORM} button[name=language][value=en]").filter(visible=True)
    spanish = page.locator(f"{SET_LANGUAGE_FORM} button[name=language][value=es-cl]").filter(visible=True)
    expect(english).to_contain_text("English")
    expect(spanish).to_contain_text("Español")
    screenshot(page, "spanish")

    with page.expect_navigation():
        english.click()
    expect(html).to_have_attribute("lang", "en")
    screenshot(page, "english")

    with page.expect_navigation():
        spanish.click()
    expect(html).to_have_attribute("lang", "es-cl")
    assert page.js_errors == []
