"""``feeds export --watch`` on an existing export: seconds from each change of the articles until OUT/all.rss has it.

Not a test: it prints figures to quote, under the exact command, the revision(s) and the load
average. Issue 20 asks a change within 2 s at a million articles, within 1 s at 100,000.

The corpus is ``bench_scale``'s (``WORK/corpus-N``, made by ``../shared/tools/gen_corpus.py`` when
absent; its first article dated the newest, as ``bench_scale`` does, so that every edit is the same
title change), and so are the export and parse cache (``WORK/export-N``, ``WORK/xdg-cache-N``): made
by a cold export when absent, else reused. Each run then:

- exports once from the command line (``feeds export``, timed: it brings the export up to the corpus
  and to the code measured, so the watch's own first export finds nothing to render);
- starts ``feeds export --watch`` (a real process, started as from a shell) and waits until it says it
  watches;
- makes ``--edits`` edits (``touch_one_article``: the first article's title) then ``--new`` new article
  files (``add_one_article``: the newest, into the all feed, its topics and provider), each ``--gap``
  seconds after the last one showed, and times each from the write until ``OUT/all.rss`` (read every
  20 ms) has its title;
- reads the watcher's CPU (user+sys of its process tree, /proc) from "watching" until ``--gap`` after the
  last change showed, then stops it and puts the corpus back as it found it (checked).

With ``--base OTHER`` the runs alternate between this checkout and OTHER (``OTHER/.venv/bin/python``
if it has one, else this interpreter; ``PYTHONPATH=OTHER`` either way, and the ``feeds/`` each imports
is checked and printed and its bytecode compiled, as :mod:`checkouts` does; the same ``feeds/`` on both
sides is refused unless ``--allow-same``), each with its own export and parse
cache (``WORK/export-N-base``, ``WORK/xdg-cache-N-base``), so neither watch starts on an export made by
the other's code (which would render every document again).

    python bench/bench_watch.py --size 10000                      # 5 edits, 2 new files, 3 s apart
    python bench/bench_watch.py --size 1000000 --work /tmp/feeds-bench --runs 2
    python bench/bench_watch.py --size 100000 --base /tmp/base --runs 3   # alternating with OTHER

Like ``bench_scale`` it measures the ``feeds/`` its interpreter imports (``PYTHONPATH`` honoured).
Run the whole script under ``nice`` to run the watcher so; the niceness is printed.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from checkouts import add_allow_same, compile_and_check, other_checkout, refuse_same_code, this_checkout
from corpus_changes import (
    GEN_CORPUS,
    add_one_article,
    corpus_restored,
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
    CHANGE_TIMEOUT,
    FEED,
    Latencies,
    change_latencies,
    code_fingerprint,
    feeds_command,
    first_and_median,
    revision,
    run_measured,
    stop_process,
    tree_cpu_seconds,
    write_config,
)


@dataclass
class WatchChanges:
    """What :func:`measure_export_watch` saw of one ``feeds export --watch`` process.

    ``edits`` or ``new`` is None when one of its changes did not show within 120 s (the other kind is still
    measured, as before it failed); ``complete`` says whether both were.
    """

    watching_after: float  # seconds from its launch until it said it watches (its own first export included)
    edits: list[float] | None  # each edit's latency, in the order made: the first right after it said it watches
    new: list[float] | None  # each new article file's, after the edits
    cpu_seconds: float  # user+sys of its process tree from "watching" until ``gap`` after the last change showed

    @property
    def complete(self) -> bool:
        return self.edits is not None and self.new is not None

    def latencies(self) -> Latencies:
        """bench_scale's three figures: the first edit, the median of the edits, the median of the new files."""
        first, edit = first_and_median(self.edits)
        return first, edit, first_and_median(self.new)[1]


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
    article files (:func:`measure.change_latencies`) and time each until OUT/all.rss has it. None (and a line
    on stderr) when the process ended before watching; a kind of change that did not show is None in the
    result. The watcher and its process group are stopped and the added files removed when it ends, or is
    interrupted; the edits stay (see :func:`corpus_changes.corpus_restored`)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        feeds_command("export", "--config", str(config), "--articles", str(corpus), "--watch", str(out), python=python),
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True,
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
        added = change_latencies(exported, "watch-new", corpus, add_one_article, new, gap)
        return WatchChanges(watching_after, edited, added, tree_cpu_seconds(process.pid) - cpu_before)
    finally:
        stop_process(process)
        remove_added_articles(corpus)


@dataclass(frozen=True)
class WatchSide:
    """One side of the comparison: the code a run measures, its interpreter, its own parse cache and export."""

    label: str  # "this" or "base"
    folder: Path  # the checkout whose feeds/ the processes import
    python: str
    env: dict[str, str]
    cache_home: Path
    out: Path
    imports: str  # what :func:`checkouts.compile_and_check` found: the revision, interpreter and feeds/ imported

    def command(self, config: Path, corpus: Path, *watch: str) -> list[str]:
        args = ("export", "--config", str(config), "--articles", str(corpus), *watch, str(self.out))
        return feeds_command(*args, python=self.python)


def watch_side(label: str, work: Path, size: int, other: Path | None) -> WatchSide:
    """This checkout (``other`` None: bench_scale's export and cache) or OTHER's, each with its own folders.

    Which interpreter and ``PYTHONPATH`` run each is :mod:`checkouts`' choice; its bytecode is compiled
    and the ``feeds/`` it imports checked there.
    """
    suffix = "" if other is None else "-base"
    cache_home, out = work / f"xdg-cache-{size}{suffix}", work / f"export-{size}{suffix}"
    code = this_checkout(work) if other is None else other_checkout(other)
    imports = compile_and_check(code, work)
    return WatchSide(label, code.folder, code.python, code.environment(cache_home), cache_home, out, imports)


def prepare(side: WatchSide, work: Path, corpus: Path, config: Path) -> None:
    """A cold export into the side's OUT when it has none (as bench_scale makes one), timed and printed."""
    if (side.out / "all.rss").exists():
        return
    reset(work, side.cache_home, side.out, side.out.parent / f".{side.out.name}.d")
    read_through(corpus)
    cold = run_measured(side.command(config, corpus), side.env)
    print(f"{side.label}: cold export into {side.out}: {cold.seconds:.2f} s, peak PSS {cold.pss_tree:.0f} MiB")
    if not (side.out / "all.rss").exists():
        raise SystemExit(f"the cold export wrote no {side.out / 'all.rss'}")


def one_run(number: int, side: WatchSide, corpus: Path, config: Path, args: argparse.Namespace) -> WatchChanges | None:
    """One watch of ``side``'s code: the export before it, the changes; then each latency and the CPU printed.

    None when the watch failed: it ended before watching, or a change did not show (what was measured is
    printed all the same)."""
    before = run_measured(side.command(config, corpus), side.env)
    load = os.getloadavg()[0]
    with corpus_restored(corpus):
        watched = measure_export_watch(
            corpus, side.env, config, side.out, args.edits, args.new, args.gap, python=side.python
        )
    print(
        f"run {number}, {side.label} ({revision(side.folder)}): export before the watch {before.seconds:.2f} s; "
        + (f"watching after {watched.watching_after:.2f} s; " if watched else "FAILED before watching; ")
        + f"load {load:.2f} -> {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    if watched is None:
        return None
    for kind, samples in (("edit", watched.edits), ("new file", watched.new)):
        if samples is None:
            print(f"  {kind}s: FAILED (one did not show within {CHANGE_TIMEOUT} s; the others stopped there)")
        for index, seconds in enumerate(samples or (), 1):
            first = " (the first change after it said it watches)" if kind == "edit" and index == 1 else ""
            print(f"  {kind} {index}: {seconds:.3f} s{first}")
    if not watched.complete:
        return None
    changes = len(watched.edits or []) + len(watched.new or [])
    print(f"  watcher's CPU: {watched.cpu_seconds:.2f} s over the {changes} changes", flush=True)
    return watched


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} s" if values else "—"


def summary(side: WatchSide, runs: list[WatchChanges]) -> tuple[str, ...]:
    """One table row: the medians over every complete run's changes of each kind, the first edits apart."""
    firsts = [run.edits[0] for run in runs if run.edits]
    later = [seconds for run in runs for seconds in (run.edits or [])[1:]]
    new = [seconds for run in runs for seconds in run.new or []]
    per_change = [run.cpu_seconds / (len(run.edits or []) + len(run.new or [])) for run in runs]
    every = [*firsts, *later, *new]
    label = f"{side.label} ({revision(side.folder)})"
    return (label, str(len(runs)), _median(firsts), _median(later), _median(new), _median(per_change),
            f"{max(every):.3f} s" if every else "—")  # fmt: skip


HEADER = ("checkout", "runs", "first edit", "later edits", "new files", "CPU per change", "slowest")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, required=True, help="articles in the corpus (WORK/corpus-SIZE)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/feeds-bench"))
    parser.add_argument("--edits", type=int, default=5, help="edits per run (default 5; the first is shown apart)")
    parser.add_argument("--new", type=int, default=2, help="new article files per run, after the edits (default 2)")
    parser.add_argument("--gap", type=float, default=3.0, help="seconds from a change showing to the next (default 3)")
    parser.add_argument("--runs", type=int, default=1, help="runs per checkout (default 1); with --base they alternate")
    parser.add_argument("--base", type=Path, help="another checkout, measured in turn with this one")
    add_allow_same(parser, "--base")
    args = parser.parse_args()
    if args.edits < 1 or args.new < 0 or args.runs < 1:
        parser.error("--edits and --runs must be at least 1, --new at least 0")
    if not GEN_CORPUS.exists():
        print(f"needs {GEN_CORPUS} (../shared beside the project)", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"$ {shlex.join([sys.executable, *sys.argv])}")
    sides = [watch_side("this", args.work, args.size, None)]
    if args.base is not None:
        sides.append(watch_side("base", args.work, args.size, args.base.resolve()))
        refuse_same_code(sides[0].folder, sides[1].folder, "--base", args.allow_same)
    for side in sides:
        print(f"{side.label}: {side.imports}")
    corpus = ensure_corpus(args.work, args.size)
    make_first_article_newest(corpus)
    config = write_config(args.work / f"bench-{args.size}.yaml", archives=True)
    print(
        f"{args.size:,} articles ({corpus}); {os.cpu_count()} cores; Python {sys.version.split()[0]}; "
        f"nice {os.getpriority(os.PRIO_PROCESS, 0)}; per run {args.edits} edits then {args.new} new article files, "
        f"each {args.gap:g} s after the last showed; OUT{FEED} read every 20 ms"
    )
    for side in sides:
        pythonpath = side.env.get("PYTHONPATH")
        shown = ([f"PYTHONPATH={pythonpath}"] if pythonpath else []) + side.command(config, corpus, "--watch")
        print(f"watcher ({side.label}): {shlex.join(shown)}")
    fingerprints = [code_fingerprint(side.env, side.python) for side in sides]
    results: dict[str, list[WatchChanges]] = {side.label: [] for side in sides}
    failed = False
    try:
        for side in sides:
            prepare(side, args.work, corpus, config)
        for number in range(1, args.runs + 1):
            for side in sides:  # alternating: what the machine does meanwhile falls on both
                watched = one_run(number, side, corpus, config, args)
                failed |= watched is None
                if watched is not None:
                    results[side.label].append(watched)
    finally:
        empty_trash(args.work)
    print()
    rows = [HEADER, *(summary(side, results[side.label]) for side in sides if results[side.label])]
    widths = [max(len(row[column]) for row in rows) for column in range(len(HEADER))]
    for row in rows:
        print(" | ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
    print(
        f"seconds from a change's write until OUT{FEED} has it: medians over every run's changes of that kind "
        "(the first edit of each run, right after the watcher said it watches, apart); CPU: user+sys of the "
        f"watcher's process tree from 'watching' until {args.gap:g} s after the last change showed, per change"
    )
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f}")
    for side, fingerprint in zip(sides, fingerprints, strict=True):
        if code_fingerprint(side.env, side.python) != fingerprint:
            print(f"warning: {side.folder / 'feeds'} changed during the run: later runs measured other code")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
