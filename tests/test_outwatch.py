"""export --watch trusts its own record for files no inotify event named (issue 20): never a hand edit it missed."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from feeds.config import Settings
from feeds.folder import generation
from feeds.folder.export import ExportMemos, export_site
from feeds.folder.exporter import Exporter
from feeds.folder.listing import stat_of
from feeds.folder.outdir import store_of
from feeds.folder.outwatch import OutDirWatch
from feeds.folder.records import FILES_KEY, record_of
from feeds.index.catalog import build_catalog
from feeds.read.reader import read_folder
from feeds.render.site import render_path

from .conftest import BASE_URL
from .test_export import contents, write_article
from .test_web import wait_for


def _export(articles: Path, out: Path, memos: ExportMemos | None = None):
    settings = Settings(base_url=BASE_URL, articles_dir=articles)
    catalog = build_catalog(read_folder(articles, settings).articles, settings)
    return export_site(catalog, settings, out, memos=memos), catalog, settings


def _record(out: Path) -> dict:
    record = record_of(store_of(out), out)
    assert record is not None
    return json.loads(record.read_text(encoding="utf-8"))


class _Spy(OutDirWatch):
    """The watch, counting the files each export was told to trust (so a test knows the watch was trusting)."""

    def __init__(self) -> None:
        super().__init__()
        self.trusted_counts: list[int] = []

    def trusted(self, *args, **kwargs) -> dict[str, int]:
        trusted = super().trusted(*args, **kwargs)
        self.trusted_counts.append(len(trusted))
        return trusted


def _by_hand(out: Path, name: str, how: str) -> None:
    path = out / name
    if how == "rewritten":  # in place: the same inode, as an editor that truncates does
        with open(path, "r+b") as handle:
            handle.truncate(0)
            handle.write(b"edited by hand")
    elif how == "replaced":  # a new file renamed over it (made outside OUT_DIR: only the kept file's name is named)
        made = out.parent / "tmp-by-hand"
        made.write_bytes(b"replaced by hand")
        os.replace(made, path)
    elif how == "touched":
        os.utime(path, ns=(1, 1))
    else:
        path.unlink()


@pytest.mark.parametrize("how", ["rewritten", "replaced", "touched", "deleted"])
def test_a_watched_export_writes_and_records_what_a_plain_one_does_through_hand_edits(
    tmp_path: Path, articles: Path, how: str
) -> None:
    """Two OUT_DIRs in lockstep, one exported with a watch (as `export --watch` does), one by plain exports:
    after each change, and after a kept file of each was edited by hand between changes, both hold the same
    bytes, and the watched one's record says of every file what a stat says (what a plain export records)."""
    watched, plain = tmp_path / "watched", tmp_path / "plain"
    memos = ExportMemos(watch=_Spy())
    try:
        for step in range(6):
            if step:
                write_article(articles, f"2030-01-0{step}-w.md", title=f"Step {step}", topics=["AI"], provider="Wired")
            summary, catalog, settings = _export(articles, watched, memos)
            _export(articles, plain)
            assert contents(watched) == contents(plain)
            record = _record(watched)[FILES_KEY]
            assert record == {name: stat_of(watched / name) for name in contents(watched)}
            if step in (3, 4):  # a feed no later change touches, edited by hand in both between two changes
                if step == 3:  # the watch trusted files (from the third export on): the edit is what it must catch
                    assert memos.watch.trusted_counts[-1] > 0
                kept = next(p for p in sorted(record) if p.startswith("providers/") and p.endswith(".atom"))
                _by_hand(watched, kept, how)
                _by_hand(plain, kept, how)
        assert (watched / kept).read_bytes() == render_path(kept, catalog, settings).body
    finally:
        memos.watch.close()


def test_a_watched_export_stats_only_the_files_an_event_named(
    tmp_path: Path, articles: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The point of the watch: once both generations are watched, a change stats the files events named (a
    hand edit among them, rendered again), not every kept file; a lost event queue stats them all again."""
    out, memos = tmp_path / "out", ExportMemos(watch=OutDirWatch())
    stats: list[str] = []
    real = os.stat

    def counted(path, *args, **kwargs):
        stats.append(str(path))
        return real(path, *args, **kwargs)

    try:
        for step in range(3):
            write_article(articles, f"2030-02-0{step + 1}-s.md", title=f"S {step}", topics=["AI"], provider="Wired")
            summary, catalog, settings = _export(articles, out, memos)
        kept = sorted(name for name in _record(out)[FILES_KEY] if name.startswith("providers/"))
        assert len(kept) > 10
        _by_hand(out, kept[0], "rewritten")
        write_article(articles, "2030-02-09-s.md", title="S 9", topics=["AI"], provider="Wired")
        monkeypatch.setattr(generation.os, "stat", counted)
        summary, catalog, settings = _export(articles, out, memos)
        live = [path for path in stats if "/.out.d/" not in path and path.startswith(str(out) + "/")]
        assert (out / kept[0]).read_bytes() == render_path(kept[0], catalog, settings).body
        assert [path for path in live if path.endswith(kept[0])]  # the file an event named: stat'ed
        other = next(name for name in kept if not name.startswith(kept[0].partition(".")[0]))  # another feed's
        assert not [path for path in live if path.endswith(other)]  # trusted: no event named it
        memos.watch._lost = True  # as after the kernel's queue overflowed
        stats.clear()
        write_article(articles, "2030-02-10-s.md", title="S 10", topics=["AI"], provider="Wired")
        _export(articles, out, memos)
        assert [path for path in stats if path.endswith(other)]
    finally:
        memos.watch.close()


def test_export_watch_renders_a_file_edited_by_hand_again_at_the_next_change(tmp_path: Path, articles: Path) -> None:
    """End to end through the exporter under --watch, whose exports trust what no event named: a kept feed
    edited by hand in OUT_DIR is rendered again at the next change of the articles."""
    out = tmp_path / "out"
    exporter = Exporter(Settings(base_url=BASE_URL, articles_dir=articles, reload_interval=3600), out)
    exporter.run()
    exporter.start_watching()
    try:
        assert exporter._memos.watch is not None
        for step in range(2):
            name = f"2030-03-0{step + 1}-e.md"
            write_article(articles, name, title=f"Watched {step}", topics=["AI"], provider="Wired")
            wait_for(lambda step=step: f"Watched {step}".encode() in (out / "all.rss").read_bytes())
        kept = next(name for name in sorted(_record(out)[FILES_KEY]) if name.startswith("providers/ars"))
        _by_hand(out, kept, "rewritten")
        write_article(articles, "2030-03-09-e.md", title="Watched 9", topics=["AI"], provider="Wired")
        wait_for(lambda: b"Watched 9" in (out / "all.rss").read_bytes())
        settings = Settings(base_url=BASE_URL, articles_dir=articles)
        catalog = build_catalog(read_folder(articles, settings).articles, settings)
        assert (out / kept).read_bytes() == render_path(kept, catalog, settings).body
    finally:
        exporter.stop_watching()


KEPT, ALIAS = "providers/wired.atom", "providers/ign.atom"


def _standby(out: Path) -> Path:
    """The generation the next export recycles (the newest one not live)."""
    live = os.stat(out).st_ino
    folders = [g for g in store_of(out).iterdir() if g.is_dir() and g.name.startswith("g") and g.stat().st_ino != live]
    return max(folders, key=lambda g: g.name)


def _edit(path: Path) -> None:
    with open(path, "r+b") as handle:
        handle.write(b"XXXXX")


@pytest.mark.parametrize(
    "how",
    [
        "through a hard link beside it",
        "after a real queue overflow",
        "before the first watch",
        "through another kept file linked to it, in the standby",
        "through the standby's folder, replaced by hand by links to the live one's",
        "through another kept file's name, pointed at it by hand, then removed",
        "through a link in a folder made by hand, kept live by an export that published nothing",
        "through a link in a folder made by hand, in the standby since",
    ],
)
def test_a_hand_edit_no_event_names_is_still_rendered_again(tmp_path: Path, articles: Path, how: str) -> None:
    """inotify names the path written through, and only in folders already watched: an edit through another
    name of the file, or one the kernel dropped or never saw, must not leave the file trusted (review of the
    watch: each case was carried into every later generation)."""
    out, memos = tmp_path / "out", ExportMemos(watch=OutDirWatch())
    step = 0

    def change(provider: str):
        nonlocal step
        step += 1
        write_article(articles, f"2030-07-{step:02}-r.md", title=f"R {step}", topics=["Science"], provider=provider)
        return _export(articles, out, memos)

    try:
        if how == "before the first watch":  # the first watched export made OUT_DIR: nothing was watched then
            change("Wired")
            _edit(out / KEPT)
        else:
            for provider in ["Wired"] * 3 + ["Ars Technica"] * 2:  # KEPT kept, then trusted
                change(provider)
            if how == "through a hard link beside it":
                os.link(out / KEPT, out / "providers/wired.bak")
                _edit(out / "providers/wired.bak")
                os.unlink(out / "providers/wired.bak")
            elif how == "after a real queue overflow":  # more events than the kernel queues, then the edit
                others = [out / ALIAS, out / "providers/ign.rss"]  # files the export made, their times as they were
                times = [(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns) for path in others]
                for i in range(int(Path("/proc/sys/fs/inotify/max_queued_events").read_text()) + 10):
                    os.utime(others[i % 2], ns=times[i % 2])  # alternating: the kernel merges only repeats
                _edit(out / KEPT)
            elif how == "through another kept file linked to it, in the standby":
                os.unlink(out / ALIAS)
                os.link(out / KEPT, out / ALIAS)  # noticed, and ALIAS rendered again; the standby still links them
                change("Ars Technica")
                standby = _standby(out)
                assert os.stat(standby / ALIAS).st_ino == os.stat(out / KEPT).st_ino
                _edit(standby / ALIAS)
            elif how == "through another kept file's name, pointed at it by hand, then removed":
                os.unlink(out / ALIAS)
                os.link(out / KEPT, out / ALIAS)
                _edit(out / ALIAS)  # the only name events give is ALIAS, which no longer leads to KEPT's inode
                os.unlink(out / ALIAS)
            elif how == "through a link in a folder made by hand, kept live by an export that published nothing":
                os.mkdir(out / "x")  # an empty folder: the live generation, still exactly the site's files, stays
                assert not _export(articles, out, memos)[0].published
                os.link(out / KEPT, out / "x/w")  # in a folder no watch covers: no event
                _edit(out / "x/w")
            elif how == "through a link in a folder made by hand, in the standby since":
                os.mkdir(out / "x")
                os.link(out / KEPT, out / "x/w")
                os.symlink("../all.rss", out / "x/s")  # a symlink: the next export does not recycle this generation
                change("Ars Technica")
                _edit(_standby(out) / "x/w")  # the file kept live since, through a folder no watch covers
            else:  # the standby's folder moved away and rebuilt (its events alone distrust all, as does a late watch)
                standby = _standby(out)
                os.rename(standby / "providers", tmp_path / "old-providers")
                shutil.copytree(out / "providers", standby / "providers", copy_function=os.link)
                _edit(standby / KEPT)
        assert (out / KEPT).read_bytes().startswith(b"XXXXX")  # the live file changed
        for _ in range(2):  # rendered again at the next change, and so it stays
            summary, catalog, settings = change("Ars Technica")
            assert (out / KEPT).read_bytes() == render_path(KEPT, catalog, settings).body
    finally:
        memos.watch.close()


def test_an_export_that_publishes_nothing_leaves_the_next_one_trusting(tmp_path: Path, articles: Path) -> None:
    """An export that finds nothing to publish keeps the live generation, and the watch its record of it, the
    manifest's own inode included: the next change trusts the files no event named, and writes what a plain
    export writes (review: it recorded the unpublished manifest's inode, so the next change stat'ed every file)."""
    out, plain, memos = tmp_path / "out", tmp_path / "plain", ExportMemos(watch=_Spy())
    try:
        for step in range(4):
            write_article(articles, f"2030-08-0{step + 1}-n.md", title=f"N {step}", topics=["AI"], provider="Wired")
            _export(articles, out, memos)
        assert memos.watch.trusted_counts[-1] > 0
        assert not _export(articles, out, memos)[0].published
        write_article(articles, "2030-08-09-n.md", title="N 9", topics=["AI"], provider="Wired")
        _export(articles, out, memos)
        assert memos.watch.trusted_counts[-1] > 0
        _export(articles, plain)
        assert contents(out) == contents(plain)
    finally:
        memos.watch.close()
