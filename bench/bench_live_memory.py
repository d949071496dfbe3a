"""Live server at scale: filter cost, and memory under a filter flood plus a crawl of every page.

Not a test: it prints figures to quote (issue 16's 100k-article checks). It runs
``feeds serve --workers 2`` (the default server setup) over an existing corpus,
then:

1. filter cost: the first filter request of a generation (its filter index was
   built as the snapshot went live) and 40 more distinct queries one at a time;
2. memory: the summed PSS of the whole server (master and both workers; the
   workers' alone too, the figure quoted before 2026-12-05), from serving to after
   16 clients send distinct ``/filter.rss`` queries while 4 crawler threads fetch
   every page the site links to (index, OPML, feeds, archive pages, found by
   following links), twice; ``/all.rss`` is probed meanwhile (p95) and the filter
   statuses counted. Each process's PSS and private memory is shown at both ends.

    python ../shared/tools/gen_corpus.py /tmp/live-100k --count 100000
    python bench/bench_live_memory.py /tmp/live-100k [--cache /tmp/live-100k-cache]

The parse cache (``--cache``) is kept between runs, so only the first run parses
every file. The machine's load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from queue import Empty, Queue

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_http import PROBE_TIMEOUT, fetch, flooding, percentile  # noqa: E402
from measure import free_port, stop_process, wait_until_ok  # noqa: E402

PROJECT = Path(__file__).resolve().parent.parent
BASE_URL = "https://feeds.example.org/"
_LINK = re.compile(rb'(?:href|xmlUrl|htmlUrl)="' + re.escape(BASE_URL.encode()) + rb'([^"?#]*)"')


def workers_of(pid: int) -> list[int]:
    """The gunicorn workers: the server process's children."""
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    return children


def pss_mib(pids: list[int], field: str = "Pss") -> float:
    """The summed ``field`` of /proc/PID/smaps_rollup (Pss, Private_Dirty, Shared_Clean...), MiB."""
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith(field + ":"):
                total += int(line.split()[1])
    return total / 1024


def breakdown(master: int, workers: list[int]) -> str:
    """Each process's PSS and private dirty memory (what is its own), MiB."""
    shown = []
    for name, pid in (("master", master), *((f"worker {n + 1}", w) for n, w in enumerate(workers))):
        shown.append(f"{name} PSS {pss_mib([pid]):.0f} (private dirty {pss_mib([pid], 'Private_Dirty'):.0f})")
    return "; ".join(shown) + " MiB"


def crawl(base: str, threads: int = 4) -> tuple[int, Counter]:
    """Fetch every page reachable from the index and the OPML through links under BASE_URL; (pages, statuses)."""
    seen = {"", "feeds.opml"}
    queue: Queue[str] = Queue()
    for path in seen:
        queue.put(path)
    statuses: Counter = Counter()
    lock = threading.Lock()

    def work() -> None:
        while True:
            try:
                path = queue.get(timeout=5)
            except Empty:
                return
            status, body, _ = fetch(f"{base}/{path}")
            with lock:
                statuses[status] += 1
                for found in _LINK.findall(body):
                    link = found.decode()
                    if link not in seen:
                        seen.add(link)
                        queue.put(link)

    crawlers = [threading.Thread(target=work) for _ in range(threads)]
    for thread in crawlers:
        thread.start()
    for thread in crawlers:
        thread.join()
    return len(seen), statuses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--cache", type=Path, help="parse cache folder kept between runs (XDG_CACHE_HOME)")
    parser.add_argument("--clients", type=int, default=16, help="filter-flood clients")
    parser.add_argument("--page-cache-mib", type=int, help="page_cache_bytes per worker, MiB (default: the default)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="feeds-bench-live-"))
    cache = args.cache or work / "cache"
    config = work / "feeds.yaml"
    config.write_text(f'base_url: "{BASE_URL}"\narticles_dir: "{args.corpus.resolve()}"\n')
    if args.page_cache_mib is not None:
        config.write_text(config.read_text() + f"page_cache_bytes: {args.page_cache_mib * 1024 * 1024}\n")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "XDG_CACHE_HOME": str(cache)}
    started = time.monotonic()
    server = subprocess.Popen(
        [sys.executable, "-m", "feeds.cli", "serve", "--config", str(config), "--port", str(port), "--workers", "2"],
        cwd=PROJECT, env=env, stdout=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait_until_ok(base + "/healthz", server, timeout=3600, poll=0.2)
        health = fetch(base + "/healthz")[1].decode()
        articles = re.search(r'"articles": (\d+)', health)
        print(f"python bench/bench_live_memory.py {' '.join(sys.argv[1:])}")
        print(f"{articles.group(1) if articles else '?'} articles served after {time.monotonic() - started:.0f} s; "
              f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")  # fmt: skip
        for _ in range(4):  # every worker renders its hot pages and takes its first requests
            fetch(base + "/all.rss")
        workers = workers_of(server.pid)
        whole = [server.pid, *workers]
        before, before_all = pss_mib(workers), pss_mib(whole)
        print(f"serving: {breakdown(server.pid, workers)}")

        timings = []
        for n in range(41):
            begun = time.monotonic()
            # distinct queries (never answered from the cache) that match many articles: a common word OR'ed
            status, _, _ = fetch(f"{base}/filter.rss?topic=ai&q=the&q=zz{n}&min_quality={n % 50}")
            timings.append((time.monotonic() - begun) * 1000 if status == 200 else PROBE_TIMEOUT * 1000)
        first, rest = timings[0], timings[1:]
        print(f"filter requests, one at a time: first {first:.0f} ms; next 40: median "
              f"{statistics.median(rest):.1f} ms, p95 {percentile(rest, 0.95):.1f} ms, max {max(rest):.1f} ms "
              f"(HTTP round trip included)")  # fmt: skip

        peak, peak_all = before, before_all
        crawled = []
        query = lambda client, n: f"q=the&q=zz{client}x{n}"  # noqa: E731 - distinct queries: every one misses
        with flooding(base, args.clients, query) as (probes, statuses):
            for _ in range(2):
                crawled.append(crawl(base))
                peak = max(peak, pss_mib(workers))
                peak_all = max(peak_all, pss_mib(whole))
        after, after_all = pss_mib(workers), pss_mib(whole)
        pages = ", ".join(f"{count} pages ({dict(found)})" for count, found in crawled)
        print(f"crawled twice: {pages}")
        print(f"filter flood ({args.clients} clients): {dict(sorted(statuses.items()))}; /all.rss probes: "
              f"{len(probes)}, p95 {percentile(probes, 0.95):.2f} s, max {max(probes, default=0):.2f} s")  # fmt: skip
        print(f"after: {breakdown(server.pid, workers)}")
        print(f"PSS of the whole server (master + 2 workers): {before_all:.0f} MiB serving, {peak_all:.0f} MiB at "
              f"the peak sample, {after_all:.0f} MiB after; growth {after_all - before_all:+.0f} MiB "
              f"(peak {peak_all - before_all:+.0f} MiB)")  # fmt: skip
        print(f"PSS of the 2 workers alone (the figure quoted before 2026-12-05): {before:.0f} MiB before, "
              f"{after:.0f} MiB after; growth {after - before:+.0f} MiB (peak {peak - before:+.0f} MiB)")  # fmt: skip
        print(f"load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
        return 0
    finally:  # Ctrl-C included: the server runs in a session of its own, so stop it and its workers here
        stop_process(server)


if __name__ == "__main__":
    sys.exit(main())
