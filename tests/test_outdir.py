"""OUT_DIR as a real folder: walkable without following links, flipped atomically, upgraded from the symlink layout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from feeds.folder import outdir
from feeds.folder.export import export_site
from feeds.folder.outdir import exchange, unchanged_since
from feeds.site_paths import MANIFEST_PATH, METADATA_PATHS

from .conftest import SAMPLES
from .test_export import assert_site_is, contents, export, load, run_killed, snapshot, write_article


@pytest.fixture
def articles(tmp_path: Path) -> Path:
    return Path(shutil.copytree(SAMPLES, tmp_path / "articles"))


def manifest_files(out: Path) -> set[str]:
    """Every file the manifest lists (documents and their encodings), and the metadata files."""
    manifest = json.loads((out / MANIFEST_PATH).read_text(encoding="utf-8"))
    listed = {entry["path"] for entry in manifest["files"]}
    listed |= {e["path"] for entry in manifest["files"] for e in entry["encodings"].values()}
    return listed | set(METADATA_PATHS)


def test_find_and_cp_without_following_links_see_every_file_of_the_export(articles: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(articles, out)
    write_article(articles, "zz-one.md", title="One more", topics=["Space"], provider="Orbit Daily")
    export(articles, out)  # a flip, not only the first rename
    found = subprocess.run(["find", str(out), "-type", "f"], check=True, capture_output=True, text=True).stdout
    listed = {Path(line).relative_to(out).as_posix() for line in found.splitlines()}
    assert any(name.endswith(".rss") for name in listed) and listed == manifest_files(out)
    walked = {os.path.relpath(os.path.join(d, f), out) for d, _, files in os.walk(out) for f in files}
    assert walked == listed
    subprocess.run(["cp", "-r", str(out), str(tmp_path / "copy")], check=True)
    assert contents(tmp_path / "copy") == contents(out)
    assert_site_is(out, articles)


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
    monkeypatch.setattr(outdir, "exchange", lambda first, second: refused.append(first) or False)
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


def old_layout(articles: Path, tmp_path: Path) -> tuple[Path, Path, dict]:
    """OUT_DIR as the symlink layout left it, built by hand: ``out -> .out.d/g000007``, standby g000006.

    Records named by generation; the folders are copies (mtimes kept) of a current export, so the
    records' [size, mtime_ns] hold for them as they held for the folders they were written for.
    """
    donor = tmp_path / "donor"
    settings, catalog = load(articles)
    export_site(catalog, settings, donor, inputs={"fingerprint": "f"})
    record = next((tmp_path / ".donor.d").glob("signatures.*.json"))
    out, store = tmp_path / "out", tmp_path / ".out.d"
    store.mkdir()
    for name in ("g000006", "g000007"):
        shutil.copytree(donor, store / name)  # copy2: bytes and mtime_ns kept
        shutil.copy(record, store / f"signatures.{name}.json")
    (store / ".link-4242").symlink_to(".out.d/g000006")  # a killed run's leftover of that layout
    out.symlink_to(".out.d/g000007")
    return out, store, json.loads(record.read_text())


def test_a_symlink_out_dir_of_the_old_layout_is_taken_over_without_rendering_and_keeps_its_standby(
    articles: Path, tmp_path: Path, monkeypatch
) -> None:
    import feeds.folder.bulk as bulk_module

    out, store, _ = old_layout(articles, tmp_path)
    live, standby = (store / "g000007").stat().st_ino, (store / "g000006").stat().st_ino
    before = snapshot(out)
    rendered: list[str] = []
    real_render_path = bulk_module.render_path
    monkeypatch.setattr(
        bulk_module, "render_path", lambda path, *args: rendered.append(path) or real_render_path(path, *args)
    )
    summary = export(articles, out)
    assert set(rendered) <= {"index.html", "feeds.opml"}  # no feed rendered (these two have no signature)
    assert not summary.published and summary.written == 0  # nothing written, nothing to flip
    assert out.is_dir() and not out.is_symlink() and out.stat().st_ino == live  # the live folder itself, moved
    assert snapshot(out) == before  # same inodes, mtimes and bytes
    assert [g.stat().st_ino for g in store.glob("g*")] == [standby]  # brought up to date, still the standby
    assert sorted(p.name for p in store.glob("signatures.*")) == sorted(f"signatures.{i}.json" for i in (live, standby))
    assert not any(p.is_symlink() for p in store.iterdir())  # the layout's links are gone
    write_article(articles, "zz-one.md", title="One more", topics=["Space"], provider="Orbit Daily")
    assert export(articles, out).published
    assert out.stat().st_ino == standby  # the old layout's standby, recycled
    assert_site_is(out, articles)


def test_the_no_change_check_takes_over_a_symlink_out_dir_and_still_finds_nothing_changed(
    articles: Path, tmp_path: Path
) -> None:
    out, store, record = old_layout(articles, tmp_path)
    live = (store / "g000007").stat().st_ino
    assert unchanged_since(out, "f") == record["_inputs"]
    assert not out.is_symlink() and out.stat().st_ino == live
    assert unchanged_since(out, "another") is None


@pytest.mark.parametrize("stage", ["before-flip", "after-flip", "fallback-aside", "fallback-in"])
def test_a_takeover_of_a_symlink_out_dir_killed_at_any_step_is_finished_by_the_next_run(
    articles: Path, tmp_path: Path, stage: str
) -> None:
    out, store, _ = old_layout(articles, tmp_path)
    live, site = (store / "g000007").stat().st_ino, contents(out)
    write_article(articles, "zz-one.md", title="One more", topics=["Space"], provider="Orbit Daily")
    run_killed(articles, out, stage)  # the first flip a run makes is the takeover's
    if stage == "fallback-aside":
        assert not os.path.lexists(out)  # the two-rename window; the link is aside in the store
    else:
        assert contents(out) == site  # through the link or as the folder itself: the old site, whole
    summary = export(articles, out)
    assert summary.published and out.is_dir() and not out.is_symlink()
    assert_site_is(out, articles)
    assert [g.stat().st_ino for g in store.glob("g*")] == [live]  # the old live folder is the standby
    assert not any(p.is_symlink() for p in store.iterdir())


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


def test_a_record_whose_folder_was_deleted_by_hand_is_dropped_before_a_new_folder_could_take_its_inode(
    articles: Path, tmp_path: Path
) -> None:
    out, store = tmp_path / "out", tmp_path / ".out.d"
    export(articles, out)
    shutil.rmtree(out)  # by hand: its record stays behind
    assert list(store.glob("signatures.*.json"))
    summary = export(articles, out)
    assert summary.published and summary.written == summary.files  # nothing trusted
    assert [p.name for p in store.glob("signatures.*.json")] == [f"signatures.{out.stat().st_ino}.json"]
    assert_site_is(out, articles)


def test_a_two_rename_flip_failing_halfway_puts_the_old_site_back_and_says_so(
    articles: Path, tmp_path: Path, monkeypatch
) -> None:
    """The second rename refused (EBUSY, say): OUT_DIR is restored at once, not left missing until the next run."""
    out, store = tmp_path / "out", tmp_path / ".out.d"
    export(articles, out)
    site, live = contents(out), out.stat().st_ino
    monkeypatch.setattr(outdir, "exchange", lambda first, second: False)
    replace = os.replace

    def refusing_the_generation(source, target):
        if Path(source).parent == store and Path(source).name.startswith("g") and Path(target) == out:
            raise OSError(16, "Device or resource busy", str(source))
        replace(source, target)

    monkeypatch.setattr(outdir.os, "replace", refusing_the_generation)
    write_article(articles, "zz-one.md", title="One more", topics=["Space"], provider="Orbit Daily")
    with pytest.raises(outdir.ExportWriteError, match="Device or resource busy.*previous export is intact"):
        export(articles, out)
    assert out.stat().st_ino == live and contents(out) == site
    assert not list(store.glob("aside-*")) and not list(store.glob("g*"))  # the unfinished generation removed
    monkeypatch.setattr(outdir.os, "replace", replace)
    assert export(articles, out).published
    assert_site_is(out, articles)
