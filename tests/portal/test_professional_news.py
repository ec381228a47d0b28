"""The news area of the professional's "Today": notices editors write in the CMS, shown between their dates."""

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse

from portal.accounts import roles
from tests.factories.accounts import VerifiedUserFactory, activate_totp
from tests.factories.scheduling import ProfessionalFactory
from tests.portal.test_roles import member_of
from website.models import ProfessionalNews

pytestmark = pytest.mark.django_db

# The admin's rich text editor posts Draftail's content state.
DRAFTAIL_HOLA = json.dumps(
    {
        "blocks": [
            {"key": "a1", "type": "unstyled", "text": "Hola", "depth": 0, "inlineStyleRanges": [], "entityRanges": []}
        ],
        "entityMap": {},
    }
)
NOW = datetime(2026, 12, 1, 10, 30, tzinfo=ZoneInfo("America/Santiago"))


@pytest.fixture(autouse=True)
def pinned_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def ana_client(client, home_page):
    user = VerifiedUserFactory(preferred_language="en")
    activate_totp(user)
    ProfessionalFactory(user=user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_login(user)
    return client


def today_html(client, **query) -> str:
    return client.get(reverse("portal:pro_today"), query).content.decode()


def test_the_days_notices_are_shown_with_their_formatting(ana_client):
    ProfessionalNews.objects.create(
        title="Sede Providencia cerrada el viernes",
        body="<p>Por <b>mantención</b> del ascensor.</p>",
        show_from=date(2026, 11, 30),
        show_until=date(2026, 12, 4),
    )
    ProfessionalNews.objects.create(title="Capacitación en enero", show_from=date(2026, 12, 2))
    ProfessionalNews.objects.create(title="Aviso antiguo", show_from=date(2026, 11, 1), show_until=date(2026, 11, 30))

    html = today_html(ana_client)

    assert "Sede Providencia cerrada el viernes" in html
    assert "<b>mantención</b>" in html
    assert "Capacitación en enero" not in html  # not yet
    assert "Aviso antiguo" not in html  # over
    assert "Capacitación en enero" in today_html(ana_client, day="2026-12-02")


def test_no_notices_no_news_area(ana_client):
    assert 'id="pro-news"' not in today_html(ana_client)


def test_at_most_three_notices_newest_first(ana_client):
    for day in range(1, 6):
        ProfessionalNews.objects.create(title=f"Aviso {day}", show_from=date(2026, 11, day))
    html = today_html(ana_client)
    assert html.index("Aviso 5") < html.index("Aviso 4") < html.index("Aviso 3")
    assert "Aviso 2" not in html


def test_an_end_before_the_start_is_refused_with_a_message():
    news = ProfessionalNews(title="x", show_from=date(2026, 12, 5), show_until=date(2026, 12, 1))
    with pytest.raises(ValidationError, match="cannot be before"):
        news.full_clean()


def test_editors_write_the_news_in_the_admin(client, home_page):
    editor = member_of(roles.EDITORS, email="editor@example.com")
    client.force_login(editor)

    response = client.post(
        reverse("wagtailsnippets_website_professionalnews:add"),
        {"title": "Nuevo box de atención", "body": DRAFTAIL_HOLA, "show_from": "2026-12-01", "show_until": ""},
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    news = ProfessionalNews.objects.get()
    assert (news.title, news.body) == ("Nuevo box de atención", '<p data-block-key="a1">Hola</p>')
