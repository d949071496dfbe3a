"""Done-when of issue 19, through real parts: ``feeds serve`` fetched by aggregators, readers, a browser and
a crawler, and the same visits through a real nginx whose access log ``feeds stats --log`` reads.

Every client fetches from its own loopback address (127.0.0.N: Linux routes all of 127/8 to ``lo``), so
individual readers are told apart by their address as on the Internet; one of the three readers is the
real newsboat (from 127.0.0.1), the others send real readers' User-Agents through http.client. The
servers are stopped before the report is read: a worker writes what it has queued when it exits.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .conftest import PROJECT, SAMPLES, require_tool
from .ports import FEEDS_SERVE_PORT, announced_port, on_free_port, wait_for_nginx

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


def run_newsboat(port: int, home: Path) -> None:
    """Debian's newsboat fetches the feed once (from 127.0.0.1): the real reader in place of its line in VISITS."""
    newsboat = require_tool("newsboat")
    home.mkdir(exist_ok=True)
    (home / "urls").write_text(f"http://127.0.0.1:{port}{FEED}\n", encoding="utf-8")
    (home / "config").write_text("", encoding="utf-8")
    run = subprocess.run(
        [newsboat, "-u", "urls", "-c", "cache.db", "-C", "config", "-x", "reload"], cwd=home,
        env={**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home), "XDG_DATA_HOME": str(home)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    with sqlite3.connect(home / "cache.db") as db:  # newsboat's own record that it read the feed
        assert db.execute("SELECT count(*) FROM rss_item").fetchone()[0] > 0


def visit(port: int, root: Path, visits=VISITS) -> None:
    etags: dict[str, str] = {}
    for source, agent, revalidate in visits:
        if agent.startswith("newsboat/"):
            run_newsboat(port, root / "newsboat")
            continue
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
    output = config.parent / "serve-output.txt"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "feeds.cli", "serve", "--config", str(config), "--port", "0",
             "--workers", str(workers)],
            cwd=PROJECT, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        port = announced_port(process, output, FEEDS_SERVE_PORT)
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, output.read_text()
            try:
                if get(port, "/healthz", "127.0.0.1", {})[0] == 200:
                    break
            except OSError:
                pass  # not listening yet
            assert time.monotonic() < deadline, "the server did not answer /healthz with 200"
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
        visit(port, tmp_path)
    data = report(config)
    feed = feed_report(data)
    assert feed["subscribers"] == 167
    assert feed["by_reader"] == EXPECTED
    assert feed["fetches"] == len(VISITS) and feed["not_modified"] == 2


def test_the_database_holds_no_client_address(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    with serving(config) as port:
        visit(port, tmp_path)
    files = [path for path in tmp_path.glob("stats.sqlite3*") if path.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        for source in {"127.0.0.1"} | {source for source, _, _ in VISITS}:
            assert source.encode() not in data and socket.inet_aton(source) not in data, (path, source)
        assert b"Mozilla" not in data and b"newsboat/" not in data  # User-Agent strings are not kept either
    with sqlite3.connect(tmp_path / "stats.sqlite3") as db:
        (readers,) = db.execute("SELECT COUNT(DISTINCT reader) FROM fetches WHERE reader IS NOT NULL").fetchone()
    assert readers == 3


def test_several_workers_never_lose_or_double_count_a_fetch(tmp_path: Path) -> None:
    """4 workers, 8 client threads, 400 fetches by 40 readers behind a trusted proxy (X-Forwarded-For);
    each reader's fetches land on several workers, and the shared day key makes them one reader."""
    config = write_config(tmp_path, trusted_proxies=["127.0.0.1"])
    newsboat = "newsboat/2.21.0 (Linux x86_64)"
    errors: list[BaseException] = []

    def client(offset: int) -> None:
        try:
            for number in range(50):
                reader = f"198.51.100.{(offset * 50 + number) % 40 + 1}"
                headers = {"User-Agent": newsboat, "X-Forwarded-For": f"203.0.113.9, {reader}"}
                assert get(port, FEED, "127.0.0.1", headers)[0] == 200
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    with serving(config, workers=4) as port:
        threads = [threading.Thread(target=client, args=(offset,)) for offset in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors, errors
    feed = feed_report(report(config))
    assert feed["fetches"] == 400
    # 203.0.113.9 is left of the first untrusted hop: the client's own claim, never believed
    assert feed["by_reader"] == {"Newsboat": 40}


def test_x_forwarded_for_from_an_untrusted_address_is_ignored(tmp_path: Path) -> None:
    config = write_config(tmp_path)  # no trusted proxies
    with serving(config) as port:
        for number in range(5):
            headers = {"User-Agent": "newsboat/2.21.0 (Linux x86_64)", "X-Forwarded-For": f"198.51.100.{number}"}
            assert get(port, FEED, "127.0.0.2", headers)[0] == 200
    assert feed_report(report(config))["by_reader"] == {"Newsboat": 1}


NGINX_CONF = """\
{user}daemon off;
worker_processes 1;
pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {{ worker_connections 64; }}
http {{
    types {{ application/rss+xml rss; }}
    access_log {run}/access.log combined;
    client_body_temp_path {run}/client_body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


@contextmanager
def nginx(run: Path, root: Path) -> Iterator[int]:
    """A real nginx serving ``root`` and writing a combined-format access log to ``run/access.log``."""
    binary = require_tool("nginx")
    run.mkdir(parents=True, exist_ok=True)
    config = run / "nginx.conf"
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read the tmp dir

    def start(port: int) -> tuple[int, subprocess.Popen]:
        config.write_text(NGINX_CONF.format(user=user, run=run, port=port, root=root), encoding="utf-8")
        (run / "nginx.pid").unlink(missing_ok=True)
        process = subprocess.Popen([binary, "-p", str(run), "-c", str(config), "-e", str(run / "error.log")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            wait_for_nginx(process, run, TIMEOUT)
        except BaseException:
            stop(process)
            raise
        return port, process

    def stop(process: subprocess.Popen) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # nginx writes its log as it goes; SIGTERM is a fast shutdown
        process.wait(TIMEOUT)

    port, process = on_free_port(start)
    try:
        yield port
    finally:
        stop(process)


def test_the_same_visits_in_an_nginx_log_count_167_once(tmp_path: Path) -> None:
    config = write_config(tmp_path, stats=False)
    out = tmp_path / "site"
    exported = feeds("export", "--config", str(config), str(out))
    assert exported.returncode == 0, exported.stderr
    with nginx(tmp_path / "nginx", out.resolve()) as port:
        visit(port, tmp_path)
    log = tmp_path / "nginx" / "access.log"
    first = feeds("stats", "--config", str(config), "--json", "--log", str(log))
    assert first.returncode == 0, first.stderr
    assert f"{len(VISITS)} lines read, {len(VISITS)} feed fetches recorded" in first.stderr
    feed = feed_report(json.loads(first.stdout))
    assert (feed["subscribers"], feed["by_reader"], feed["not_modified"]) == (167, EXPECTED, 2)
    again = feeds("stats", "--config", str(config), "--json", "--log", str(log))
    assert "0 lines read, 0 feed fetches recorded; the first" in again.stderr
    assert feed_report(json.loads(again.stdout)) == feed
