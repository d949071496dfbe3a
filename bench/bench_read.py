"""What reading one article file costs: CPU µs or million instructions per file, beside another checkout.

Not a test. The pass measured is the reader's own (``read_pass.py``: ``read_article`` then
``result_record`` for every file of a folder, in one process, as ``feeds.read.load`` parses the
files a load has to read), not a whole export: imports, rendering and writing would bury a few
per cent of reading. Each measurement is a fresh process of the checkout measured.

- By default: CPU seconds of the pass (``time.process_time``) per file, in µs; each corpus
  ``--rounds`` times per checkout, alternating with ``--base`` (who goes first swaps every
  round), the best of each kept (the least disturbed by other load) and every round printed.
  The records' digests are compared: a cut that changes what is read shows here.
- ``--instructions``: the same pass under ``valgrind --tool=callgrind`` (total Ir, one run each),
  once with the files and once with none (``--no-files``: the start-up, walk and imports
  included), the difference per file in millions. Steady from run to run however busy the
  machine is, where CPU time moves by 5-10%: the figure to compare small cuts by.
  ``PYTHONHASHSEED=0`` in these runs, so that string hashing draws the same each time.
  The pass imports ftfy at the first non-ASCII text, as a load in one process does, and the
  README's figures count that (0.233 G instructions, once); a third run without files but with
  ftfy imported (``--import-ftfy``) gives it, and the figure without it is printed beside.
  ``--import-ftfy`` moves it out of the timed pass the same way.

    git worktree add /tmp/old REV
    python bench/bench_read.py /tmp/feeds-bench/corpus-10000 ../shared/corpus/real --base /tmp/old --rounds 3
    python bench/bench_read.py /tmp/feeds-bench/corpus-1000 ../shared/corpus/real --base /tmp/old --instructions

It measures the ``feeds/`` its interpreter imports, ``--base`` as :mod:`checkouts` says (its own
``.venv/bin/python`` or this interpreter, ``PYTHONPATH`` set to it); both trees' bytecode is
compiled first. The reader's settings are the defaults unless ``--config`` names a file.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from checkouts import Checkout, add_allow_same, measured_checkouts
from corpus_changes import read_through

READ_PASS = Path(__file__).resolve().parent / "read_pass.py"


def read_pass(checkout: Checkout, corpus: Path, work: Path, *options: str, valgrind: Path | None = None) -> dict:
    """One fresh process of ``read_pass.py`` run by ``checkout``; its figures (under callgrind: into ``valgrind``)."""
    env = checkout.environment(work)
    command = [checkout.python, str(READ_PASS), str(corpus), *options]
    if valgrind is not None:
        command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={valgrind}", *command]
        env["PYTHONHASHSEED"] = "0"
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"failed ({done.returncode}): {shlex.join(command)}\n{done.stderr[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    if "--no-files" not in options and not figures["files"]:
        raise SystemExit(f"{corpus}: no article files in it")
    return figures


def total_instructions(callgrind_out: Path) -> int:
    """The total Ir of a callgrind output file (its ``summary:`` line, ``totals:`` in older versions)."""
    found = re.search(r"^(?:summary|totals): (\d+)", callgrind_out.read_text(), re.M)
    if found is None:
        raise SystemExit(f"no total in {callgrind_out}")
    return int(found.group(1))


def time_per_file(
    checkouts: list[Checkout], names: list[str], corpus: Path, rounds: int, work: Path, options: list[str]
) -> tuple[int, list[list[float]]]:
    """(files, µs of CPU per file of the pass over ``corpus``, ``rounds`` per checkout, alternating); prints each."""
    files = 0
    samples: list[list[float]] = [[] for _ in checkouts]
    digests: list[set[str]] = [set() for _ in checkouts]
    for round_number in range(1, rounds + 1):
        order = range(len(checkouts))
        for side in order if round_number % 2 else reversed(order):
            figures = read_pass(checkouts[side], corpus, work, "--digest", *options)
            files = figures["files"]
            samples[side].append(figures["seconds"] / figures["files"] * 1e6)
            digests[side].add(figures["digest"])
        shown = ", ".join(f"{name} {sample[-1]:.1f} µs" for name, sample in zip(names, samples, strict=True))
        print(f"{corpus.name} round {round_number}: {shown}; load {os.getloadavg()[0]:.2f}", flush=True)
    if any(len(seen) > 1 for seen in digests):
        print(f"warning: {corpus.name}: a checkout read other records from one run to the next", file=sys.stderr)
    if len(checkouts) > 1 and digests[0] != digests[1]:
        print(f"{corpus.name}: the records differ between the checkouts (digests {digests[0]} / {digests[1]})")
    return files, samples


@dataclass(frozen=True)
class Counted:
    """Total instructions (callgrind's Ir) of the pass over one corpus by one checkout."""

    files: int
    with_files: int  # every file read, the start-up included
    start_up: int  # no file read
    ftfy_import: int  # ftfy imported before the pass, where the pass imported it (0 where it did not)

    @property
    def per_file(self) -> float:
        """Millions per file, ftfy's import in them (as the README's figures)."""
        return (self.with_files - self.start_up) / self.files / 1e6

    @property
    def per_file_without_import(self) -> float:
        return (self.with_files - self.start_up - self.ftfy_import) / self.files / 1e6


def count_instructions(checkout: Checkout, corpus: Path, work: Path, options: list[str]) -> Counted:
    """The pass under callgrind with the files, without, and without but with ftfy imported."""
    out = work / "callgrind.out"
    runs = []
    for extra in ([], ["--no-files"], ["--no-files", "--import-ftfy"]):
        figures = read_pass(checkout, corpus, work, *extra, *options, valgrind=out)
        runs.append((figures, total_instructions(out)))
    out.unlink()
    (read, with_files), (_, start_up), (_, with_ftfy) = runs
    return Counted(read["files"], with_files, start_up, with_ftfy - start_up if read["ftfy"] else 0)


def _table(names: list[str], unit: str, rows: list[tuple[str, int, list[float], str]]) -> None:
    """corpus | files | a figure per checkout | ratio (first / second) | a note."""
    ratio = " | ratio" if len(names) > 1 else ""
    print(f"\ncorpus | files | {' | '.join(names)}{ratio}   ({unit})")
    for corpus_name, files, figures, note in rows:
        cells = [f"{figure:.3f}" if figure < 100 else f"{figure:.1f}" for figure in figures]
        if len(figures) > 1:
            cells.append(f"{figures[0] / figures[1]:.3f}×")
        print(" | ".join([corpus_name, f"{files:,}", *cells]) + (f"   {note}" if note else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpora", type=Path, nargs="+", metavar="CORPUS", help="folders of article files")
    parser.add_argument("--base", type=Path, help="another checkout to measure beside this one, alternating")
    add_allow_same(parser, "--base")
    parser.add_argument("--rounds", type=int, default=3, help="CPU time: runs per corpus and checkout, the best kept")
    parser.add_argument("--instructions", action="store_true", help="count instructions under callgrind instead")
    parser.add_argument(
        "--import-ftfy", action="store_true", help="CPU time: import ftfy before the pass (as a pooled load does)"
    )
    parser.add_argument("--config", type=Path, help="the reader's settings from this config file")
    parser.add_argument("--work", type=Path, default=Path("/tmp/feeds-bench-read"), help="scratch (callgrind output)")
    args = parser.parse_args()
    if args.instructions and shutil.which("valgrind") is None:
        print("--instructions needs valgrind (Debian package)", file=sys.stderr)
        return 2
    for corpus in args.corpora:
        if not corpus.is_dir():
            parser.error(f"{corpus}: not a folder")
    args.work = args.work.resolve()
    args.work.mkdir(parents=True, exist_ok=True)
    options = ["--config", str(args.config.resolve())] if args.config is not None else []
    print(f"$ {shlex.join([sys.executable, *sys.argv])}")
    checkouts = measured_checkouts(args.work, args.base, "--base", args.allow_same)
    names = [checkout.revision for checkout in checkouts]
    if len(set(names)) < len(names):
        names = [f"{name} ({role})" for name, role in zip(names, ("this", "base"), strict=False)]
    print(f"{os.cpu_count()} cores; load average (1 min) at the start {os.getloadavg()[0]:.2f}")
    rows, without_import = [], []
    for corpus in args.corpora:
        corpus = corpus.resolve()
        read_through(corpus)
        if args.instructions:
            counts = [count_instructions(checkout, corpus, args.work, options) for checkout in checkouts]
            for name, count in zip(names, counts, strict=True):
                print(
                    f"{corpus.name} {name}: {count.files} files, {count.with_files:,} Ir; start-up {count.start_up:,}; "
                    f"ftfy's import {count.ftfy_import:,}; load {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
            rows.append((corpus.name, counts[0].files, [count.per_file for count in counts], ""))
            without_import.append((corpus.name, counts[0].files, [c.per_file_without_import for c in counts], ""))
        else:
            timed = [*options, "--import-ftfy"] if args.import_ftfy else options
            files, samples = time_per_file(checkouts, names, corpus, args.rounds, args.work, timed)
            spread = " / ".join(f"{min(s):.1f}–{max(s):.1f}" for s in samples)
            rows.append((corpus.name, files, [min(s) for s in samples], f"(all rounds: {spread})"))
    if args.instructions:
        _table(names, "million instructions per file, ftfy's import in them", rows)
        _table(names, "million instructions per file, ftfy imported before the pass", without_import)
    else:
        ftfy = "imported before the pass" if args.import_ftfy else "its import in the pass"
        _table(names, f"µs of CPU per file, best of {args.rounds}; ftfy {ftfy}", rows)
    if len(names) > 1:
        print(f"ratio: {names[0]} / {names[1]}")
    print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
