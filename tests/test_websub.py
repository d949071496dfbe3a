"""WebSub: feeds announce the hub, and the hub hears exactly the feeds a change touched.

A real HTTP hub stub on 127.0.0.1 records every publish POST; the exporter runs
through the real command (``feeds.cli.main``), the live app through a real Live.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import feedparser
import pytest

from feeds import websub
from feeds.cli import main
from feeds.config import Settings, load_settings
from feeds.index.catalog import build_catalog
from feeds.read.reader import read_folder
from feeds.render.feed import Format, render_feed
from feeds.server.live import Live
from feeds.server.web import create_app
from tests.conftest import BASE_URL, SAMPLES


class Hub:
    """A hub stub: answers each POST with the next queued status (204 when none) and records its form."""

    def __init__(self) -> None:
        self.posts: list[dict[str, list[str]]] = []
        self.content_types: list[str] = []
        self.statuses: list[int] = []
        self._lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with hub._lock:
                    hub.posts.append(parse_qs(body.decode("ascii"), strict_parsing=True))
                    hub.content_types.append(self.headers.get("Content-Type", ""))
                    status = hub.statuses.pop(0) if hub.statuses else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hub"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def urls(self) -> list[str]:
        """Every hub.url published, in order; each POST must carry mode publish and exactly one URL."""
        with self._lock:
            posts = list(self.posts)
        for form in posts:
            assert form["hub.mode"] == ["publish"] and len(form["hub.url"]) == 1, form
        return [form["hub.url"][0] for form in posts]

    def clear(self) -> None:
        with self._lock:
            self.posts.clear()


@pytest.fixture
def hub() -> Iterator[Hub]:
    stub = Hub()
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


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


# ----- after a live reload -------------------------------------------------------------------------


def test_a_live_reload_pings_the_changed_feeds_once_across_workers(hub: Hub, articles: Path, tmp_path: Path) -> None:
    settings = load_settings(_config(tmp_path, articles, hub.url))
    # two "workers" of one server: each polls for itself, one cache folder
    first, second = Live(settings), Live(settings)
    assert not first.refresh() and not second.refresh()
    uid = _retitle(articles)
    assert first.refresh() and second.refresh()
    first.pings.join(30)
    second.pings.join(30)
    pinged = hub.urls()
    assert len(pinged) == len(set(pinged)) and set(pinged) == _expected_urls(articles, uid)
    reports = [live.pings.last for live in (first, second) if live.pings.last is not None]
    assert len(reports) == 1 and reports[0].ok
    app = create_app(settings, live=first if first.pings.last else second)
    health = app.test_client().get("/healthz").json
    app.extensions["feeds"].stop()
    assert health["websub"] == f"websub: pinged {hub.url} for {len(pinged)} feeds (ok)"


def test_the_first_load_and_a_reload_that_changes_no_feed_ping_nothing(
    hub: Hub, articles: Path, tmp_path: Path
) -> None:
    settings = load_settings(_config(tmp_path, articles, hub.url))
    live = Live(settings)
    (articles / "notes.txt").write_text("not an article\n", encoding="utf-8")
    live.refresh()
    live.pings.join(30)
    assert hub.urls() == [] and live.pings.last is None
