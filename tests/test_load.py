"""The parse cache and parallel reads never change what a folder reads as."""

from __future__ import annotations

import dataclasses
import gc
import marshal
import os
import shutil
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feeds.config import Settings
from feeds.folder.export import site_files
from feeds.index.catalog import build_catalog
from feeds.model import ARTICLE_FIELDS, Article, Image, Provider, Related
from feeds.read import load, parse_pool
from feeds.read.incremental_load import IncrementalLoader
from feeds.read.load import (
    article_from_record,
    article_record,
    default_cache_dir,
    load_folder,
)
from feeds.read.parsecache import Located, ParseCache, cache_path
from feeds.read.reader import read_folder

from .conftest import BASE_URL, REAL_CORPUS, require_shared


def test_record_round_trip_keeps_every_field() -> None:
    moment = datetime(2024, 2, 29, 23, 59, 58, 123456, tzinfo=UTC)
    article = Article(
        source="a/b.md", uid="urn:uuid:x", title="T", link="https://x.org/a", published_at=moment, summary="S",
        original_url="https://x.org/a", web_url="https://x.org/w", amp_url="https://x.org/a/amp",
        cdn_amp_url="https://x-org.cdn.ampproject.org/c/s/x.org/a", category="news", kind="video", quality=-3,
        heat=7, published=False, provider=Provider("X", "x.org"), topics=("AI", "Space"),
        images=(Image("https://x.org/i.jpg", 10, None), Image("https://x.org/j.png")),
        related=(Related("R", "https://y.org/r", "rs", moment, Provider("Y", None), Image("https://y.org/i.gif", 1, 2)),
                 Related("R2", "https://y.org/r2")),
        featured_embed_url="https://www.youtube.com/embed/x", body="body\ntext",
    )  # fmt: skip
    assert article_from_record(article_record(article)) == article
    # the records derive from the one field declaration: every field is in one of the two
    assert len(article_record(article)[0]) + len(article_record(article)[1]) == len(ARTICLE_FIELDS)


def test_warm_load_equals_cold_read(cached_settings: Settings) -> None:
    expected = read_folder(cached_settings.articles_dir, cached_settings)
    cold, cold_stats = load_folder(cached_settings)
    warm, warm_stats = load_folder(cached_settings)
    assert cold == expected == warm
    assert (cold_stats.parsed, cold_stats.cached) == (cold_stats.files, 0)
    assert (warm_stats.parsed, warm_stats.cached) == (0, warm_stats.files)


def test_changed_file_is_read_again_never_served_stale(cached_settings: Settings) -> None:
    load_folder(cached_settings)
    target = sorted(cached_settings.articles_dir.glob("*.txt"))[0]
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace('title: "', 'title: "Changed: ', 1), encoding="utf-8")
    os.utime(target, ns=(1, 1))  # a different mtime even on coarse file systems
    folder, stats = load_folder(cached_settings)
    assert stats.parsed == 1
    assert any(a.title.startswith("Changed: ") for a in folder.articles)
    assert folder == read_folder(cached_settings.articles_dir, cached_settings)


def test_added_and_removed_files_are_noticed(cached_settings: Settings) -> None:
    load_folder(cached_settings)
    source = sorted(cached_settings.articles_dir.glob("*.txt"))[0]
    copy = cached_settings.articles_dir / "zz-new.md"
    copy.write_text(source.read_text(encoding="utf-8").replace("https://", "https://new.", 1), encoding="utf-8")
    folder, stats = load_folder(cached_settings)
    assert stats.parsed == 1 and folder == read_folder(cached_settings.articles_dir, cached_settings)
    copy.unlink()
    folder, stats = load_folder(cached_settings)
    assert stats.parsed == 0 and folder == read_folder(cached_settings.articles_dir, cached_settings)


def test_cache_inside_the_articles_folder_is_refused(articles: Path) -> None:
    settings = Settings(articles_dir=articles, cache_dir=articles / "cache")
    folder, stats = load_folder(settings)
    assert stats.cache_warning and "inside the articles folder" in stats.cache_warning
    assert not (articles / "cache").exists()
    assert folder == read_folder(articles, settings)


def test_default_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "feeds"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "feeds"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")  # the XDG spec: ignore a relative path (issue 16)
    assert default_cache_dir() == Path.home() / ".cache" / "feeds"


def _cache_rows(settings: Settings) -> tuple[list, list]:
    """Every entry (its marshal payload decoded: its bytes depend on which objects the writer's
    values share) and every details row."""
    with sqlite3.connect(cache_path(settings)) as connection:
        entries = connection.execute("SELECT name, digest, entry FROM entries ORDER BY name").fetchall()
        details = connection.execute("SELECT digest, packed, unused_since FROM details ORDER BY digest").fetchall()
    return [(name, digest, marshal.loads(entry[:-4])) for name, digest, entry in entries], details


def _detail_places(folder) -> set[type]:
    """Where the articles' details are: bytes in memory, or Located (in the cache's database)."""
    return {type(article._packed[1]) for article in folder.articles}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_cold_load_stores_the_same_cache_on_any_number_of_workers_and_keeps_no_details(
    tmp_path: Path, cached_settings: Settings, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setattr(parse_pool, "PARALLEL_THRESHOLD", 2)  # the samples' few files: batches on two workers
    monkeypatch.setattr(parse_pool, "_MIN_BATCH", 3)
    reference = dataclasses.replace(cached_settings, cache_dir=tmp_path / "reference-cache")
    expected, _ = load_folder(reference, workers=1)
    folder, stats = load_folder(cached_settings, workers=workers)
    assert folder == expected == read_folder(cached_settings.articles_dir, cached_settings)
    assert stats.cache_warning is None and stats.parsed == stats.files
    entries, details = _cache_rows(cached_settings)
    assert (entries, details) == _cache_rows(reference) and len(entries) == stats.files
    assert _detail_places(folder) == {Located}  # every article's details stayed in the database
    assert _detail_places(expected) == {Located}
    warm, warm_stats = load_folder(cached_settings, workers=workers)
    assert warm == expected and warm_stats.parsed == 0


def test_a_batch_the_cache_refuses_keeps_its_details_in_memory_and_warns(
    cached_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parse_pool, "PARALLEL_THRESHOLD", 2)
    monkeypatch.setattr(parse_pool, "_MIN_BATCH", 3)

    def refused(self: ParseCache, written: list) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    with monkeypatch.context() as patch:  # (monkeypatch.undo would undo conftest's RACY_SECONDS too)
        patch.setattr(ParseCache, "save", refused)  # in the forked workers too
        folder, stats = load_folder(cached_settings, workers=2)
    assert stats.cache_warning is not None and "not written (disk I/O error)" in stats.cache_warning
    assert folder == read_folder(cached_settings.articles_dir, cached_settings)
    assert _detail_places(folder) == {bytes}
    _, again = load_folder(cached_settings, workers=2)
    assert again.parsed == again.files  # nothing was stored
    _, warm = load_folder(cached_settings, workers=2)
    assert warm.parsed == 0  # and now everything is


def test_a_stored_batch_sends_back_no_details_and_a_refused_one_all_of_them(
    cached_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What crosses the pool's pipe: a stored article's record without its ~2 KB of details."""
    root = cached_settings.articles_dir
    scanned, _ = load.scan_folder(root)
    names, identities = [name for name, _ in scanned], [identity for _, identity in scanned]
    cache, _ = ParseCache.open(cached_settings)
    assert cache is not None
    job = parse_pool._Job(root, names, identities, cached_settings, cache.path, time.time_ns())
    expected = parse_pool.read_batch((root, names, cached_settings))
    parsed = parse_pool._read_and_store(job)
    assert parsed.stored == list(range(len(names))) and parsed.warning is None
    for record, reference in zip(parsed.records, expected, strict=True):
        assert record == (reference if reference[0] is None else (reference[0], None, *reference[2:]))
    assert any(record[0] is not None for record in parsed.records)
    monkeypatch.setattr(ParseCache, "save", lambda *_: (_ for _ in ()).throw(sqlite3.OperationalError("full")))
    refused = parse_pool._read_and_store(job)
    assert refused.records == expected and refused.stored == [] and "not written (full)" in str(refused.warning)


def test_real_corpus_output_is_identical_cold_warm_parallel_and_sequential(tmp_path: Path) -> None:
    corpus = require_shared(REAL_CORPUS)
    settings = Settings(base_url=BASE_URL, articles_dir=corpus, cache_dir=tmp_path / "cache")

    def export_bytes(**options) -> dict[str, bytes]:
        folder, _ = load_folder(settings, **options)
        return site_files(build_catalog(folder.articles, settings), settings)

    sequential = export_bytes(use_cache=False, workers=1)
    parallel_cold = export_bytes(use_cache=True, workers=2)
    warm = export_bytes(use_cache=True, workers=2)
    assert sequential == parallel_cold == warm
    assert len(sequential) > 100


def test_a_rewrite_that_keeps_size_and_mtime_is_still_noticed(cached_settings: Settings) -> None:
    load_folder(cached_settings)
    target = sorted(cached_settings.articles_dir.glob("*.txt"))[0]
    before = target.stat()
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace('title: "', 'title: "X', 1).replace("\n\n", "\n", 1), encoding="utf-8")
    assert target.stat().st_size == before.st_size
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # a tool that preserves mtime
    folder, stats = load_folder(cached_settings)
    assert stats.parsed == 1 and any(a.title.startswith("X") for a in folder.articles)


@pytest.mark.skipif(os.geteuid() == 0, reason="root lists every folder: an unreadable folder cannot be made")
def test_an_unreadable_subfolder_is_an_error_not_a_silent_loss(cached_settings: Settings) -> None:
    locked = cached_settings.articles_dir / "locked"
    locked.mkdir()
    shutil.copy(sorted(cached_settings.articles_dir.glob("*.txt"))[0], locked / "copy.md")
    locked.chmod(0)
    try:
        for folder in (load_folder(cached_settings)[0], read_folder(cached_settings.articles_dir, cached_settings),
                       IncrementalLoader(cached_settings).refresh()):  # fmt: skip
            assert any(p.path == "locked" and p.is_error and "cannot list" in p.message for p in folder.problems)
    finally:
        locked.chmod(0o755)


def test_listing_problems_come_first_and_are_errors(monkeypatch: pytest.MonkeyPatch, cached_settings: Settings) -> None:
    """Root can list anything, so simulate the refusal where the walker asks the OS."""
    real_scandir = os.scandir

    def refusing(path):
        if str(path).endswith("/locked"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    (cached_settings.articles_dir / "locked").mkdir()
    monkeypatch.setattr("feeds.read.reader.os.scandir", refusing)
    for folder in (load_folder(cached_settings)[0], read_folder(cached_settings.articles_dir, cached_settings),
                   IncrementalLoader(cached_settings).refresh()):  # fmt: skip
        assert folder.problems[0].path == "locked" and folder.problems[0].is_error
        assert "Permission denied" in folder.problems[0].message


def test_a_failed_cache_write_is_a_warning_and_the_output_still_right(cached_settings: Settings, monkeypatch) -> None:
    load_folder(cached_settings)
    target = sorted(cached_settings.articles_dir.glob("*.txt"))[0]
    target.write_text(target.read_text(encoding="utf-8").replace('title: "', 'title: "New: ', 1), encoding="utf-8")

    def full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(ParseCache, "save", full)
    folder_read, stats = load_folder(cached_settings)
    assert stats.cache_warning and "not written" in stats.cache_warning
    assert folder_read == read_folder(cached_settings.articles_dir, cached_settings)


@pytest.mark.parametrize("frozen_before", [False, True])
def test_a_load_leaves_the_collector_as_it_found_it(cached_settings: Settings, frozen_before: bool) -> None:
    """The load pauses the collector and ages what it read (issue 20); enabled again after, nothing left frozen,
    and objects a process owner froze itself (``feeds serve`` before forking) stay frozen."""
    owned = [object() for _ in range(3)]  # the owner's objects, frozen below when frozen_before
    gc.unfreeze()  # from a known state: an earlier test in this process may have frozen (export --watch does)
    if frozen_before:
        gc.freeze()
    try:  # frozen objects may be freed meanwhile (the count shrinks), but nothing is unfrozen or left frozen
        assert load_folder(cached_settings)[0].articles
        assert gc.isenabled() and (gc.get_freeze_count() > 0) is frozen_before
        gc.disable()
        assert load_folder(cached_settings)[0].articles
        assert not gc.isenabled() and (gc.get_freeze_count() > 0) is frozen_before
    finally:
        gc.enable()
        gc.unfreeze()
    assert owned
