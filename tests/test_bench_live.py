"""bench/bench_watch.py and bench/bench_serve.py still run: on a tiny corpus, every figure they print is a number > 0.

A smoke test that keeps the scripts from rotting as the code under them changes; nothing here is held to a
time. Each runs the script as a user would (a subprocess, this tree's feeds/ by PYTHONPATH), ~5 s.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import PROJECT, SHARED, require_shared

SIZE = 40
NUMBER = r"([0-9]+(?:\.[0-9]+)?)"


def run_bench(script: str, work: Path, *args: str) -> str:
    """The script's standard output; it must exit 0."""
    require_shared(SHARED / "tools" / "gen_corpus.py")
    command = [sys.executable, str(PROJECT / "bench" / script), "--size", str(SIZE), "--work", str(work), *args]
    done = subprocess.run(
        command, env={**os.environ, "PYTHONPATH": str(PROJECT)}, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def numbers(pattern: str, text: str) -> list[float]:
    """Every number ``pattern`` captures in ``text`` (one line at a time), each checked > 0."""
    found = [float(value) for match in re.finditer(pattern, text, re.M) for value in match.groups()]
    assert all(value > 0 for value in found), (pattern, found)
    return found


def test_bench_watch_prints_each_change_the_medians_and_the_cpu_and_puts_the_corpus_back(tmp_path: Path) -> None:
    out = run_bench("bench_watch.py", tmp_path, "--edits", "2", "--new", "1", "--gap", "0.2")
    assert len(numbers(rf"^  edit \d: {NUMBER} s", out)) == 2
    assert len(numbers(rf"^  new file \d: {NUMBER} s", out)) == 1
    assert len(numbers(rf"^  watcher's CPU: {NUMBER} s over the 3 changes$", out)) == 1
    run = rf"^run 1, this \(\w+.*\): export before the watch {NUMBER} s; watching after {NUMBER} s"
    assert len(numbers(run, out)) == 2
    cells = r" s \| +".join([NUMBER] * 5)  # the table: first edit, later edits, new files, CPU per change, slowest
    assert len(numbers(rf"^ *this \(.+\) \| +1 \| +{cells} s$", out)) == 5
    assert re.search(r"^this: revision \w+", out, re.M) and "load average" in out
    corpus = tmp_path / f"corpus-{SIZE}"
    assert not list(corpus.glob("zzzz-bench-added-*"))
    assert not any("Benchmark change" in path.read_text(encoding="utf-8") for path in corpus.glob("*.txt"))


def test_bench_serve_prints_when_it_answered_its_memory_and_a_new_file_served(tmp_path: Path) -> None:
    out = run_bench("bench_serve.py", tmp_path, "--workers", "1")
    assert len(numbers(rf"^/healthz 200 after {NUMBER} s, /all.rss 200 after {NUMBER} s", out)) == 2
    memory = rf"processes when /all.rss first answered: {NUMBER} MiB; peak while starting {NUMBER} MiB"
    assert len(numbers(memory, out)) == 2
    served = (
        r"^a new article file, written [0-9.]+ s after /all.rss first answered, "
        rf"in /all.rss after {NUMBER} s; .*: generation {NUMBER}, files {NUMBER}, watching"
    )
    assert numbers(served, out)[2] == SIZE + 1
    assert not list((tmp_path / f"corpus-{SIZE}").glob("zzzz-bench-added-*"))
    port = re.search(r"^server: .* --port (\d+) ", out, re.M)
    assert port is not None, out
    with pytest.raises(ConnectionRefusedError):  # the server and its workers ended with the script
        socket.create_connection(("127.0.0.1", int(port.group(1))), timeout=5).close()
