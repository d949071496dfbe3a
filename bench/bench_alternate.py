"""Cold exports against Hugo's builds, alternating, N rounds per size: the medians issue 20's ratio is read from.

Not a test. One round is a cold export (empty parse cache and OUT_DIR, the corpus
read through first, as :mod:`bench_scale` does) followed by Hugo's build of the same
corpus (``public/`` removed, its site read through first); the rounds alternate so
that a change in the machine's speed (Hugo alone swings 36-53 s at 100k on this
machine kind) falls on both. It prints each round, the medians and their ratio, and
the peak summed PSS of each. The default configuration but the base URL (archives on):

    python bench/bench_alternate.py --sizes 1000 10000 100000 --rounds 5 3 3 --work /tmp/feeds-bench

Like :mod:`bench_scale` it measures the ``feeds/`` its interpreter has installed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path

from bench_scale import (
    GEN_CORPUS,
    Run,
    _empty_trash,
    _read_through,
    _reset,
    _revision,
    child_env,
    ensure_corpus,
    feeds_command,
    hugo_site,
    measured_checkout,
    run_measured,
    write_config,
)


def alternate(size: int, rounds: int, work: Path, hugo: str) -> tuple[list[Run], list[Run]]:
    """``rounds`` pairs of (our cold export, Hugo's build) of a ``size``-article corpus, in that order."""
    corpus = ensure_corpus(work, size)
    config = write_config(work / f"bench-{size}.yaml", archives=True)
    site = hugo_site(corpus, work)
    ours: list[Run] = []
    theirs: list[Run] = []
    for round_number in range(1, rounds + 1):
        cache_home, out = work / f"alternate-cache-{size}", work / f"alternate-export-{size}"
        _reset(work, cache_home, out, out.parent / f".{out.name}.d")
        _read_through(corpus)
        export = feeds_command("export", "--config", str(config), "--articles", str(corpus), str(out))
        ours.append(run_measured(export, child_env(cache_home)))
        _reset(work, site / "public")
        _read_through(site)
        theirs.append(run_measured([hugo, "--quiet", "-D", "-s", str(site)]))
        print(
            f"{size:>9,} round {round_number}: ours {ours[-1].seconds:6.2f} s, Hugo {theirs[-1].seconds:6.2f} s, "
            f"ratio {ours[-1].seconds / theirs[-1].seconds:.2f}, load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
    return ours, theirs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--rounds", type=int, nargs="+", default=[5], help="rounds per size (one value: for all)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/feeds-bench"))
    args = parser.parse_args()
    if len(args.rounds) not in (1, len(args.sizes)):
        parser.error("--rounds takes one value, or one per size")
    hugo = shutil.which("hugo")
    if hugo is None or not GEN_CORPUS.exists():
        print(f"needs hugo (Debian package) and {GEN_CORPUS} (../shared beside the project)", file=sys.stderr)
        return 2
    args.work.mkdir(parents=True, exist_ok=True)
    checkout = measured_checkout(child_env(args.work))
    print(f"revision {_revision(checkout)} ({checkout}); {os.cpu_count()} cores; load {os.getloadavg()[0]:.2f}")
    rounds_per_size = args.rounds * len(args.sizes) if len(args.rounds) == 1 else args.rounds
    rows = []
    try:
        for size, rounds in zip(args.sizes, rounds_per_size, strict=True):
            ours, theirs = alternate(size, rounds, args.work, hugo)
            rows.append((size, ours, theirs))
    finally:
        _empty_trash(args.work)
    print("\narticles | rounds | cold (median) | Hugo (median) | cold/Hugo | PSS (max) | Hugo PSS (max) | PSS/Hugo")
    for size, ours, theirs in rows:
        cold, built = statistics.median(r.seconds for r in ours), statistics.median(r.seconds for r in theirs)
        pss, hugo_pss = max(r.pss_tree for r in ours), max(r.pss_tree for r in theirs)
        print(
            f"{size:>8,} | {len(ours):>6} | {cold:11.2f} s | {built:11.2f} s | {cold / built:8.2f}× | "
            f"{pss:5.0f} MiB | {hugo_pss:10.0f} MiB | {pss / hugo_pss:7.2f}×"
        )
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
