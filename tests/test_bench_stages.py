"""bench/bench_stages.py still runs: on a tiny corpus, its three modes print tables of numbers.

A smoke test that keeps the script from rotting as the stage functions it wraps are renamed or moved;
nothing here is held to a time (a stage of a tiny export may well take 0.00 s). Each mode runs as a
user would run it (a subprocess, this tree's feeds/ by PYTHONPATH), ~2 s each.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from feeds.read.parsecache import RACY_SECONDS

from .conftest import PROJECT, SHARED, require_shared

# enough articles for 200 documents and more: the item pass and the pools run (feeds/folder/bulk.PARALLEL_THRESHOLD)
SIZE = 150
NUMBER = r"([0-9]+\.[0-9]+)"
ROW = rf"^(.{{38}}) +{NUMBER} +{NUMBER} +{NUMBER} +([0-9.]+)% +{NUMBER} +([0-9]+)$"


def run_stages(work: Path, *args: str) -> str:
    require_shared(SHARED / "tools" / "gen_corpus.py")
    command = [sys.executable, str(PROJECT / "bench" / "bench_stages.py"), "--size", str(SIZE), "--work", str(work)]
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    done = subprocess.run([*command, *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def stage_rows(out: str) -> dict[str, tuple[float, ...]]:
    """Stage name → (user, sys, CPU, share %, wall, calls), every row of the table."""
    return {match[1].strip(): tuple(map(float, match.groups()[1:])) for match in re.finditer(ROW, out, re.M)}


def test_one_process_table_names_each_stage_and_the_stages_add_up(tmp_path: Path) -> None:
    out = run_stages(tmp_path)
    assert f"imports {PROJECT / 'feeds' / '__init__.py'}" in out
    rows = stage_rows(out)
    for stage in ("reading: front matter (YAML)", "reading: field rules", "catalog", "item pass (feedgen)", "gzip"):
        assert stage in rows, out
    assert rows["reading: front matter (YAML)"][5] == SIZE  # one call a file
    assert any(name.startswith("render: feeds .") for name in rows), out
    total = re.search(rf"^total +{NUMBER} +{NUMBER} +{NUMBER} +{NUMBER}$", out, re.M)
    assert total is not None, out
    cpu = float(total[3])
    assert cpu > 0 and float(total[4]) > 0
    assert sum(row[2] for row in rows.values()) == pytest.approx(cpu, abs=0.01 * len(rows))
    documents = re.search(r"^documents placed ([0-9]+), their files ([0-9]+)$", out, re.M)
    assert documents is not None and int(documents[1]) >= 200 and int(documents[2]) == 2 * int(documents[1]), out
    assert re.search(
        rf"^CPU of the export \(this process\): user {NUMBER} s, sys {NUMBER} s, total {NUMBER} s", out, re.M
    )


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_every_stage_is_timed_and_the_export_is_the_command_lines_byte_for_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrapped function its caller no longer looks up by module attribute would drop out of the table
    silently (its time moved to the stage around it); and the timers must not change what is exported."""
    monkeypatch.syspath_prepend(str(PROJECT / "bench"))
    from bench_stages import ORDER
    from corpus_changes import ensure_corpus

    require_shared(SHARED / "tools" / "gen_corpus.py")
    ensure_corpus(tmp_path, SIZE)  # the one bench_stages reads, old enough for the parse cache to store it:
    time.sleep(RACY_SECONDS)  # a file changed within RACY_SECONDS of a load is read but not stored
    out = run_stages(tmp_path)
    rows = stage_rows(out)
    # every stage but the two never entered by a call ("imports" runs first, "the rest" between calls), the
    # body's text (the generated corpus has no bodies) and the per-kind render rows' prefix
    for stage in ORDER:
        if stage not in ("imports", "the rest", "reading: body text", "render:"):
            assert stage in rows and rows[stage][5] > 0, (stage, out)
    for kind in ("feeds .rss", "feeds .atom", "feeds .json", "feed pages (HTML)", "archive pages .rss", "index, OPML"):
        assert rows.get(f"render: {kind}", (0,) * 6)[5] > 0, (kind, out)
    setup = re.search(r"^config (\S+), corpus (\S+), output (\S+)$", out, re.M)
    assert setup is not None, out
    reference = tmp_path / "reference"
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "XDG_CACHE_HOME": str(tmp_path / "reference-cache")}
    command = [sys.executable, "-m", "feeds.cli", "export", "--config", setup[1], "--articles", setup[2]]
    done = subprocess.run([*command, str(reference)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _digests(Path(setup[3])) == _digests(reference)


def test_pooled_run_prints_a_timeline_and_the_trees_cpu(tmp_path: Path) -> None:
    out = run_stages(tmp_path, "--scratch", str(tmp_path / "scratch"), "--pooled")
    assert re.search(r"^ +[0-9.]+ – +[0-9.]+ +[0-9.]+ s  documents \(pool\)$", out, re.M), out
    spans = re.search(rf"^  on every core {NUMBER} s, on one core {NUMBER} s$", out, re.M)
    assert spans is not None and float(spans[1]) > 0 and float(spans[2]) > 0, out
    tree_line = rf"^CPU of the export \(this process and its workers\): user {NUMBER} s, sys {NUMBER} s"
    tree = re.search(tree_line, out, re.M)
    alone = re.search(rf"^this process alone: {NUMBER} CPU-s$", out, re.M)
    assert tree is not None and alone is not None, out
    # the workers did some of it (on a one-core machine there would be no pool to measure)
    assert float(tree[1]) + float(tree[2]) > float(alone[1]) > 0, out


def test_profile_lists_functions_of_the_three_biggest_stages(tmp_path: Path) -> None:
    out = run_stages(tmp_path, "--profile", "5")
    for stage in ("reading", "item pass", "documents"):
        section = re.search(
            rf"^{stage}: {NUMBER} s under cProfile; the 5 functions with most own time\n((?:.+\n){{5}})", out, re.M
        )
        assert section is not None and float(section[1]) > 0, out
