"""The static export: complete, byte-equal to the renderer, incremental, atomic under SIGKILL."""

from __future__ import annotations

import dataclasses
import fcntl
import gzip
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from feeds.config import Settings
from feeds.folder.cdn import ENCODINGS
from feeds.folder.export import ExportError, ExportMemos, export_site, record_inputs
from feeds.folder.generation import safe_target
from feeds.folder.outdir import unchanged_since
from feeds.folder.records import RecordMemo, manifest_infos
from feeds.index.catalog import Catalog, build_catalog
from feeds.read.reader import read_folder
from feeds.render.site import render_path, site_paths
from feeds.site_paths import MANIFEST_PATH, METADATA_PATHS

from .conftest import BASE_URL, PROJECT, SAMPLES, SHARED, require_shared

GEN_CORPUS = SHARED / "tools" / "gen_corpus.py"
SUFFIXES = tuple(e.suffix for e in ENCODINGS)

# Runs one export in a child process and SIGKILLs it at an exact stage. The stage
# is reached by wrapping the export's own steps here, in the test's child process:
# production code has no test hook, and the kill is a real SIGKILL, so the folder
# is left exactly as a crash at that point leaves it.
KILL_DRIVER = """
import os, signal, sys
from pathlib import Path
import feeds.folder.bulk as bulk
import feeds.folder.export as export
import feeds.folder.flip as flipping
from feeds.index.catalog import build_catalog
from feeds.config import Settings
from feeds.read.reader import read_folder

articles, out, stage, base_url = sys.argv[1:5]
settings = Settings(base_url=base_url, articles_dir=Path(articles))
catalog = build_catalog(read_folder(settings.articles_dir, settings).articles, settings)

def die():
    os.kill(os.getpid(), signal.SIGKILL)

render_path, flip, replace = bulk.render_path, flipping.flip, os.replace
renames_in_flip = []

def render_then_maybe_die(path, *args):
    if stage == "before-write":
        die()  # the new generation folder exists, nothing is in it yet
    return render_path(path, *args)

def progress(done, total):
    if stage == "midway" and done == total // 2:
        die()

def flip_then_maybe_die(*args):
    if stage == "before-flip":
        die()  # every file of the new generation is written
    renames_in_flip.append("flip")
    flip(*args)
    if stage == "after-flip":
        die()  # OUT_DIR is the new generation, the old one is in the store; nothing cleaned yet

def replace_then_maybe_die(*args):  # the fallback flip's renames (the exchange refused)
    replace(*args)
    if renames_in_flip:
        renames_in_flip.append(args)
        if stage == "fallback-aside" and len(renames_in_flip) == 2:
            die()  # OUT_DIR moved aside into the store, the new generation not yet in
        if stage == "fallback-in" and len(renames_in_flip) == 3:
            die()  # the new generation is OUT_DIR, the old one not yet named as a generation

bulk.render_path = render_then_maybe_die
flipping.flip = flip_then_maybe_die
if stage.startswith("fallback"):
    flipping.exchange = lambda first, second: False  # as a file system without RENAME_EXCHANGE
    os.replace = replace_then_maybe_die
export.export_site(catalog, settings, Path(out), progress=progress)
"""


def write_article(
    folder: Path, name: str, *, title: str, topics: list[str], provider: str, date: str = "2030-01-01T12:00:00Z"
) -> Path:
    """A minimal valid article file (YAML front matter), newest of all by default."""
    slug = name.removesuffix(".md")
    topic_lines = "".join(f"  - {t}\n" for t in topics)
    path = folder / name
    path.write_text(
        f'---\ntitle: "{title}"\nexcerpt: "About {title}."\npublishedDateTime: {date}\n'
        f'webUrl: "https://news.example.com/{slug}/"\ntype: article\npublished: true\n\n'
        f"provider:\n  name: {provider}\n  domain: {provider.lower().replace(' ', '')}.example.com\n\n"
        f"topics:\n{topic_lines}---\n",
        encoding="utf-8",
    )
    return path


def load(articles: Path) -> tuple[Settings, Catalog]:
    settings = Settings(base_url=BASE_URL, articles_dir=articles)
    return settings, build_catalog(read_folder(articles, settings).articles, settings)


def export(articles: Path, out: Path):
    settings, catalog = load(articles)
    return export_site(catalog, settings, out)


def snapshot(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under root: inode, mtime_ns, bytes."""
    result = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            stat = path.stat()
            result[path.relative_to(root).as_posix()] = (stat.st_ino, stat.st_mtime_ns, path.read_bytes())
    return result


def contents(root: Path) -> dict[str, bytes]:
    return {path: data for path, (_, _, data) in snapshot(root).items()}


def feed_files(paths: list[str]) -> set[str]:
    return {p + suffix for p in paths for suffix in ("", *SUFFIXES)}


@pytest.fixture
def articles(tmp_path: Path) -> Path:
    """A private copy of the samples, free to change."""
    return Path(shutil.copytree(SAMPLES, tmp_path / "articles"))


def test_export_holds_every_site_path_byte_equal_to_the_renderer(articles: Path, tmp_path: Path) -> None:
    settings, catalog = load(articles)
    summary = export_site(catalog, settings, tmp_path / "out")
    out = tmp_path / "out"
    assert out.is_dir() and not out.is_symlink() and summary.published
    paths = site_paths(catalog, settings)
    assert catalog.article_count > 0 and len(paths) > 10
    for path in paths:
        rendered = render_path(path, catalog, settings)
        assert rendered is not None
        body = (out / path).read_bytes()
        assert body == rendered.body, path
        assert gzip.decompress((out / f"{path}.gz").read_bytes()) == body
    assert set(contents(out)) == feed_files(paths) | set(METADATA_PATHS)
    assert summary.files == len(feed_files(paths)) + len(METADATA_PATHS)
    assert summary.written == summary.files and summary.unchanged == summary.removed == 0
    assert f'href="{BASE_URL}all.atom"'.encode() in (out / "index.html").read_bytes()


def test_manifest_lists_every_served_file_with_type_size_and_sha256(articles: Path, tmp_path: Path) -> None:
    settings, catalog = load(articles)
    export_site(catalog, settings, tmp_path / "out")
    out = tmp_path / "out"
    manifest = json.loads((out / MANIFEST_PATH).read_text(encoding="utf-8"))
    entries = {entry["path"]: entry for entry in manifest["files"]}
    assert set(entries) == set(site_paths(catalog, settings))  # no metadata file, no .gz
    assert manifest["base_url"] == BASE_URL
    for path, entry in entries.items():
        data = (out / path).read_bytes()
        assert entry["content_type"] == render_path(path, catalog, settings).media_type
        assert (entry["size"], entry["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
        assert entry["cache_control"] == f"public, max-age={settings.cache_max_age}"
        for encoding in entry["encodings"].values():
            encoded = (out / encoding["path"]).read_bytes()
            assert (encoding["size"], encoding["sha256"]) == (len(encoded), hashlib.sha256(encoded).hexdigest())
        assert {e.name for e in ENCODINGS} == set(entry["encodings"])


def test_second_export_without_changes_rewrites_nothing(articles: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = export(articles, out)
    folder, before = out.stat().st_ino, snapshot(out)
    second = export(articles, out)
    assert (second.written, second.removed, second.unchanged) == (0, 0, first.files)
    assert not second.published
    assert out.stat().st_ino == folder  # the live generation stayed; nothing flipped
    assert snapshot(out) == before  # same inodes, mtimes and bytes


def changed_files(before: dict, after: dict) -> set[str]:
    return {p for p in after if p not in before or before[p][:2] != after[p][:2]}


def test_adding_one_article_rewrites_only_its_feeds_and_the_index(articles: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(articles, out)
    before = snapshot(out)
    write_article(articles, "2030-01-01-added.md", title="An added story", topics=["AI"], provider="The Verge")
    summary = export(articles, out)
    after = snapshot(out)

    settings, catalog = load(articles)
    holding = [f for f in catalog.feeds if any(a.title == "An added story" for a in f.items)]
    assert sorted(f.family.name for f in holding) == ["all", "provider", "topic"]
    feed_paths = [f"{f.path}.{ext}" for f in holding for ext in settings.formats]
    pages = [f"{f.path}.html" for f in holding]  # each feed's page shows its newest items
    expected = feed_files(feed_paths + pages) | feed_files(["index.html"]) | {MANIFEST_PATH}
    assert changed_files(before, after) == expected  # OPML lists feeds only: no new feed, same bytes
    assert (summary.written, summary.removed) == (len(expected), 0)
    assert summary.unchanged == len(after) - len(expected)
    for path in set(after) - expected:
        assert after[path] == before[path]  # bytes and mtime of every other file stay
    assert sorted(summary.changed) == sorted(feed_paths)  # what a WebSub hub is told: feeds only, no .gz


def test_changing_max_feed_bytes_renders_again_and_reports_the_feeds_over_it(articles: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    settings, catalog = load(articles)
    first = export_site(catalog, settings, out)
    assert first.over_budget == ()
    budgeted = dataclasses.replace(settings, max_feed_bytes=20_000)
    second = export_site(catalog, budgeted, out)  # the budget is in every feed's signature
    over = sorted(p for p in site_paths(catalog, budgeted) if render_path(p, catalog, budgeted).dropped)
    assert "all.rss" in over and sorted(second.over_budget) == over and sorted(second.changed) == over
    for path in site_paths(catalog, budgeted):
        assert len((out / path).read_bytes()) <= 20_000 or render_path(path, catalog, budgeted) is None
    third = export_site(catalog, budgeted, out)  # nothing rendered again: the report comes from the last run
    assert not third.published and sorted(third.over_budget) == over and third.changed == ()


def test_a_new_topic_adds_its_feeds_and_rewrites_the_opml(articles: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(articles, out)
    before = snapshot(out)
    write_article(articles, "2030-01-01-new-topic.md", title="Brand new", topics=["Zymurgy"], provider="The Verge")
    summary = export(articles, out)
    changed = changed_files(before, snapshot(out))
    assert feed_files(["feeds.opml"]) <= changed
    assert feed_files([f"topics/zymurgy.{ext}" for ext in ("rss", "atom", "json")]) <= changed
    assert summary.written == len(changed)


def test_feeds_that_no_longer_exist_are_removed(articles: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    lonely = write_article(articles, "2030-01-01-lonely.md", title="Lonely", topics=["Zymurgy"], provider="Solo Press")
    export(articles, out)
    gone = feed_files([f"{folder}.{ext}" for folder in ("topics/zymurgy", "providers/solo-press")
                       for ext in ("rss", "atom", "json", "html")])  # fmt: skip
    assert gone <= set(contents(out))
    lonely.unlink()
    summary = export(articles, out)
    assert not gone & set(contents(out))
    assert summary.removed == len(gone)


def test_a_plain_folder_holding_an_export_is_taken_over(articles: Path, tmp_path: Path) -> None:
    first = tmp_path / "first"
    export(articles, first)
    out = tmp_path / "out"
    shutil.copytree(first, out)  # a copied export (no record of ours): ours to replace
    (out / "all.rss").write_text("old")
    copied = out.stat().st_ino
    export(articles, out)
    assert not out.is_symlink() and out.stat().st_ino != copied
    assert (out / "all.rss").read_bytes() == (first / "all.rss").read_bytes()
    assert not list((tmp_path / ".out.d").glob("g*"))  # the copy was not kept as a standby (no record)


def test_a_folder_with_a_manifest_and_other_files_is_refused(articles: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "photos").mkdir(parents=True)
    (out / MANIFEST_PATH).write_text("{}")
    (out / "my-notes.txt").write_text("mine")
    (out / "photos" / "a.jpg").write_text("jpg")
    with pytest.raises(ExportError, match="not an export.*_manifest.json cannot be read or lists no file"):
        export(articles, out)
    assert (out / "my-notes.txt").read_text() == "mine" and (out / "photos" / "a.jpg").exists()


@pytest.mark.parametrize("name", ["precious.txt", "sub/notes.md"])
def test_a_folder_that_is_not_an_export_is_refused_and_left_alone(articles: Path, tmp_path: Path, name: str) -> None:
    out = tmp_path / "out"
    (out / name).parent.mkdir(parents=True, exist_ok=True)
    (out / name).write_text("mine")
    with pytest.raises(ExportError, match="not an export"):
        export(articles, out)
    assert not out.is_symlink() and (out / name).read_text() == "mine"


def test_a_takeover_killed_between_its_renames_is_undone(articles: Path, tmp_path: Path) -> None:
    first = tmp_path / "first"
    export(articles, first)
    out, store = tmp_path / "out", tmp_path / ".out.d"
    store.mkdir()
    aside = store / "legacy-4242"  # what a takeover killed after moving the old folder aside leaves
    shutil.copytree(first, aside)
    (aside / "all.rss").write_text("the old site")
    export(articles, out)
    assert not out.is_symlink() and (out / "all.rss").read_text() != "the old site"
    assert not aside.exists()


def test_a_second_export_to_the_same_folder_at_once_is_refused(articles: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(articles, out)
    with open(tmp_path / ".out.d" / ".lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(ExportError, match="another export"):
            export(articles, out)


def run_killed(articles: Path, out: Path, stage: str) -> None:
    process = subprocess.run(
        [sys.executable, "-c", KILL_DRIVER, str(articles), str(out), stage, BASE_URL],
        cwd=PROJECT,
        capture_output=True,
        timeout=120,
    )
    assert process.returncode == -signal.SIGKILL, process.stderr.decode()


@pytest.mark.parametrize(
    "stage", ["before-write", "midway", "before-flip", "after-flip", "fallback-aside", "fallback-in"]
)
def test_an_export_killed_at_any_stage_leaves_a_complete_site(articles: Path, tmp_path: Path, stage: str) -> None:
    out, store = tmp_path / "out", tmp_path / ".out.d"
    export(articles, out)
    old_site, old_generations = contents(out), set(store.iterdir())
    newer = Path(shutil.copytree(articles, tmp_path / "newer"))
    for n in range(8):
        write_article(newer, f"2030-01-0{n + 1}-new.md", title=f"New {n}", topics=[f"Topic {n}"], provider="Kill Test")
    run_killed(newer, out, stage)
    assert set(store.iterdir()) != old_generations  # the killed run did leave something behind

    if stage in ("after-flip", "fallback-in"):
        expected_site = contents(out)  # the new site is live, and complete
        settings, catalog = load(newer)
        for path in site_paths(catalog, settings):
            assert expected_site[path] == render_path(path, catalog, settings).body
    elif stage == "fallback-aside":  # the window of the two-rename flip: no OUT_DIR, the old site whole aside
        assert not os.path.lexists(out)
        [aside] = store.glob("aside-*")
        assert contents(aside) == old_site
        expected_site = None
    else:
        assert contents(out) == old_site  # every old file, old bytes, nothing added
        expected_site = None

    summary = export(newer, out)  # the next run cleans up and publishes
    assert out.is_dir() and not out.is_symlink()
    names = {p.name for p in store.iterdir()}
    signatures = {name for name in names if name.startswith("signatures.")}
    leftovers = names - signatures - {".lock"}
    assert len(leftovers) <= 1 and all(name.startswith("g") for name in leftovers)  # the previous generation
    # render-skipping signatures: only for the live generation and the one kept beside it, named by inode
    inodes = {str((store / name).stat().st_ino) for name in leftovers} | {str(out.stat().st_ino)}
    assert {name.split(".")[1] for name in signatures} <= inodes
    if expected_site is not None:
        assert contents(out) == expected_site and summary.written == 0
    else:
        assert contents(out) != old_site and summary.published


def assert_site_is(out: Path, articles: Path) -> None:
    """OUT_DIR holds exactly the site of ``articles``: every path, its .gz, and the metadata files."""
    settings, catalog = load(articles)
    site = contents(out)
    paths = site_paths(catalog, settings)
    assert set(site) == feed_files(paths) | set(METADATA_PATHS)
    for path in paths:
        body = render_path(path, catalog, settings).body
        assert site[path] == body and gzip.decompress(site[path + ".gz"]) == body, path


def in_store(out: Path, inode: int) -> Path:
    """Where the generation folder with this inode is now in OUT_DIR's store (a folder keeps its inode)."""
    return next(g for g in (out.parent / f".{out.name}.d").glob("g*") if g.stat().st_ino == inode)


def three_exports(articles: Path, out: Path) -> tuple[Path, int]:
    """Export, add an article, export, add another; return (the first generation: the standby, the live one's inode)."""
    export(articles, out)
    first = out.stat().st_ino
    write_article(articles, "zz-one.md", title="One more", topics=["Space"], provider="Orbit Daily")
    export(articles, out)
    write_article(articles, "zz-two.md", title="Two more", topics=["Oceans"], provider="Sea Times",
                  date="2030-01-02T12:00:00Z")  # fmt: skip
    return in_store(out, first), out.stat().st_ino


def test_the_generation_before_the_live_one_is_recycled_and_the_live_one_is_left_whole(
    articles: Path, tmp_path: Path
) -> None:
    """Export n+1 renames generation n-1 and brings it up to date, instead of hard-linking every file anew."""
    out, store = tmp_path / "out", tmp_path / ".out.d"
    first, live_folder = three_exports(articles, out)
    first_folder, before = first.stat().st_ino, snapshot(out)
    assert first_folder != live_folder
    summary = export(articles, out)
    assert summary.published and out.stat().st_ino == first_folder and not first.exists()  # renamed, flipped in
    live = in_store(out, live_folder)  # the generation live until now, the standby from now on
    assert snapshot(live) == before  # same inodes, mtimes and bytes
    assert_site_is(out, articles)
    assert [p.name for p in store.glob("g*")] == [live.name]
    # files that did not change are the very files (inodes) the previous live generation had
    settings, catalog = load(articles)
    unchanged = [p for p in site_paths(catalog, settings) if p.startswith("providers/") and "orbit" not in p
                 and "sea-times" not in p]  # fmt: skip
    assert unchanged and all((out / p).stat().st_ino == (live / p).stat().st_ino for p in unchanged)
    assert export(articles, out).published is False  # and the next run sees nothing to do


def test_damaged_missing_or_stray_files_in_the_standby_never_reach_the_site(articles: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first, _live_folder = three_exports(articles, out)
    first_folder = first.stat().st_ino
    damaged = first / "providers" / next(p.name for p in (first / "providers").iterdir() if p.suffix == ".rss")
    damaged.unlink()  # its own inode: the live generation's copy stays as it was
    damaged.write_bytes(b"CORRUPT")
    (first / "topics" / "space.json").unlink()  # a file of the standby gone
    (first / "debug.txt").write_text("left by hand")  # strays, outside any record
    (first / "topics" / "old").mkdir()
    (first / "topics" / "old" / "x.rss").write_text("<rss/>")
    export(articles, out)
    assert out.stat().st_ino == first_folder  # recycled, strays and all
    assert_site_is(out, articles)  # exactly the site: no stray file
    assert not (out / "topics" / "old").exists()  # nor the folder it was in


@pytest.mark.parametrize("damage", ["missing", "replaced", "gz replaced"])
def test_damage_to_the_live_generation_is_repaired_even_with_a_standby(
    articles: Path, tmp_path: Path, damage: str
) -> None:
    """The standby may hold a good copy, but the live site must not stay broken: the next export repairs it."""
    out = tmp_path / "out"
    three_exports(articles, out)
    export(articles, out)  # a standby exists from now on
    export(articles, out)  # nothing changed: the standby now equals the live generation
    damaged = out / ("topics/space.rss.gz" if damage == "gz replaced" else "topics/space.rss")
    damaged.unlink()
    if damage != "missing":
        damaged.write_bytes(b"CORRUPT")  # a new inode: the standby's copy is untouched
    export(articles, out)  # no input changed
    assert_site_is(out, articles)
    assert export(articles, out).published is False


def test_a_standby_holding_a_symlink_is_not_recycled(articles: Path, tmp_path: Path) -> None:
    """A symlinked folder in the standby could lead its in-place updates into the live generation."""
    out = tmp_path / "out"
    first, live_folder = three_exports(articles, out)
    before = snapshot(out)
    shutil.rmtree(first / "topics")
    (first / "topics").symlink_to(out / "topics")
    first_folder = first.stat().st_ino
    export(articles, out)
    assert snapshot(in_store(out, live_folder)) == before
    assert out.stat().st_ino != first_folder  # a fresh generation
    assert_site_is(out, articles)


def test_an_out_dir_under_a_symlinked_folder_keeps_its_live_generation(articles: Path, tmp_path: Path) -> None:
    """/var/www -> /srv/www: the store and the live generation must be spelled alike, or the live one is lost."""
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "alias").symlink_to(real)
    out = tmp_path / "alias" / "out"
    for _ in range(4):
        export(articles, out)  # nothing changes after the first
        assert_site_is(out, articles)
    write_article(articles, "zz-one.md", title="One more", topics=["Space"], provider="Orbit Daily")
    for _ in range(3):
        export(articles, out)
        assert_site_is(out, articles)


@pytest.mark.parametrize("stage", ["before-write", "midway", "before-flip"])
def test_an_export_killed_while_recycling_the_standby_leaves_the_live_site_whole(
    articles: Path, tmp_path: Path, stage: str
) -> None:
    out, store = tmp_path / "out", tmp_path / ".out.d"
    first, live_folder = three_exports(articles, out)
    first_folder, old_site = first.stat().st_ino, contents(out)
    run_killed(articles, out, stage)
    assert out.stat().st_ino == live_folder and contents(out) == old_site
    # its record goes first; a new one only once the recycled folder is complete
    assert not first.exists() and any(store.glob(f"signatures.{first_folder}.*.json")) is (stage == "before-flip")
    export(articles, out)
    assert_site_is(out, articles)
    # only a recycled folder completed before the kill (its record written) is recycled again
    assert (out.stat().st_ino == first_folder) is (stage == "before-flip")
    assert [p.stat().st_ino for p in store.glob("g*")] == [live_folder]


def files_in_new_generation(store: Path) -> int:
    """How far a running export got; the folder may vanish under us (a cleaning run)."""
    fresh = list(store.glob("g*"))  # no standby yet: only the generation being written
    return sum(len(files) for _, _, files in os.walk(fresh[0])) if fresh else 0


def test_cli_export_killed_after_varying_delays_never_breaks_the_live_site(tmp_path: Path) -> None:
    """A real ``feeds export`` of a 2000-file corpus, SIGKILLed while it works (polling, no hooks)."""
    require_shared(GEN_CORPUS)
    corpus = tmp_path / "corpus"
    subprocess.run([sys.executable, str(GEN_CORPUS), str(corpus), "--count", "2000"], check=True, capture_output=True)
    feeds = [sys.executable, "-m", "feeds.cli", "export", "--base-url", BASE_URL, "--articles"]
    out, store = tmp_path / "out", tmp_path / ".out.d"
    small = Path(shutil.copytree(SAMPLES, tmp_path / "small"))
    subprocess.run([*feeds, str(small), str(out)], check=True, capture_output=True)
    old_site, live = contents(out), out.stat().st_ino
    killed_at = []
    for target in (0, 300, 900):  # files in the new generation when the kill comes (0: still reading)
        process = subprocess.Popen([*feeds, str(corpus), str(out)], cwd=PROJECT, stderr=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL)  # fmt: skip
        try:
            deadline, count = time.monotonic() + 60, 0
            while time.monotonic() < deadline and process.poll() is None:
                count = files_in_new_generation(store)
                if count >= target:
                    break
                time.sleep(0.02)
        finally:
            process.kill()  # SIGKILL
            process.wait(timeout=30)
        assert process.returncode == -signal.SIGKILL, "the export ended before the kill"
        assert out.stat().st_ino == live
        assert contents(out) == old_site  # whatever the moment, the live site is the old one, whole
        killed_at.append(count)
    assert killed_at[0] < killed_at[1] < killed_at[2]  # the kills came at different stages
    assert any(p.name.startswith("g") for p in store.iterdir())
    subprocess.run([*feeds, str(small), str(out)], check=True, capture_output=True)
    assert out.stat().st_ino == live and not any(p.name.startswith("g") for p in store.iterdir())  # cleaned


def test_one_added_article_renders_only_the_feeds_it_belongs_to(tmp_path: Path, monkeypatch) -> None:
    """Feeds whose signature did not change keep their files without being rendered again."""
    import feeds.folder.bulk as bulk_module

    articles = Path(shutil.copytree(SAMPLES, tmp_path / "articles"))
    out = tmp_path / "out"
    export(articles, out)
    write_article(articles, "zz-new.md", title="Brand new", topics=["Space"], provider="Orbit Daily")
    rendered: list[str] = []
    real_render_path = bulk_module.render_path

    def recording(path, *args):
        rendered.append(path)
        return real_render_path(path, *args)

    monkeypatch.setattr(bulk_module, "render_path", recording)
    export(articles, out)
    settings, catalog = load(articles)
    pages = ("index.html", "feeds.opml")
    feeds_rendered = {path.rsplit(".", 1)[0] for path in rendered if path not in pages}  # feeds and their pages
    assert feeds_rendered == {"all", "topics/space", "providers/orbit-daily"}
    site = contents(out)
    for path in site_paths(catalog, settings):  # what was kept unrendered is what rendering gives
        assert site[path] == render_path(path, catalog, settings).body, path


def test_a_damaged_file_in_the_live_export_is_repaired_by_the_next_export(articles: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export(articles, out)
    settings, catalog = load(articles)
    feed_path = next(p for p in site_paths(catalog, settings) if p.startswith("topics/") and p.endswith(".rss"))
    (out / feed_path).write_bytes(b"CORRUPT")  # same generation, same inode: as a stray edit would
    (out / (feed_path + ".gz")).write_bytes(b"CORRUPT")
    export(articles, out)  # no input changed, yet the damage must not survive
    assert (out / feed_path).read_bytes() == render_path(feed_path, catalog, settings).body
    assert gzip.decompress((out / (feed_path + ".gz")).read_bytes()) == (out / feed_path).read_bytes()


def test_the_cli_no_change_shortcut_never_trusts_a_damaged_export(articles: Path, tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    command = [sys.executable, "-m", "feeds.cli", "export", "--articles", str(articles), "--base-url", BASE_URL]
    command.append(str(out))
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    subprocess.run(command, check=True, capture_output=True, env=env)
    good = (out / "all.atom").read_bytes()
    (out / "all.atom").write_bytes(b"CORRUPT")
    again = subprocess.run(command, check=True, capture_output=True, text=True, env=env)
    assert "nothing changed" not in again.stdout
    assert (out / "all.atom").read_bytes() == good


def test_parallel_rendering_gives_the_sequential_bytes(articles: Path) -> None:
    from feeds.folder.bulk import PARALLEL_THRESHOLD, render_documents

    settings, catalog = load(articles)
    paths = site_paths(catalog, settings)
    many = (paths * (PARALLEL_THRESHOLD // len(paths) + 1))[: PARALLEL_THRESHOLD + 10]
    sequential = list(render_documents(many, catalog, settings, workers=1))
    parallel = list(render_documents(many, catalog, settings, workers=2))
    assert [(p, r.body, e) for p, r, e in parallel] == [(p, r.body, e) for p, r, e in sequential]


@pytest.mark.parametrize("where", ["render_path", "item_fragment"])  # a document worker; an item pass worker
def test_a_render_worker_that_dies_fails_the_export_cleanly(
    articles: Path, tmp_path: Path, monkeypatch, where: str
) -> None:
    import feeds.folder.bulk as bulk_module

    settings, catalog = load(articles)
    parent = os.getpid()
    real = getattr(bulk_module, where)

    def dying(*args):
        if os.getpid() != parent:  # in a forked worker: as the OOM killer would
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args)

    with monkeypatch.context() as patch:
        patch.setattr(bulk_module, where, dying)
        patch.setattr(bulk_module, "PARALLEL_THRESHOLD", 10)  # the samples' site: pool and item pass
        patch.setattr(bulk_module, "_ITEM_CHUNK", 2)  # tasks for a worker too (the caller renders the last)
        patch.setattr(bulk_module.os, "cpu_count", lambda: 2)
        with pytest.raises(ExportError, match="render worker died.*nothing was published"):
            export_site(catalog, settings, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    export_site(catalog, settings, tmp_path / "out")  # the next run builds the site
    for path in site_paths(catalog, settings):
        assert (tmp_path / "out" / path).read_bytes() == render_path(path, catalog, settings).body


@pytest.mark.parametrize(
    "relative", ["../x.rss", "a/../../x.rss", "/etc/x.rss", "a//b.rss", "", ".", "a/./b", "a\\b", "a\0b"]
)
def test_a_site_path_that_could_leave_the_output_folder_is_refused(tmp_path: Path, relative: str) -> None:
    with pytest.raises(ExportError, match="leave the output folder"):
        safe_target(tmp_path, relative)
    assert safe_target(tmp_path, "topics/ai.rss") == tmp_path / "topics" / "ai.rss"


def test_a_file_added_to_the_live_site_by_hand_is_gone_after_the_next_export(articles: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    three_exports(articles, out)
    export(articles, out)
    (out / "topics" / "debug.txt").write_text("left by hand")
    assert export(articles, out).published  # no input changed, but the site did
    assert_site_is(out, articles)
    assert export(articles, out).published is False


def test_the_cli_no_change_shortcut_notices_a_file_added_by_hand(articles: Path, tmp_path: Path) -> None:
    out, cache = tmp_path / "out", tmp_path / "cache"
    command = [sys.executable, "-m", "feeds.cli", "export", "--articles", str(articles), "--base-url", BASE_URL,
               str(out)]  # fmt: skip
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    subprocess.run(command, check=True, capture_output=True, env=env, cwd=PROJECT)
    (out / "stray.txt").write_text("left by hand")
    second = subprocess.run(command, check=True, capture_output=True, text=True, env=env, cwd=PROJECT)
    assert "nothing changed" not in second.stdout
    assert not (out / "stray.txt").exists()
    third = subprocess.run(command, check=True, capture_output=True, text=True, env=env, cwd=PROJECT)
    assert "nothing changed" in third.stdout


@pytest.mark.parametrize("shape", ["folder where a file goes", "file where a folder goes"])
def test_a_standby_whose_shape_conflicts_with_the_site_is_not_recycled(
    articles: Path, tmp_path: Path, shape: str
) -> None:
    out = tmp_path / "out"
    first, live_folder = three_exports(articles, out)
    before, first_folder = snapshot(out), first.stat().st_ino
    if shape == "folder where a file goes":
        (first / "all.rss").unlink()
        (first / "all.rss").mkdir()
    else:
        shutil.rmtree(first / "topics")
        (first / "topics").write_text("not a folder")
    export(articles, out)
    assert out.stat().st_ino != first_folder and snapshot(in_store(out, live_folder)) == before
    assert_site_is(out, articles)


@pytest.mark.parametrize("change", ["none", "edited", "removed", "added", "symlink", "folder"])
def test_unchanged_since_trusts_the_live_site_only_exactly_as_its_export_recorded_it(
    articles: Path, tmp_path: Path, change: str
) -> None:
    """The no-change shortcut (one walk of the live generation, issue 20) against each way the site can differ."""
    out = tmp_path / "out"
    settings, catalog = load(articles)
    export_site(catalog, settings, out, inputs={"fingerprint": "f"})
    live = out
    feed = live / "all.rss"
    if change == "edited":  # same size, another mtime
        os.utime(feed, ns=(feed.stat().st_atime_ns, feed.stat().st_mtime_ns + 1_000_000_000))
    elif change == "removed":
        (live / "all.rss.gz").unlink()
    elif change == "added":
        (live / "topics" / "stray.txt").write_text("left by hand")
    elif change == "symlink":
        (live / "elsewhere.rss").symlink_to(feed)
    elif change == "folder":
        (live / "empty-folder").mkdir()  # folders hold no bytes: still the recorded site
    trusted = change in ("none", "folder")
    assert (unchanged_since(out, "f") is not None) is trusted
    assert unchanged_since(out, "another fingerprint") is None


def test_the_manifest_an_export_remembers_is_the_manifest_read_back(articles: Path, tmp_path: Path) -> None:
    """export_site remembers the manifest it wrote as the infos it holds, never parsing it: they must be
    what reading the file gives (the next export takes reused files' sizes and digests from them)."""
    out, memos = tmp_path / "out", ExportMemos()
    for step in range(2):
        settings, catalog = load(articles)
        export_site(catalog, settings, out, memos=memos)
        remembered = manifest_infos(out, memos.records)
        assert remembered == manifest_infos(out, RecordMemo())  # a new memo: the file parsed
        assert MANIFEST_PATH not in remembered and any(name.endswith(".gz") for name in remembered)
        write_article(
            articles, f"2030-01-0{step + 1}-added.md", title=f"Added {step}", topics=["AI"], provider="The Verge"
        )


@pytest.mark.parametrize("since", ["nothing", "another export", "an unchanged export", "the record edited"])
def test_inputs_are_added_later_only_to_the_record_their_export_left(
    articles: Path, tmp_path: Path, since: str
) -> None:
    """record_inputs (`export --watch`, when it stops) claims inputs for a generation only while it is live with the
    record its export wrote: after another export (another process's, or this one's own, which found nothing to
    write) the inputs of the earlier one are never claimed for what is live now."""
    out, memos = tmp_path / "out", ExportMemos()
    settings, catalog = load(articles)
    summary = export_site(catalog, settings, out, memos=memos)
    written = memos.records.recall(summary.record)  # type: ignore[arg-type]
    assert unchanged_since(out, "f") is None  # no inputs recorded
    if since == "another export":
        write_article(articles, "2030-01-01-added.md", title="Added", topics=["AI"], provider="The Verge")
        export_site(load(articles)[1], settings, out)  # a new process: its own memos
    elif since == "an unchanged export":
        assert not export_site(catalog, settings, out, memos=memos).published  # the record rewritten, no inputs
    elif since == "the record edited":
        assert summary.record is not None
        summary.record.write_text(summary.record.read_text())  # same bytes, another file
    added = record_inputs(summary, written, {"fingerprint": "f"}, memos)
    assert added is (since == "nothing")
    assert (unchanged_since(out, "f") is not None) is added
    assert_site_is(out, articles)
