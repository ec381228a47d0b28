import datetime
import xml.etree.ElementTree as ET
from urllib.parse import urlparse

import pytest

from tests.factories.blog import BlogCategoryFactory, BlogPageFactory

pytestmark = pytest.mark.django_db

ATOM = "{http://www.w3.org/2005/Atom}"


def assert_absolute_link_to(link, page):
    parts = urlparse(link)
    assert parts.scheme in {"http", "https"}
    assert parts.netloc
    assert parts.path == page.url


def test_rss_feed_lists_the_latest_20_posts_newest_first_with_absolute_links(client, blog_index):
    category = BlogCategoryFactory(name="Anxiety")
    posts = [
        BlogPageFactory(parent=blog_index, date=datetime.date(2025, 1, 1) + datetime.timedelta(days=n))
        for n in range(21)
    ]
    posts[-1].categories.set([category])
    posts[-1].save()

    response = client.get(blog_index.url + "feed/rss/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/rss+xml")
    channel = ET.fromstring(response.content).find("channel")
    items = channel.findall("item")
    assert len(items) == 20
    newest = posts[-1]
    assert items[0].findtext("title") == newest.title
    assert items[0].findtext("description") == newest.excerpt
    assert items[0].findtext("category") == "Anxiety"
    assert posts[0].title not in {item.findtext("title") for item in items}
    assert_absolute_link_to(items[0].findtext("link"), newest)
    assert_absolute_link_to(channel.findtext("link"), blog_index)


def test_atom_feed_parses_with_entries_and_absolute_links(client, blog_index):
    older = BlogPageFactory(parent=blog_index, title="Older", date=datetime.date(2025, 1, 1))
    newer = BlogPageFactory(parent=blog_index, title="Newer", date=datetime.date(2025, 2, 1))
    draft = BlogPageFactory(parent=blog_index, title="Draft")
    draft.unpublish()

    response = client.get(blog_index.url + "feed/atom/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(response.content)
    entries = root.findall(f"{ATOM}entry")
    assert [entry.findtext(f"{ATOM}title") for entry in entries] == ["Newer", "Older"]
    assert_absolute_link_to(entries[0].find(f"{ATOM}link").get("href"), newer)
    assert_absolute_link_to(entries[1].find(f"{ATOM}link").get("href"), older)
    assert entries[0].findtext(f"{ATOM}published").startswith("2025-02-01")


def test_empty_blog_still_serves_valid_feeds(client, blog_index):
    for route in ("feed/rss/", "feed/atom/"):
        response = client.get(blog_index.url + route)
        assert response.status_code == 200
        ET.fromstring(response.content)
