"""The flip: one exchange (or two renames where the file system refuses it) makes a generation OUT_DIR, never a mix."""

from __future__ import annotations

import errno
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from feeds.folder import flip
from feeds.folder.flip import exchange
from feeds.folder.generation import ExportWriteError

from .test_export import assert_site_is, contents, export, write_article


def test_the_exchange_swaps_two_folders_and_a_folder_with_a_symlink_on_this_file_system(tmp_path: Path) -> None:
    first, second, link = tmp_path / "first", tmp_path / "second", tmp_path / "link"
    first.mkdir()
    second.mkdir()
    link.symlink_to("first")
    inodes = first.stat().st_ino, second.stat().st_ino
    assert exchange(first, second) is True  # the real renameat2 (ext4, tmpfs, btrfs, xfs have it)
    assert (second.stat().st_ino, first.stat().st_ino) == inodes
    assert exchange(second, link) is True
    assert link.stat().st_ino == inodes[0] and not link.is_symlink() and os.readlink(second) == "first"
    with pytest.raises(FileNotFoundError):
        exchange(first, tmp_path / "missing")


def test_without_the_exchange_two_renames_flip_and_the_standby_is_still_recycled(
    articles: Path, tmp_path: Path, monkeypatch
) -> None:
    """A file system that refuses RENAME_EXCHANGE (EINVAL): OUT_DIR aside into the store, the generation in."""
    refused = []
    monkeypatch.setattr(flip, "exchange", lambda first, second: refused.append(first) or False)
    out, store = tmp_path / "out", tmp_path / ".out.d"
    export(articles, out)
    for n in range(3):
        write_article(articles, f"zz-{n}.md", title=f"More {n}", topics=["Space"], provider="Orbit Daily")
        standby_before = [g.stat().st_ino for g in store.glob("g*")]
        live_before = out.stat().st_ino
        assert export(articles, out).published
        assert out.is_dir() and not out.is_symlink()
        assert_site_is(out, articles)
        [standby] = store.glob("g*")
        assert standby.stat().st_ino == live_before  # the site live until now is the standby
        assert standby_before == [] or out.stat().st_ino == standby_before[0]  # and the standby was recycled
        assert not list(store.glob("aside-*"))
    assert len(refused) == 3  # every flip tried the exchange first
    assert export(articles, out).published is False


def test_a_reader_during_flips_always_gets_a_whole_file_and_an_open_file_keeps_its_bytes(
    articles: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    other = Path(shutil.copytree(articles, tmp_path / "other"))
    write_article(other, "zz-one.md", title="One more", topics=["Space"], provider="Orbit Daily")
    export(other, out)
    versions = {(out / "all.rss").read_bytes()}
    export(articles, out)
    versions.add((out / "all.rss").read_bytes())
    assert len(versions) == 2
    held = open(out / "all.rss", "rb")  # opened before the flips below
    held_bytes = (out / "all.rss").read_bytes()
    stop, reads, errors = threading.Event(), [], []

    def read_all_the_time() -> None:
        while not stop.is_set():
            try:
                reads.append((out / "all.rss").read_bytes())  # OUT_DIR's path, resolved on every open
            except OSError as exc:
                errors.append(exc)

    reader = threading.Thread(target=read_all_the_time)
    reader.start()
    try:
        for n in range(6):
            export(other if n % 2 == 0 else articles, out)
    finally:
        stop.set()
        reader.join()
    assert errors == [] and len(reads) > 6 and set(reads) <= versions and len(set(reads)) == 2
    with held:
        assert held.read() == held_bytes
    entered, site = os.open(out, os.O_RDONLY | os.O_DIRECTORY), contents(out)  # a reader that cd-ed into OUT_DIR
    try:
        export(other, out)
        assert contents(out) != site
        assert contents(Path(f"/proc/self/fd/{entered}")) == site  # one flip later its folder is the standby, whole
    finally:
        os.close(entered)


def two_renames_refusing(monkeypatch, refused: Callable[[Path, Path], bool], error: OSError) -> Callable[[], None]:
    """Flips by two renames (no exchange), a rename ``refused`` failing with ``error``; returns what ends that."""
    monkeypatch.setattr(flip, "exchange", lambda first, second: False)
    replace = os.replace

    def refusing(source, target) -> None:
        if refused(Path(source), Path(target)):
            raise error
        replace(source, target)

    monkeypatch.setattr(flip.os, "replace", refusing)
    return lambda: monkeypatch.setattr(flip.os, "replace", replace)


def test_a_two_rename_flip_failing_halfway_puts_the_old_site_back_and_says_so(
    articles: Path, tmp_path: Path, monkeypatch
) -> None:
    """The second rename refused (EIO, say): OUT_DIR is restored at once, not left missing until the next run."""
    out, store = tmp_path / "out", tmp_path / ".out.d"
    export(articles, out)
    site, live = contents(out), out.stat().st_ino
    error = OSError(errno.EIO, "Input/output error", "g")
    allow = two_renames_refusing(monkeypatch, lambda source, target: source.name[0] == "g" and target == out, error)
    write_article(articles, "zz-one.md", title="One more", topics=["Space"], provider="Orbit Daily")
    with pytest.raises(ExportWriteError, match="Input/output error.*previous export is intact"):
        export(articles, out)
    assert out.stat().st_ino == live and contents(out) == site
    assert not list(store.glob("aside-*")) and not list(store.glob("g*"))  # the unfinished generation removed
    allow()
    assert export(articles, out).published
    assert_site_is(out, articles)


def test_a_two_rename_flip_whose_third_rename_fails_says_the_new_export_is_live_and_keeps_the_old_one(
    articles: Path, tmp_path: Path, monkeypatch
) -> None:
    """The old folder cannot take the generation's name: the flip is done, nothing of it is removed."""
    out, store = tmp_path / "out", tmp_path / ".out.d"
    export(articles, out)
    live = out.stat().st_ino
    error = OSError(errno.ENOSPC, "No space left on device", "g")
    allow = two_renames_refusing(monkeypatch, lambda source, target: source.name.startswith("aside-"), error)
    write_article(articles, "zz-one.md", title="One more", topics=["Space"], provider="Orbit Daily")
    with pytest.raises(ExportWriteError, match="out: the new export is live; the previous one stays at"):
        export(articles, out)
    assert_site_is(out, articles)
    [aside] = store.glob("aside-*")
    assert aside.stat().st_ino == live and not list(store.glob("g*"))
    allow()
    assert export(articles, out).published is False  # the new export is current
    assert [g.stat().st_ino for g in store.glob("g*")] == [live] and not list(store.glob("aside-*"))
    write_article(articles, "zz-two.md", title="Two more", topics=["Space"], provider="Orbit Daily")
    assert export(articles, out).published and out.stat().st_ino == live  # kept as the standby, recycled
    assert_site_is(out, articles)
