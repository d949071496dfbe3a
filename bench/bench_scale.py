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
  two kinds of change; time until the new title is served (median of 3 each);
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
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
SHARED = PROJECT.parent / "shared"
GEN_CORPUS = SHARED / "tools" / "gen_corpus.py"
HUGO_SITE_MAKER = SHARED / "bench" / "hugo" / "make_site.py"
BASE_URL = "https://feeds.example.org/"
LARGE = 100_000
# Hugo holds every page in memory: 4.1 GB of PSS at 100k articles, ~40 GB projected for a million, more
# than this 24 GB machine has (the kernel's OOM killer would end it, or something beside it). Above this
# size Hugo is not run and its columns read "—"; --hugo-max raises it on a bigger machine.
HUGO_MAX_ARTICLES = 200_000
SAMPLE_INTERVAL = 0.05
RELOAD_WORKERS = 1
RPS_WORKERS = 2
FEED = "/all.rss"

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


# --- memory: PSS summed over a process tree -------------------------------------------------------------


_PROC_CHILDREN = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists()  # CONFIG_PROC_CHILDREN


def _children(pid: int) -> list[int]:
    """Direct children of pid: /proc/PID/task/*/children, or a scan of /proc where the kernel lacks it."""
    if not _PROC_CHILDREN:
        return _children_by_scan(pid)
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:  # gone
        return found
    for task in tasks:
        try:
            found += [int(child) for child in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
        except OSError:  # the thread ended meanwhile
            continue
    return found


def _children_by_scan(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:  # field 4, after "(comm)" and state
                found.append(int(entry))
    return found


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo += _children(current)
    return pids


def _pss_kib(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:  # gone, or a zombie
        return 0
    match = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
    return int(match.group(1)) if match else 0


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """User+system CPU seconds of a process and its descendants alive now, each with the children it waited for.

    /proc/PID/stat's utime, stime, cutime and cstime: a worker that ended and was waited for is counted in its
    parent's, a live one in its own, so the difference of two readings is the tree's CPU between them.
    """
    ticks = 0
    for member in _tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        ticks += sum(int(field) for field in fields[11:15])  # fields 14-17, counted from the state (field 3)
    return ticks / _CLOCK_TICKS


class TreeMemorySampler:
    """Polls the summed PSS of a process and its descendants; keeps the peak (KiB)."""

    def __init__(self, pid: int, interval: float = SAMPLE_INTERVAL) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self.max_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            pids = _tree(self.pid)
            self.max_processes = max(self.max_processes, len(pids))
            self.peak_kib = max(self.peak_kib, sum(_pss_kib(pid) for pid in pids))
            if self._stop.wait(self.interval):
                return


@dataclass
class Run:
    seconds: float
    max_rss: float  # MiB, the largest single process
    pss_tree: float  # MiB, peak of the summed PSS over the tree
    processes: int  # most processes seen at once in the tree
    user: float = 0.0  # CPU seconds in user mode of the process and the children it waited for (wait4's rusage)
    system: float = 0.0  # and in the kernel

    @property
    def cpu(self) -> float:
        """user + system: the CPU the process tree used, which other load on the machine moves less than wall time."""
        return self.user + self.system


def run_measured(command: list[str], env: dict[str, str] | None = None) -> Run:
    """Run a command to completion; its time, CPU (user, system), max RSS (largest process) and peak summed PSS
    of its tree."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    with TreeMemorySampler(process.pid) as sampler:
        stderr = process.stderr.read() if process.stderr else b""  # EOF: the whole tree has exited
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"command failed ({code}): {' '.join(command)}\n{stderr.decode()[-2000:]}")
    # ru_maxrss is KiB on Linux; wait4 reports the max over the child and its waited-for children
    return Run(
        elapsed, usage.ru_maxrss / 1024, sampler.peak_kib / 1024, sampler.max_processes, usage.ru_utime, usage.ru_stime
    )


# --- corpus and commands --------------------------------------------------------------------------------


def ensure_corpus(work: Path, size: int) -> Path:
    corpus = work / f"corpus-{size}"
    if not (corpus / ".complete").exists():
        shutil.rmtree(corpus, ignore_errors=True)
        subprocess.run(
            [sys.executable, str(GEN_CORPUS), str(corpus), "--count", str(size)], check=True, stdout=subprocess.DEVNULL
        )
        (corpus / ".complete").write_text("ok\n")
    return corpus


CHANGED_DATE = "2099-01-01T00:00:00Z"


def _with_field(text: str, key: str, value: str) -> str:
    start = text.index(f"\n{key}: ") + len(f"\n{key}: ")
    return text[:start] + value + text[text.index("\n", start) :]


def first_article(corpus: Path) -> Path:
    """The article the changes below edit and copy: the first file by name (dot files aside)."""
    return corpus / min(name for name in os.listdir(corpus) if not name.startswith("."))


def make_first_article_newest(corpus: Path) -> None:
    """Date the article that :func:`touch_one_article` edits as the newest, before the cold export.

    So every "1 change" is the same edit, a title, whichever run comes first on a corpus: moving an
    article to the top of its feeds shifts every archive page after its old place, which made the first
    run on a new corpus rewrite ~10 times the files the runs after it did (1.1 against 0.4 s at 10k).
    """
    first = first_article(corpus)
    text = first.read_text(encoding="utf-8")
    dated = _with_field(text, "publishedDateTime", CHANGED_DATE)
    if dated != text:
        first.write_text(dated, encoding="utf-8")


def touch_one_article(corpus: Path, marker: str) -> str:
    """Rewrite the title of one article (the first by name, the newest: it is in the all feed); return it."""
    first = first_article(corpus)
    title = f"Benchmark change {marker}"
    text = _with_field(first.read_text(encoding="utf-8"), "title", f'"{title}"')
    first.write_text(_with_field(text, "publishedDateTime", CHANGED_DATE), encoding="utf-8")
    return title


ADDED_PREFIX = "zzzz-bench-added-"  # new article files sort last; removed after each measurement


def add_one_article(corpus: Path, marker: str) -> str:
    """Write a new article file (a copy of the first with its own title and URLs), the newest; return its title."""
    first = first_article(corpus)
    title = f"Benchmark new article {marker}"
    lines = []
    for line in first.read_text(encoding="utf-8").split("\n"):
        key = line.split(":", 1)[0]
        if key == "title":
            line = f'title: "{title}"'
        elif key == "publishedDateTime":
            line = "publishedDateTime: 2099-01-02T00:00:00Z"
        elif key in ("originalUrl", "webUrl", "ampWebUrl", "cdnAmpWebUrl"):  # its own story, not a duplicate
            line = f'{key}: "https://bench.example.org/added/{marker}"'
        lines.append(line)
    (corpus / f"{ADDED_PREFIX}{marker}.txt").write_text("\n".join(lines), encoding="utf-8")
    return title


def remove_added_articles(corpus: Path) -> None:
    for path in corpus.glob(f"{ADDED_PREFIX}*.txt"):
        path.unlink()


def _names_digest(corpus: Path) -> str:
    return hashlib.sha256("\n".join(sorted(os.listdir(corpus))).encode()).hexdigest()


@contextmanager
def corpus_restored(corpus: Path) -> Iterator[None]:
    """Undo :func:`touch_one_article` and :func:`add_one_article` when the block ends, and check it.

    The first article's bytes are written back (its mtime stays new: a reader sees a change, never a
    stale file) and the added files removed; then the folder must list exactly the names it listed on
    entry, and that article hold its bytes of then, else RuntimeError. End whatever watches the folder
    before leaving the block, or it sees the undoing as one more change.
    """
    first = first_article(corpus)
    kept, names = first.read_bytes(), _names_digest(corpus)
    try:
        yield
    finally:
        remove_added_articles(corpus)
        if first.read_bytes() != kept:
            first.write_bytes(kept)
        if _names_digest(corpus) != names or first.read_bytes() != kept:
            raise RuntimeError(f"{corpus} is not as it was before the measurement")


def child_env(cache_home: Path) -> dict[str, str]:
    """The environment of every process measured: the interpreter's installed feeds, the cache under ``cache_home``.

    The code measured is the one this interpreter imports (a checkout installed in its virtual
    environment), never the current folder's feeds/: run the script with each checkout's
    interpreter to compare them side by side; :func:`measured_checkout` names the one measured.
    """
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home)}
    # as installed (pip compiles bytecode): a shell with PYTHONDONTWRITEBYTECODE set would have every
    # run compile the package from source again, ~0.1 s of each export that no user pays (issue 20)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    # `python -m` would import the current folder's feeds/ first (run from another checkout: its code, not
    # the installed one the revision is printed of)
    env["PYTHONSAFEPATH"] = "1"
    return env


def measured_checkout(env: dict[str, str], python: str = sys.executable) -> Path:
    """The checkout whose feeds/ the measured processes import (see :func:`child_env`)."""
    probe = [python, "-c", "import feeds, pathlib; print(pathlib.Path(feeds.__file__).resolve().parent.parent)"]
    return Path(subprocess.run(probe, env=env, capture_output=True, text=True, check=True).stdout.strip())


def code_fingerprint(env: dict[str, str], python: str = sys.executable) -> str:
    """feeds.code_fingerprint() as the measured processes see it (every render signature includes it)."""
    probe = [python, "-c", "import feeds; print(feeds.code_fingerprint())"]
    return subprocess.run(probe, env=env, capture_output=True, text=True, check=True).stdout.strip()


def feeds_command(*args: str, python: str = sys.executable) -> list[str]:
    return [python, "-m", "feeds.cli", *args]


def write_config(path: Path, archives: bool, extra: str = "") -> Path:
    path.write_text(f"base_url: {BASE_URL}\n{extra}" + ("" if archives else "archive_page_size: 0\n"), encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the live app ---------------------------------------------------------------------------------------


class LiveServer:
    """``feeds serve`` on a free 127.0.0.1 port, up (healthz answers) inside the with block.

    ``healthy_after``: seconds from the launch until /healthz first answered 200 (polled every 0.1 s).
    """

    def __init__(self, corpus: Path, env: dict[str, str], config: Path, workers: int) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.healthy_after: float | None = None
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            feeds_command("serve", "--config", str(config), "--articles", str(corpus), "--port", str(self.port),
                          "--workers", str(workers)),
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def __enter__(self) -> LiveServer:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"feeds serve exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=5) as response:
                    if response.status == 200:
                        self.healthy_after = time.perf_counter() - self.started
                        return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("feeds serve did not answer /healthz in 900 s")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


CHANGE_SAMPLES = 3  # one-change latencies are the median of this many changes
CHANGE_TIMEOUT = 120  # seconds a change may take to show before the measurement gives up
POLL = 0.02  # seconds between two looks for a change


Latencies = tuple[float | None, float | None, float | None]  # (the first change after start, an edit, a new file)


def change_latencies(
    show: Callable[[str], bool],
    what: str,
    corpus: Path,
    change: Callable[[Path, str], str] = touch_one_article,
    count: int = CHANGE_SAMPLES,
    gap: float = 0.5,
) -> list[float] | None:
    """Seconds from each of ``count`` changes (``change``: an article edited, or added) until ``show(title)``
    holds, polled every 20 ms; each next change ``gap`` seconds after the last one showed, so that it does not
    land in the last one's rebuild. None (and a line on stderr) when one did not show within 120 s."""
    samples = []
    for _ in range(count):
        title = change(corpus, f"{what}-{time.time_ns()}")
        changed = time.perf_counter()
        while not show(title):
            if time.perf_counter() - changed > CHANGE_TIMEOUT:
                late = f"{title!r} did not appear within {CHANGE_TIMEOUT} s of the change"
                print(f"error: {what}: {late}", file=sys.stderr)
                return None
            time.sleep(POLL)
        samples.append(time.perf_counter() - changed)
        time.sleep(gap)
    return samples


def _first_and_median(samples: list[float] | None) -> tuple[float | None, float | None]:
    return (None, None) if not samples else (samples[0], statistics.median(samples))


def measure_live_reload(corpus: Path, env: dict[str, str], work: Path, archives: bool) -> Latencies:
    """Seconds from one edited, then one added, article file until the live app serves it (medians of 3; one worker)."""
    config = write_config(work / "bench-live.yaml", archives, "reload_interval: 0.5\n")
    try:
        with LiveServer(corpus, env, config, RELOAD_WORKERS) as server:
            url = server.base + FEED
            urllib.request.urlopen(url, timeout=60).read()

            def served(title: str) -> bool:
                with urllib.request.urlopen(url, timeout=60) as response:
                    return title.encode() in response.read()

            # the first right after it answered
            first, edit = _first_and_median(change_latencies(served, "live-edit", corpus))
            return first, edit, _first_and_median(change_latencies(served, "live-new", corpus, add_one_article))[1]
    finally:
        remove_added_articles(corpus)


@dataclass
class WatchChanges:
    """What :func:`measure_export_watch` saw of one ``feeds export --watch`` process."""

    watching_after: float  # seconds from its launch until it said it watches (its own first export included)
    edits: list[float]  # each edit's latency, in the order made: the first right after it said it watches
    new: list[float]  # each new article file's, after the edits
    cpu_seconds: float  # user+sys of its process tree from "watching" until ``gap`` after the last change showed

    def latencies(self) -> Latencies:
        """bench_scale's three figures: the first edit, the median of the edits, the median of the new files."""
        first, edit = _first_and_median(self.edits)
        return first, edit, _first_and_median(self.new)[1]


def measure_export_watch(
    corpus: Path,
    env: dict[str, str],
    config: Path,
    out: Path,
    edits: int = CHANGE_SAMPLES,
    new: int = CHANGE_SAMPLES,
    gap: float = 0.5,
    python: str = sys.executable,
) -> WatchChanges | None:
    """Run ``feeds export --watch`` on ``out``; once it says it watches, make ``edits`` edits then ``new`` new
    article files (:func:`change_latencies`) and time each until OUT/all.rss has it. None (and a line on
    stderr) when the process ended before watching or a change did not show. The added files are removed
    when it ends; the edits stay (see :func:`corpus_restored`)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        feeds_command("export", "--config", str(config), "--articles", str(corpus), "--watch", str(out), python=python),
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        for line in process.stderr:  # problems of the corpus, then the watching line
            if "watching" in line:
                break
        else:
            print(f"error: feeds export --watch exited with {process.wait()}", file=sys.stderr)
            return None
        watching_after = time.perf_counter() - started
        cpu_before = tree_cpu_seconds(process.pid)

        def exported(title: str) -> bool:
            try:
                return title.encode() in (out / "all.rss").read_bytes()
            except FileNotFoundError:  # between two generations' links: not there yet
                return False

        threading.Thread(target=process.stderr.read, daemon=True).start()  # keep draining
        edited = change_latencies(exported, "watch-edit", corpus, touch_one_article, edits, gap)
        if edited is None:
            return None
        added = change_latencies(exported, "watch-new", corpus, add_one_article, new, gap)
        if added is None:
            return None
        return WatchChanges(watching_after, edited, added, tree_cpu_seconds(process.pid) - cpu_before)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
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
        with LiveServer(corpus, env, config, RPS_WORKERS) as server:
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
    _reset(work, site / "public")
    _read_through(site)
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


TRASH = ".trash"


def _reset(work: Path, *paths: Path) -> None:
    """Move earlier outputs out of the way, into WORK/.trash, emptied when the run ends.

    Not deleted here: on ext4 without a journal (this machine kind's root file
    system) a file created within a minute (six, while the inode table block is
    not yet written back) of many deletions nearby pays a scan over the recently
    deleted inodes (the kernel's find_inode_bit → recently_deleted), up to ~1 ms
    per file instead of ~50 µs. Deleting the last export right before the cold
    one made its 15,000 file creations cost seconds that are the benchmark's own
    doing, not the export's. A rename costs nothing.
    """
    trash = work / TRASH
    trash.mkdir(exist_ok=True)
    for path in paths:
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.exists():
            path.rename(trash / f"{time.time_ns()}-{path.name}")


def _read_through(folder: Path) -> None:
    """Read every file under ``folder`` once, so a timed run finds them in the page cache.

    Hugo reads a site ``make_site.py`` has just written (in the page cache); the
    corpus we read may have been evicted since it was generated (reading 100,000
    files from this machine's disk costs ~6 s more than from memory). Both builds
    then start from memory: a cold export means an empty parse cache, not a cold disk.
    """
    for root, _, files in os.walk(folder):
        for name in files:
            with open(os.path.join(root, name), "rb") as handle:
                while handle.read(1 << 20):
                    pass


def _empty_trash(work: Path) -> None:
    shutil.rmtree(work / TRASH, ignore_errors=True)


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
    _reset(work, cache_home, out, out.parent / f".{out.name}.d")
    env = child_env(cache_home)
    config = write_config(work / f"bench-{size}.yaml", archives)
    export = feeds_command("export", "--config", str(config), "--articles", str(corpus), str(out))
    make_first_article_newest(corpus)
    _read_through(corpus)
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


def _revision(checkout: Path) -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(checkout), "status", "--porcelain", "--", "feeds"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" (feeds/ modified)" if dirty else "")


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
        _empty_trash(args.work)
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
        f"revision {_revision(checkout)} ({checkout}); {os.cpu_count()} cores; Python {sys.version.split()[0]}; "
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
        _empty_trash(args.work)
    print(f"load average (1 min) at the start: {load_at_start:.2f}, at the end: {os.getloadavg()[0]:.2f}")
    if code_fingerprint(child_env(args.work)) != code_at_start:
        print(
            f"warning: {checkout / 'feeds'} changed during the run (now revision {_revision(checkout)}): what ran "
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
