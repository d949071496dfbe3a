"""Scale benchmark: our export (cold, warm, one change) and the live app (reload, requests/s), against Hugo.

Not a test: it prints one table of figures to quote per configuration, under
the exact command line and the git revision. For each corpus size it generates
a synthetic corpus with ``../shared/tools/gen_corpus.py`` (cached in the work
folder), then measures, each in a fresh process:

- cold export: empty parse cache, empty output folder (the corpus read once
  beforehand, as Hugo's site is, so neither build waits for the disk);
- warm export: cache present, nothing changed;
- one change: one article file rewritten, export again (time to updated output;
  the new title must be in ``OUT/all.rss``, else the figure reads ERROR);
- one change with ``feeds export --watch`` running: time from the change until
  ``OUT/all.rss`` has the new title, for an edit (the rewrite above: no article
  moves between feeds) and for a new article file (the newest: it enters the all
  feed, its topics and provider); median of 3 changes each;
- live reload: ``feeds serve --workers 1`` (reload_interval 0.5 s) sees the same
  two kinds of change; time until the new title is served (median of 3 each; the
  first edit right after /healthz answered, asked every 0.5 s);
- requests/s of ``feeds serve --workers 2`` (what ``feeds serve`` runs by default)
  for GET /all.rss: full 200 responses, and 304 answers to If-None-Match with the
  ETag; measured with ``wrk -t1 -c16 -d5s`` when installed (the 304 run counts
  statuses in a Lua script written to the work folder), else a threaded Python
  client; median of 3 rounds alternating the two cases. The client and the
  server share the machine's cores;
- memory of each export: ``max RSS`` (wait4's ru_maxrss: the largest single
  process, main or a pool worker) and ``PSS tree``: the peak, sampled every
  50 ms, of the summed PSS (/proc/PID/smaps_rollup) of the export and all its
  worker processes: what the whole export costs, shared pages counted once;
- Hugo (Debian ``hugo``), when installed: ``make_site.py --provider`` then
  ``hugo --quiet -D -s SITE``, with the same two memory figures. Hugo builds much
  less: one RSS feed per topic and per provider, the 50 newest items each, RSS
  only (no Atom, JSON Feed, all-articles feed, index or OPML) and no archive
  pages. ``--archives off`` is the closer comparison; the ratios are ours / Hugo's.

    python bench/bench_scale.py                      # 1k and 10k, archives on
    python bench/bench_scale.py --large              # and 100k (minutes of both cores)
    python bench/bench_scale.py --archives both      # one table with archives, one without
    python bench/bench_scale.py --work /tmp/feeds-bench --no-live
    python bench/bench_scale.py --no-archives        # same as --archives off

Exports use a config file written into the work folder (base URL, and
``archive_page_size: 0`` without archives); everything else is the default.
The measuring itself (process trees, PSS, the live server) is :mod:`measure`'s and the corpus
changes :mod:`corpus_changes`', shared with the other scripts; this module holds the table.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench_watch import measure_export_watch
from corpus_changes import (
    GEN_CORPUS,
    SHARED,
    TRASH,
    add_one_article,
    empty_trash,
    ensure_corpus,
    make_first_article_newest,
    read_through,
    remove_added_articles,
    reset,
    touch_one_article,
)
from measure import (
    CHANGE_SAMPLES,
    FEED,
    SAMPLE_INTERVAL,
    Latencies,
    LiveServer,
    Run,
    change_latencies,
    child_env,
    code_fingerprint,
    feeds_command,
    first_and_median,
    measured_checkout,
    revision,
    run_measured,
    write_config,
)

HUGO_SITE_MAKER = SHARED / "bench" / "hugo" / "make_site.py"
LARGE = 100_000
# Hugo holds every page in memory: 4.1 GB of PSS at 100k articles, ~40 GB projected for a million, more
# than this 24 GB machine has (the kernel's OOM killer would end it, or something beside it). Above this
# size Hugo is not run and its columns read "—"; --hugo-max raises it on a bigger machine.
HUGO_MAX_ARTICLES = 200_000
RELOAD_WORKERS = 1
RPS_WORKERS = 2

# wrk's Lua: send If-None-Match (args[1]) and count the answers that are / are not 304
WRK_LUA = """-- written by bench_scale.py: wrk -s THIS URL -- ETAG
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  wrk.headers["If-None-Match"] = args[1]
  matched, other = 0, 0
end
function response(status, headers, body)
  if status == 304 then matched = matched + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local m, o = 0, 0
  for _, t in ipairs(threads) do m = m + t:get("matched"); o = o + t:get("other") end
  io.write(string.format("bench-statuses 304=%d other=%d\\n", m, o))
end
"""


# --- the live app ---------------------------------------------------------------------------------------


# /healthz asked every 0.5 s, as when the README's tables were measured: the first edit ("live: first") is
# made right after the server answered, so a shorter poll would make it sooner after the server came up
HEALTH_POLL = 0.5


def measure_live_reload(corpus: Path, env: dict[str, str], work: Path, archives: bool) -> Latencies:
    """Seconds from one edited, then one added, article file until the live app serves it (medians of 3; one worker)."""
    config = write_config(work / "bench-live.yaml", archives, "reload_interval: 0.5\n")
    try:
        with LiveServer(corpus, env, config, RELOAD_WORKERS, poll=HEALTH_POLL) as server:
            url = server.base + FEED
            urllib.request.urlopen(url, timeout=60).read()

            def served(title: str) -> bool:
                with urllib.request.urlopen(url, timeout=60) as response:
                    return title.encode() in response.read()

            # the first right after it answered
            first, edit = first_and_median(change_latencies(served, "live-edit", corpus))
            return first, edit, first_and_median(change_latencies(served, "live-new", corpus, add_one_article))[1]
    finally:
        remove_added_articles(corpus)


def _wrk(url: str, duration: int, connections: int, script: Path | None, etag: str) -> tuple[float, int, int]:
    """(requests/s, responses, bytes read) from one wrk run; the 304 run must see 304s only."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s"]
    if script is not None:
        command += ["-s", str(script), url, "--", etag]
    else:
        command.append(url)
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    rate = re.search(r"Requests/sec:\s+([0-9.]+)", output)
    totals = re.search(r"(\d+) requests in [^,]+, ([0-9.]+)([KMGT]?B) read", output)
    if rate is None or totals is None:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    if "Non-2xx or 3xx responses" in output:
        raise RuntimeError(f"error answers during the wrk run:\n{output}")
    errors = re.search(r"Socket errors: .*", output)
    if errors:  # closed keep-alive connections or timeouts under load: say so, the rate still stands
        print(f"warning: wrk to {url}: {errors.group(0)}", file=sys.stderr)
    if script is not None:
        statuses = re.search(r"bench-statuses 304=(\d+) other=(\d+)", output)
        if statuses is None or int(statuses.group(2)):
            raise RuntimeError(f"answers other than 304 to If-None-Match:\n{output}")
    scale = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}[totals.group(3)]
    return float(rate.group(1)), int(totals.group(1)), int(float(totals.group(2)) * scale)


def _python_client(url: str, duration: int, connections: int, headers: dict[str, str], expect: int) -> float:
    """Requests/s from `connections` threads, each with a keep-alive connection (the GIL limits the client)."""
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    path = "/" + url.split("//", 1)[1].split("/", 1)[1]
    counts = [0] * connections
    failures = [0] * connections
    stop = time.perf_counter() + duration

    def client(slot: int) -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        while time.perf_counter() < stop:
            try:
                connection.request("GET", path, headers=headers)
                response = connection.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                failures[slot] += 1
                connection.close()
                connection = http.client.HTTPConnection(host, int(port), timeout=30)
                continue
            if response.status == expect:
                counts[slot] += 1
            else:
                failures[slot] += 1
        connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(slot,)) for slot in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if sum(failures):
        raise RuntimeError(f"{sum(failures)} failed or unexpected answers (wanted {expect}) from {url}")
    return sum(counts) / (time.perf_counter() - started)


def measure_live_rps(
    corpus: Path, env: dict[str, str], work: Path, archives: bool, args: argparse.Namespace
) -> tuple[float | None, float | None]:
    """Requests/s of GET /all.rss from ``feeds serve --workers 2``: full 200 responses, and 304 revalidations.

    Rounds alternate between the two cases so background load hits both alike; the median is kept.
    """
    config = write_config(work / "bench-rps.yaml", archives)
    duration, connections = args.duration, args.connections
    full: list[float] = []
    not_modified: list[float] = []
    try:
        with LiveServer(corpus, env, config, RPS_WORKERS, poll=HEALTH_POLL) as server:
            url = server.base + FEED
            with urllib.request.urlopen(url, timeout=60) as response:
                body, etag = response.read(), response.headers["ETag"]
            if not etag:
                raise RuntimeError(f"no ETag on {url}")
            script = work / "wrk-if-none-match.lua"
            script.write_text(WRK_LUA, encoding="utf-8")
            for _ in range(args.rounds):
                if shutil.which("wrk"):
                    rate, responses, read = _wrk(url, duration, connections, None, etag)
                    if responses and read / responses < 0.95 * len(body):  # wrk rounds its byte total
                        raise RuntimeError(f"wrk read {read / responses:.0f} bytes a response; the body is {len(body)}")
                    full.append(rate)
                    not_modified.append(_wrk(url, duration, connections, script, etag)[0])
                else:
                    full.append(_python_client(url, duration, connections, {}, 200))
                    not_modified.append(_python_client(url, duration, connections, {"If-None-Match": etag}, 304))
            return statistics.median(full), statistics.median(not_modified)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        print(f"error: requests/s not measured: {exc}", file=sys.stderr)
        return None, None


# --- Hugo -----------------------------------------------------------------------------------------------


def measure_hugo(corpus: Path, work: Path, size: int, hugo_max: int) -> Run | None:
    hugo = shutil.which("hugo")
    if hugo is None or not HUGO_SITE_MAKER.exists():
        return None
    if size > hugo_max:
        print(f"hugo: not run at {size:,} articles (more than --hugo-max {hugo_max:,}: not enough memory)",
              file=sys.stderr)  # fmt: skip
        return None
    site = hugo_site(corpus, work)
    reset(work, site / "public")
    read_through(site)
    return run_measured([hugo, "--quiet", "-D", "-s", str(site)])


def hugo_site(corpus: Path, work: Path) -> Path:
    """The Hugo site of ``corpus`` (``make_site.py --provider``: a page per article, RSS per topic and provider)."""
    site = work / f"hugo-site-{corpus.name}"
    subprocess.run(
        [sys.executable, str(HUGO_SITE_MAKER), str(corpus), str(site), "--provider"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return site


# --- one size, one configuration ------------------------------------------------------------------------


@dataclass
class Row:
    """One corpus size under one configuration: three exports and the live app."""

    cold: Run
    warm: Run
    one_change: Run
    one_change_ok: bool  # the new title reached OUT/all.rss
    watch_change: Latencies
    live_reload: Latencies
    rps_full: float | None
    rps_304: float | None

    @property
    def exports(self) -> tuple[Run, Run, Run]:
        return self.cold, self.warm, self.one_change


def bench_size(size: int, work: Path, archives: bool, args: argparse.Namespace) -> Row:
    corpus = ensure_corpus(work, size)
    cache_home = work / f"xdg-cache-{size}"
    out = work / f"export-{size}"
    reset(work, cache_home, out, out.parent / f".{out.name}.d")
    env = child_env(cache_home)
    config = write_config(work / f"bench-{size}.yaml", archives)
    export = feeds_command("export", "--config", str(config), "--articles", str(corpus), str(out))
    make_first_article_newest(corpus)
    read_through(corpus)
    cold = run_measured(export, env)
    if not (out / "all.rss").exists():
        raise SystemExit(f"the cold export wrote no {out / 'all.rss'}")
    warm = run_measured(export, env)
    title = touch_one_article(corpus, f"export-{time.time_ns()}")
    one_change = run_measured(export, env)
    one_change_ok = title.encode() in (out / "all.rss").read_bytes()
    if not one_change_ok:
        print(f"error: after one change, {out / 'all.rss'} does not have the new title {title!r}", file=sys.stderr)
    watched = measure_export_watch(corpus, env, config, out)
    watch_change = watched.latencies() if watched is not None else (None, None, None)
    live_reload = measure_live_reload(corpus, env, work, archives) if args.live else (None, None, None)
    rps_full, rps_304 = measure_live_rps(corpus, env, work, archives, args) if args.live else (None, None)
    return Row(cold, warm, one_change, one_change_ok, watch_change, live_reload, rps_full, rps_304)


# --- the table ------------------------------------------------------------------------------------------


def _fmt(value: float | None, unit: str = "s") -> str:
    if value is None:
        return "—"
    return f"{value:.2f} {unit}" if unit == "s" else f"{value:.0f} {unit}".rstrip()


def _pair(latencies: Latencies) -> str:
    return " / ".join(_fmt(value) for value in latencies)


def _ratio(ours: float | None, hugo: float | None) -> str:
    return "—" if ours is None or not hugo else f"{ours / hugo:.2f}×"


def _cells(size: int, row: Row, hugo: Run | None) -> tuple[str, ...]:
    max_rss = max(run.max_rss for run in row.exports)
    pss = max(run.pss_tree for run in row.exports)
    return (
        f"{size:,}", _fmt(row.cold.seconds), _fmt(row.warm.seconds),
        _fmt(row.one_change.seconds) if row.one_change_ok else "ERROR", _pair(row.watch_change), _pair(row.live_reload),
        _fmt(max_rss, "MiB"), _fmt(pss, "MiB"), _fmt(row.rps_full, ""), _fmt(row.rps_304, ""),
        _fmt(hugo.seconds if hugo else None), _fmt(hugo.max_rss if hugo else None, "MiB"),
        _fmt(hugo.pss_tree if hugo else None, "MiB"),
        _ratio(row.cold.seconds, hugo.seconds if hugo else None),
        _ratio(row.warm.seconds, hugo.seconds if hugo else None),
        _ratio(pss, hugo.pss_tree if hugo else None),
    )  # fmt: skip


HEADER = (
    "articles",
    "cold",
    "warm",
    "1 change",
    "--watch: first / edit / new",
    "live: first / edit / new",
    "max RSS",
    "PSS tree",
    "req/s full",
    "req/s 304",
    "hugo",
    "hugo RSS",
    "hugo PSS",
    "cold/hugo",
    "warm/hugo",
    "PSS/hugo",
)


def print_table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(r[i])) for r in [HEADER, *rows]) for i in range(len(HEADER))]
    for line in [HEADER, tuple("-" * w for w in widths), *rows]:
        print(" | ".join(str(cell).rjust(width) for cell, width in zip(line, widths, strict=True)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--large", action="store_true", help=f"add {LARGE:,} articles (minutes of every core)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/feeds-bench"))
    parser.add_argument("--no-live", dest="live", action="store_false", help="skip the live app (reload, req/s)")
    parser.add_argument(
        "--archives",
        choices=("on", "off", "both"),
        default=None,
        help="archive pages (RFC 5005) on, off (archive_page_size: 0, like Hugo) or one table each",
    )
    parser.add_argument("--no-archives", action="store_true", help="same as --archives off")
    parser.add_argument("--duration", type=int, default=5, help="seconds per requests/s run (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="requests/s rounds per case; the median (default 3)")
    parser.add_argument("--connections", type=int, default=16, help="client connections for requests/s (default 16)")
    parser.add_argument(
        "--hugo-max", type=int, default=HUGO_MAX_ARTICLES,
        help=f"run Hugo only up to this many articles (default {HUGO_MAX_ARTICLES:,}: it needs ~40 GB at 1M)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.no_archives and args.archives not in (None, "off"):
        parser.error("--no-archives contradicts --archives " + args.archives)
    archives = "off" if args.no_archives else (args.archives or "on")
    configs = {"on": [True], "off": [False], "both": [True, False]}[archives]
    sizes = [*args.sizes, *([LARGE] if args.large and LARGE not in args.sizes else [])]
    if not GEN_CORPUS.exists():
        print(f"needs {GEN_CORPUS} (../shared beside the project)", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    if (args.work / TRASH).exists():  # an interrupted run's: its deletions slow the next minutes' file creations
        print(f"emptying {args.work / TRASH}, left by an earlier run, then a minute's rest", file=sys.stderr)
        empty_trash(args.work)
        os.sync()  # written back, the deleted inodes stay "recent" for 60 s instead of 360 s
        time.sleep(61)
    client = (
        f"wrk -t1 -c{args.connections} -d{args.duration}s"
        if shutil.which("wrk")
        else f"Python threaded client, {args.connections} connections, {args.duration} s"
    ) + f", median of {args.rounds} alternating rounds"
    print(f"$ {shlex.join([sys.executable, *sys.argv])}")
    checkout = measured_checkout(child_env(args.work))
    print(
        f"revision {revision(checkout)} ({checkout}); {os.cpu_count()} cores; Python {sys.version.split()[0]}; "
        f"hugo: {shutil.which('hugo') or 'not installed'}; requests/s client: {client}"
    )
    load_at_start = os.getloadavg()[0]  # other work on the machine skews every figure: say how much there was
    # a checkout that moves during the run (a landing on main) measures other code from then on
    code_at_start = code_fingerprint(child_env(args.work))
    hugo_runs: dict[int, Run | None] = {}
    tables: dict[bool, list[tuple[str, ...]]] = {config: [] for config in configs}
    failed = False
    try:
        for size in sizes:
            for config in configs:
                row = bench_size(size, args.work, config, args)
                failed |= not row.one_change_ok or None in row.watch_change
                failed |= args.live and (None in row.live_reload or row.rps_full is None)
                if size not in hugo_runs:  # Hugo's build does not depend on our archive setting: once a size
                    hugo_runs[size] = measure_hugo(ensure_corpus(args.work, size), args.work, size, args.hugo_max)
                tables[config].append(_cells(size, row, hugo_runs[size]))
                processes = max(run.processes for run in row.exports)
                state = "on" if config else "off"
                print(f"done {size:,} (archives {state}; up to {processes} export processes at once)", file=sys.stderr)
    finally:
        empty_trash(args.work)
    print(f"load average (1 min) at the start: {load_at_start:.2f}, at the end: {os.getloadavg()[0]:.2f}")
    if code_fingerprint(child_env(args.work)) != code_at_start:
        print(
            f"warning: {checkout / 'feeds'} changed during the run (now revision {revision(checkout)}): what ran "
            "after the change ran other code, and an export after it renders every document again (the code "
            "fingerprint is part of every render signature)"
        )
        failed = True
    for config in configs:
        print()
        print(
            "archives on: archive pages (RFC 5005), the default archive_page_size"
            if config
            else "archives off: archive_page_size 0 (no archive pages; the closer match to Hugo)"
        )
        print_table(tables[config])
    print()
    print(
        "cold: empty parse cache and output; warm: nothing changed; 1 change: one file rewritten, export again "
        "(checked: the new title is in all.rss)"
    )
    print(
        f"--watch: feeds export --watch running, time until OUT{FEED} has the new title: the first edit, made as "
        f"soon as it says it is watching / after an edit (no article moves) / after a new article file (the "
        f"newest); median of {CHANGE_SAMPLES} changes each"
    )
    print(
        f"live: feeds serve --workers {RELOAD_WORKERS}, reload_interval 0.5 s, time until GET {FEED} "
        f"has the new title: the first edit, as soon as it answered / after an edit / a new article file "
        f"(median of {CHANGE_SAMPLES} each)"
    )
    print(
        f"req/s: GET {FEED} from feeds serve --workers {RPS_WORKERS} (its default server setup), no compression; "
        f"full = 200 with the body, 304 = If-None-Match with its ETag; {client}; "
        f"client and server share the {os.cpu_count()} cores"
    )
    print("max RSS: the largest single process of an export (main or a pool worker), over cold/warm/1 change")
    print(
        f"PSS tree: peak summed PSS of the export and its workers (sampled every {SAMPLE_INTERVAL * 1000:.0f} ms), "
        "over cold/warm/1 change; PSS/hugo compares it with Hugo's (one process, sampled the same way)"
    )
    print("hugo: make_site.py --provider; hugo --quiet -D -s SITE: RSS per topic and provider, 50 items, no archives")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
