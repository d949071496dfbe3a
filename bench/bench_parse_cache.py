"""The parse cache side by side: this checkout against another revision, in one run, alternating.

Not a test: it prints one table of medians to quote. For each corpus (a folder
made by ``../shared/tools/gen_corpus.py``) and each round, each revision in turn
runs, each command in a fresh process (timed, with its peak memory: the largest
process's max RSS and the peak summed PSS of its process tree, as
``bench_scale.py`` measures them):

- cold: ``feeds export`` with an empty parse cache and an empty output folder;
- warm: the same export again, nothing changed (the run sees that from the scan);
- check: ``feeds check`` (a warm load: every entry from the cache, the catalog);
- new OUT: ``feeds export`` into an empty folder with the cache warm (every
  document rendered, every article's details read from the cache);
- 1 change: one article file rewritten, the first export again.

``--check-only`` times ``feeds check`` instead (cold cache, warm, after one change): the
load through the parse cache without rendering, for when a full export is too long to repeat.

    git worktree add /tmp/base c5e1eb2 && (cd /tmp/base && python3 -m venv .venv && .venv/bin/pip install -e .)
    python ../shared/tools/gen_corpus.py /tmp/corpus-10k --count 10000
    python bench/bench_parse_cache.py --base /tmp/base /tmp/corpus-10k /tmp/corpus-100k --rounds 3

Each revision runs with its own ``.venv/bin/python`` from its own folder and its own cache folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from corpus_changes import empty_trash, read_through, reset, touch_one_article
from measure import Run, run_measured, write_config

PROJECT = Path(__file__).resolve().parent.parent
MEASURES = ("cold", "warm", "check", "new OUT", "1 change")


def _revision(folder: Path) -> str:
    done = subprocess.run(["git", "-C", str(folder), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain", "--", "feeds"], capture_output=True)
    return done.stdout.strip() + ("+" if dirty.stdout.strip() else "")


def _one_round(
    checkout: Path, corpus: Path, work: Path, archives: bool, check_only: bool
) -> dict[str, tuple[Run, float]]:
    """Every measure of one revision on one corpus: (run, load average when it started)."""
    tag = f"{checkout.name}-{corpus.name}"
    cache_home, out, fresh = work / f"cache-{tag}", work / f"out-{tag}", work / f"fresh-{tag}"
    reset(work, cache_home, out, fresh, out.parent / f".{out.name}.d", fresh.parent / f".{fresh.name}.d")
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home), "PYTHONPATH": str(checkout)}
    config = write_config(work / f"config-{tag}.yaml", archives)
    python = str(checkout / ".venv" / "bin" / "python")
    common = ["--config", str(config), "--articles", str(corpus)]
    commands = {
        "cold": [python, "-m", "feeds.cli", "export", *common, str(out)],
        "warm": [python, "-m", "feeds.cli", "export", *common, str(out)],
        "check": [python, "-m", "feeds.cli", "check", *common],
        "new OUT": [python, "-m", "feeds.cli", "export", *common, str(fresh)],
        "1 change": [python, "-m", "feeds.cli", "export", *common, str(out)],
    }
    if check_only:  # no rendering: what reading the folder through the parse cache costs
        check = [python, "-m", "feeds.cli", "check", *common]
        commands = {"cold": check, "warm": check, "1 change": check}
    results = {}
    for measure, command in commands.items():
        if measure == "1 change":
            title = touch_one_article(corpus, f"{tag}-{time.time_ns()}")
        load = os.getloadavg()[0]
        results[measure] = (run_measured(command, env), load)
        if measure == "1 change" and not check_only and title.encode() not in (out / "all.rss").read_bytes():
            raise SystemExit(f"{checkout}: after one change, {out / 'all.rss'} lacks the new title")
    reset(work, fresh)  # the new OUT export is big; the next round starts from nothing anyway
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpora", type=Path, nargs="+", help="folders made by gen_corpus.py")
    parser.add_argument("--base", type=Path, required=True, help="a checkout of the other revision, with .venv")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, default=Path("/tmp/feeds-bench-parse-cache"))
    parser.add_argument("--archives", choices=("on", "off"), default="on")
    parser.add_argument("--check-only", action="store_true", help="time `feeds check` (cold, warm, 1 change) only")
    args = parser.parse_args(argv)
    args.work = args.work.resolve()
    args.corpora = [corpus.resolve() for corpus in args.corpora]
    args.work.mkdir(parents=True, exist_ok=True)
    # `python -m` puts the working folder first on sys.path: run where no feeds package is, so
    # each revision imports its own (PYTHONPATH), whatever its venv's editable install points at
    os.chdir(args.work)
    checkouts = [args.base.resolve(), PROJECT]
    names = {checkout: _revision(checkout) for checkout in checkouts}
    print(f"# {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    print(f"# revisions: {', '.join(names[c] + ' (' + str(c) + ')' for c in checkouts)}; archives {args.archives}")
    for checkout in checkouts:
        python = str(checkout / ".venv" / "bin" / "python")
        where = subprocess.run(
            [python, "-c", "import feeds; print(feeds.__file__)"], env={**os.environ, "PYTHONPATH": str(checkout)},
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        if not Path(where).resolve().is_relative_to(checkout.resolve()):
            raise SystemExit(f"{checkout} imports feeds from {where}")
        print(f"# {names[checkout]} imports {where}")
    table: dict[tuple[str, Path, str], list[tuple[Run, float]]] = {}
    for corpus in args.corpora:
        read_through(corpus)
        for round_number in range(args.rounds):
            order = checkouts if round_number % 2 == 0 else checkouts[::-1]  # alternate who goes first
            for checkout in order:
                results = _one_round(checkout, corpus, args.work, args.archives == "on", args.check_only)
                for measure, result in results.items():
                    table.setdefault((corpus.name, checkout, measure), []).append(result)
                    run, load = result
                    print(
                        f"# {corpus.name} round {round_number + 1} {names[checkout]} {measure}: {run.seconds:.2f} s, "
                        f"PSS tree {run.pss_tree:.0f} MiB, max RSS {run.max_rss:.0f} MiB, load {load:.1f}",
                        file=sys.stderr,
                        flush=True,
                    )
    empty_trash(args.work)
    print("| corpus | measure | " + " | ".join(names[c] for c in checkouts) + " | ratio | PSS tree (MiB) | load avg |")
    print("| --- | --- | " + " | ".join("---:" for _ in checkouts) + " | ---: | ---: | ---: |")
    for corpus in args.corpora:
        for measure in ("cold", "warm", "1 change") if args.check_only else MEASURES:
            seconds = [statistics.median(r.seconds for r, _ in table[(corpus.name, c, measure)]) for c in checkouts]
            pss = [statistics.median(r.pss_tree for r, _ in table[(corpus.name, c, measure)]) for c in checkouts]
            loads = [load for c in checkouts for _, load in table[(corpus.name, c, measure)]]
            print(
                f"| {corpus.name} | {measure} | " + " | ".join(f"{s:.2f} s" for s in seconds)
                + f" | {seconds[1] / seconds[0]:.2f}× | " + " / ".join(f"{p:.0f}" for p in pss)
                + f" | {min(loads):.1f}–{max(loads):.1f} |"
            )  # fmt: skip
    print(f"# medians of {args.rounds} rounds; ratio = this checkout / base; PSS: base / this checkout")


if __name__ == "__main__":
    main()
