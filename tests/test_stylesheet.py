"""Feeds a person can read: the xml-stylesheet PI, feed.xsl served alike, and Chromium showing a feed as a page."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from feeds.catalog import build_catalog
from feeds.config import Settings
from feeds.export import export_site
from feeds.reader import read_folder
from feeds.render import Format
from feeds.site import STYLESHEET_PATH, STYLESHEET_TYPE, render_path, site_paths
from feeds.web import BROWSER_XML_TYPE, create_app

from .conftest import BASE_URL, SAMPLES, start_chromium
from .test_export import contents
from .test_serve import Server, running_server

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
PI = f'<?xml-stylesheet type="text/xsl" href="{BASE_URL}feed.xsl"?>'.encode()


@pytest.fixture(scope="module")
def site() -> tuple[Settings, object]:
    settings = dataclasses.replace(Settings(base_url=BASE_URL, articles_dir=SAMPLES), items_per_feed=3,
                                   archive_page_size=2)  # fmt: skip
    return settings, build_catalog(read_folder(SAMPLES, settings).articles, settings)


def test_rss_and_atom_documents_carry_the_stylesheet_pi_and_still_parse(site) -> None:
    settings, catalog = site
    xml_paths = [p for p in site_paths(catalog, settings) if p.endswith((".rss", ".atom"))]
    assert any(p.startswith("archive/") for p in xml_paths)
    for path in xml_paths:
        body = render_path(path, catalog, settings).body
        assert body.split(b"\n")[1] == PI, path  # right after the XML declaration
        parsed = feedparser.parse(body)
        assert not parsed.bozo and parsed.entries or path.startswith("archive/"), path
    for path in [p for p in site_paths(catalog, settings) if p.endswith(".json")]:
        assert b"xml-stylesheet" not in render_path(path, catalog, settings).body


def test_the_stylesheet_is_served_by_app_and_export_with_identical_bytes(site, tmp_path: Path) -> None:
    settings, catalog = site
    export_site(catalog, settings, tmp_path / "out")
    exported = contents(tmp_path / "out")[STYLESHEET_PATH]
    response = create_app(settings).test_client().get("/" + STYLESHEET_PATH)
    assert response.status_code == 200 and response.data == exported
    assert response.headers["Content-Type"] == STYLESHEET_TYPE
    assert (Path(__file__).parent.parent / "feeds" / "static" / "feed.xsl").read_bytes() == exported
    headers = contents(tmp_path / "out")["_headers"].decode()
    assert f"/{STYLESHEET_PATH}\n  Content-Type: {STYLESHEET_TYPE}" in headers
    assert "/archive/*.rss\n" in headers and "/archive/topics/" not in headers


@pytest.mark.parametrize("path", ["topics/ai.rss", "topics/ai.atom", "archive/all/1.rss", "archive/all/1.atom"])
def test_the_xslt_turns_feeds_into_a_readable_page(site, path: str) -> None:
    """lxml's libxslt is the engine Chromium uses: the same stylesheet, checked without a browser."""
    settings, catalog = site
    document = etree.fromstring(render_path(path, catalog, settings).body)
    page = etree.XSLT(etree.fromstring(render_path(STYLESHEET_PATH, catalog, settings).body))(document)
    html = str(page)
    parsed = feedparser.parse(render_path(path, catalog, settings).body)
    for entry in parsed.entries:
        assert etree.XML(f"<t>{entry.title}</t>".replace("&", "&amp;")).text in html
    assert "How to subscribe" in html and "<img" in html
    current = path.removeprefix("archive/").rsplit("/", 1)[0] if path.startswith("archive/") else path[:-4]
    assert f"{BASE_URL}{current}" in html  # the address to copy into a reader


def test_browser_navigations_get_the_same_bytes_as_xml(site) -> None:
    settings, _ = site
    client = create_app(settings).test_client()
    reader = client.get("/topics/ai.rss", headers={"Accept": "application/rss+xml, application/xml;q=0.9, */*;q=0.8"})
    assert reader.headers["Content-Type"] == Format.RSS.media_type
    assert {v.strip() for v in reader.headers["Vary"].split(",")} == {"Accept-Encoding", "Accept"}
    assert client.get("/topics/ai.atom").headers["Content-Type"] == Format.ATOM.media_type  # no Accept
    assert client.get("/all.rss", headers={"Accept": "*/*"}).headers["Content-Type"] == Format.RSS.media_type
    browser = client.get("/topics/ai.rss", headers={"Accept": BROWSER_ACCEPT})
    assert browser.headers["Content-Type"] == BROWSER_XML_TYPE and browser.data == reader.data
    assert {v.strip() for v in browser.headers["Vary"].split(",")} == {"Accept-Encoding", "Accept"}
    assert browser.headers["ETag"] == reader.headers["ETag"]
    zipped = client.get("/topics/ai.atom", headers={"Accept": BROWSER_ACCEPT, "Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Type"] == BROWSER_XML_TYPE and zipped.headers["Content-Encoding"] == "gzip"
    # a revalidation keeps the stored variant; JSON and pages are never renegotiated
    again = client.get("/topics/ai.rss", headers={"Accept": BROWSER_ACCEPT, "If-None-Match": browser.headers["ETag"]})
    assert again.status_code == 304
    assert client.get("/all.json", headers={"Accept": BROWSER_ACCEPT}).headers["Content-Type"] == Format.JSON.media_type


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # no base URL: the stylesheet's absolute href must be this very server (browsers load XSLT same-origin only)
    with running_server(tmp_path_factory.mktemp("stylesheet"), base_url=None) as running:
        yield running


def test_chromium_shows_a_topic_feed_as_a_page(server: Server, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver = start_chromium(tmp_path / "profile")
    try:
        driver.set_page_load_timeout(30)
        driver.set_window_size(1000, 1400)
        status, _, body = server.request("GET", "/topics/ai.rss")
        titles = [entry.title for entry in feedparser.parse(body).entries]
        assert status == 200 and titles
        driver.get(f"http://127.0.0.1:{server.port}/topics/ai.rss")
        headings = [h.text for h in driver.find_elements(By.CSS_SELECTOR, "article h2")]
        assert headings == titles  # items as HTML, not the XML as text
        assert driver.find_elements(By.CSS_SELECTOR, "article img")
        note = driver.find_element(By.ID, "subscribe").text
        assert "How to subscribe" in note
        assert driver.find_element(By.ID, "feed-url").text == f"http://127.0.0.1:{server.port}/topics/ai.rss"
        driver.save_screenshot("/tmp/feed_view.png")
    finally:
        driver.quit()


@pytest.mark.parametrize("fmt", [Format.RSS, Format.ATOM], ids=lambda f: f.extension)
def test_a_summary_full_of_ampersands_still_renders_as_a_page(tmp_path: Path, fmt: Format) -> None:
    """libxslt gives up at a recursion depth of 3000; one odd summary must not blank the page."""
    folder = tmp_path / "articles"
    folder.mkdir()
    summary = "Q&A " * 1200  # 1,200 ampersands the renderer escapes
    (folder / "a.md").write_text(
        f'---\ntitle: "Ampersands"\nexcerpt: "{summary}"\npublishedDateTime: 2024-01-01T00:00:00Z\n'
        f'originalUrl: "https://example.org/a"\n---\n',
        encoding="utf-8",
    )
    settings = Settings(base_url=BASE_URL, articles_dir=folder, max_summary_chars=5000)
    catalog = build_catalog(read_folder(folder, settings).articles, settings)
    document = etree.fromstring(render_path(f"all.{fmt.extension}", catalog, settings).body)
    page = str(etree.XSLT(etree.fromstring(render_path(STYLESHEET_PATH, catalog, settings).body))(document))
    assert "Ampersands" in page and "Q&amp;A" in page
