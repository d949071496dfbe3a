"""OUT_DIR as a real folder: walkable without following links, upgraded from the symlink layout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from feeds.folder import outdir
from feeds.folder.export import ExportError, export_site
from feeds.folder.outdir import unchanged_since
from feeds.folder.records import record_name
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
    [kept] = store.glob("g*")
    assert sorted(p.name for p in store.glob("signatures.*")) == sorted(map(record_name, (out, kept)))  # renamed
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


def test_a_record_whose_folder_was_deleted_by_hand_is_dropped_before_a_new_folder_could_take_its_inode(
    articles: Path, tmp_path: Path
) -> None:
    out, store = tmp_path / "out", tmp_path / ".out.d"
    export(articles, out)
    shutil.rmtree(out)  # by hand: its record stays behind
    assert list(store.glob("signatures.*.json"))
    summary = export(articles, out)
    assert summary.published and summary.written == summary.files  # nothing trusted
    assert [p.name for p in store.glob("signatures.*.json")] == [record_name(out)]
    assert_site_is(out, articles)


@pytest.mark.parametrize("how", ["recreated", "emptied"])
@pytest.mark.parametrize("made", ["own file", "manifest copy", "export's name"])
def test_a_new_folder_that_takes_a_deleted_generations_inode_is_still_refused(
    articles: Path, tmp_path: Path, made: str, how: str
) -> None:
    """``rm -rf OUT_DIR``, then a folder of one's own made there: ext4 hands it the deleted folder's inode at once
    (when nothing else took it first: "emptied", ``rm -rf OUT_DIR/*``, keeps the inode for sure).

    With a ``_manifest.json`` of its own (the old one's bytes, as a clone of a site repository holds: ext4 may
    even reuse the old manifest's inode), or a file named as one of the export's, it is still not an export.
    """
    out, store = tmp_path / "out", tmp_path / ".out.d"
    export(articles, out)
    old_inode, old_manifest = out.stat().st_ino, (out / MANIFEST_PATH).read_bytes()
    if how == "recreated":
        shutil.rmtree(out)  # by hand: its record stays behind
        out.mkdir()
    else:
        for child in out.iterdir():  # rm -rf out/*
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
    mine = out / ("index.html" if made == "export's name" else "precious.txt")
    mine.write_text("mine")
    if made == "manifest copy":
        (out / MANIFEST_PATH).write_bytes(old_manifest)
    if out.stat().st_ino != old_inode:
        pytest.skip("this file system did not reuse the folder's inode (busy: another process took it)")
    for _ in range(2):  # refused, and again after a change: never swapped into the store, never deleted
        with pytest.raises(ExportError, match=f"not an export's \\({mine.name}\\)"):
            export(articles, out)
        assert mine.read_text() == "mine" and out.stat().st_ino == old_inode
        assert not list(store.glob("g*")) and outdir.record_of(store, out) is None
        write_article(articles, "zz-one.md", title="One more", topics=["Space"], provider="Orbit Daily")


@pytest.mark.parametrize("by_hand", ["deleted", "touched"])
def test_an_export_whose_manifest_was_deleted_or_touched_is_taken_over_in_full_leaving_no_stale_record(
    articles: Path, tmp_path: Path, by_hand: str
) -> None:
    """Its record names another manifest: not trusted, yet its files are its export's, so it is not refused."""
    out, store = tmp_path / "out", tmp_path / ".out.d"
    export(articles, out)
    write_article(articles, "zz-one.md", title="One more", topics=["Space"], provider="Orbit Daily")
    export(articles, out)  # a standby too
    if by_hand == "deleted":
        (out / MANIFEST_PATH).unlink()
    else:
        os.utime(out / MANIFEST_PATH, ns=(1, 1))
    before = snapshot(out)
    assert unchanged_since(out, "f") is None
    summary = export(articles, out)  # every file rendered: equal, so each linked into the new folder
    assert summary.published and summary.written == (1 if by_hand == "deleted" else 0)  # the manifest
    assert_site_is(out, articles)
    after = snapshot(out)
    assert all(after[name] == entry for name, entry in before.items() if name != MANIFEST_PATH)  # the very files
    assert [p.name for p in store.glob("signatures.*")] == [record_name(out)]  # no stale record of either folder
    assert export(articles, out).published is False


def test_the_record_of_a_folder_deleted_by_hand_is_gone_before_anything_new_is_made(
    articles: Path, tmp_path: Path
) -> None:
    """The drop itself, in a form that fails without it (in ..._deleted_by_hand_is_dropped_..., the new generation
    may take the deleted folder's inode, and its record then replaced the stale one under the same name)."""
    out, store = tmp_path / "out", tmp_path / ".out.d"
    export(articles, out)
    shutil.rmtree(out)  # by hand: its record stays behind
    assert list(store.glob("signatures.*.json"))
    assert unchanged_since(out, "f") is None  # takes the lock and prepares, makes no folder
    assert not list(store.glob("signatures.*.json"))


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


@pytest.fixture
def overlay(articles: Path, tmp_path: Path):
    """A container image's layer with an export in it (``RUN feeds export /srv/public`` in a Dockerfile), mounted.

    Yields the merged folder. overlayfs (without redirect_dir) refuses to rename a folder that comes from the
    lower layer: EXDEV.
    """
    if os.geteuid() != 0:
        pytest.skip("mounting overlayfs needs root")
    lower, upper, work, merged = (tmp_path / n for n in ("lower", "upper", "work", "merged"))
    for folder in (lower, upper, work, merged):
        folder.mkdir()
    try:
        _mount("-t", "tmpfs", "-o", "size=64m", "tmpfs", str(lower))  # one file system under the overlay
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot mount tmpfs here: {exc.stderr!r}")
    try:
        yield lower, upper, work, merged
    finally:
        subprocess.run(["umount", str(merged)], check=False, capture_output=True)
        subprocess.run(["umount", str(lower)], check=False, capture_output=True)


def _mount_overlay(lower: Path, upper: Path, work: Path, merged: Path) -> None:
    try:
        _mount("-t", "overlay", "overlay", "-o", f"lowerdir={lower},upperdir={upper},workdir={work}", str(merged))
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot mount overlayfs here: {exc.stderr!r}")


@pytest.mark.parametrize("exports_in_image", [1, 2])
def test_an_out_dir_in_an_overlayfs_lower_layer_is_refused_clearly_and_left_as_it_was(
    articles: Path, overlay, exports_in_image: int
) -> None:
    """The symlink layout renamed a link there; a folder cannot be. Said plainly, the image's export untouched."""
    lower, upper, work, merged = overlay
    for _ in range(exports_in_image):  # 2: a standby in the image too (its recycling is refused first)
        write_article(articles, "zz-one.md", title=f"Image {_}", topics=["Space"], provider="Orbit Daily")
        export(articles, lower / "out")
    _mount_overlay(lower, upper, work, merged)
    out, store = merged / "out", merged / ".out.d"
    site, names = contents(out), sorted(p.name for p in store.iterdir())
    write_article(articles, "zz-two.md", title="Two more", topics=["Space"], provider="Orbit Daily")
    with pytest.raises(ExportError, match=r"out cannot be replaced on this file system .*export to a new folder"):
        export(articles, out)
    assert contents(out) == site
    assert sorted(p.name for p in store.iterdir()) <= names  # nothing left behind (a refused standby's record gone)
    assert export(articles, merged / "fresh").published  # what the message says to do works
    assert_site_is(merged / "fresh", articles)


def test_an_old_symlink_layout_in_an_overlayfs_lower_layer_is_refused_clearly_by_the_no_change_check(
    articles: Path, tmp_path: Path, overlay
) -> None:
    """The upgrade's flip runs in ``prepare``, outside an export's cleanup: its refusal is a message too."""
    lower, upper, work, merged = overlay
    out, store, _ = old_layout(articles, tmp_path)
    shutil.move(store, lower / ".out.d")
    shutil.move(out, lower / "out")
    _mount_overlay(lower, upper, work, merged)
    site = contents(merged / "out")
    with pytest.raises(ExportError, match="out cannot be replaced on this file system"):
        unchanged_since(merged / "out", "f")
    assert contents(merged / "out") == site and (merged / "out").is_symlink()
    assert not list((merged / ".out.d").glob("aside-*"))


def test_an_out_dir_that_is_a_mount_point_is_refused_before_anything_is_rendered(
    articles: Path, tmp_path: Path
) -> None:
    """``-v /host/site:/srv/public``: the folder cannot be swapped; said before rendering, with the fix."""
    if os.geteuid() != 0:
        pytest.skip("mounting needs root")
    out = tmp_path / "out"
    out.mkdir()
    try:
        _mount("-t", "tmpfs", "-o", "size=20m", "tmpfs", str(out))
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot mount tmpfs here: {exc.stderr!r}")
    try:
        with pytest.raises(ExportError, match="out is a mount point: .*export to a folder inside it"):
            export(articles, out)
        assert not (tmp_path / ".out.d").exists() and not any(out.iterdir())
    finally:
        subprocess.run(["umount", str(out)], check=False)


def test_a_bind_mount_out_dir_on_the_same_file_system_is_refused_at_the_flip_with_the_export_intact(
    articles: Path, tmp_path: Path
) -> None:
    """A bind mount of a folder of the same file system is not told by its device: the flip's EBUSY says it."""
    if os.geteuid() != 0:
        pytest.skip("mounting needs root")
    out, host, store = tmp_path / "out", tmp_path / "host", tmp_path / ".out.d"
    export(articles, out)
    site = contents(out)
    host.mkdir()
    try:
        _mount("--bind", str(out), str(host))  # the export seen at another path, which is exported to
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot bind-mount here: {exc.stderr!r}")
    try:
        write_article(articles, "zz-one.md", title="One more", topics=["Space"], provider="Orbit Daily")
        with pytest.raises(ExportError, match="host cannot be replaced on this file system .*intact"):
            export(articles, host)
        assert contents(host) == site and contents(out) == site
        assert [p.name for p in (tmp_path / ".host.d").iterdir()] == [".lock"]  # nothing left behind
        assert {p.name for p in store.iterdir()} == {".lock", record_name(out)}
    finally:
        subprocess.run(["umount", str(host)], check=False)


def test_a_backup_with_a_file_of_ones_own_restored_by_cp_a_over_a_deleted_export_is_refused(tmp_path: Path) -> None:
    """review3: ``cp -a out backup``, a note added to the backup, ``rm -rf out; cp -a backup out``. ext4 hands the
    restored folder and its manifest the deleted ones' inodes and cp -a keeps the manifest's mtime_ns, so the
    stale record names the restored folder: it is trusted as ours and the note is deleted two exports later.
    ``cp -r`` (new mtimes) is refused with "not an export's (precious.txt)": so must this be."""
    for attempt in range(10):  # until ext4 reuses both inodes (it mostly does; another process may take one)
        root = tmp_path / f"attempt{attempt}"
        articles = Path(shutil.copytree(SAMPLES, root / "articles"))
        out = root / "out"
        export(articles, out)
        old = out.stat().st_ino, (out / MANIFEST_PATH).stat().st_ino
        subprocess.run(["cp", "-a", str(out), str(root / "backup")], check=True)
        (root / "backup" / "precious.txt").write_text("mine")
        shutil.rmtree(out)
        subprocess.run(["cp", "-a", str(root / "backup"), str(out)], check=True)
        if (out.stat().st_ino, (out / MANIFEST_PATH).stat().st_ino) == old:
            break
    else:
        pytest.skip("this file system did not reuse both inodes in 10 attempts")
    for _ in range(2):
        with pytest.raises(ExportError, match=r"not an export's \(precious.txt\)"):
            export(articles, out)
        assert (out / "precious.txt").read_text() == "mine"
        write_article(articles, "zz-one.md", title="One more", topics=["Space"], provider="Orbit Daily")


def test_a_store_on_another_file_system_is_named_as_the_cause(articles: Path, tmp_path: Path) -> None:
    """review3: ``.out.d`` a symlink to another disk (to save space): the first flip fails with EXDEV and the message
    blames OUT_DIR ("a folder from a container image's lower layer or a mount point; the previous export is
    intact") though OUT_DIR does not even exist; it should name the store (it must be on OUT_DIR's file system)."""
    elsewhere = Path("/dev/shm") / f"review3-store-{os.getpid()}"
    if not Path("/dev/shm").is_dir() or os.stat("/dev/shm").st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second file system at /dev/shm")
    elsewhere.mkdir()
    try:
        (tmp_path / ".out.d").symlink_to(elsewhere)
        with pytest.raises(ExportError) as raised:
            export(articles, tmp_path / "out")
        assert str(tmp_path / ".out.d") in str(raised.value) and "previous export" not in str(raised.value)
    finally:
        shutil.rmtree(elsewhere)


def test_a_repair_that_leaves_the_manifest_as_it_was_gives_the_new_generation_its_own_manifest(
    articles: Path, tmp_path: Path
) -> None:
    """The manifest is never a hard link shared with another generation: its ctime names the record, and
    removing the other folder's link would change it, leaving the live export with no record (every later
    export a full render)."""
    out, store = tmp_path / "out", tmp_path / ".out.d"
    export(articles, out)
    write_article(articles, "zz-one.md", title="One more", topics=["Space"], provider="Orbit Daily")
    export(articles, out)  # a standby too
    feed = out / "all.rss"
    feed.write_bytes(feed.read_bytes().replace(b"One more", b"Defaced"))  # by hand: the repair equals the manifest
    summary = export(articles, out)
    assert summary.published and summary.written == 1  # the feed; the manifest's bytes are the live one's
    assert os.stat(out / MANIFEST_PATH).st_nlink == 1 and b"Defaced" not in feed.read_bytes()
    assert (store / record_name(out)).is_file()
    assert export(articles, out).published is False  # the live export still has its record
    write_article(articles, "zz-two.md", title="Two more", topics=["Space"], provider="Orbit Daily")
    assert export(articles, out).written < len(manifest_files(out)) // 2  # the standby recycled, not a full render
