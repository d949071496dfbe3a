"""The A/B benchmark scripts still run: tiny corpora, one round, figures of the printed shape.

Nothing here times anything or compares figures (bench/ is for that): each script runs this
checkout against a copy of its ``feeds/`` in another folder, as the other checkout, and must say that
the other side imports the copy and print a table whose figures are numbers > 0.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import PROJECT, SAMPLES, SHARED, require_shared

BENCH = PROJECT / "bench"
NUMBER = r"([0-9][0-9,]*(?:\.[0-9]+)?)"


def _launch(script: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}  # the measured checkout: this one, whatever the venv installs
    command = [sys.executable, str(BENCH / script), *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)


def _run(script: str, *args: str, cwd: Path) -> str:
    done = _launch(script, *args, cwd=cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def other_checkout(tmp_path: Path) -> Path:
    """A checkout that is not this one: a copy of feeds/ (all it needs to import) in TMP/other."""
    other = tmp_path / "other"
    shutil.copytree(PROJECT / "feeds", other / "feeds", ignore=shutil.ignore_patterns("__pycache__"))
    return other


def assert_both_sides_import_their_own_feeds(out: str, other: Path) -> None:
    """The printed import lines: this side imports this tree's feeds/, the other side the copy (not this tree)."""
    imports = re.findall(r"^revision .* imports (.+)$", out, re.M)
    assert imports == [str(PROJECT / "feeds" / "__init__.py"), str(other / "feeds" / "__init__.py")], out


def test_bench_read_prints_cpu_per_file_of_both_checkouts(tmp_path: Path) -> None:
    other = other_checkout(tmp_path)
    out = _run(
        "bench_read.py", str(SAMPLES), "--base", str(other), "--rounds", "1", "--work", str(tmp_path / "work"),
        cwd=tmp_path,
    )  # fmt: skip
    assert_both_sides_import_their_own_feeds(out, other)
    files = len([path for path in SAMPLES.iterdir() if not path.name.startswith(".")])
    row = re.search(rf"^articles \| {files} \| {NUMBER} \| {NUMBER} \| {NUMBER}×", out, re.M)
    assert row is not None, out
    assert all(float(figure) > 0 for figure in row.groups())
    assert "records differ" not in out


@pytest.mark.parametrize("mode", [(), ("--check",)])
def test_bench_alternate_against_a_checkout_prints_medians_of_both(tmp_path: Path, mode: tuple[str, ...]) -> None:
    require_shared(SHARED / "tools" / "gen_corpus.py")
    other = other_checkout(tmp_path)
    out = _run(
        "bench_alternate.py", "--against", str(other), *mode, "--sizes", "20", "--rounds", "1", "--work",
        str(tmp_path / "work"), cwd=tmp_path,
    )  # fmt: skip
    assert ("alternate-export-20" in str(list((tmp_path / "work").iterdir()))) is not bool(mode)
    assert_both_sides_import_their_own_feeds(out, other)
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


def test_bench_alternate_like_hugo_prints_both_of_ours_against_hugos_build(tmp_path: Path) -> None:
    require_shared(SHARED / "tools" / "gen_corpus.py")
    if shutil.which("hugo") is None:
        pytest.skip("needs hugo (the Debian package): the build --like-hugo compares with")
    out = _run(
        "bench_alternate.py", "--like-hugo", "--sizes", "20", "--rounds", "1", "--work", str(tmp_path / "work"),
        cwd=tmp_path,
    )  # fmt: skip
    work = tmp_path / "work"
    like = (work / "bench-20-like-hugo.yaml").read_text(encoding="utf-8")
    assert "formats: [rss]" in like and "archive_page_size: 0" in like
    headers = re.findall(r"^articles \| rounds \| wall (.+?) \| wall Hugo \| ratio", out, re.M)
    assert headers == ["ours", "ours, RSS only"], out
    rows = re.findall(rf"^ +20 \| +1 \| {NUMBER} s \| {NUMBER} s \| {NUMBER}× ", out, re.M)
    assert len(rows) == 2 and all(float(figure) > 0 for row in rows for figure in row), out
    # each round ran all three, and the RSS-only export wrote no Atom or JSON feed and no archive page
    three = r"round 1: ours .+; ours, RSS only .+; Hugo .+; ratio ours / Hugo .+ CPU; ours, RSS only / Hugo"
    assert re.search(three, out), out
    exported = work / "alternate-export-20-like-hugo"
    assert list(exported.glob("*.rss")) and not list(exported.glob("*.atom")) and not (exported / "archive").exists()


def test_bench_read_refuses_a_base_that_imports_this_checkouts_feeds(tmp_path: Path) -> None:
    done = _launch("bench_read.py", str(SAMPLES), "--base", str(PROJECT), "--work", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "--allow-same" in done.stderr
