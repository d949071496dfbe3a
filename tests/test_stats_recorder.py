"""The live app's recorder: whose address counts behind proxies, and a queue that loses nothing."""

from __future__ import annotations

import ipaddress
import threading
import time
from pathlib import Path

import pytest

from feeds.stats import recorder as recorder_module
from feeds.stats.recorder import StatsRecorder, client_address
from feeds.stats.store import StatsStore

from .conftest import BASE_URL, SAMPLES

PROXIES = ("127.0.0.1/32", "10.0.0.0/8")


@pytest.mark.parametrize(
    ("remote", "forwarded_for", "expected"),
    [
        ("192.0.2.1", None, "192.0.2.1"),
        ("192.0.2.1", "198.51.100.7", "192.0.2.1"),  # not a trusted proxy: its header is not believed
        ("127.0.0.1", None, "127.0.0.1"),
        ("127.0.0.1", "198.51.100.7", "198.51.100.7"),
        ("127.0.0.1", "203.0.113.5, 198.51.100.7", "198.51.100.7"),  # the left one is the client's own claim
        ("127.0.0.1", "198.51.100.7, 10.1.1.1", "198.51.100.7"),  # through two trusted proxies
        ("127.0.0.1", "10.2.2.2, 10.1.1.1", "10.2.2.2"),  # every hop trusted: the farthest
        ("127.0.0.1", "198.51.100.7, not-an-address", "127.0.0.1"),  # a malformed hop ends the walk
        ("127.0.0.1", " 2001:db8::1 ", "2001:db8::1"),
        ("127.0.0.1", "", "127.0.0.1"),
    ],
)
def test_client_address(remote: str, forwarded_for: str | None, expected: str) -> None:
    trusted = tuple(ipaddress.ip_network(net) for net in PROXIES)
    assert client_address(remote, forwarded_for, trusted) == expected


def environ(address: str, agent: str = "newsboat/2.21.0 (Linux x86_64)") -> dict[str, str]:
    return {"REMOTE_ADDR": address, "HTTP_USER_AGENT": agent}


def test_fetches_from_many_threads_are_all_written_when_the_recorder_closes(tmp_path: Path) -> None:
    recorder = StatsRecorder(tmp_path / "s.db")

    def serve(thread: int) -> None:
        for number in range(500):
            recorder.record("/all.rss", 200, 10, environ(f"198.51.100.{(thread * 500 + number) % 100}"))

    threads = [threading.Thread(target=serve, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorder.close()
    store = StatsStore(tmp_path / "s.db")
    (counts,) = store.counts("0000-01-01", "9999-12-31")
    assert (counts.fetches, counts.bytes, counts.by_reader) == (2000, 20_000, {"Newsboat": 100})
    store.close()


def test_a_database_that_cannot_be_opened_is_retried_without_losing_fetches(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "folder"
    blocker.write_text("a file where the database's folder should be")
    recorder = StatsRecorder(blocker / "s.db")
    recorder.record("/all.rss", 200, 10, environ("192.0.2.1"))
    deadline = time.monotonic() + 30
    while not recorder.failures:
        assert time.monotonic() < deadline, "the writer never tried the database"
        threading.Event().wait(0.05)
    blocker.unlink()  # the operator fixes it; the next try writes what was kept
    recorder.record("/all.rss", 304, 0, environ("192.0.2.1"))
    recorder.close()
    assert "feeds: warning: statistics not written to" in capsys.readouterr().err
    store = StatsStore(blocker / "s.db")
    (counts,) = store.counts("0000-01-01", "9999-12-31")
    assert (counts.fetches, counts.not_modified) == (2, 1)
    store.close()


def test_while_writes_fail_memory_holds_at_most_the_pending_limit(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(recorder_module, "PENDING_LIMIT", 5)
    blocker = tmp_path / "folder"
    blocker.write_text("a file where the database's folder should be")
    recorder = StatsRecorder(blocker / "s.db")
    for number in range(20):
        recorder.record("/all.rss", 200, number, environ("192.0.2.1"))
    deadline = time.monotonic() + 30
    while recorder.dropped < 15:
        assert time.monotonic() < deadline, f"dropped {recorder.dropped} of the 15 over the limit"
        threading.Event().wait(0.05)
    blocker.unlink()
    recorder.close()
    store = StatsStore(blocker / "s.db")
    (counts,) = store.counts("0000-01-01", "9999-12-31")
    assert (counts.fetches, counts.bytes) == (5, sum(range(15, 20)))  # the newest five were kept
    store.close()


def test_the_app_records_feed_fetches_only_and_not_when_statistics_are_off(tmp_path: Path) -> None:
    from feeds.config import Settings
    from feeds.server.web import create_app

    for enabled in (True, False):
        db = tmp_path / f"{enabled}.db"
        settings = Settings(base_url=BASE_URL, articles_dir=SAMPLES, cache_dir=tmp_path, stats=enabled, stats_db=db)
        app = create_app(settings)
        client = app.test_client()
        for path in ("/all.rss", "/all.atom", "/", "/feeds.opml", "/healthz", "/nothing.rss"):
            client.get(path, headers={"User-Agent": "newsboat/2.21.0 (Linux x86_64)"})
        app.extensions["feeds"].stop()
        recorder = app.extensions["feeds_stats"]
        if not enabled:
            assert recorder is None and not db.exists()
            continue
        recorder.close()
        store = StatsStore(db)
        assert sorted(c.path for c in store.counts("0000-01-01", "9999-12-31")) == ["/all.atom", "/all.rss"]
        store.close()
