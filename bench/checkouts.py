"""Two checkouts measured side by side: which interpreter runs each, which feeds/ it imports, its bytecode.

Shared by ``bench_alternate.py --against``, ``bench_read.py --base`` and ``bench_watch.py --base``.
The measured checkout is the one this interpreter imports (:func:`measure.measured_checkout`:
its installed ``feeds``, or the one ``PYTHONPATH`` names). Another checkout runs under its own
``.venv/bin/python`` when it has one, else under this interpreter, with ``PYTHONPATH`` set to its
folder either way: a worktree's venv is often a symlink to another tree's, whose editable install
would import that tree's ``feeds/``. :func:`compile_and_check` compiles each one's bytecode and
checks which ``feeds/`` it really imports; :func:`refuse_same_code` refuses two sides that import the
same one (an A/A run, which tests make on purpose with ``--allow-same``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from measure import child_env, feeds_command, measured_checkout, revision

_PROBE = "import sys, feeds; print(feeds.__file__); print(sys.version.split()[0])"


@dataclass(frozen=True)
class Checkout:
    """A folder holding ``feeds/``, the interpreter that runs it, and the ``PYTHONPATH`` that makes it import it."""

    folder: Path
    python: str
    pythonpath: str | None  # None: the environment's own (the measured checkout)

    def environment(self, cache_home: Path) -> dict[str, str]:
        """:func:`measure.child_env` (bytecode written, no current folder on the path), this checkout's path."""
        env = child_env(cache_home)
        if self.pythonpath is not None:
            env["PYTHONPATH"] = self.pythonpath
        return env

    def feeds_command(self, *args: str) -> list[str]:
        return feeds_command(*args, python=self.python)

    @property
    def revision(self) -> str:
        return revision(self.folder)


def this_checkout(work: Path) -> Checkout:
    """The checkout this interpreter imports, as ``bench_scale.py`` measures it."""
    return Checkout(measured_checkout(child_env(work)), sys.executable, None)


def other_checkout(folder: Path) -> Checkout:
    """``folder`` run by its own ``.venv/bin/python`` if it has one, else by this interpreter; PYTHONPATH=folder."""
    folder = folder.resolve()
    own = folder / ".venv" / "bin" / "python"
    return Checkout(folder, str(own) if own.exists() else sys.executable, str(folder))


def compile_and_check(checkout: Checkout, work: Path) -> str:
    """Compile the checkout's bytecode, check that it imports its own ``feeds/``; a line naming what runs.

    Compiled first (``python -m compileall -q feeds`` in its folder, PYTHONDONTWRITEBYTECODE unset, by
    the interpreter that runs it, whose version tags the files): a tree without bytecode compiles
    ``feeds/`` in every measured process, +3.4% instructions of a cold 1k export, as much as the
    cuts these comparisons are made to see. Exits when the checkout imports another ``feeds/``.
    """
    env = checkout.environment(work)
    subprocess.run([checkout.python, "-m", "compileall", "-q", "feeds"], cwd=checkout.folder, env=env, check=True)
    probe = subprocess.run([checkout.python, "-c", _PROBE], env=env, capture_output=True, text=True, check=True)
    where, version = probe.stdout.split()
    if not Path(where).resolve().is_relative_to(checkout.folder.resolve()):
        raise SystemExit(f"{checkout.folder}: {checkout.python} imports feeds from {where}, not from this checkout")
    return f"revision {checkout.revision} ({checkout.folder}): Python {version} {checkout.python} imports {where}"


def add_allow_same(parser: argparse.ArgumentParser, option: str) -> None:
    parser.add_argument(
        "--allow-same",
        action="store_true",
        help=f"run even when {option} imports the same feeds/ as this checkout (an A/A run: the scripts' tests)",
    )


def refuse_same_code(this: Path, other: Path, option: str, allowed: bool) -> None:
    """Exit with status 2 when both checkouts (as :func:`compile_and_check` found them) import one ``feeds/``,
    unless ``allowed``: an A/B whose sides run the same code measures noise, and says so nowhere."""
    if this.resolve() == other.resolve() and not allowed:
        print(
            f"error: this checkout and {option} both import {this / 'feeds'} "
            "(--allow-same to measure it against itself)",
            file=sys.stderr,
        )
        raise SystemExit(2)


def measured_checkouts(work: Path, other: Path | None, option: str, allow_same: bool) -> list[Checkout]:
    """This checkout, then ``other``'s when given: each compiled and its import checked (what was found
    printed), and two sides importing one ``feeds/`` refused unless ``allow_same`` (see :func:`refuse_same_code`)."""
    checkouts = [this_checkout(work)] + ([other_checkout(other)] if other is not None else [])
    for checkout in checkouts:
        print(compile_and_check(checkout, work))
    if other is not None:
        refuse_same_code(checkouts[0].folder, checkouts[1].folder, option, allow_same)
    return checkouts
