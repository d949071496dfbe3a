"""HTTP benchmark: the live app under each server setup, side by side, against a bare Flask app.

Not a test: it prints tables of figures to quote. Every server runs at once on
127.0.0.1 with 2 workers, so background load hits them alike:

- one ``feeds`` server per entry of :data:`feeds.server.serve.SERVER_SETUPS` (``asgi``, the
  default: requests read on an event loop; ``gthread``: round one's threaded workers)
  over a synthetic corpus (``../shared/tools/gen_corpus.py``);
- bare: a minimal Flask app under gthread returning the bytes of our ``/all.rss`` with
  the idiomatic ``Response(body); set_etag(); make_conditional(request)``.

Scenarios:

- throughput: ``wrk`` requests/s for a full 200 response of the 50-item all feed and for
  304 answers (``If-None-Match``); rounds alternate between the servers, median shown;
- slow clients: 200 connections that send nothing and 20 that trickle a header line every
  second stay open while ``/all.rss`` is probed every 0.25 s; the worst and p95 probe times;
- filter flood: 16 clients send distinct ``/filter.rss?q=…`` queries as fast as they are
  answered while ``/all.rss`` is probed; p95 of the probes and the filter answers' statuses.

    python bench/bench_http.py                         # 3 rounds of 5 s, 32 connections
    python bench/bench_http.py --rounds 5 --duration 10 --connections 64 --articles 100000
    python bench/bench_http.py --stats                 # only: /all.rss with subscriber statistics on and off
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
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import Message
from pathlib import Path

from measure import free_port, stop_process, wait_until_ok

PROJECT = Path(__file__).resolve().parent.parent
GEN_CORPUS = PROJECT.parent / "shared" / "tools" / "gen_corpus.py"
BASE_URL = "https://feeds.example.org/"
FEED_PATH = "/all.rss"
PROBE_TIMEOUT = 30.0


def fetch(url: str, timeout: float = PROBE_TIMEOUT) -> tuple[int, bytes, Message]:
    """Status, body and headers (looked up in any case) of ``GET url``."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), exc.headers
    except OSError:  # timed out, refused or reset: no answer
        return 0, b"", Message()


def wrk(url: str, duration: int, connections: int, headers: list[str]) -> float:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", *sum((["-H", h] for h in headers), [])]
    output = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    match = re.search(r"Requests/sec:\s+([0-9.]+)", output)
    if match is None:
        raise SystemExit(f"cannot read wrk's output:\n{output}")
    if re.search(r"Non-2xx or 3xx responses", output):
        raise SystemExit(f"errors during the run:\n{output}")
    return float(match.group(1))


def feeds_server(port: int, config: Path, setup: str, workers: int) -> int:
    """One of our server setups, exactly as ``feeds serve`` runs the default one."""
    from feeds.config import load_settings
    from feeds.server.serve import master_app, run_app

    app, _, _ = master_app(load_settings(config))
    return run_app(app, "127.0.0.1", port, workers, setup)


def bare_server(port: int, body_file: Path, etag: str, media_type: str, workers: int) -> int:
    """The baseline: the least a Flask app can do to serve these bytes with an ETag."""
    from flask import Flask, Response, request

    from feeds.server.serve import gunicorn_options, run_gunicorn

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

    return run_gunicorn(app, gunicorn_options("127.0.0.1", port, workers, "gthread"))


def probe_while(url: str, busy: threading.Event, interval: float = 0.25) -> list[float]:
    """Seconds each ``GET url`` took, probing every ``interval`` until ``busy`` is cleared."""
    times = []
    while busy.is_set():
        started = time.monotonic()
        status, _, _ = fetch(url)
        times.append(time.monotonic() - started if status == 200 else PROBE_TIMEOUT)
        time.sleep(interval)
    return times


def slow_clients(base: str, port: int, seconds: float, idle: int = 200, trickling: int = 20) -> list[float]:
    """Probe times of ``/all.rss`` while ``idle`` silent and ``trickling`` slow-header connections are open."""
    quiet = [socket.create_connection(("127.0.0.1", port)) for _ in range(idle)]
    slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(trickling)]
    busy = threading.Event()
    busy.set()
    times: list[float] = []
    prober = threading.Thread(target=lambda: times.extend(probe_while(base + FEED_PATH, busy)))
    try:
        for sock in slow:
            sock.sendall(b"GET /all.rss HTTP/1.1\r\nHost: a\r\n")
        prober.start()
        deadline = time.monotonic() + seconds
        line = 0
        while time.monotonic() < deadline:
            for sock in slow:
                try:
                    sock.sendall(f"X-Slow-{line}: 1\r\n".encode())
                except OSError:
                    pass  # the server closed it: fine
            line += 1
            time.sleep(1)
    finally:
        busy.clear()
        if prober.is_alive():
            prober.join()
        for sock in quiet + slow:
            sock.close()
    return times


@contextmanager
def flooding(base: str, clients: int, query: Callable[[int, int], str]) -> Iterator[tuple[list[float], Counter]]:
    """While the block runs, ``clients`` threads send ``/filter.rss?{query(client, n)}`` as fast as they are
    answered and ``/all.rss`` is probed; yields (probe times, filter statuses), both complete on exit."""
    busy = threading.Event()
    busy.set()
    statuses: Counter = Counter()
    lock = threading.Lock()

    def flood(client: int) -> None:
        number = 0
        while busy.is_set():
            status, _, _ = fetch(f"{base}/filter.rss?{query(client, number)}")
            number += 1
            with lock:
                statuses[status] += 1

    times: list[float] = []
    threads = [threading.Thread(target=flood, args=(n,)) for n in range(clients)]
    threads.append(threading.Thread(target=lambda: times.extend(probe_while(base + FEED_PATH, busy))))
    for thread in threads:
        thread.start()
    try:
        yield times, statuses
    finally:
        busy.clear()
        for thread in threads:
            thread.join()


def filter_flood(base: str, seconds: float, clients: int = 16) -> tuple[list[float], Counter]:
    """Probe times of ``/all.rss`` and the filter answers' statuses under ``clients`` distinct-query loops."""
    with flooding(base, clients, lambda client, n: f"q=word{client}x{n}&min_quality={n % 90}") as (times, statuses):
        time.sleep(seconds)
    return times, statuses


def worst(values: list[float]) -> float:
    return max(values, default=float("nan"))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--articles", type=int, default=500, help="synthetic corpus size")
    parser.add_argument("--corpus", type=Path, help="an existing corpus folder to use instead of generating one")
    parser.add_argument("--scenario-seconds", type=float, default=15, help="length of each slow/flood scenario")
    parser.add_argument("--stats", action="store_true", help="only compare statistics on and off (issue 19)")
    parser.add_argument("--bare-server", nargs=4, metavar=("PORT", "BODY", "ETAG", "TYPE"), help=argparse.SUPPRESS)
    parser.add_argument("--feeds-server", nargs=3, metavar=("PORT", "CONFIG", "SETUP"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.bare_server:
        port, body, etag, media_type = args.bare_server
        return bare_server(int(port), Path(body), etag, media_type, args.workers)
    if args.feeds_server:
        port, config, setup = args.feeds_server
        return feeds_server(int(port), Path(config), setup, args.workers)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian package wrk)")
    if args.corpus is None and not GEN_CORPUS.exists():
        raise SystemExit(f"{GEN_CORPUS} is absent: ../shared must be beside the project")

    if args.stats:
        return stats_on_and_off(args)
    sys.path.insert(0, str(PROJECT))
    from feeds.server.serve import SERVER_SETUPS

    work = Path(tempfile.mkdtemp(prefix="feeds-bench-http-"))
    servers: list[subprocess.Popen] = []
    try:
        corpus = args.corpus.resolve() if args.corpus else work / "articles"
        if args.corpus is None:
            subprocess.run([sys.executable, str(GEN_CORPUS), str(corpus), "--count", str(args.articles)],
                           check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        config = work / "feeds.yaml"
        config.write_text(f'base_url: "{BASE_URL}"\narticles_dir: "{corpus}"\nitems_per_feed: 50\n')
        env = {**os.environ, "PYTHONPATH": str(PROJECT)}
        urls: dict[str, str] = {}
        for setup in SERVER_SETUPS:
            port = free_port()
            process = subprocess.Popen(
                [sys.executable, __file__, "--workers", str(args.workers), "--feeds-server", str(port), str(config),
                 setup], cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, start_new_session=True,
            )  # fmt: skip
            servers.append(process)
            urls[setup] = f"http://127.0.0.1:{port}"
            wait_until_ok(urls[setup] + "/healthz", process, timeout=600)
        _, body, headers = fetch(urls["asgi"] + FEED_PATH)
        etag = headers["ETag"].strip('"')
        body_file = work / "all.rss"
        body_file.write_bytes(body)
        bare_port = free_port()
        bare = subprocess.Popen(
            [sys.executable, __file__, "--workers", str(args.workers), "--bare-server", str(bare_port),
             str(body_file), etag, headers["Content-Type"]], cwd=PROJECT, env=env, stdout=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        servers.append(bare)
        urls["bare"] = f"http://127.0.0.1:{bare_port}"
        wait_until_ok(urls["bare"] + "/healthz", bare, timeout=600)
        for name, url in urls.items():
            _, other, other_headers = fetch(url + FEED_PATH)
            assert other == body and other_headers["ETag"] == headers["ETag"], f"{name} serves other bytes"

        print(f"python bench/bench_http.py {' '.join(sys.argv[1:])}")
        print(f"GET {FEED_PATH}: {body.count(b'<item>')} items, {len(body)} bytes; {args.workers} workers each; "
              f"wrk -t2 -c{args.connections} -d{args.duration}s, median of {args.rounds} alternating rounds; "
              f"{os.cpu_count()} cores shared with wrk; load average before: {os.getloadavg()[0]:.2f}")  # fmt: skip
        print()
        cases = {"200 full response": [], "304 If-None-Match": [f'If-None-Match: "{etag}"']}
        results: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for case, extra in cases.items():
                for name, url in urls.items():
                    results.setdefault((case, name), []).append(wrk(url + FEED_PATH, args.duration,
                                                                    args.connections, extra))  # fmt: skip
        names = list(urls)
        print("| case | " + " | ".join(f"{name} req/s" for name in names) + " | asgi/gthread |")
        print("|---|" + "---:|" * (len(names) + 1))
        for case in cases:
            rates = [statistics.median(results[(case, name)]) for name in names]
            ratio = rates[names.index("asgi")] / rates[names.index("gthread")]
            print(f"| {case} | " + " | ".join(f"{rate:.0f}" for rate in rates) + f" | {ratio:.2f} |")
        print(f"\nload average after throughput: {os.getloadavg()[0]:.2f}\n")

        print(f"| scenario ({args.scenario_seconds:g} s each) | setup | probes | p95 s | worst s | filter answers |")
        print("|---|---|---:|---:|---:|---|")
        for setup in SERVER_SETUPS:
            port = int(urls[setup].rsplit(":", 1)[1])
            times = slow_clients(urls[setup], port, args.scenario_seconds)
            print(f"| 200 idle + 20 trickling | {setup} | {len(times)} | {percentile(times, 0.95):.2f} | "
                  f"{worst(times):.2f} | |")  # fmt: skip
        for setup in SERVER_SETUPS:
            times, statuses = filter_flood(urls[setup], args.scenario_seconds)
            shown = ", ".join(f"{count} × {status}" for status, count in sorted(statuses.items()))
            print(f"| 16 clients of distinct filters | {setup} | {len(times)} | {percentile(times, 0.95):.2f} | "
                  f"{worst(times):.2f} | {shown} |")  # fmt: skip
        print(f"\nload average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        return 0
    finally:  # Ctrl-C included: each server runs in a session of its own, so stop it and its workers here
        for server in servers:
            stop_process(server, timeout=10)
        shutil.rmtree(work, ignore_errors=True)


# What a reader sends: the statistics' costliest fetch (a keyed hash besides the queue and the row)
READER_AGENT = "User-Agent: newsboat/2.21.0 (Linux x86_64)"


def wrk_requests(url: str, duration: int, connections: int, headers: list[str]) -> tuple[float, int]:
    """(requests/s, requests completed) of one wrk run."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", *sum((["-H", h] for h in headers), [])]
    output = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    rate, total = re.search(r"Requests/sec:\s+([0-9.]+)", output), re.search(r"(\d+) requests in", output)
    if rate is None or total is None or "Non-2xx or 3xx responses" in output:
        raise SystemExit(f"cannot read wrk's output, or errors during the run:\n{output}")
    return float(rate.group(1)), int(total.group(1))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children (gunicorn's workers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(entry.name) == pid or int(fields[1]) == pid:  # fields[1]: the parent's pid
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


def recording_cost(work: Path, count: int = 20_000) -> tuple[float, float]:
    """(µs a request spends queueing a fetch, µs of CPU the writer thread spends per fetch), in this process."""
    sys.path.insert(0, str(PROJECT))
    from datetime import UTC, datetime

    from feeds.stats.recorder import StatsRecorder
    from feeds.stats.store import Fetch, StatsStore

    environ = {"REMOTE_ADDR": "192.0.2.1", "HTTP_USER_AGENT": READER_AGENT.partition(": ")[2]}
    recorder = StatsRecorder(work / "cost-recorder.sqlite3")
    recorder.record(FEED_PATH, 200, 1, environ)  # starts the writer
    started = time.perf_counter()
    for _ in range(count):
        recorder.record(FEED_PATH, 200, 133_000, environ)
    queueing = (time.perf_counter() - started) / count
    recorder.close()
    store = StatsStore(work / "cost-store.sqlite3")
    fetches = [Fetch(datetime.now(UTC), FEED_PATH, 200, 133_000, f"192.0.2.{n % 250}", environ["HTTP_USER_AGENT"])
               for n in range(count)]  # fmt: skip
    started = time.process_time()
    store.add(fetches)
    writing = (time.process_time() - started) / count
    store.close()
    return queueing * 1e6, writing * 1e6


def stats_on_and_off(args: argparse.Namespace) -> int:
    """``feeds serve`` with subscriber statistics on and off, side by side in alternating rounds (issue 19).

    Afterwards the "on" server is stopped (its workers write what they still queue) and its database
    must hold at least every fetch wrk completed (a server may answer a few that wrk gave up on).
    """
    import sqlite3

    work = Path(tempfile.mkdtemp(prefix="feeds-bench-stats-"))
    servers: dict[str, subprocess.Popen] = {}
    try:
        corpus = args.corpus.resolve() if args.corpus else work / "articles"
        if args.corpus is None:
            subprocess.run([sys.executable, str(GEN_CORPUS), str(corpus), "--count", str(args.articles)],
                           check=True, stdout=subprocess.DEVNULL)  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(PROJECT)}
        urls: dict[str, str] = {}
        for name, enabled in (("on", "true"), ("off", "false")):
            config = work / f"{name}.yaml"
            config.write_text(f'base_url: "{BASE_URL}"\narticles_dir: "{corpus}"\nitems_per_feed: 50\n'
                              f"stats: {enabled}\nstats_db: stats-{name}.sqlite3\n")  # fmt: skip
            port = free_port()
            servers[name] = subprocess.Popen(
                [sys.executable, "-m", "feeds.cli", "serve", "--config", str(config), "--port", str(port),
                 "--workers", str(args.workers)], cwd=PROJECT, env=env, stdout=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
            urls[name] = f"http://127.0.0.1:{port}"
            wait_until_ok(urls[name] + "/healthz", servers[name], timeout=600)
        _, body, headers = fetch(urls["on"] + FEED_PATH)
        cases = {"200 full response": [READER_AGENT],
                 "304 If-None-Match": [READER_AGENT, f"If-None-Match: {headers['ETag']}"]}  # fmt: skip
        results: dict[tuple[str, str], list[float]] = {}
        cpu: dict[tuple[str, str], list[float]] = {}
        completed = 1  # the fetch above
        load_before = os.getloadavg()
        for _ in range(args.rounds):
            for case, extra in cases.items():
                for name in ("on", "off"):
                    cpu_before = cpu_seconds(servers[name].pid)
                    rate, total = wrk_requests(urls[name] + FEED_PATH, args.duration, args.connections, extra)
                    results.setdefault((case, name), []).append(rate)
                    # the servers' CPU per request: far less disturbed by other load on the machine than req/s
                    cpu.setdefault((case, name), []).append((cpu_seconds(servers[name].pid) - cpu_before) / total)
                    completed += total if name == "on" else 0
        load_after = os.getloadavg()
        servers["on"].terminate()
        servers["on"].wait(60)
        with sqlite3.connect(work / "stats-on.sqlite3") as db:
            (recorded,) = db.execute("SELECT SUM(fetches) FROM fetches").fetchone()
        print(f"python bench/bench_http.py {' '.join(sys.argv[1:])}")
        print(f"GET {FEED_PATH}: {len(body)} bytes, User-Agent newsboat; feeds serve, {args.workers} workers each; "
              f"wrk -t2 -c{args.connections} -d{args.duration}s, median of {args.rounds} alternating rounds; "
              f"{os.cpu_count()} cores shared with wrk; load average before "
              f"{' '.join(f'{v:.2f}' for v in load_before)}, after {' '.join(f'{v:.2f}' for v in load_after)}")
        print()
        print("| case | stats on req/s | stats off req/s | on/off | median of each round's on/off | rounds (on/off) |")
        print("|---|---:|---:|---:|---:|---|")
        for case in cases:
            on, off = results[(case, "on")], results[(case, "off")]
            rounds = ", ".join(f"{a:.0f}/{b:.0f}" for a, b in zip(on, off, strict=True))
            ratio = statistics.median(on) / statistics.median(off)
            paired = statistics.median(a / b for a, b in zip(on, off, strict=True))  # neighbours in time
            print(f"| {case} | {statistics.median(on):.0f} | {statistics.median(off):.0f} | {ratio:.2f} | "
                  f"{paired:.2f} | {rounds} |")
        print()
        print("| case | server CPU µs/request, stats on | stats off | off/on (the req/s ratio if CPU-bound) |")
        print("|---|---:|---:|---:|")
        for case in cases:
            on_cpu, off_cpu = statistics.median(cpu[(case, "on")]), statistics.median(cpu[(case, "off")])
            print(f"| {case} | {on_cpu * 1e6:.0f} | {off_cpu * 1e6:.0f} | {off_cpu / on_cpu:.2f} |")
        queueing, writing = recording_cost(work)
        print(f"\nin-process cost of recording one fetch: {queueing:.1f} µs on the request path (queueing), "
              f"{writing:.1f} µs CPU in the writer thread (classify, hash, batched insert)")
        print(f"fetches recorded: {recorded} (wrk completed {completed})")
        return 0 if recorded >= completed else 1
    finally:  # as in main(): the stopped "on" server's group too, for a worker it left behind
        for server in servers.values():
            stop_process(server, timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
