"""A generation being filled: keeping documents in bulk does exactly what keeping them one by one does."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.folder.cdn import FileInfo
from feeds.folder.generation import Generation, stat_of, walk

DOCUMENTS = ["all.rss", "topics/ai.atom", "topics/ai.html", "archive/all/1.json"]
NAMES = [name for document in DOCUMENTS for name in (document, document + ".gz")]
# what the standby holds under a name: the live file itself (a link), another file, nothing
STANDBY = st.sampled_from(["live", "other", "none"])
# what the live generation's record says of a name: its real [size, mtime_ns], null (a stat that failed), nothing
RECORDED = st.sampled_from(["stat", "stat", "stat", "null", "none"])
MOSTLY = st.sampled_from([True, True, True, False])  # mostly: whole documents fit to be kept in bulk
CASES = st.fixed_dictionaries(
    {
        name: st.tuples(MOSTLY, RECORDED, MOSTLY, STANDBY, MOSTLY)
        for name in NAMES  # (trusted, recorded, in the manifest, in the standby, in the live generation)
    }
)


def _filled(root: Path, cases: dict, live: Path) -> Generation:
    """A standby at ``root`` as ``cases`` say, recycled over the live generation ``live``."""
    for name, (_, _, _, standby, _) in cases.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if standby == "live" and (live / name).exists():
            os.link(live / name, target)
        elif standby != "none":
            target.write_bytes(b"another file")
    old_files = {name for name, case in cases.items() if case[4]}
    return Generation(root, live, old_files, walk(str(root)))


def _state(generation: Generation, live: Path) -> tuple:
    """Everything a Generation records, and what its folder holds (each file: the live one's or another)."""
    files, _ = walk(generation.root)
    inodes = {name: os.stat(live / name).st_ino for name in NAMES if (live / name).exists()}
    held = {name: inode == inodes.get(name) for name, inode in files.items()}
    return (generation.infos, generation.stats, generation.live_stats, generation.inodes, set(generation.present),
            generation.unchanged, held)  # fmt: skip


@settings(max_examples=100, deadline=None)
@given(CASES)
def test_reuse_all_does_what_reuse_does_for_each_document(cases: dict) -> None:
    """Whatever each file's case (trusted or to be stat'ed, recorded or null, listed in the live manifest or
    not, in the standby as the live file, as another file or not at all, gone from the live generation),
    :meth:`Generation.reuse_all` keeps the documents :meth:`Generation.reuse` keeps, and leaves the same
    records and the same files behind."""
    with tempfile.TemporaryDirectory() as scratch:
        live = Path(scratch) / "live"
        for name, (*_, present) in cases.items():
            if present:
                (live / name).parent.mkdir(parents=True, exist_ok=True)
                (live / name).write_bytes(f"bytes of {name}".encode())
        known = {name: os.stat(live / name).st_ino for name, case in cases.items() if case[0] and case[4]}
        old_stats = {name: stat_of(live / name) if case[1] == "stat" else None
                     for name, case in cases.items() if case[1] != "none"}  # fmt: skip
        listed = [name for name, case in cases.items() if case[2] and case[4]]  # in the live manifest
        old_infos = {name: FileInfo.of((live / name).read_bytes()) for name in listed}
        one_by_one = _filled(Path(scratch) / "a", cases, live)
        together = _filled(Path(scratch) / "b", cases, live)
        kept = {document for document in DOCUMENTS if one_by_one.reuse(document, old_infos, old_stats, known)}
        assert together.reuse_all(DOCUMENTS, old_infos, old_stats, known) == kept
        assert _state(together, live) == _state(one_by_one, live)


def test_write_new_makes_what_open_xb_makes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The descriptor path of a new file (a cold export creates every file with it) is ``open(path, "xb")``'s:
    the same mode under the process's umask, never into an existing file, every byte through short writes,
    a stat equal to one by path, and no descriptor left open when a write fails."""
    from feeds.folder import generation

    data = bytes(range(256)) * 40
    old_umask = os.umask(0o027)
    try:
        with open(tmp_path / "reference", "xb") as handle:
            handle.write(data)
        found = generation.write_new(str(tmp_path / "new"), data)
    finally:
        os.umask(old_umask)
    assert (tmp_path / "new").read_bytes() == data
    assert os.stat(tmp_path / "new").st_mode == os.stat(tmp_path / "reference").st_mode
    after = os.stat(tmp_path / "new")
    assert (found.st_ino, found.st_size, found.st_mtime_ns) == (after.st_ino, after.st_size, after.st_mtime_ns)

    (tmp_path / "existing").write_bytes(b"kept")
    with pytest.raises(FileExistsError):
        generation.write_new(str(tmp_path / "existing"), data)
    assert (tmp_path / "existing").read_bytes() == b"kept"

    real_write = os.write
    monkeypatch.setattr(generation.os, "write", lambda fd, view: real_write(fd, view[:7]))  # short writes
    generation.write_new(str(tmp_path / "short"), data)
    assert (tmp_path / "short").read_bytes() == data

    def full_disk(fd: int, view) -> int:
        if os.fstat(fd).st_size >= 100:
            raise OSError(28, "No space left on device")
        return real_write(fd, view[:50])

    monkeypatch.setattr(generation.os, "write", full_disk)
    descriptors = len(os.listdir("/proc/self/fd"))
    with pytest.raises(OSError) as raised:
        generation.write_new(str(tmp_path / "full"), data)
    assert raised.value.errno == 28
    assert len(os.listdir("/proc/self/fd")) == descriptors
