"""A generation being filled: keeping documents in bulk does exactly what keeping them one by one does."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.folder import generation as generation_module
from feeds.folder.cdn import FileInfo
from feeds.folder.generation import Generation
from feeds.folder.listing import stat_of, walk

DOCUMENTS = ["all.rss", "topics/ai.atom", "topics/ai.html", "archive/all/1.json"]
NAMES = [name for document in DOCUMENTS for name in (document, document + ".gz")]
MOSTLY = st.sampled_from([True, True, True, False])  # mostly: whole documents fit to be kept in bulk
# what the live generation's record says of a name: its [size, mtime_ns], null (a stat that failed), nothing
RECORDED = st.sampled_from(["stat", "stat", "stat", "null", "none"])
# what the standby holds under a name: the live file itself (a link), another file, nothing
STANDBY = st.sampled_from(["live", "other", "none"])
CASE = st.fixed_dictionaries(
    {
        "trusted": MOSTLY,  # in ``known`` (with the live file's inode, or a stale one when the file is gone)
        "old_file": MOSTLY,  # in the live generation's list of files (``old_files``)
        "in_live": MOSTLY,  # the live generation's folder holds it
        "recorded": RECORDED,
        "listed": MOSTLY,  # in the live manifest (``old_infos``)
        "standby": STANDBY,
    }
)
CASES = st.fixed_dictionaries({name: CASE for name in NAMES})
# the file-system calls a generation makes when it keeps files: each is recorded with the paths it was given
RECORDED_CALLS = [(os, "link"), (os, "unlink"), (os, "stat"), (os, "makedirs"), (shutil, "copy2")]


@contextmanager
def recording(roots: dict[str, str], links_work: bool) -> Iterator[dict[str, list[str]]]:
    """Each path under ``roots`` (shown by their labels) → the file-system calls made on it, in order.

    Hashing a file again (``read_bytes``) is recorded too; ``links_work=False``: ``os.link`` fails as
    across file systems, so what the generation does instead (a copy) is recorded as well. Only the
    generation's own calls: the stats ``os.makedirs`` makes of a folder's parents depend on which
    document's folder is made first, an order :meth:`Generation.reuse_all` does not keep."""
    calls: dict[str, list[str]] = defaultdict(list)
    inside: list[str] = []  # the recorded call under way: what it calls itself (makedirs its stats) is its own

    def shown(path: object) -> str:
        text = os.fspath(path) if isinstance(path, (str, os.PathLike)) else repr(path)
        for root, label in roots.items():
            if text == root or text.startswith(root + "/"):
                return label + text[len(root) :]
        return text

    def recorded(name: str, real: Callable) -> Callable:
        def call(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            if inside:
                return real(*args, **kwargs)
            for path in args[:2] if name in ("link", "copy2") else args[:1]:
                calls[shown(path)].append(name)
            if name == "link" and not links_work:
                raise OSError(errno.EXDEV, "no hard links here")
            inside.append(name)
            try:
                return real(*args, **kwargs)
            finally:
                inside.pop()

        return call

    patched = [*RECORDED_CALLS, (generation_module, "read_bytes")]
    originals = [(owner, name, getattr(owner, name)) for owner, name in patched]
    try:
        for owner, name, real in originals:
            setattr(owner, name, recorded(name, real))
        yield calls
    finally:
        for owner, name, real in originals:
            setattr(owner, name, real)


def _filled(root: Path, cases: dict, live: Path, live_exists: bool) -> Generation:
    """A standby at ``root`` as ``cases`` say, recycled over the live generation ``live`` (or none at all)."""
    for name, case in cases.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if case["standby"] == "live" and (live / name).exists():
            os.link(live / name, target)
        elif case["standby"] != "none":
            target.write_bytes(b"another file")
    old_files = {name for name, case in cases.items() if case["old_file"]}
    return Generation(root, live if live_exists else None, old_files, walk(str(root)))


def _state(generation: Generation, live: Path) -> tuple:
    """Everything a Generation records, and what its folder holds, with inodes shown as "live" (the live
    file's), "own" (the file now under that name in the generation) or "other"."""
    live_inodes = {name: os.stat(live / name).st_ino for name in NAMES if (live / name).exists()}
    files, _ = walk(generation.root)

    def shown(name: str, inode: int) -> str:
        if inode == live_inodes.get(name):
            return "live"
        return "own" if inode == files.get(name) else "other"

    held = {name: (shown(name, inode), Path(generation.root, name).read_bytes()) for name, inode in files.items()}
    # the records compared as dicts: reuse_all fills them in another key order, which nothing reads (its docstring)
    return (generation.infos, generation.stats, generation.live_stats,
            {name: shown(name, inode) for name, inode in generation.inodes.items()},
            {name: shown(name, inode) for name, inode in generation.present.items()},
            generation.unchanged, generation.written, held)  # fmt: skip


def _outcome(keep: Callable[[], set[str]]) -> tuple:
    """What ``keep`` returned, or the error it raised (a trusted file gone from the live generation)."""
    try:
        return ("kept", keep())
    except OSError as error:
        return ("raised", type(error).__name__)


@settings(max_examples=300)
@given(CASES, MOSTLY, st.booleans())
def test_reuse_all_does_what_reuse_does_for_each_document(cases: dict, live_exists: bool, links_work: bool) -> None:
    """Whatever each file's case, each drawn on its own (trusted or to be stat'ed, in the live generation's
    list or not, still in its folder or gone, recorded or null, listed in the live manifest or not, in the
    standby as the live file, as another file or not at all), with or without a live generation and with
    or without hard links: :meth:`Generation.reuse_all` keeps the documents :meth:`Generation.reuse` keeps,
    makes the same file-system calls on each path, and leaves the same records, counts and files behind."""
    with tempfile.TemporaryDirectory() as scratch:
        live = Path(scratch) / "live"
        for name, case in cases.items():
            if case["in_live"]:
                (live / name).parent.mkdir(parents=True, exist_ok=True)
                (live / name).write_bytes(f"bytes of {name}".encode())
        stale = iter(range(10**12, 10**12 + len(NAMES)))  # the inode a trusted file had before it went
        known = {name: os.stat(live / name).st_ino if case["in_live"] else next(stale)
                 for name, case in cases.items() if case["trusted"]}  # fmt: skip
        # a file gone since it was recorded keeps its record: [13, 0]
        recorded = {name: stat_of(live / name) if case["in_live"] else [13, 0] for name, case in cases.items()}
        old_stats = {name: recorded[name] if case["recorded"] == "stat" else None
                     for name, case in cases.items() if case["recorded"] != "none"}  # fmt: skip
        old_infos = {name: FileInfo.of((live / name).read_bytes() if case["in_live"] else b"gone")
                     for name, case in cases.items() if case["listed"]}  # fmt: skip
        one_by_one = _filled(Path(scratch) / "a", cases, live, live_exists)
        together = _filled(Path(scratch) / "b", cases, live, live_exists)
        roots = {str(live): "<live>", one_by_one.root: "<standby>", together.root: "<standby>"}
        with recording(roots, links_work) as calls_one_by_one:
            expected = _outcome(
                lambda: {doc for doc in DOCUMENTS if one_by_one.reuse(doc, old_infos, old_stats, known)}
            )
        with recording(roots, links_work) as calls_together:
            outcome = _outcome(lambda: together.reuse_all(DOCUMENTS, old_infos, old_stats, known))
        assert outcome == expected
        if expected[0] == "kept":  # after an error, each stopped at another document
            assert calls_together == calls_one_by_one
            assert _state(together, live) == _state(one_by_one, live)


def test_reuse_all_refuses_a_path_given_twice(tmp_path: Path) -> None:
    """A document listed twice would be linked twice (its files no longer the standby's): refused."""
    (tmp_path / "live").mkdir()
    generation = Generation(tmp_path / "new", tmp_path / "live", set())
    with pytest.raises(AssertionError, match="given twice"):
        generation.reuse_all(["all.rss", "all.rss"], {}, {}, {})
