"""The site speaks Spanish (es-CL) by default and English when asked, from the compiled catalogues."""

import pytest
from django.conf import settings
from django.utils import translation

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("language_cookie", "html_lang", "expected", "unexpected"),
    [
        (None, "es-cl", "Saltar al contenido principal", "Skip to main content"),
        ("en", "en", "Skip to main content", "Saltar al contenido principal"),
        ("es-cl", "es-cl", "Saltar al contenido principal", "Skip to main content"),
    ],
    ids=["default-spanish", "english-cookie", "spanish-cookie"],
)
def test_home_page_renders_in_the_chosen_language(client, home_page, language_cookie, html_lang, expected, unexpected):
    if language_cookie:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language_cookie

    html = client.get("/").content.decode()

    assert f'<html lang="{html_lang}"' in html
    assert expected in html
    assert unexpected not in html


def test_clinic_money_and_dates_follow_chilean_conventions():
    import datetime

    from django.utils import formats

    from booking.scheduling.money import format_money

    with translation.override("es-cl"):
        assert format_money(15000, "CLP") == "$15.000"
        assert formats.date_format(datetime.date(2026, 9, 18), "SHORT_DATE_FORMAT") == "18-09-2026"
    with translation.override("en"):
        assert format_money(15000, "CLP") == "$15,000"
        assert format_money("12.5", "USD") == "US$12.50"


def test_every_catalogue_entry_is_translated():
    """A string added without a Spanish translation would show English to Spanish-speaking patients."""
    catalogue = settings.BASE_DIR / "locale" / "es" / "LC_MESSAGES" / "django.po"
    entries = catalogue.read_text(encoding="utf-8").split("\n\n")[1:]
    # An untranslated entry ends with an empty msgstr (a translated one ends with its text).
    untranslated = [entry for entry in entries if entry.strip() and entry.strip().splitlines()[-1] == 'msgstr ""']
    fuzzy = [entry for entry in entries if "#, fuzzy" in entry]
    assert untranslated == []
    assert fuzzy == []
