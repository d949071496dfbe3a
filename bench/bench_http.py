"""HTTP benchmark: the live app under gunicorn against a bare Flask app serving the same bytes.

Not a test: it prints a table of figures to quote. Both servers run side by
side in one run, with the same gunicorn settings as ``feeds serve`` (2 workers,
threaded), on 127.0.0.1:

- ours: ``python -m feeds.cli serve`` on a synthetic corpus (``../shared/tools/gen_corpus.py``);
- bare: a minimal Flask app returning the bytes of our ``/all.rss`` with the
  idiomatic ``Response(body); set_etag(); make_conditional(request)``.

``wrk`` measures requests/s for a full 200 response of the 50-item all feed and
for 304 answers (``If-None-Match`` with the current ETag). Rounds alternate
between the servers so background load hits both alike; the median is shown.

    python bench/bench_http.py                         # 3 rounds of 5 s, 32 connections
    python bench/bench_http.py --rounds 5 --duration 10 --connections 64
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
GEN_CORPUS = PROJECT.parent / "shared" / "tools" / "gen_corpus.py"
BASE_URL = "https://feeds.example.org/"
FEED_PATH = "/all.rss"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"no answer from {url} after {timeout} s")


def fetch(url: str) -> tuple[bytes, dict[str, str]]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read(), dict(response.headers.items())


def wrk(url: str, duration: int, connections: int, headers: list[str]) -> float:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", *sum((["-H", h] for h in headers), [])]
    output = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    match = re.search(r"Requests/sec:\s+([0-9.]+)", output)
    if match is None:
        raise SystemExit(f"cannot read wrk's output:\n{output}")
    if re.search(r"Non-2xx or 3xx responses", output):
        raise SystemExit(f"errors during the run:\n{output}")
    return float(match.group(1))


def bare_server(port: int, body_file: Path, etag: str, media_type: str, workers: int) -> int:
    """The baseline: the least a Flask app can do to serve these bytes with an ETag."""
    from flask import Flask, Response, request

    from feeds.serve import gunicorn_options, run_gunicorn

    body = body_file.read_bytes()
    app = Flask("bare")

    @app.get(FEED_PATH)
    def feed() -> Response:
        response = Response(body, content_type=media_type)
        response.set_etag(etag)
        return response.make_conditional(request)

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    options = gunicorn_options("127.0.0.1", port, workers)
    options.pop("post_worker_init")
    return run_gunicorn(app, options)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--articles", type=int, default=500, help="synthetic corpus size")
    parser.add_argument("--bare-server", nargs=4, metavar=("PORT", "BODY", "ETAG", "TYPE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        port, body, etag, media_type = args.bare_server
        return bare_server(int(port), Path(body), etag, media_type, args.workers)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian package wrk)")
    if not GEN_CORPUS.exists():
        raise SystemExit(f"{GEN_CORPUS} is absent: ../shared must be beside the project")

    work = Path(tempfile.mkdtemp(prefix="feeds-bench-http-"))
    servers: list[subprocess.Popen] = []
    try:
        corpus = work / "articles"
        subprocess.run([sys.executable, str(GEN_CORPUS), str(corpus), "--count", str(args.articles)],
                       check=True, stdout=subprocess.DEVNULL)
        config = work / "feeds.yaml"
        config.write_text(f'base_url: "{BASE_URL}"\narticles_dir: articles\nitems_per_feed: 50\n')
        env = {**os.environ, "PYTHONPATH": str(PROJECT)}
        ours_port, bare_port = free_port(), free_port()
        ours = subprocess.Popen(
            [sys.executable, "-m", "feeds.cli", "serve", "--config", str(config), "--port", str(ours_port),
             "--workers", str(args.workers)],
            cwd=PROJECT, env=env, stdout=subprocess.DEVNULL,
        )
        servers.append(ours)
        ours_url = f"http://127.0.0.1:{ours_port}"
        wait_until_up(ours_url + "/healthz", ours)
        body, headers = fetch(ours_url + FEED_PATH)
        etag = headers["ETag"].strip('"')
        items = body.count(b"<item>")
        body_file = work / "all.rss"
        body_file.write_bytes(body)
        bare = subprocess.Popen(
            [sys.executable, __file__, "--workers", str(args.workers), "--bare-server", str(bare_port),
             str(body_file), etag, headers["Content-Type"]],
            cwd=PROJECT, env=env, stdout=subprocess.DEVNULL,
        )
        servers.append(bare)
        bare_url = f"http://127.0.0.1:{bare_port}"
        wait_until_up(bare_url + "/healthz", bare)
        bare_body, bare_headers = fetch(bare_url + FEED_PATH)
        assert bare_body == body and bare_headers["ETag"] == headers["ETag"], "the two servers differ"

        cases = {"200 full response": [], "304 If-None-Match": [f'If-None-Match: "{etag}"']}
        results: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for case, extra in cases.items():
                for name, url in (("ours", ours_url), ("bare", bare_url)):
                    rate = wrk(url + FEED_PATH, args.duration, args.connections, extra)
                    results.setdefault((case, name), []).append(rate)
        print(f"GET {FEED_PATH}: {items} items, {len(body)} bytes; gunicorn gthread, {args.workers} workers; "
              f"wrk -t2 -c{args.connections} -d{args.duration}s, median of {args.rounds} alternating rounds; "
              f"{os.cpu_count()} cores shared with wrk")
        print()
        print(f"| {'case':<20} | {'ours req/s':>10} | {'bare req/s':>10} | {'ours/bare':>9} |")
        print(f"|{'-' * 22}|{'-' * 12}|{'-' * 12}|{'-' * 11}|")
        for case in cases:
            ours_rate = statistics.median(results[(case, "ours")])
            bare_rate = statistics.median(results[(case, "bare")])
            print(f"| {case:<20} | {ours_rate:>10.0f} | {bare_rate:>10.0f} | {ours_rate / bare_rate:>9.2f} |")
        return 0
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
