"""``feeds serve``: a real gunicorn server process on 127.0.0.1, spoken to with raw HTTP."""

from __future__ import annotations

import ast
import gzip
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from feeds.config import Settings
from feeds.server import serve as serve_module
from feeds.server.serve import gunicorn_options, local_url, serve
from tests.conftest import BASE_URL, PROJECT
from tests.ports import FEEDS_SERVE_PORT, announced_port
from tests.test_reader import deep_folder
from tests.test_web import ARTICLES, make_articles, write_article

RELOAD_INTERVAL = 0.5


@dataclass
class Server:
    port: int
    articles: Path
    process: subprocess.Popen
    stdout: Path

    def request(
        self, method: str, path: str, headers: dict[str, str] | None = None
    ) -> tuple[int, http.client.HTTPMessage, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.headers, response.read()
        finally:
            connection.close()

    def raw(self, data: bytes) -> tuple[int, bytes]:
        """Send bytes as they are (no client-side checks); the status and the whole answer."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            sock.sendall(data)
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        answer = b"".join(chunks)
        return int(answer.split(b" ", 2)[1]), answer


def wait_until_healthy(server: Server, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"server exited with {server.process.returncode}: {server.stdout.read_text()}")
        try:
            if server.request("GET", "/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail("the server did not answer /healthz in time")


@contextmanager
def running_server(root: Path, *, base_url: str | None = BASE_URL, articles: Path | None = None) -> Iterator[Server]:
    """``feeds serve`` on a free port over a copy of the samples plus ARTICLES (or ``articles``); stopped on exit."""
    root.mkdir(parents=True, exist_ok=True)
    articles = articles if articles is not None else make_articles(root / "articles", samples=True)
    config = root / "feeds.yaml"
    config.write_text(
        (f'base_url: "{base_url}"\n' if base_url else "")
        + f"reload_interval: {RELOAD_INTERVAL}\ncache_max_age: 60\n"
        + "topic_aliases:\n  Artificial Intelligence: AI\n"
    )
    stdout = root / "stdout.txt"
    command = [sys.executable, "-m", "feeds.cli", "serve", "--config", str(config), "--articles", str(articles),
               "--port", "0", "--workers", "2"]  # fmt: skip
    with stdout.open("wb") as out:
        process = subprocess.Popen(command, cwd=PROJECT, stdout=out, stderr=subprocess.STDOUT)
    try:
        port = announced_port(process, stdout, FEEDS_SERVE_PORT)
    except RuntimeError as exc:
        process.kill()
        process.wait(5)
        pytest.fail(str(exc))
    running = Server(port, articles, process, stdout)
    try:
        wait_until_healthy(running)
        yield running
    finally:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, as a server is stopped; killed when it has not ended within 15 s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("serve")) as running:
        yield running


def test_it_prints_the_url_to_open(server):
    first_line = server.stdout.read_text().splitlines()[0]
    assert first_line.startswith("Serving ")
    assert first_line.endswith(f"on http://127.0.0.1:{server.port}/ — open it in a browser")


def test_feeds_come_with_their_headers(server):
    status, headers, body = server.request("GET", "/all.rss")
    assert status == 200
    assert headers["Content-Type"] == "application/rss+xml; charset=utf-8"
    assert headers["Cache-Control"] == "public, max-age=60"
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert int(headers["Content-Length"]) == len(body)
    assert b"Drones deliver medicine" in body


def test_304_round_trips_with_the_etag_and_if_match_star_succeeds(server):
    _, headers, _ = server.request("GET", "/topics/robotics.atom")
    status, again, body = server.request("GET", "/topics/robotics.atom", {"If-None-Match": headers["ETag"]})
    assert (status, body, again["ETag"]) == (304, b"", headers["ETag"])
    status, _, _ = server.request("GET", "/topics/robotics.atom", {"If-Match": "*"})
    assert status == 200
    status, _, _ = server.request("GET", "/topics/robotics.atom", {"If-None-Match": '"stale"'})
    assert status == 200


def test_gzip_and_head(server):
    _, plain_headers, plain = server.request("GET", "/all.json")
    status, headers, packed = server.request("GET", "/all.json", {"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed) == plain
    assert headers["ETag"] != plain_headers["ETag"] and headers["Vary"] == "Accept-Encoding, Accept"
    status, head_headers, body = server.request("HEAD", "/all.json")
    assert (status, body) == (200, b"")
    assert head_headers["Content-Length"] == str(len(plain))


@pytest.mark.parametrize(
    ("method", "path", "status", "location"),
    [
        ("GET", "/topics/nope.rss", 404, None),
        ("POST", "/all.rss", 405, None),
        ("DELETE", "/topics/ai.rss", 405, None),
        ("GET", "/topics/AI.rss", 301, "topics/ai.rss"),
        ("GET", "/topics/artificial-intelligence.json", 301, "topics/ai.json"),
    ],
)
def test_errors_and_redirects(server, method, path, status, location):
    got, headers, _ = server.request(method, path, {"Host": "evil.example", "X-Forwarded-Host": "evil.example"})
    assert got == status
    if location:
        assert headers["Location"] == BASE_URL + location


@pytest.mark.parametrize(
    ("request_bytes", "expected"),
    [
        (b"GET /all.rss HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n", 200),
        (b"GET /all.rss HTTP/1.1\r\nHost: a\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: gopher\r\n"
         b"Forwarded: host=evil.example\r\nConnection: close\r\n\r\n", 200),
        (b"GET /all.rss HTTP/1.0\r\n\r\n", 200),
        (b"GET //all.rss HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 404),
        (b"GET /topics/../all.rss HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 404),
        (b"GET /topics/%2e%2e/all.rss HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 404),
        (b"GET /topics/a%2Fb.rss HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 404),
        (b"GET /all.rss%00 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 404),
        (b"GET /all.rss%0d%0aX-Injected:%20yes HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 404),
        (b"GET /topics/" + b"a" * 600 + b".rss HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 404),
        (b"GET /all.rss\x00 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", None),
        (b"GET /all.rss\rX-Injected: yes HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", None),
        (b"GET /all.rss HTTP/1.1\r\nHost: a\r\nIf-None-Match: \x01\x02garbage\r\nConnection: close\r\n\r\n", None),
        (b"GET /all.rss HTTP/1.1\r\nHost: a\r\nIf-None-Match: W/\"x\", \"\r\nConnection: close\r\n\r\n", 200),
        (b"GET /all.rss HTTP/1.1\r\nHost: a\r\nIf-Modified-Since: 99 Foo\r\nConnection: close\r\n\r\n", 200),
        (b"GET /all.rss HTTP/1.1\r\nHost: a\r\nAccept-Encoding: gzip;q=x,*;q=\r\nConnection: close\r\n\r\n", 200),
        (b"GET /all.rss HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n", None),
        (b"GET /filter.rss?topic=%00 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 400),
        (b"GET /" + b"x" * 9000 + b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", None),
    ],
)  # fmt: skip
def test_raw_hostile_requests_never_cause_a_server_error(server, request_bytes, expected):
    status, answer = server.raw(request_bytes)
    assert status < 500
    if expected is not None:
        assert status == expected
    head = answer.split(b"\r\n\r\n", 1)[0]
    assert b"X-Injected" not in head and b"evil" not in answer


def test_no_host_header_changes_a_feed_byte(server):
    _, _, reference = server.request("GET", "/all.atom")
    _, answer = server.raw(
        b"GET /all.atom HTTP/1.1\r\nHost: evil.example:1\r\nX-Forwarded-Host: evil.example\r\n"
        b"X-Forwarded-Proto: http\r\nConnection: close\r\n\r\n"
    )
    assert answer.split(b"\r\n\r\n", 1)[1] == reference


def test_concurrent_requests_while_articles_come_and_go(server):
    paths = ["/all.rss", "/all.atom", "/all.json", "/", "/feeds.opml", "/topics/robotics.rss",
             "/providers/wired.json", "/filter.rss?topic=robotics", "/healthz"]  # fmt: skip
    statuses: Counter = Counter()
    errors: list[str] = []
    shed = [0]
    stop = threading.Event()

    def hammer(offset: int) -> None:
        index = offset
        while not stop.is_set():
            path = paths[index % len(paths)]
            index += 1
            try:
                status, headers, _ = server.request("GET", path)
            except OSError as exc:  # a refused or reset connection is a failure too
                errors.append(f"{path}: {exc}")
                continue
            if status == 503 and path.startswith("/filter.") and headers.get("Retry-After"):
                shed[0] += 1  # filter work saturated on a busy machine: shed at once, by design (issue 16)
                continue
            statuses[status] += 1
            if status >= 500:
                errors.append(f"{path}: {status}")

    workers = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
    for worker in workers:
        worker.start()
    try:
        title = "Volcano sensors go online"
        new = write_article(server.articles, "volcano.md", title, ["Volcanology"], "Wired",
                            published_at="2030-01-01T00:00:00Z")  # fmt: skip
        # every worker process has its own poller: all of them must serve it, on fresh connections
        deadline = time.monotonic() + 12 * RELOAD_INTERVAL + 10
        while not all(title.encode() in server.request("GET", "/all.rss")[2] for _ in range(6)):
            assert time.monotonic() < deadline, "the new article did not appear in time"
            time.sleep(0.1)
        assert server.request("GET", "/topics/volcanology.rss")[0] == 200
        new.unlink()
        (server.articles / "a5.md").unlink()
        while any(b"Drones deliver medicine" in server.request("GET", "/all.rss")[2] for _ in range(6)):
            assert time.monotonic() < deadline + 10, "the removed articles did not disappear in time"
            time.sleep(0.1)
        assert server.request("GET", "/topics/volcanology.rss")[0] == 404
    finally:
        stop.set()
        for worker in workers:
            worker.join(10)
        write_article(server.articles, *ARTICLES[4])
    assert errors == []
    assert statuses[200] > 0 and set(statuses) == {200}


def test_serve_without_a_base_url_uses_its_own_address_and_port_0_a_free_one(tmp_path, monkeypatch, capsys):
    started = {}

    def fake_run(app, host, port, workers, listener):
        started.update(app=app, host=host, port=port, workers=workers, bound=listener.getsockname()[1])
        listener.close()
        return 0

    monkeypatch.setattr(serve_module, "run_app", fake_run)
    settings = Settings(base_url=None, articles_dir=make_articles(tmp_path / "articles"))
    assert serve(settings, host="127.0.0.1", port=0, workers=3) == 0
    app, port = started["app"], started["bound"]
    live = app.extensions["feeds"]
    assert live.state.articles == ()  # the master forgot what it read: each worker reads its own
    live.load_afresh()  # as a worker does before it serves
    assert port != 0 and b'href="http://127.0.0.1:%d/all.rss"' % port in app.test_client().get("/all.rss").data
    assert (started["host"], started["port"], started["workers"]) == ("127.0.0.1", port, 3)
    feeds = len(live.state.catalog.feeds)
    assert live.state.articles and feeds > 1
    assert capsys.readouterr().out == (
        f"Serving {feeds} feeds on http://127.0.0.1:{port}/ — open it in a browser\n"
    )


def test_gunicorn_settings_are_safe_for_several_servers_on_one_machine():
    options = gunicorn_options("::1", 8000, 0)
    assert options["bind"] == "[::1]:8000" and options["workers"] == 1
    assert options["control_socket_disable"] is True
    assert local_url("::1", 8000) == "http://[::1]:8000/"


def test_wsgi_module_builds_the_app_from_feeds_config_and_starts_no_thread(tmp_path):
    make_articles(tmp_path / "articles")
    config = tmp_path / "feeds.yaml"
    config.write_text(f'base_url: "{BASE_URL}"\narticles_dir: articles\n')
    script = (
        "import threading, wsgi\n"
        "print(len(threading.enumerate()), wsgi.app.extensions['feeds'].state.catalog.article_count)\n"
        "print(wsgi.app.test_client().get('/all.rss').status_code)\n"
        "print(sorted(t.name for t in threading.enumerate()))\n"
    )
    env = {**os.environ, "FEEDS_CONFIG": str(config)}
    result = subprocess.run([sys.executable, "-c", script], cwd=PROJECT, env=env, capture_output=True, text=True,
                            timeout=60, check=True)  # fmt: skip
    at_import, status, names = result.stdout.splitlines()
    assert at_import == f"1 {len(ARTICLES)}"  # articles read, no thread yet
    assert status == "200"
    # the first request started the poller, and its feed fetch the statistics writer; the poller's inotify
    # watcher ("feeds-watch", and watchdog's own threads) may or may not be up yet when the request returns
    started = set(ast.literal_eval(names)) - {"MainThread"}
    expected = {"feeds-reload", "feeds-stats-writer"}
    assert expected <= started, started
    assert not {name for name in started - expected - {"feeds-watch"} if name.startswith("feeds-")}


def test_idle_and_trickling_connections_hold_up_no_reader(server):
    """Issue 16: 200 connections that send nothing and 20 that trickle a header line a second.

    Under round one's gthread workers (8 threads) these held every thread and a probe waited
    until they gave up; here headers are read on the event loop, so probes are answered while
    all of them are open. The 10 s limit is a hang detector, not a speed bound (bench_http.py
    measures the latency).
    """
    idle = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(200)]
    trickling = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(20)]
    try:
        for sock in trickling:
            sock.sendall(b"GET /all.rss HTTP/1.1\r\nHost: a\r\n")
        answered = 0
        for round_number in range(4):
            for sock in trickling:
                sock.sendall(f"X-Slow-{round_number}: 1\r\n".encode())
            status, _, body = server.request("GET", "/all.rss")
            assert status == 200 and b"Drones deliver medicine" in body
            answered += 1
            time.sleep(1)
        assert answered == 4
        for sock in trickling:  # a trickled request that completes is answered too
            sock.sendall(b"Connection: close\r\n\r\n")
        for sock in trickling[:3]:
            assert sock.recv(64).startswith(b"HTTP/1.1 200")
    finally:
        for sock in idle + trickling:
            sock.close()


def served_by_every_worker(server: Server, text: str) -> bool:
    """The text is in /all.rss on six fresh connections in a row (both workers, most likely)."""
    return all(text.encode() in server.request("GET", "/all.rss")[2] for _ in range(6))


def test_a_1000_deep_folder_and_a_fifo_never_stop_new_articles_or_print_a_traceback(tmp_path):
    """Issue 16: watchdog's reader thread died of RecursionError (os.walk recurses before Python 3.12) under
    a new 1,000-deep folder, printing a traceback to stderr. Both cases: made under a running server, and
    there when a second server starts. 30 s is the issue's bound, not a speed measure."""
    with running_server(tmp_path / "first") as server:
        with deep_folder(server.articles, 1000) as deep:
            (deep / "bottom.md").write_text("---\ntitle: Too deep\n---\n")
            os.mkfifo(server.articles / "fifo.md")
            write_article(server.articles, "fresh.md", "Served despite the deep folder", ["Science"], "Wired",
                          published_at="2099-01-01T00:00:00Z")  # fmt: skip
            deadline = time.monotonic() + 30
            while not served_by_every_worker(server, "Served despite the deep folder"):
                assert time.monotonic() < deadline, "the new article was not served within 30 s"
                time.sleep(0.2)
            health = json.loads(server.request("GET", "/healthz")[2])
            assert health["status"] == "ok" and health["errors"] >= 1  # the deep folder is a named problem
            with running_server(tmp_path / "second", articles=server.articles) as second:
                write_article(server.articles, "fresher.md", "Served by a server started over it", ["Science"],
                              "Wired", published_at="2099-02-01T00:00:00Z")  # fmt: skip
                deadline = time.monotonic() + 30
                while not served_by_every_worker(second, "Served by a server started over it"):
                    assert time.monotonic() < deadline, "the new article was not served within 30 s"
                    time.sleep(0.2)
                # a watcher cannot start over the tree (watchdog recurses into it): the worker polls, and says so
                while "recursion" not in (watching := json.loads(second.request("GET", "/healthz")[2])["watching"]):
                    assert watching in ("not started", "inotify"), watching
                    assert time.monotonic() < deadline, f"/healthz says {watching!r}"
                    time.sleep(0.2)
                assert watching.startswith("polling every")
            os.unlink(server.articles / "fifo.md")
    for output in (server.stdout, second.stdout):
        text = output.read_text()
        assert "Traceback" not in text and "Error" not in text, text


def _parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rpartition(")")[2].split()[1])


def test_each_worker_serves_articles_it_read_itself(server):
    """Issue 16: no worker serves the articles its master read before the fork.

    Inherited, they were shared copy-on-write only until served: every request wrote reference
    counts into their pages, so a crawl left each worker with its own copy of the master's while the
    master kept its own (``bench/bench_live_memory.py`` measures the memory).
    """
    answers: dict[int, dict] = {}
    deadline = time.monotonic() + 30
    while len(answers) < 2:  # each request is a new connection: either worker may take it
        assert time.monotonic() < deadline, f"only workers {sorted(answers)} answered"
        health = json.loads(server.request("GET", "/healthz")[2])
        answers[health["pid"]] = health
    for pid, health in answers.items():
        assert _parent_of(pid) == server.process.pid  # a gunicorn worker of this server
        assert health["read_by_pid"] == pid
        assert health["articles"] > 0 and health["generation"] >= 1


SLOW_WORKER = """
import os, sys, time
from pathlib import Path
from feeds.config import Settings
from feeds.server import serve
from feeds.server.live import Live
from feeds.server.snapshot import read_articles_folder
from feeds.server.web import create_app

def slow(settings):
    time.sleep(3 * serve.WORKER_TIMEOUT_SECONDS)  # longer than gunicorn lets a silent worker live
    return read_articles_folder(settings)

serve.WORKER_TIMEOUT_SECONDS = 1
settings = Settings(base_url="https://feeds.example.org/", articles_dir=Path(sys.argv[1]))
live = Live(settings, loader=slow, read=False)  # as the master's: each worker reads its own
listener = serve.listen("127.0.0.1", 0)
print("port", listener.getsockname()[1], flush=True)
sys.exit(serve.run_app(create_app(settings, live=live), "127.0.0.1", 0, 1, listener=listener))
"""


def test_a_worker_reading_longer_than_the_gunicorn_timeout_is_not_killed(tmp_path):
    """A worker reads its articles before it serves (a minute at a million): gunicorn must not take it for hung."""
    articles = make_articles(tmp_path / "articles")
    output = tmp_path / "output.txt"
    with output.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-c", SLOW_WORKER, str(articles)], cwd=PROJECT, stdout=out,
                                   stderr=subprocess.STDOUT)  # fmt: skip
    try:
        server = Server(announced_port(process, output, r"port (\d+)"), articles, process, output)
        wait_until_healthy(server, timeout=30)
        health = json.loads(server.request("GET", "/healthz")[2])
        assert health["read_by_pid"] == health["pid"] and health["articles"] == len(ARTICLES)
        assert "WORKER TIMEOUT" not in output.read_text()
    finally:
        stop(process)
