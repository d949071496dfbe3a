"""HubPings: after a live reload's swap, the hub hears the changed feeds once across workers, and nothing else."""

from __future__ import annotations

from pathlib import Path

from feeds.config import load_settings
from feeds.server.live import Live
from feeds.server.web import create_app
from tests.conftest import Hub
from tests.test_websub import _config, _expected_urls, _retitle


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
