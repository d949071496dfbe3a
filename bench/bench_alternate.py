"""Cold exports alternating with Hugo's builds, or with another checkout's exports: N rounds per size, medians.

Not a test. One round is a cold export (empty parse cache and OUT_DIR, the corpus
read through first, as :mod:`bench_scale` does) followed by Hugo's build of the same
corpus (``public/`` removed, its site read through first); the rounds alternate so
that a change in the machine's speed (Hugo alone swings 36-53 s at 100k on this
machine kind) falls on both. It prints each round, the medians and their ratio, and
the peak summed PSS of each. The default configuration but the base URL (archives on):

    python bench/bench_alternate.py --sizes 1000 10000 100000 --rounds 5 5 3 --work /tmp/feeds-bench

``--like-hugo`` adds a third build to every round: ours with the feed formats Hugo's build writes
(RSS only, ``formats: [rss]``, and no archive pages), so the default's ratio and the like-for-like
one come from one run; a second table gives that build's medians against Hugo's.

``--against OTHER_CHECKOUT`` runs OTHER's cold export instead of Hugo's build (the same corpus,
config and reset), who goes first swapping every round: an A/B of two revisions. With ``--check``
both sides run a cold ``feeds check`` instead (every file read into an empty parse cache, the
catalog and the report: an export's reading alone, without the documents' noise around it).

    git worktree add /tmp/old REV && python bench/bench_alternate.py --against /tmp/old --sizes 1000 --rounds 5

Each export is measured by its wall time, the user+sys CPU of its process tree (the
children it waited for: its pool workers; user alone too) and the peak summed PSS of the
tree; the table gives the medians of each and their ratio (this checkout's / Hugo's or
OTHER's). CPU time is what to read on a busy machine: other load stretches wall time far
more. The kernel's share moves too (creating files on this machine kind's ext4 costs more
within minutes of many deletions, see :func:`corpus_changes.reset`): compare user time as well.
Like :mod:`bench_scale` it measures the ``feeds/`` its interpreter imports; OTHER runs
as :mod:`checkouts` says. Both trees' bytecode is compiled first.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from bench_scale import hugo_site
from checkouts import Checkout, add_allow_same, measured_checkouts
from corpus_changes import GEN_CORPUS, empty_trash, ensure_corpus, read_through, reset
from measure import Run, run_measured, write_config


@dataclass(frozen=True)
class Build:
    """One side of a comparison: a command run cold each round, with what is reset and read through first."""

    name: str
    command: list[str]
    env: dict[str, str] | None
    reset: tuple[Path, ...]  # moved to the trash before each run: the build starts from nothing
    inputs: Path  # read through before each run: the build reads from memory, not from the disk

    def run_cold(self, work: Path) -> Run:
        reset(work, *self.reset)
        read_through(self.inputs)
        return run_measured(self.command, self.env)


def export_build(name: str, checkout: Checkout, corpus: Path, config: Path, work: Path, tag: str) -> Build:
    """A cold ``feeds export`` of ``corpus`` by ``checkout``: its own empty parse cache and output folder."""
    cache_home, out = work / f"alternate-cache-{tag}", work / f"alternate-export-{tag}"
    command = checkout.feeds_command("export", "--config", str(config), "--articles", str(corpus), str(out))
    fresh = (cache_home, out, out.parent / f".{out.name}.d")
    return Build(name, command, checkout.environment(cache_home), fresh, corpus)


def check_build(name: str, checkout: Checkout, corpus: Path, config: Path, work: Path, tag: str) -> Build:
    """A cold ``feeds check`` of ``corpus`` by ``checkout``: its own empty parse cache."""
    cache_home = work / f"alternate-cache-{tag}"
    command = checkout.feeds_command("check", "--config", str(config), "--articles", str(corpus))
    return Build(name, command, checkout.environment(cache_home), (cache_home,), corpus)


def hugo_build(hugo: str, corpus: Path, work: Path) -> Build:
    site = hugo_site(corpus, work)
    return Build("Hugo", [hugo, "--quiet", "-D", "-s", str(site)], None, (site / "public",), site)


def _figures(run: Run) -> str:
    return f"{run.seconds:6.2f} s, {run.cpu:6.2f} CPU-s (user {run.user:.2f}), {run.pss_tree:5.0f} MiB"


def alternate(size: int, builds: tuple[Build, ...], rounds: int, work: Path, swap: bool) -> tuple[list[Run], ...]:
    """``rounds`` cold runs of each build, alternating; ``swap``: the order is reversed every other round.
    Each round's line gives every build's figures and its ratios to the last build's."""
    runs: tuple[list[Run], ...] = tuple([] for _ in builds)
    for round_number in range(1, rounds + 1):
        order = range(len(builds) - 1, -1, -1) if swap and round_number % 2 == 0 else range(len(builds))
        for side in order:
            runs[side].append(builds[side].run_cold(work))
        last = runs[-1][-1]
        sides = [f"{build.name} {_figures(side[-1])}" for build, side in zip(builds, runs, strict=True)]
        ratios = [
            f"{build.name} / {builds[-1].name} {run.seconds / last.seconds:.2f} wall, {run.cpu / last.cpu:.2f} CPU"
            for build, run in zip(builds[:-1], (side[-1] for side in runs[:-1]), strict=True)
        ]
        print(
            f"{size:>9,} round {round_number}: {'; '.join(sides)}; ratio {'; '.join(ratios)}; "
            f"load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
    return runs


# The same feed formats as Hugo's build (bench_scale.hugo_site: topic and provider RSS): our RSS feeds
# and no archive pages; the HTML pages, index, OPML and .gz copies are still written.
LIKE_HUGO = "formats: [rss]\n"
LIKE_HUGO_NAME = "ours, RSS only"

MEDIANS = (("wall", "seconds", "s"), ("CPU", "cpu", "CPU-s"), ("user", "user", "s"), ("PSS", "pss_tree", "MiB"))


def print_medians(names: tuple[str, str], rows: list[tuple[int, tuple[list[Run], ...]]]) -> None:
    """Per size: the median wall, CPU, user CPU and peak PSS of each side, and the ratio of the medians."""
    ours, theirs = names
    columns = " | ".join(f"{label} {ours} | {label} {theirs} | ratio" for label, _, _ in MEDIANS)
    print(f"\narticles | rounds | {columns}")
    for size, (first, second) in rows:
        cells = [f"{size:>8,}", f"{len(first):>6}"]
        for _, figure, unit in MEDIANS:
            a, b = (statistics.median(getattr(run, figure) for run in runs) for runs in (first, second))
            if unit == "MiB":  # and the largest, beside the median
                high = [max(run.pss_tree for run in runs) for runs in (first, second)]
                cells += [f"{a:.0f} ({high[0]:.0f}) MiB", f"{b:.0f} ({high[1]:.0f}) MiB", f"{a / b:.2f}×"]
            else:
                cells += [f"{a:.2f} {unit}", f"{b:.2f} {unit}", f"{a / b:.2f}×"]
        print(" | ".join(cells))
    print(
        "medians; CPU: user+sys of the process tree (user alone beside it: file creation's kernel time moves from run "
        f"to run on this machine kind's ext4); PSS: peak summed PSS of the tree (max); ratio {ours} / {theirs}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--rounds", type=int, nargs="+", default=[5], help="rounds per size (one value: for all)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/feeds-bench"))
    parser.add_argument("--against", type=Path, help="another checkout: alternate with its cold exports, not Hugo")
    parser.add_argument("--check", action="store_true", help="with --against: cold `feeds check` runs, not exports")
    parser.add_argument(
        "--like-hugo", action="store_true",
        help="with Hugo: a third build each round, ours with Hugo's feed formats (RSS only, no archive pages)",
    )  # fmt: skip
    add_allow_same(parser, "--against")
    args = parser.parse_args()
    if args.check and args.against is None:
        parser.error("--check compares two checkouts: give --against")
    if args.like_hugo and args.against is not None:
        parser.error("--like-hugo adds a build beside Hugo's: not with --against")
    if len(args.rounds) not in (1, len(args.sizes)):
        parser.error("--rounds takes one value, or one per size")
    hugo = shutil.which("hugo")
    if (hugo is None and args.against is None) or not GEN_CORPUS.exists():
        hugo_too = "" if args.against is not None else "hugo (Debian package) and "
        print(f"needs {hugo_too}{GEN_CORPUS} (../shared beside the project)", file=sys.stderr)
        return 2
    if args.against is not None and not (args.against / "feeds").is_dir():
        parser.error(f"--against {args.against}: no feeds/ in it")
    args.work = args.work.resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"$ {shlex.join([sys.executable, *sys.argv])}")
    checkouts = measured_checkouts(args.work, args.against, "--against", args.allow_same)
    print(f"{os.cpu_count()} cores; load {os.getloadavg()[0]:.2f}")
    names = ("ours", "Hugo") if args.against is None else (checkouts[0].revision, checkouts[1].revision)
    if names[0] == names[1]:
        names = (f"{names[0]} (this)", f"{names[1]} (other)")
    rounds_per_size = args.rounds * len(args.sizes) if len(args.rounds) == 1 else args.rounds
    rows: list[tuple[int, tuple[list[Run], ...]]] = []
    try:
        for size, rounds in zip(args.sizes, rounds_per_size, strict=True):
            corpus = ensure_corpus(args.work, size)
            config = write_config(args.work / f"bench-{size}.yaml", archives=True)
            build = check_build if args.check else export_build
            builds = [build(names[0], checkouts[0], corpus, config, args.work, str(size))]
            if args.like_hugo:
                like = write_config(args.work / f"bench-{size}-like-hugo.yaml", archives=False, extra=LIKE_HUGO)
                builds.append(export_build(LIKE_HUGO_NAME, checkouts[0], corpus, like, args.work, f"{size}-like-hugo"))
            if args.against is None:
                assert hugo is not None
                builds.append(hugo_build(hugo, corpus, args.work))
            else:
                builds.append(build(names[1], checkouts[1], corpus, config, args.work, f"{size}-against"))
            rows.append((size, alternate(size, tuple(builds), rounds, args.work, swap=args.against is not None)))
    finally:
        empty_trash(args.work)
    print_medians(names, [(size, (runs[0], runs[-1])) for size, runs in rows])
    if args.like_hugo:
        print_medians((LIKE_HUGO_NAME, names[1]), [(size, (runs[1], runs[-1])) for size, runs in rows])
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
