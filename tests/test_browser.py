"""The index page in a real browser: headless Chromium (Selenium) against ``feeds serve``."""

from __future__ import annotations

from collections.abc import Iterator

import feedparser
import pytest

from feeds.config import load_settings, with_overrides
from feeds.index.catalog import build_catalog
from feeds.read.reader import read_folder
from tests.conftest import start_chromium
from tests.test_serve import Server, running_server

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # no base URL: the links must point at this very server for a click to land on it
    with running_server(tmp_path_factory.mktemp("browser"), base_url=None) as running:
        yield running


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield driver
    finally:
        driver.quit()


def site_url(server: Server) -> str:
    return f"http://127.0.0.1:{server.port}/"


def feed_paths(server: Server) -> list[str]:
    settings = with_overrides(load_settings(server.articles.parent / "feeds.yaml"), articles_dir=server.articles)
    catalog = build_catalog(read_folder(settings.articles_dir, settings).articles, settings)
    return [feed.path for feed in catalog.feeds]


def test_the_index_has_a_row_for_every_feed(server, browser):
    browser.get(site_url(server))
    rows = browser.find_elements(By.CSS_SELECTOR, "main .feeds > li")
    assert [row.get_attribute("id") for row in rows] == feed_paths(server)
    robotics = browser.find_element(By.ID, "topics/robotics")
    assert [a.text for a in robotics.find_elements(By.TAG_NAME, "a")] == ["Robotics", "RSS", "Atom", "JSON Feed"]


def test_the_index_has_autodiscovery_links_for_the_all_feed(server, browser):
    browser.get(site_url(server))
    links = browser.find_elements(By.CSS_SELECTOR, 'head link[rel="alternate"]')
    found = {(link.get_attribute("type"), link.get_attribute("href")) for link in links}
    assert found == {
        ("application/rss+xml", site_url(server) + "all.rss"),
        ("application/atom+xml", site_url(server) + "all.atom"),
        ("application/feed+json", site_url(server) + "all.json"),
    }


@pytest.mark.parametrize("extension", ["rss", "atom", "json"])
def test_clicking_a_feed_link_opens_the_feeds_page_at_that_url(server, browser, extension):
    browser.get(site_url(server))
    browser.find_element(By.CSS_SELECTOR, f'li[id="topics/robotics"] a[href$=".{extension}"]').click()
    url = f"{site_url(server)}topics/robotics.{extension}"
    assert browser.current_url == url
    # a browser's navigation gets the feed's page (no XSLT); a reader asking the same URL gets the feed
    assert browser.execute_script("return document.contentType") == "text/html"
    status, headers, served = server.request("GET", f"/topics/robotics.{extension}")
    media_type = {"rss": "application/rss+xml", "atom": "application/atom+xml", "json": "application/feed+json"}
    assert status == 200 and headers["Content-Type"].startswith(media_type[extension])
    expected = feedparser.parse(server.request("GET", "/topics/robotics.rss")[2])  # the items, as a reader sees them
    assert served and browser.find_element(By.TAG_NAME, "h1").text == "Robotics"
    assert browser.title == expected.feed.title == "Robotics — News feeds"
    seen = [h.text for h in browser.find_elements(By.CSS_SELECTOR, ".items h3")]
    assert seen == [e.title for e in expected.entries]
    assert "Robots learn to fold laundry" in seen


def test_the_opml_link_lists_every_feed(server, browser):
    browser.get(site_url(server))
    browser.find_element(By.LINK_TEXT, "every feed as OPML").click()
    assert browser.current_url == site_url(server) + "feeds.opml"
    source = browser.page_source
    for path in feed_paths(server):
        assert f"{site_url(server)}{path}.rss" in source


def test_a_missing_feed_page_links_back_to_the_index(server, browser):
    browser.get(site_url(server) + "topics/no-such-topic.rss")
    browser.find_element(By.LINK_TEXT, "the index page").click()
    assert browser.current_url == site_url(server)
    assert browser.find_element(By.TAG_NAME, "h1").text == "News feeds"
