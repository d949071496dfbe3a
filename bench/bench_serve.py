"""``feeds serve`` started from a warm parse cache: when it answers, in how much memory, and one new file served.

Not a test: it prints figures to quote, under the exact command, the revision and the load average.
Issue 20 asks that at a million articles ``feeds serve`` start from a warm cache and serve it.

The corpus, config and parse cache are ``bench_scale``'s (``WORK/corpus-N``, ``WORK/bench-N.yaml``,
``WORK/xdg-cache-N``): one ``feeds export`` into ``WORK/export-N`` (timed) warms the cache, or finds
it warm. Then ``feeds serve --workers W`` (``measure.LiveServer``: a real process on a free port)
starts, and the script prints:

- seconds from its launch until ``/healthz`` answers 200 and until ``/all.rss`` answers 200 (each
  asked every 0.1 s);
- the summed PSS of the server's process tree (master and workers) when ``/all.rss`` first answered,
  and its peak while starting (sampled every 50 ms);
- seconds from writing one new article file (``add_one_article``: the newest, into the all feed) until
  ``/all.rss`` serves its title (asked every 20 ms), then what ``/healthz`` says: generation, files,
  watching (one worker answers). The file is written as soon as ``/all.rss`` first answered, or
  ``--settle`` seconds later: right after the first answer the other workers may still be starting,
  and at a million articles that change took 4.5–4.9 s where a later one took a fraction of that.

The server is stopped (its whole process group, on Ctrl-C too) and the new file removed (the corpus
checked to be as found).

    python bench/bench_serve.py --size 10000 [--work /tmp/feeds-bench] [--workers 2]
    python bench/bench_serve.py --size 1000000 --work /tmp/feeds-bench [--settle 60]

Like ``bench_scale`` it measures the ``feeds/`` its interpreter imports (``PYTHONPATH`` honoured).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
import urllib.request
from pathlib import Path

from corpus_changes import GEN_CORPUS, add_one_article, corpus_restored, ensure_corpus
from measure import (
    FEED,
    LiveServer,
    change_latencies,
    child_env,
    feeds_command,
    measured_checkout,
    process_tree,
    pss_kib,
    revision,
    run_measured,
    wait_until_ok,
    write_config,
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, required=True, help="articles in the corpus (WORK/corpus-SIZE)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/feeds-bench"))
    parser.add_argument("--workers", type=int, default=2, help="feeds serve --workers (default 2, its default)")
    parser.add_argument(
        "--settle", type=float, default=0.0, help="seconds from the first answer to the new file (default 0)"
    )
    args = parser.parse_args()
    if not GEN_CORPUS.exists():
        print(f"needs {GEN_CORPUS} (../shared beside the project)", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"$ {shlex.join([sys.executable, *sys.argv])}")
    cache_home = args.work / f"xdg-cache-{args.size}"
    env = child_env(cache_home)
    checkout = measured_checkout(env)
    print(f"revision {revision(checkout)} ({checkout}); {os.cpu_count()} cores; Python {sys.version.split()[0]}")
    corpus = ensure_corpus(args.work, args.size)
    config = write_config(args.work / f"bench-{args.size}.yaml", archives=True)
    had_cache = cache_home.exists()  # whether it is up to date, only the export's time says
    export = feeds_command(
        "export", "--config", str(config), "--articles", str(corpus), str(args.work / f"export-{args.size}")
    )
    warming = run_measured(export, env)
    print(
        f"{args.size:,} articles ({corpus}); {cache_home} {'was there' if had_cache else 'was not there'} before "
        f"{shlex.join(export)} warmed it: {warming.seconds:.2f} s"
    )
    load = os.getloadavg()[0]
    with corpus_restored(corpus):
        with LiveServer(corpus, env, config, args.workers, sample_memory=True) as server:
            wait_until_ok(server.base + FEED, server.process)
            feed_after = time.perf_counter() - server.started
            processes = process_tree(server.process.pid)
            serving = sum(pss_kib(pid) for pid in processes)
            assert server.memory is not None
            starting_peak = max(server.memory.peak_kib, serving)

            def served(title: str) -> bool:
                with urllib.request.urlopen(server.base + FEED, timeout=60) as response:
                    return title.encode() in response.read()

            time.sleep(args.settle)
            new_file = change_latencies(served, "serve-new", corpus, add_one_article, count=1, gap=0)
            with urllib.request.urlopen(server.base + "/healthz", timeout=60) as response:
                health = json.load(response)
        print(f"server: {shlex.join(server.command)}")
    print(f"/healthz 200 after {server.healthy_after:.2f} s, {FEED} 200 after {feed_after:.2f} s (from the launch)")
    print(
        f"summed PSS of the server's {len(processes)} processes when {FEED} first answered: {serving / 1024:.0f} MiB; "
        f"peak while starting {starting_peak / 1024:.0f} MiB"
    )
    print(
        f"a new article file, written {args.settle:g} s after {FEED} first answered, in {FEED} after "
        + (f"{new_file[0]:.2f} s" if new_file else "NOT within 120 s")
        + f"; /healthz then (pid {health['pid']}): generation {health['generation']}, files {health['files']:,}, "
        f"watching: {health['watching']}"
    )
    print(f"load average (1 min) at the start: {load:.2f}, at the end: {os.getloadavg()[0]:.2f}")
    return 0 if new_file else 1


if __name__ == "__main__":
    sys.exit(main())
