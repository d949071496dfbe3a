"""Done-when of issue 19, through real parts: ``feeds serve`` fetched by aggregators, readers, a browser and
a crawler, and the same visits through a real nginx whose access log ``feeds stats --log`` reads.

Every client fetches from its own loopback address (127.0.0.N: Linux routes all of 127/8 to ``lo``), so
individual readers are told apart by their address as on the Internet. The servers are stopped before the
report is read: a worker writes what it has queued when it exits.
"""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .conftest import PROJECT, SAMPLES
from .test_serve import free_port

TIMEOUT = 15
FEED = "/all.rss"
# Real User-Agent strings (sources in tests/test_agents.py), one visit a line:
# (loopback address, User-Agent, revalidate with the ETag of the previous fetch)
VISITS = [
    ("127.0.0.2", "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 134 subscribers; )", False),
    ("127.0.0.2", "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 140 subscribers; )", True),
    ("127.0.0.3", "Mozilla/5.0 (compatible; inoreader.com; 12 subscribers)", False),
    ("127.0.0.4", "NewsBlur Feed Fetcher - 7 subscribers - https://www.newsblur.com/site/6011745/news "
                  "(Mozilla/5.0 (Macintosh; Intel Mac OS X 10_13_6) AppleWebKit/537.36 (KHTML, like Gecko) "
                  "Chrome/68.0.3440.106 Safari/537.36)", False),
    ("127.0.0.5", "Feedbin feed-id:1306543 - 5 subscribers", False),
    ("127.0.0.6", "NetNewsWire (RSS Reader; https://netnewswire.com/)", False),
    ("127.0.0.6", "NetNewsWire (RSS Reader; https://netnewswire.com/)", True),
    ("127.0.0.7", "newsboat/2.21.0 (Linux x86_64)", False),
    ("127.0.0.8", "Mozilla/5.0 (compatible; Miniflux/2.0.51; +https://miniflux.app)", False),
    ("127.0.0.9", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
                  "Safari/537.36", False),
    ("127.0.0.10", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", False),
]  # fmt: skip
EXPECTED = {"Feedly": 140, "Inoreader": 12, "NewsBlur": 7, "Feedbin": 5, "NetNewsWire": 1, "Newsboat": 1,
            "Miniflux": 1}  # fmt: skip


def get(port: int, path: str, source: str, headers: dict[str, str]) -> tuple[int, http.client.HTTPMessage]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT, source_address=(source, 0))
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, response.headers
    finally:
        connection.close()


def visit(port: int, visits=VISITS) -> None:
    etags: dict[str, str] = {}
    for source, agent, revalidate in visits:
        headers = {"User-Agent": agent}
        if revalidate:
            headers["If-None-Match"] = etags[source]
        status, response_headers = get(port, FEED, source, headers)
        assert status == (304 if revalidate else 200), (agent, status)
        etags[source] = response_headers["ETag"]


def write_config(root: Path, **extra: object) -> Path:
    config = root / "feeds.yaml"
    lines = [f"articles_dir: {SAMPLES}", "base_url: https://feeds.example.org/", f"cache_dir: {root / 'cache'}",
             f"stats_db: {root / 'stats.sqlite3'}", *(f"{key}: {json.dumps(value)}" for key, value in extra.items())]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return config


def feeds(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "feeds.cli", *args], cwd=PROJECT, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def report(config: Path, *args: str) -> dict:
    done = feeds("stats", "--config", str(config), "--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def feed_report(data: dict, path: str = FEED) -> dict:
    return next(feed for feed in data["feeds"] if feed["path"] == path)


@contextmanager
def serving(config: Path, workers: int = 2) -> Iterator[int]:
    """``feeds serve`` on a free port; stopped with SIGTERM (its workers flush their statistics) on exit."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "feeds.cli", "serve", "--config", str(config), "--port", str(port),
         "--workers", str(workers)],
        cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            try:
                if get(port, "/healthz", "127.0.0.1", {})[0] == 200:
                    break
            except OSError:
                assert time.monotonic() < deadline, "the server did not answer /healthz"
                time.sleep(0.1)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(TIMEOUT)
            pytest.fail("the server did not stop on SIGTERM")


def test_the_live_app_counts_167_subscribers(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    with serving(config) as port:
        visit(port)
    data = report(config)
    feed = feed_report(data)
    assert feed["subscribers"] == 167
    assert feed["by_reader"] == EXPECTED
    assert feed["fetches"] == len(VISITS) and feed["not_modified"] == 2
