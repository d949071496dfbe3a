"""The A/B benchmark scripts still run: tiny corpora, one round, figures of the printed shape.

Nothing here times anything or compares figures (bench/ is for that): each script runs this
checkout against itself as the other checkout and must print a table whose figures are numbers > 0.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from .conftest import PROJECT, SAMPLES, SHARED, require_shared

BENCH = PROJECT / "bench"
NUMBER = r"([0-9][0-9,]*(?:\.[0-9]+)?)"


def _run(script: str, *args: str, cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}  # the measured checkout: this one, whatever the venv installs
    command = [sys.executable, str(BENCH / script), *args]
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_bench_read_prints_cpu_per_file_of_both_checkouts(tmp_path: Path) -> None:
    out = _run(
        "bench_read.py", str(SAMPLES), "--base", str(PROJECT), "--rounds", "1", "--work", str(tmp_path), cwd=tmp_path
    )
    assert f"imports {PROJECT / 'feeds' / '__init__.py'}" in out
    files = len([path for path in SAMPLES.iterdir() if not path.name.startswith(".")])
    row = re.search(rf"^articles \| {files} \| {NUMBER} \| {NUMBER} \| {NUMBER}×", out, re.M)
    assert row is not None, out
    assert all(float(figure) > 0 for figure in row.groups())
    assert "records differ" not in out


def test_bench_alternate_against_a_checkout_prints_medians_of_both(tmp_path: Path) -> None:
    require_shared(SHARED / "tools" / "gen_corpus.py")
    out = _run(
        "bench_alternate.py", "--against", str(PROJECT), "--sizes", "20", "--rounds", "1", "--work", str(tmp_path),
        cwd=tmp_path,
    )  # fmt: skip
    assert out.count(f"imports {PROJECT / 'feeds' / '__init__.py'}") == 2
    cells = rf"{NUMBER} \({NUMBER}\) MiB"
    row = re.search(
        rf"^ +20 \| +1 \| {NUMBER} s \| {NUMBER} s \| {NUMBER}× \| {NUMBER} CPU-s \| {NUMBER} CPU-s \| {NUMBER}× "
        rf"\| {NUMBER} s \| {NUMBER} s \| {NUMBER}× "
        rf"\| {cells} \| {cells} \| {NUMBER}×$",
        out,
        re.M,
    )
    assert row is not None, out
    assert all(float(figure.replace(",", "")) > 0 for figure in row.groups())
