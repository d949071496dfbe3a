"""Where a cold export's CPU goes, stage by stage (issue 20): a timer around each stage, in this process.

Not a test: it prints figures to quote, under the command line, the revision and the load average.
One cold ``feeds export`` of ``bench_scale.py``'s corpus (empty parse cache and output folder, the
corpus read through first, earlier outputs moved aside rather than deleted: see
``corpus_changes.reset``) runs here, through :class:`feeds.folder.exporter.Exporter` as the command
line runs it, with the functions that make each stage wrapped by a timer. Each timer charges the
user and system CPU (``getrusage``) and the wall time since the last mark to the innermost stage
running, so the figures are each stage's own (a stage inside another is not counted twice) and
add up to the whole run.

By default the pools have one process (``os.cpu_count`` reads 1 here, and every pool of an export
sizes itself from it): every stage runs in this process, where its timer sees it, as ``feeds export``
runs on a one-core machine (so no reader's records are pickled to the exporting process: that is part
of the pools' cost). Should a process be waited for during the export all the same (a pool sized some
other way), the run stops with an error rather than print a table that misses its CPU. ``--pooled``
keeps the pools as they are: the table then holds only this process's share, the tree's CPU
(this process and its waited-for workers) is printed beside it, and a wall-clock timeline of this
process tells the stages on all cores (reading, the item pass, the documents) from the ones on
one core. The pools' overhead is ``--pooled``'s tree CPU less a one-process run's CPU: the forked
workers keep the timers (their figures are not printed), so both carry the same timers' cost.
``--profile N`` runs the one-process export with a cProfile on inside reading, the item pass and
the documents (instead of the timers) and prints each one's N functions with the most own time
(about 1.6x the CPU: read their shares, not their seconds).

    python bench/bench_stages.py --size 10000 [--work /tmp/feeds-bench] [--scratch /tmp/my-stages]
    python bench/bench_stages.py --size 100000 --pooled
    python bench/bench_stages.py --size 100000 --profile 25

The corpus is ``WORK/corpus-N`` (made by ``corpus_changes.ensure_corpus`` when absent) and is only
read; the config (the default one but the base URL, archive pages on, as ``bench_scale``'s), the
export, its store and the parse cache go to ``SCRATCH`` (default WORK) as ``stages-N.yaml``,
``stages-export-N`` and ``stages-cache-N``. Earlier ones are moved to ``SCRATCH/.trash``, which is
never emptied here: delete it at least six minutes before a run whose file creations you time.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import functools
import gc
import io
import os
import pstats
import resource
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

from corpus_changes import ensure_corpus, read_through, reset
from measure import revision, write_config

# Stages in the order a cold export meets them; a stage is named here and wrapped in _instrument.
READING = (
    "reading: front matter (YAML)", "reading: field rules", "reading: open, read", "reading: body text",
    "reading: cache record", "reading: decode, split, checks",
)  # fmt: skip
ORDER = (
    "imports", "scan, fingerprint", *READING, "reading: load, collect", "parse-cache write", "catalog",
    "item list", "item pass (feedgen)", "item pass: store", "render:", "gzip", "file writing",
    "documents: the rest", "export: plan, signatures", "manifest", "record, flip, clean", "the rest",
)  # fmt: skip


@dataclasses.dataclass
class Charged:
    """What one stage was charged: its own CPU and wall seconds (inner stages' not included) and its calls."""

    user: float = 0.0
    system: float = 0.0
    wall: float = 0.0
    calls: int = 0


class StageClock:
    """Own user, system and wall time of each stage; one stage runs at a time, innermost first."""

    def __init__(self, first: str) -> None:
        self.stages: dict[str, Charged] = {}
        self._stack = [first]
        self._mark = self._now()

    @staticmethod
    def _now() -> tuple[float, float, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime, usage.ru_stime, time.perf_counter()

    def _charge(self) -> None:
        now = self._now()
        charged = self.stages.setdefault(self._stack[-1], Charged())
        charged.user += now[0] - self._mark[0]
        charged.system += now[1] - self._mark[1]
        charged.wall += now[2] - self._mark[2]
        self._mark = now

    def enter(self, name: str) -> None:
        self._charge()
        self._stack.append(name)
        self.stages.setdefault(name, Charged()).calls += 1

    def leave(self) -> None:
        self._charge()
        self._stack.pop()

    def switch(self, name: str) -> None:
        """The outermost stage is ``name`` from now on (the run's phases outside any wrapped function)."""
        self._charge()
        self._stack[0] = name

    def wrap(self, name: str | Callable[..., str], function: Callable) -> Callable:
        """``function`` timed as stage ``name`` (or ``name(*args)``: a stage chosen per call)."""

        @functools.wraps(function)  # its name kept: a pool pickles a task's function by name
        def timed(*args: object, **kwargs: object) -> object:
            self.enter(name(*args) if callable(name) else name)
            try:
                return function(*args, **kwargs)
            finally:
                self.leave()

        return timed

    def pair_seconds(self, rounds: int = 20000) -> float:
        """CPU seconds one enter/leave pair costs (the timers' own overhead, charged to the stages)."""
        started = time.process_time()
        for _ in range(rounds):
            self.enter("timer calibration")
            self.leave()
        seconds = (time.process_time() - started) / rounds
        self.stages.pop("timer calibration", None)
        return seconds


def _document_kind(path: str, *_: object) -> str:
    """The stage a ``bulk.render_path(path, ...)`` call is charged to, by the kind of document at ``path``."""
    from feeds.site_paths import ARCHIVE_FOLDER, INDEX_PATH, OPML_PATH

    extension = path.rpartition(".")[2]
    if path in (INDEX_PATH, OPML_PATH):
        return "render: index, OPML"
    if path.startswith(ARCHIVE_FOLDER + "/"):
        return f"render: archive pages .{extension}"
    return "render: feed pages (HTML)" if extension == "html" else f"render: feeds .{extension}"


def _instrument(clock: StageClock) -> dict[str, int]:
    """Wrap the export's stage functions where their callers look them up; returns counters filled as it runs."""
    import feeds.folder.export as export
    import feeds.index.catalog as catalog
    import feeds.read.parse_pool as parse_pool
    import feeds.read.reader as reader
    import feeds.read.safe_yaml as safe_yaml
    from feeds.folder import bulk, cdn, exporter, flip, outdir
    from feeds.folder.generation import Generation
    from feeds.read.parsecache import ParseCache
    from feeds.render.signature import Signer

    counts = {"documents": 0, "files placed": 0}
    place = Generation.place_document

    def counted_place(self: Generation, relative: str, rendered: object, encoded: dict) -> list:
        counts["documents"] += 1
        counts["files placed"] += 1 + len(encoded)
        return place(self, relative, rendered, encoded)

    exporter.scan_folder = clock.wrap("scan, fingerprint", exporter.scan_folder)
    exporter.input_fingerprint = clock.wrap("scan, fingerprint", exporter.input_fingerprint)
    exporter.load_folder = clock.wrap("reading: load, collect", exporter.load_folder)
    safe_yaml.load_reporting = clock.wrap(READING[0], safe_yaml.load_reporting)
    reader.parse_article = clock.wrap(READING[1], reader.parse_article)
    reader._read_bytes = clock.wrap(READING[2], reader._read_bytes)
    reader.clean_text = clock.wrap(READING[3], reader.clean_text)  # the body's (article_fields has its own name)
    parse_pool.result_record = clock.wrap(READING[4], parse_pool.result_record)
    parse_pool.read_batch = clock.wrap(READING[5], parse_pool.read_batch)
    ParseCache.save = clock.wrap("parse-cache write", ParseCache.save)
    ParseCache.forget = clock.wrap("parse-cache write", ParseCache.forget)
    catalog.build_catalog = clock.wrap("catalog", catalog.build_catalog)
    export.export_site = clock.wrap("export: plan, signatures", export.export_site)
    Signer.document = clock.wrap("export: plan, signatures", Signer.document)
    bulk._shared_items = clock.wrap("item list", bulk._shared_items)
    bulk._item_store = clock.wrap("item pass: store", bulk._item_store)
    bulk._render_items = clock.wrap("item pass (feedgen)", bulk._render_items)
    bulk._place_documents = clock.wrap("documents: the rest", bulk._place_documents)
    bulk.render_path = clock.wrap(_document_kind, bulk.render_path)
    bulk.ENCODINGS = tuple(dataclasses.replace(e, compress=clock.wrap("gzip", e.compress)) for e in bulk.ENCODINGS)
    Generation.place_document = clock.wrap("file writing", counted_place)
    cdn.render_manifest = clock.wrap("manifest", cdn.render_manifest)
    export.write_record = clock.wrap("record, flip, clean", export.write_record)
    flip.flip = clock.wrap("record, flip, clean", flip.flip)
    outdir.clean_leftovers = clock.wrap("record, flip, clean", outdir.clean_leftovers)
    return counts


class Timeline:
    """Wall-clock spans of this process's outermost pool phases (``--pooled``): the rest ran on one core."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, float, float]] = []

    def wrap(self, name: str, function: Callable) -> Callable:
        """``function``, its call's wall-clock span recorded as ``name``."""

        def spanned(*args: object, **kwargs: object) -> object:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.spans.append((name, started, time.perf_counter()))

        return spanned


def _mark_phases(timeline: Timeline) -> None:
    """Record the spans of the three pooled phases (reading, the item pass, the documents) on ``timeline``."""
    import feeds.read.load as load
    from feeds.folder import bulk

    load.parse_files = timeline.wrap("reading (pool)", load.parse_files)
    bulk._item_store = timeline.wrap("item pass (pool)", bulk._item_store)
    # the documents' pool: from the item pass's end to the last document placed (bulk calls feeds.folder.pool's
    # mapped by that name; a checkout before that module had it in bulk as _mapped)
    name = "mapped" if hasattr(bulk, "mapped") else "_mapped"
    setattr(bulk, name, _after_items(timeline, getattr(bulk, name), bulk._render_items))


def _after_items(timeline: Timeline, mapped: Callable, render_items: Callable) -> Callable:
    """bulk's ``mapped`` with the span of each call recorded as the documents' phase, except the item pass's
    own call (``render_items``, the object bulk calls it with: the item pass has its own span)."""

    def spanned(job: object, function: Callable, *rest: object) -> object:
        if function is render_items:
            yield from mapped(job, function, *rest)
            return
        started = time.perf_counter()
        yield from mapped(job, function, *rest)
        timeline.spans.append(("documents (pool)", started, time.perf_counter()))

    return spanned


def _profile_stages() -> dict[str, cProfile.Profile]:
    """A profiler for each of the three stages a cold export spends most in, on while one of their functions runs."""
    import feeds.read.parse_pool as parse_pool
    from feeds.folder import bulk

    profiles = {"reading": cProfile.Profile(), "item pass": cProfile.Profile(), "documents": cProfile.Profile()}
    parse_pool.read_batch = _profiled(profiles["reading"], parse_pool.read_batch)
    bulk._render_items = _profiled(profiles["item pass"], bulk._render_items)
    bulk._place_documents = _profiled(profiles["documents"], bulk._place_documents)
    return profiles


def _profiled(profile: cProfile.Profile, function: Callable) -> Callable:
    """``function`` with ``profile`` on while it runs (its name kept: a pool pickles a task's function by name)."""

    @functools.wraps(function)
    def profiled(*args: object, **kwargs: object) -> object:
        profile.enable()
        try:
            return function(*args, **kwargs)
        finally:
            profile.disable()

    return profiled


@dataclasses.dataclass
class Setup:
    """One cold export's inputs and outputs: the corpus read, its config, the output folder, the parse cache's home."""

    corpus: Path
    config: Path
    out: Path
    cache: Path


def _prepare(args: argparse.Namespace) -> Setup:
    """The corpus (made when absent) read through, a config of our own written and earlier outputs moved aside:
    the next export is cold. Points ``XDG_CACHE_HOME`` at the run's own parse cache."""
    corpus = ensure_corpus(args.work, args.size)
    scratch = args.scratch or args.work
    scratch.mkdir(parents=True, exist_ok=True)
    # always our own: bench_scale's WORK/bench-N.yaml may hold another run's settings (--no-archives)
    config = write_config(scratch / f"stages-{args.size}.yaml", archives=True)
    out, cache = scratch / f"stages-export-{args.size}", scratch / f"stages-cache-{args.size}"
    reset(scratch, out, out.parent / f".{out.name}.d", cache)  # moved aside, not deleted: see corpus_changes.reset
    read_through(corpus)
    os.environ["XDG_CACHE_HOME"] = str(cache)  # read by feeds.cache_dir when the cache is opened
    return Setup(corpus, config, out, cache)


def _export(setup: Setup) -> object:
    """An export as ``feeds export --config CONFIG --articles CORPUS OUT`` runs it (collector frozen once loaded)."""
    from feeds.config import load_settings, with_overrides
    from feeds.folder.exporter import Exporter
    from feeds.folder.runs import ExportObserver

    class Frozen(ExportObserver):
        def loaded(self) -> None:
            gc.freeze()  # as feeds.cli's observer does

    settings = with_overrides(load_settings(setup.config), articles_dir=setup.corpus)
    return Exporter(settings, setup.out, observers=[Frozen()]).run()


def _import_export_stack() -> None:
    import feeds.folder.export  # noqa: F401 - the modules a cold export imports before it reads
    import feeds.folder.exporter  # noqa: F401
    import feeds.index.catalog  # noqa: F401
    import feeds.render.site  # noqa: F401


def _print_stages(clock: StageClock, pair: float) -> None:
    user, system = sum(c.user for c in clock.stages.values()), sum(c.system for c in clock.stages.values())
    wall = sum(c.wall for c in clock.stages.values())
    rank = {name: index for index, name in enumerate(ORDER)}  # "render: feeds .rss" ranks as "render:"

    def order(name: str) -> tuple[int, str]:
        return rank.get(name, rank.get(name.split(":")[0] + ":", len(ORDER))), name

    print(f"{'stage':38} {'user s':>8} {'sys s':>7} {'CPU s':>8} {'share':>6} {'wall s':>8} {'calls':>8}")
    for name in sorted(clock.stages, key=order):
        c = clock.stages[name]
        cpu = c.user + c.system
        share = cpu / (user + system)
        print(f"{name:38} {c.user:8.2f} {c.system:7.2f} {cpu:8.2f} {share:6.1%} {c.wall:8.2f} {c.calls:8}")
    print(f"{'total':38} {user:8.2f} {system:7.2f} {user + system:8.2f} {'':6} {wall:8.2f}")
    calls = sum(c.calls for c in clock.stages.values())
    print(f"timers: {calls} enter/leave pairs at ~{pair * 1e6:.1f} µs each, ~{calls * pair:.2f} CPU-s of the total")


def _print_timeline(timeline: Timeline, started: float, ended: float) -> None:
    print(f"\nwall-clock timeline of the exporting process ({ended - started:.2f} s):")
    pooled, last = 0.0, started
    for name, begin, end in sorted(timeline.spans, key=lambda span: span[1]):
        if begin > last:
            print(f"  {last - started:7.2f} – {begin - started:7.2f}  {begin - last:6.2f} s  one core")
        print(f"  {begin - started:7.2f} – {end - started:7.2f}  {end - begin:6.2f} s  {name}")
        pooled, last = pooled + end - begin, end
    print(f"  {last - started:7.2f} – {ended - started:7.2f}  {ended - last:6.2f} s  one core")
    print(f"  on every core {pooled:.2f} s, on one core {ended - started - pooled:.2f} s")


def _tree_cpu() -> tuple[float, float]:
    """User and system CPU seconds of this process and of the children it has waited for."""
    own, waited = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + waited.ru_utime, own.ru_stime + waited.ru_stime


def _check_no_children(args: argparse.Namespace, children_before: resource.struct_rusage) -> None:
    """In one process, no child may have been waited for during the export: the table would miss its CPU."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    # compared as they are, not by a difference of sums: float rounding leaves ~1e-18 of nothing
    if not args.pooled and (children.ru_utime, children.ru_stime) != (
        children_before.ru_utime,
        children_before.ru_stime,
    ):
        grew = children.ru_utime + children.ru_stime - children_before.ru_utime - children_before.ru_stime
        print(f"error: {grew:.2f} CPU-s of child processes during a one-process export: the table would miss them")
        sys.stdout.flush()
        os._exit(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10_000, help="articles (default 10000)")
    parser.add_argument(
        "--work",
        type=Path,
        default=Path("/tmp/feeds-bench"),
        help="where corpus-N is (made there when absent, then only read)",
    )
    parser.add_argument("--scratch", type=Path, help="where the export and parse cache go (default WORK)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--pooled", action="store_true", help="the pools as on the command line: a timeline too")
    mode.add_argument(
        "--profile",
        type=int,
        metavar="N",
        help="cProfile of reading, the item pass and the documents, one process: "
        "the N functions with the most own time in each",
    )
    args = parser.parse_args()
    print(f"$ {shlex.join([sys.executable, *sys.argv])}")
    import feeds  # the code measured: whatever this interpreter imports (PYTHONPATH=CHECKOUT to choose)

    checkout = Path(feeds.__file__).resolve().parent.parent
    print(f"revision {revision(checkout)} imports {feeds.__file__}")
    print(f"load average {os.getloadavg()[0]:.2f} at the start")
    if not args.pooled:
        os.cpu_count = lambda: 1  # every pool of the export sizes itself from it: pools of one
    clock = StageClock("imports")
    started_cpu, started = _tree_cpu(), time.perf_counter()
    _import_export_stack()
    clock.switch("setup")
    setup = _prepare(args)
    print(f"config {setup.config}, corpus {setup.corpus}, output {setup.out}")
    clock.switch("the rest")
    clock.stages.pop("setup")  # the corpus checked and read through: not the export's
    before = _tree_cpu()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    before_own = (usage.ru_utime, usage.ru_stime)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    if args.profile is not None:
        profiles = _profile_stages()
        run = _export(setup)
        after = _tree_cpu()
        _check_no_children(args, children_before)
        for name, profile in profiles.items():
            out = io.StringIO()
            stats = pstats.Stats(profile, stream=out)
            print(f"\n{name}: {stats.total_tt:.2f} s under cProfile; the {args.profile} functions with most own time")
            stats.sort_stats("tottime").print_stats(args.profile)
            print("\n".join(line[:160] for line in out.getvalue().splitlines()[6:] if line.strip()))
    else:
        counts = _instrument(clock)
        timeline = Timeline()
        if args.pooled:
            _mark_phases(timeline)
        began = time.perf_counter()
        run = _export(setup)
        ended = time.perf_counter()
        clock.switch("the rest")
        after, own = _tree_cpu(), resource.getrusage(resource.RUSAGE_SELF)  # before the timers' calibration
        _check_no_children(args, children_before)
        pair = clock.pair_seconds()
        what = "this process's share (the workers' CPU is in the tree's)" if args.pooled else "one process"
        print(f"\ncold export of {args.size} articles, {what}:")
        _print_stages(clock, pair)
        whose = "placed by this process (the workers placed the rest)" if args.pooled else "placed"
        print(f"documents {whose} {counts['documents']}, their files {counts['files placed']}")
        if args.pooled:
            _print_timeline(timeline, began, ended)
            print(f"this process alone: {own.ru_utime + own.ru_stime - sum(before_own):.2f} CPU-s")
    summary = run.summary
    print(f"\nexport: {summary.files} files in the generation, {summary.written} written; "
          f"{run.articles} articles, {run.feeds} feeds, wall {run.seconds:.2f} s")  # fmt: skip
    print(f"CPU of the export (this process{' and its workers' if args.pooled else ''}): "
          f"user {after[0] - before[0]:.2f} s, sys {after[1] - before[1]:.2f} s, "
          f"total {after[0] - before[0] + after[1] - before[1]:.2f} s; imports before it "
          f"{clock.stages['imports'].user + clock.stages['imports'].system if 'imports' in clock.stages else 0:.2f} s; "
          f"the script (the corpus read through too) {sum(after) - sum(started_cpu):.2f} s in "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    sys.stdout.flush()
    os._exit(0)  # no teardown of a hundred thousand articles, as feeds.cli ends


if __name__ == "__main__":
    sys.exit(main())
