"""WebSub: feeds announce the hub, and the hub hears exactly the feeds a change touched.

A real HTTP hub stub on 127.0.0.1 (tests/conftest.py's) records every publish POST; the exporter
runs through the real command (``feeds.cli.main``). A live process's pings: tests/test_hub_pings.py.
"""

from __future__ import annotations

import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest

from feeds import websub
from feeds.cli import main
from feeds.config import Settings, load_settings
from feeds.index.catalog import build_catalog
from feeds.read.reader import read_folder
from feeds.render.feed import Format, render_feed
from tests.conftest import BASE_URL, SAMPLES, Hub


@pytest.fixture
def silent_hub() -> Iterator[str]:
    """A hub that accepts connections (the kernel's backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/hub"
    sock.close()


@pytest.fixture
def articles(tmp_path: Path) -> Path:
    return Path(shutil.copytree(SAMPLES, tmp_path / "articles"))


def _config(tmp_path: Path, articles: Path, hub_url: str) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text(
        f"base_url: {BASE_URL}\narticles_dir: {articles}\ncache_dir: {tmp_path / 'cache'}\nwebsub_hub: {hub_url}\n",
        encoding="utf-8",
    )
    return path


def _retitle(articles: Path) -> str:
    """Change the title of the newest published sample; returns its uid."""
    settings = Settings(base_url=BASE_URL, articles_dir=articles)
    newest = build_catalog(read_folder(articles, settings).articles, settings).get("all").items[0]
    path = articles / newest.source
    text = path.read_text(encoding="utf-8")
    lines = ['title: "A retitled story for WebSub"' if line.startswith("title:") else line for line in text.split("\n")]
    path.write_text("\n".join(lines), encoding="utf-8")
    return newest.uid


def _expected_urls(articles: Path, uid: str) -> set[str]:
    """Every feed URL whose items hold the article: all, its topics, its provider; every format."""
    settings = Settings(base_url=BASE_URL, articles_dir=articles)
    catalog = build_catalog(read_folder(articles, settings).articles, settings)
    paths = {feed.path for feed in catalog.feeds if any(a.uid == uid for a in feed.items)}
    assert (
        "all" in paths
        and any(p.startswith("topics/") for p in paths)
        and any(p.startswith("providers/") for p in paths)
    )
    return {f"{BASE_URL}{path}.{fmt.extension}" for path in paths for fmt in Format}


# ----- the feeds announce the hub --------------------------------------------------------------------


def test_every_format_links_the_hub_and_itself(hub: Hub) -> None:
    settings = Settings(base_url=BASE_URL, articles_dir=SAMPLES, websub_hub=hub.url)
    catalog = build_catalog(read_folder(SAMPLES, settings).articles, settings)
    feed = catalog.get("topics/ai")
    for fmt in (Format.RSS, Format.ATOM):
        parsed = feedparser.parse(render_feed(feed, fmt, catalog, settings).body)
        assert not parsed.bozo
        links = {(link.rel, link.href) for link in parsed.feed.links}
        assert ("hub", hub.url) in links, fmt
        assert ("self", f"{BASE_URL}topics/ai.{fmt.extension}") in links, fmt
    document = json.loads(render_feed(feed, Format.JSON, catalog, settings).body)
    assert document["hubs"] == [{"type": "WebSub", "url": hub.url}]
    assert document["feed_url"] == f"{BASE_URL}topics/ai.json"


def test_no_hub_no_hub_link() -> None:
    settings = Settings(base_url=BASE_URL, articles_dir=SAMPLES)
    catalog = build_catalog(read_folder(SAMPLES, settings).articles, settings)
    for fmt in Format:
        body = render_feed(catalog.get("all"), fmt, catalog, settings).body
        assert b'"hub"' not in body and b"hubs" not in body


# ----- ping_hub ------------------------------------------------------------------------------------


def test_a_hub_answering_500_then_204_is_retried_after_a_backoff(hub: Hub) -> None:
    hub.statuses = [500, 204]
    waits: list[float] = []
    report = websub.ping_hub(hub.url, [f"{BASE_URL}all.rss"], backoff=0.25, sleep=waits.append)
    assert report.ok and report.requests == 2 and waits == [0.25]
    assert hub.urls() == [f"{BASE_URL}all.rss"] * 2
    assert hub.content_types == ["application/x-www-form-urlencoded"] * 2
    assert report.line() == f"websub: pinged {hub.url} for 1 feeds (ok)"


def test_backoff_doubles_and_a_hub_that_keeps_failing_is_reported_not_raised(hub: Hub) -> None:
    hub.statuses = [503] * 10
    waits: list[float] = []
    report = websub.ping_hub(hub.url, [f"{BASE_URL}all.rss", f"{BASE_URL}all.atom"], retries=3, sleep=waits.append)
    assert not report.ok and report.requests == 4 and waits == [0.5, 1.0, 2.0]
    assert report.line() == (
        f"websub: pinged {hub.url} for 2 feeds (failed: HTTP 503 after 4 tries for {BASE_URL}all.rss)"
    )


def test_a_refusal_is_final(hub: Hub) -> None:
    hub.statuses = [400]
    report = websub.ping_hub(hub.url, [f"{BASE_URL}all.rss"], sleep=pytest.fail)
    assert not report.ok and report.requests == 1 and "HTTP 400" in (report.reason or "")


def test_a_closed_port_is_a_report_not_an_exception() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    report = websub.ping_hub(f"http://127.0.0.1:{port}/", [f"{BASE_URL}all.rss"], retries=1, sleep=lambda _: None)
    assert not report.ok and report.requests == 2 and "refused" in (report.reason or "").lower()


# ----- after an export -----------------------------------------------------------------------------


def test_export_pings_exactly_the_feeds_one_changed_article_touches(
    hub: Hub, articles: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = _config(tmp_path, articles, hub.url)
    out = tmp_path / "public"
    assert main(["export", "--config", str(config), str(out)]) == 0
    settings = load_settings(config)
    catalog = build_catalog(read_folder(articles, settings).articles, settings)
    assert len(hub.urls()) == 3 * len(catalog.feeds)  # the first export publishes every feed
    hub.clear()
    capsys.readouterr()

    uid = _retitle(articles)
    assert main(["export", "--config", str(config), str(out)]) == 0
    expected = _expected_urls(articles, uid)
    pinged = hub.urls()
    assert len(pinged) == len(set(pinged)) and set(pinged) == expected
    assert f"websub: pinged {hub.url} for {len(expected)} feeds (ok)" in capsys.readouterr().err
    # the hub will fetch the new bytes: every pinged URL is already published with the new title
    for url in pinged:
        assert b"A retitled story for WebSub" in (out / url.removeprefix(BASE_URL)).read_bytes()

    hub.clear()
    assert main(["export", "--config", str(config), str(out)]) == 0
    assert hub.urls() == []  # nothing changed, nothing announced
    assert "websub:" not in capsys.readouterr().err


def test_a_hub_that_never_answers_times_out_and_the_export_still_succeeds(
    silent_hub: str, articles: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setattr(websub, "TIMEOUT", 0.3)
    monkeypatch.setattr(websub, "RETRIES", 1)
    monkeypatch.setattr(websub, "BACKOFF", 0.01)
    out = tmp_path / "public"
    assert main(["export", "--config", str(_config(tmp_path, articles, silent_hub)), str(out)]) == 0
    err = capsys.readouterr().err
    assert f"websub: pinged {silent_hub} for " in err and "(failed: " in err and "after 2 tries" in err
    assert (out / "all.rss").is_file()
