"""The SQLite parse cache: sound after damage and concurrent writers, never stale, keyed by the reader's code."""

from __future__ import annotations

import ast
import dataclasses
import gc
import marshal
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import pytest

from feeds import READER_MODULES
from feeds.config import READER_SETTINGS, Settings
from feeds.folder.export import site_files
from feeds.index.catalog import build_catalog
from feeds.read import cache_files, cache_writes, load, parse_pool, parsecache
from feeds.read.cached_details import decode_located
from feeds.read.load import CacheDamaged, load_folder, scan_folder
from feeds.read.parsecache import cache_path
from feeds.read.reader import read_article, read_folder

from .conftest import PROJECT
from .project_modules import imports, module_tree


@pytest.fixture
def settings(cached_settings: Settings) -> Settings:
    return cached_settings  # a copy of the samples, a cache folder of its own (conftest)


def _titled(folder: Path) -> list[Path]:
    """The article files with a ``title: "..."`` line (what the edits below change), in name order."""
    return sorted(p for p in folder.iterdir() if p.is_file() and 'title: "' in p.read_text(encoding="utf-8"))


def _closed_cache(settings: Settings) -> Path:
    """Fill the cache, then let every connection close (SQLite folds the WAL into the file)."""
    load_folder(settings)
    gc.collect()
    path = cache_path(settings)
    assert path.exists() and not Path(f"{path}-wal").exists()
    return path


def _site(settings: Settings, **options) -> dict[str, bytes]:
    folder, _ = load_folder(settings, **options)
    return site_files(build_catalog(folder.articles, settings), settings)


def _query(path: Path, sql: str, *parameters) -> list:
    with sqlite3.connect(path) as connection:
        return connection.execute(sql, parameters).fetchall()


def test_the_cache_is_one_sqlite_database_in_wal_mode_that_passes_integrity_check(settings: Settings) -> None:
    _, stats = load_folder(settings)
    path = cache_path(settings)
    assert [p.name for p in settings.cache_dir.iterdir() if not p.name.endswith(("-wal", "-shm"))] == [path.name]
    assert _query(path, "PRAGMA integrity_check") == [("ok",)]
    assert _query(path, "PRAGMA journal_mode") == [("wal",)]
    assert _query(path, "SELECT count(*) FROM entries") == [(stats.files,)]


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garbage_header(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(b"not a database at all!!" + data[24:])


def _flip_every_page(path: Path) -> None:
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")  # the page size, from the database header
    for offset in range(page + 2000, len(data), page):  # past page 1 (the schema): inside each page
        data[offset] ^= 0x55
    path.write_bytes(bytes(data))


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _other_schema(path: Path) -> None:
    path.unlink()
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE entries (x)")


@pytest.mark.parametrize(
    ("damage", "warned"),
    [
        (_truncate, True),
        (_garbage_header, True),
        (_other_schema, True),
        (_empty, False),  # an empty file is an empty database to SQLite: nothing to trust, nothing to warn about
        (_flip_every_page, False),  # may hit only blobs: those show as a CRC or digest fails, the file read again
    ],
)
def test_a_damaged_database_is_rebuilt_and_the_output_equals_a_cold_run(
    settings: Settings, damage, warned: bool
) -> None:
    cold = _site(settings, use_cache=False)
    damage(_closed_cache(settings))
    folder, stats = load_folder(settings)
    assert folder == read_folder(settings.articles_dir, settings)
    if warned:
        assert stats.cache_warning and "rebuilding" in stats.cache_warning
    assert _site(settings) == cold
    gc.collect()
    if damage is not _flip_every_page:
        assert stats.parsed == stats.files
        assert _query(cache_path(settings), "PRAGMA integrity_check") == [("ok",)]
    _, again = load_folder(settings)
    assert again.cache_warning is None and again.parsed == 0 and _site(settings) == cold


def test_an_entry_that_fails_its_crc_is_never_used(settings: Settings) -> None:
    path = _closed_cache(settings)
    # a changed byte SQLite cannot notice (in the head record), the CRC left as it was
    (blob,) = _query(path, "SELECT entry FROM entries WHERE digest IS NOT NULL LIMIT 1")[0]
    changed = blob[:20] + bytes([blob[20] ^ 1]) + blob[21:]
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE entries SET entry = ? WHERE entry = ?", (changed, blob))
    folder, stats = load_folder(settings)
    assert stats.cache_warning and "damaged" in stats.cache_warning
    assert folder == read_folder(settings.articles_dir, settings)
    _, again = load_folder(settings)  # rebuilt
    assert again.cache_warning is None and again.parsed == 0


@pytest.mark.parametrize(
    "reshape",
    [
        lambda entry: (entry[0], "not a head record", *entry[2:]),
        lambda entry: (*entry[:2], "not a digest", entry[3]),
        lambda entry: entry[:2],
    ],
    ids=["head", "digest", "short"],
)
def test_entries_of_the_wrong_shape_are_never_trusted(settings: Settings, reshape) -> None:
    """An entry with a good CRC but not what this code writes (a foreign writer): rebuilt, never used."""
    path = _closed_cache(settings)
    with sqlite3.connect(path) as connection:
        for (blob,) in connection.execute("SELECT entry FROM entries WHERE digest IS NOT NULL").fetchall():
            changed = marshal.dumps(reshape(marshal.loads(blob)))
            sealed = changed + zlib.crc32(changed).to_bytes(4, "little")
            connection.execute("UPDATE entries SET entry = ? WHERE entry = ?", (sealed, blob))
    folder, stats = load_folder(settings)
    assert stats.cache_warning and "damaged" in stats.cache_warning
    assert folder == read_folder(settings.articles_dir, settings)
    _, again = load_folder(settings)
    assert again.cache_warning is None and again.parsed == 0


def test_damaged_details_are_never_used_the_file_is_read_again(settings: Settings) -> None:
    path = _closed_cache(settings)
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE details SET packed = substr(packed, 1, length(packed) - 3)")
    folder, stats = load_folder(settings)
    assert stats.cached == stats.files  # the entries are intact: the damage shows when details are read
    assert folder == read_folder(settings.articles_dir, settings)


def test_damaged_details_of_a_file_changed_since_are_refused(settings: Settings) -> None:
    path = _closed_cache(settings)
    folder, _ = load_folder(settings)  # every article restored, its details in the database
    with sqlite3.connect(path) as connection:
        connection.execute("DELETE FROM details")
    for file in _titled(settings.articles_dir):
        file.write_text(file.read_text(encoding="utf-8").replace('title: "', 'title: "Edited: ', 1), encoding="utf-8")
    refused = 0
    for article in folder.articles:
        try:
            assert not article.title.startswith("Edited: ")  # never the new file's details under the old digest
        except CacheDamaged:
            refused += 1
    assert refused >= 1


def _restored(settings: Settings) -> list:
    """The articles restored from the (filled) cache, none of their details decoded yet."""
    folder, stats = load_folder(settings)
    assert stats.cached == stats.files
    return list(folder.articles)


def _details_reads(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The digests the one-article path (:meth:`parsecache.ParseCache.details`) will be asked for."""
    asked: list[bytes] = []
    details = parsecache.ParseCache.details
    monkeypatch.setattr(
        parsecache.ParseCache, "details", lambda self, digest: asked.append(digest) or details(self, digest)
    )
    return asked


def test_details_decoded_together_are_those_decoded_one_by_one(settings: Settings, monkeypatch) -> None:
    _closed_cache(settings)
    articles, alone = _restored(settings), _restored(settings)
    asked = _details_reads(monkeypatch)
    decode_located(articles)
    together = [a.values() for a in articles]
    assert asked == []  # one query for them all, none an article
    assert together == [a.values() for a in alone]
    assert asked == [a.digest for a in alone]


DAMAGE = {
    "gone": "DELETE FROM details WHERE digest = ?",
    "cut short": "UPDATE details SET packed = substr(packed, 1, length(packed) - 3) WHERE digest = ?",
    "not bytes": "UPDATE details SET packed = 'text' WHERE digest = ?",
}


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_detail_amid_a_batch_is_read_again_from_its_file_alone(
    settings: Settings, monkeypatch, damage
) -> None:
    _closed_cache(settings)
    articles = _restored(settings)
    middle = articles[len(articles) // 2]
    with sqlite3.connect(cache_path(settings)) as connection:
        connection.execute(damage, (middle.digest,))
    asked = _details_reads(monkeypatch)
    decode_located(articles)
    assert asked == []  # the batch never asks one by one: it leaves the damaged one to its first read
    assert [a.values() for a in articles] == [a.values() for a in read_folder(settings.articles_dir, settings).articles]
    assert asked == [middle.digest]  # and that read, alone, found the damage and read the file again


@pytest.mark.parametrize("damage", DAMAGE.values(), ids=DAMAGE.keys())
def test_a_damaged_detail_amid_a_batch_of_a_file_changed_since_is_refused_at_its_first_read(
    settings: Settings, damage
) -> None:
    _closed_cache(settings)
    articles, alone = _restored(settings), _restored(settings)
    edited = _titled(settings.articles_dir)[len(_titled(settings.articles_dir)) // 2]
    position = next(i for i, a in enumerate(articles) if a.source == edited.name)
    with sqlite3.connect(cache_path(settings)) as connection:
        connection.execute(damage, (articles[position].digest,))
    _edit(edited, "Edited: ")
    with pytest.raises(CacheDamaged) as one_by_one:
        assert alone[position].title is None  # raises: its details are gone and its file changed
    decode_located(articles)  # refuses nothing itself: the damage is the article's first read's to report
    for index, article in enumerate(articles):
        if index != position:
            assert not article.title.startswith("Edited: ")
    with pytest.raises(CacheDamaged) as together:
        assert articles[position].title is None  # raises, as it did alone
    assert str(together.value) == str(one_by_one.value)


def test_details_of_an_unreadable_database_are_left_to_each_articles_first_read(
    settings: Settings, monkeypatch
) -> None:
    _closed_cache(settings)
    articles = _restored(settings)

    def refused(self) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    with monkeypatch.context() as patch:  # (monkeypatch.undo would undo conftest's RACY_SECONDS too)
        patch.setattr(parsecache.ParseCache, "_connection", refused)
        decode_located(articles)
    asked = _details_reads(monkeypatch)
    assert [a.values() for a in articles] == [a.values() for a in read_folder(settings.articles_dir, settings).articles]
    assert asked == [a.digest for a in articles]


def _edit(file: Path, title: str) -> None:
    file.write_text(file.read_text(encoding="utf-8").replace('title: "', f'title: "{title}', 1), encoding="utf-8")
    os.utime(file, ns=(1, 1))  # a different mtime even on coarse file systems


def test_a_changed_file_is_read_again_and_its_old_details_go_later(settings: Settings, monkeypatch) -> None:
    path = _closed_cache(settings)
    target = _titled(settings.articles_dir)[0]
    (old,) = _query(path, "SELECT digest FROM entries WHERE name = ?", target.name.encode())[0]
    _edit(target, "Changed: ")
    folder, stats = load_folder(settings)
    assert stats.parsed == 1 and folder == read_folder(settings.articles_dir, settings)
    # kept a while: another process (a live worker) may still render the article it replaced
    assert _query(path, "SELECT unused_since IS NOT NULL FROM details WHERE digest = ?", old) == [(1,)]
    later = time.time() + cache_writes.UNUSED_DETAILS_KEPT_SECONDS + 1
    monkeypatch.setattr(cache_writes.time, "time", lambda: later)
    _edit(_titled(settings.articles_dir)[1], "Again: ")
    load_folder(settings)
    assert _query(path, "SELECT count(*) FROM details WHERE digest = ?", old) == [(0,)]
    assert _query(path, "SELECT count(*) FROM details WHERE unused_since IS NULL") == _query(
        path, "SELECT count(*) FROM entries WHERE digest IS NOT NULL"
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_old_details_are_marked_with_the_new_entry_though_forgetting_gone_files_fails(
    settings: Settings, monkeypatch, workers: int
) -> None:
    """The marks go in with the new entries (a load killed or refused after storing them must not leave
    details no entry names unmarked forever); a file gone is forgotten by the next load that can."""
    monkeypatch.setattr(parse_pool, "PARALLEL_THRESHOLD", 1)
    path = _closed_cache(settings)
    edited, removed = _titled(settings.articles_dir)[:2]
    entry_digest = "SELECT digest FROM entries WHERE name = ?"
    ((old,),), ((gone,),) = (
        _query(path, entry_digest, edited.name.encode()),
        _query(path, entry_digest, removed.name.encode()),
    )
    _edit(edited, "Changed: ")
    removed.unlink()

    def refused(self, lookup) -> None:
        raise sqlite3.OperationalError("database is locked")

    with monkeypatch.context() as patch:  # (monkeypatch.undo would undo conftest's RACY_SECONDS too)
        patch.setattr(parsecache.ParseCache, "forget", refused)
        folder, stats = load_folder(settings, workers=workers)
    assert stats.cache_warning is not None and "files gone not deleted (database is locked)" in stats.cache_warning
    assert folder == read_folder(settings.articles_dir, settings)
    assert _query(path, "SELECT unused_since IS NOT NULL FROM details WHERE digest = ?", old) == [(1,)]
    assert _query(path, "SELECT count(*) FROM entries WHERE name = ?", removed.name.encode()) == [(1,)]
    _, again = load_folder(settings, workers=workers)
    assert again.parsed == 0 and again.cache_warning is None
    assert _query(path, "SELECT count(*) FROM entries WHERE name = ?", removed.name.encode()) == [(0,)]
    assert _query(path, "SELECT unused_since IS NOT NULL FROM details WHERE digest = ?", gone) == [(1,)]


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="the kernel's lock table is Linux's /proc/locks")
def test_a_forked_reader_stores_under_locks_of_its_own(settings: Settings, monkeypatch, tmp_path: Path) -> None:
    """A connection a forked child opens shares SQLite's record of the parent's open database, locks
    included: the loading process closes its own before it forks its readers, so theirs are real."""
    monkeypatch.setattr(parse_pool, "PARALLEL_THRESHOLD", 1)
    load_folder(settings)  # the database exists
    gc.collect()  # and no connection of this process is open to it
    for file in _titled(settings.articles_dir):
        _edit(file, "Changed: ")
    save, seen = parsecache.ParseCache.save, tmp_path / "locks"

    def save_and_look(self, written) -> None:
        save(self, written)  # its connection is open now (a shared lock on the database file, WAL)
        inode = f":{os.stat(self.path).st_ino}"
        mine = [line.split() for line in Path("/proc/locks").read_text().splitlines()]
        held = [fields for fields in mine if fields[4] == str(os.getpid()) and fields[5].endswith(inode)]
        with seen.open("a") as out:
            out.write(f"{os.getpid()} {len(held)}\n")

    monkeypatch.setattr(parsecache.ParseCache, "save", save_and_look)
    _, stats = load_folder(settings, workers=2)
    assert stats.parsed == stats.files and stats.cache_warning is None
    readers = [line.split() for line in seen.read_text().splitlines()]
    assert readers and all(pid != str(os.getpid()) and int(held) > 0 for pid, held in readers), readers


def test_each_transaction_marks_what_its_own_entries_replaced(settings: Settings, monkeypatch) -> None:
    """A load that stores its files in several transactions and fails after the first: the entries
    committed went in with their marks (they are hits from then on, so no later load would mark them)."""
    path = _closed_cache(settings)
    first, second = _titled(settings.articles_dir)[:2]
    entry_digest = "SELECT digest FROM entries WHERE name = ?"
    (old_first,), (old_second,) = (_query(path, entry_digest, f.name.encode())[0] for f in (first, second))
    _edit(first, "Changed: ")
    _edit(second, "Changed: ")
    write, calls = cache_writes.write_entries, []

    def second_refused(*args) -> None:
        calls.append(1)
        if len(calls) == 2:
            raise sqlite3.OperationalError("disk I/O error")
        write(*args)

    with monkeypatch.context() as patch:
        patch.setattr(parsecache, "_CHUNK", 1)  # one transaction a file
        patch.setattr(parsecache, "write_entries", second_refused)
        _, stats = load_folder(settings, workers=1)
    assert stats.cache_warning is not None and "not written (disk I/O error)" in stats.cache_warning
    marked = "SELECT unused_since IS NOT NULL FROM details WHERE digest = ?"
    assert _query(path, marked, old_first) == [(1,)]  # committed with the first file's new entry
    assert _query(path, marked, old_second) == [(0,)]  # its entry was not replaced
    _, again = load_folder(settings, workers=1)
    assert again.parsed == 1 and _query(path, marked, old_second) == [(1,)]  # the one not stored, read again


def test_a_touched_file_keeps_its_details_unmarked(settings: Settings) -> None:
    path = _closed_cache(settings)
    target = _titled(settings.articles_dir)[0]
    os.utime(target, ns=(1, 1))  # a new identity, the same article
    _, stats = load_folder(settings)
    assert stats.parsed == 1
    digest, entry = _query(path, "SELECT digest, entry FROM entries WHERE name = ?", target.name.encode())[0]
    assert marshal.loads(entry[:-4])[0][1] == 1  # the new identity was stored (mtime 1 ns)
    assert _query(path, "SELECT unused_since FROM details WHERE digest = ?", digest) == [(None,)]


def test_details_marked_unused_are_named_again_when_a_file_returns_to_them(settings: Settings) -> None:
    path = _closed_cache(settings)
    target = _titled(settings.articles_dir)[0]
    original = target.read_text(encoding="utf-8")
    (first,) = _query(path, "SELECT digest FROM entries WHERE name = ?", target.name.encode())[0]
    _edit(target, "Changed: ")
    load_folder(settings)
    assert _query(path, "SELECT unused_since IS NOT NULL FROM details WHERE digest = ?", first) == [(1,)]
    target.write_text(original, encoding="utf-8")
    os.utime(target, ns=(2, 2))
    load_folder(settings)
    assert _query(path, "SELECT unused_since FROM details WHERE digest = ?", first) == [(None,)]


def test_a_gone_files_entry_another_writer_stored_since_the_lookup_is_marked(settings: Settings, monkeypatch) -> None:
    path = _closed_cache(settings)
    target = _titled(settings.articles_dir)[0]
    _edit(target, "Another writer's: ")
    another = parsecache.result_record(read_article(target, settings, root=settings.articles_dir))
    target.unlink()
    forget = parsecache.ParseCache.forget

    def after_another_writer(self, lookup) -> None:
        self.save([(target.name, (1, 1, 1, 1), another)])  # stored after this load's lookup, before its forget
        forget(self, lookup)

    monkeypatch.setattr(parsecache.ParseCache, "forget", after_another_writer)
    load_folder(settings)
    assert _query(path, "SELECT count(*) FROM entries WHERE name = ?", target.name.encode()) == [(0,)]
    assert _query(path, "SELECT unused_since IS NOT NULL FROM details WHERE digest = ?", another[2]) == [(1,)]


def test_many_files_replaced_in_one_transaction_are_all_marked(settings: Settings, monkeypatch) -> None:
    monkeypatch.setattr(cache_writes, "MAX_PARAMETERS", 2)  # the names' lookup in several queries
    path = _closed_cache(settings)
    files = _titled(settings.articles_dir)[:5]
    old = [_query(path, "SELECT digest FROM entries WHERE name = ?", file.name.encode())[0][0] for file in files]
    for file in files:
        _edit(file, "Changed: ")
    _, stats = load_folder(settings, workers=1)
    assert stats.parsed == 5
    marked = "SELECT unused_since IS NOT NULL FROM details WHERE digest = ?"
    assert [_query(path, marked, digest) for digest in old] == [[(1,)]] * 5


def test_what_another_writer_stored_since_the_lookup_is_marked_when_replaced(settings: Settings) -> None:
    """The marks follow the database's entries at the moment of the write: two saves of one name in a
    row stand for this load's write after another writer's since this load's lookup."""
    cache, _ = parsecache.ParseCache.open(settings)
    assert cache is not None
    target = _titled(settings.articles_dir)[0]
    versions = []
    for title in ("One: ", "Two: "):
        _edit(target, title)
        versions.append(parsecache.result_record(read_article(target, settings, root=settings.articles_dir)))
    identity = (1, 1, 1, 1)
    cache.save([(target.name, identity, versions[0])])  # another writer's, after this load's lookup
    cache.save([(target.name, identity, versions[1])])
    marked = "SELECT unused_since IS NOT NULL FROM details WHERE digest = ?"
    assert _query(cache.path, marked, versions[0][2]) == [(1,)]
    assert _query(cache.path, marked, versions[1][2]) == [(0,)]
    cache.close()


@pytest.mark.parametrize("threshold", [1, 10_000])
def test_a_load_that_stored_many_files_folds_the_wal_into_the_database(
    settings: Settings, monkeypatch, threshold: int
) -> None:
    monkeypatch.setattr(load, "CHECKPOINT_AFTER", threshold)
    _, stats = load_folder(settings)
    wal = Path(f"{cache_path(settings)}-wal")
    assert (wal.stat().st_size == 0) is (stats.parsed >= threshold)  # the load's connection is still open
    folder, warm = load_folder(settings)
    assert warm.parsed == 0 and folder == read_folder(settings.articles_dir, settings)


def test_the_checkpoint_leaves_the_connection_waiting_as_long_as_before(settings: Settings) -> None:
    cache, _ = parsecache.ParseCache.open(settings)
    assert cache is not None
    cache.checkpoint()
    connection, _ = cache._connection()
    assert connection.execute("PRAGMA busy_timeout").fetchone() == (parsecache.BUSY_TIMEOUT_SECONDS * 1000,)
    cache.close()


def _same_length_edit(file: Path) -> None:
    """Rewrite one title with another of the same length: only the bytes differ, not the size."""
    text = file.read_text(encoding="utf-8")
    start = text.index('title: "') + len('title: "')
    swapped = "".join("y" if c == "x" else "x" for c in text[start : start + 4])
    file.write_text(text[:start] + swapped + text[start + 4 :], encoding="utf-8")


def test_a_file_rewritten_within_its_timestamp_tick_is_never_served_stale(settings: Settings, monkeypatch) -> None:
    # git's "racy clean": a second write within one timestamp tick keeps size, mtime, ctime and inode. The
    # kernel decides when that happens, so the scan of the first version stands in for the second's here:
    # it is exactly what stat() reports when both writes fall into one tick (mtime forced equal too).
    monkeypatch.setattr(parsecache, "RACY_SECONDS", 2.0)  # the real margin (conftest sets 0 for other tests)
    target = _titled(settings.articles_dir)[0]
    first = scan_folder(settings.articles_dir)
    times = target.stat()
    load_folder(settings, scan=first)  # reads version one; it changed just now: parsed, not stored
    _same_length_edit(target)
    os.utime(target, ns=(times.st_atime_ns, times.st_mtime_ns))
    folder, stats = load_folder(settings, scan=first)
    assert folder == read_folder(settings.articles_dir, settings)  # version two, not the cached version one
    assert stats.parsed == stats.files  # nothing of version one's load was stored: every file changed just now


def test_a_file_settled_before_the_load_is_stored_and_used(settings: Settings, monkeypatch) -> None:
    monkeypatch.setattr(parsecache, "RACY_SECONDS", 2.0)
    scanned, unreadable = scan_folder(settings.articles_dir)
    hour_ago = time.time_ns() - 3_600 * 10**9
    settled = [(name, (size, hour_ago, hour_ago, inode)) for name, (size, _, _, inode) in scanned]
    _, cold = load_folder(settings, scan=(settled, unreadable))
    folder, warm = load_folder(settings, scan=(settled, unreadable))
    assert cold.parsed == cold.files and warm.parsed == 0 and warm.cached == warm.files
    assert folder == read_folder(settings.articles_dir, settings)
    # and the racy ones among settled ones: only those are read again
    racy = [(name, (size, time.time_ns(), time.time_ns(), inode)) for name, (size, _, _, inode) in settled[:2]]
    load_folder(settings, scan=(racy + settled[2:], unreadable))
    _, again = load_folder(settings, scan=(racy + settled[2:], unreadable))
    assert again.parsed == 2
    # a date set ahead (touch -d, a fast clock elsewhere) is no change: the kernel's ctime says when it was
    ahead = [(name, (size, time.time_ns() + 10**15, hour_ago, inode)) for name, (size, _, _, inode) in settled]
    load_folder(settings, scan=(ahead, unreadable))
    _, after_ahead = load_folder(settings, scan=(ahead, unreadable))
    assert after_ahead.parsed == 0


@pytest.mark.parametrize("setting", READER_SETTINGS)
def test_other_reader_settings_never_use_the_entries_of_these(settings: Settings, setting: str) -> None:
    load_folder(settings)
    other = dataclasses.replace(settings, **{setting: getattr(settings, setting) // 10 + 1})
    folder, stats = load_folder(other)
    assert stats.parsed == stats.files and cache_path(other) != cache_path(settings)
    assert folder == read_folder(other.articles_dir, other)


def test_other_reader_code_never_uses_the_entries_of_this(settings: Settings, monkeypatch) -> None:
    load_folder(settings)
    monkeypatch.setattr(parsecache, "reader_fingerprint", lambda: "another reader")
    _, stats = load_folder(settings)
    assert stats.parsed == stats.files


def _package_copy(root: Path, edited: str | None) -> Path:
    shutil.copytree(PROJECT / "feeds", root / "feeds", ignore=shutil.ignore_patterns("__pycache__"))
    if edited:
        with (root / "feeds" / f"{edited.replace('.', '/')}.py").open("a", encoding="utf-8") as handle:
            handle.write("# a comment: no behaviour changes\n")
    return root


def _load_with(package: Path, settings: Settings) -> str:
    code = textwrap.dedent(f"""
        from pathlib import Path
        from feeds.config import Settings
        from feeds.read import parsecache
        from feeds.read.load import load_folder
        parsecache.RACY_SECONDS = 0.0  # the files were just copied (see conftest.files_settle_at_once)
        _, stats = load_folder(Settings(articles_dir=Path({str(settings.articles_dir)!r}),
                                        cache_dir=Path({str(settings.cache_dir)!r})))
        print(stats.parsed, stats.cached)
    """)
    environment = {**os.environ, "PYTHONPATH": str(package)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=package, env=environment, capture_output=True, text=True, check=True
    )
    return done.stdout.split()[0]


@pytest.mark.parametrize(
    ("edited", "warm"),
    [
        ("server.web", True),
        ("render.feed", True),
        ("read.text", False),
        ("read.reader", False),
        ("read.parsecache", False),
        ("read.cache_writes", False),
        ("read.cached_details", True),
    ],
)
def test_a_comment_outside_the_reader_modules_keeps_the_cache_warm(
    tmp_path: Path, settings: Settings, edited: str, warm: bool
) -> None:
    assert _load_with(_package_copy(tmp_path / "before", None), settings) != "0"  # cold
    parsed = _load_with(_package_copy(tmp_path / "after", edited), settings)
    assert (parsed == "0") is warm


def test_the_reader_modules_are_everything_the_reader_imports() -> None:
    """READER_MODULES must name every module whose code decides what a file reads as (config's
    part is its settings, keyed by value: READER_SETTINGS)."""
    seen, todo = set(), ["read.reader"]
    while todo:
        module = todo.pop()
        seen.add(module)
        todo += [other for other in imports(module)[0] if other not in seen | {"config"}]
    assert seen <= set(READER_MODULES), seen - set(READER_MODULES)


def test_the_reader_reads_only_the_reader_settings() -> None:
    used = set()
    for module in READER_MODULES:
        tree = module_tree(module)
        used |= {
            node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "settings"
        }  # fmt: skip
    assert used <= set(READER_SETTINGS), used - set(READER_SETTINGS)


_WRITER = """
import sys, time
from pathlib import Path
from feeds.read import parsecache
from feeds.config import Settings
from feeds.read.load import load_folder
parsecache._CHUNK = 7  # many small transactions, interleaved with the other writers'
parsecache.RACY_SECONDS = 0.0  # the files were just written (see conftest.files_settle_at_once)
articles, cache, go, mine = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
for file in sorted(articles.glob(f"{mine}-*.md")):  # this writer's own edits
    file.write_text(file.read_text(encoding="utf-8").replace('title: "', 'title: "' + mine + ' ', 1), encoding="utf-8")
(go.parent / f"ready-{mine}").touch()
while not go.exists():
    time.sleep(0.01)
for _ in range(3):
    folder, stats = load_folder(Settings(articles_dir=articles, cache_dir=cache), workers=1)
    assert stats.cache_warning is None, stats.cache_warning
"""


def test_concurrent_writers_never_corrupt_or_lose_entries(tmp_path: Path, settings: Settings) -> None:
    sources = _titled(settings.articles_dir)
    writers = [f"w{n}" for n in range(4)]
    for writer in writers:
        for index, source in enumerate(sources[:10]):
            text = source.read_text(encoding="utf-8").replace("https://", f"https://{writer}-{index}.", 1)
            (settings.articles_dir / f"{writer}-{index}.md").write_text(text, encoding="utf-8")
    go = tmp_path / "go"
    environment = {**os.environ, "PYTHONPATH": str(PROJECT)}
    arguments = [str(settings.articles_dir), str(settings.cache_dir), str(go)]
    processes = [
        subprocess.Popen([sys.executable, "-c", _WRITER, *arguments, writer], env=environment, stderr=subprocess.PIPE)
        for writer in writers
    ]
    while not all((tmp_path / f"ready-{writer}").exists() for writer in writers):  # every edit made
        time.sleep(0.05)
        assert all(process.poll() is None for process in processes)
    go.touch()
    for process in processes:
        _, errors = process.communicate(timeout=300)
        assert process.returncode == 0, errors.decode()
    path = cache_path(settings)
    assert _query(path, "PRAGMA integrity_check") == [("ok",)]
    folder, stats = load_folder(settings)
    assert stats.parsed == 0 and stats.cached == stats.files  # every writer's last entries are there
    assert folder == read_folder(settings.articles_dir, settings)


def _aged(path: Path, seconds: float) -> None:
    """Make a closed database look unwritten for ``seconds``."""
    gc.collect()  # the load's connection closes: SQLite folds the WAL in and removes it and the -shm
    moment = time.time() - seconds
    os.utime(path, (moment, moment))


def _two_folders(tmp_path: Path, settings: Settings) -> tuple[Settings, Path]:
    """A second articles folder with its cache beside ``settings``' cache; (its settings, its database)."""
    other = tmp_path / "other-articles"
    shutil.copytree(settings.articles_dir, other)
    other_settings = dataclasses.replace(settings, articles_dir=other)
    load_folder(other_settings)
    return other_settings, cache_path(other_settings)


def test_the_cache_of_a_folder_that_no_longer_exists_is_deleted(tmp_path: Path, settings: Settings) -> None:
    other_settings, other = _two_folders(tmp_path, settings)
    assert cache_files.recorded_folder(other) == str(other_settings.articles_dir.resolve())
    shutil.rmtree(other_settings.articles_dir)
    _aged(other, 600)
    load_folder(settings)
    assert other.exists()  # gone only minutes ago: perhaps being moved back
    _aged(other, 2 * 3_600)
    load_folder(settings)
    assert not any(p.name.startswith(other.name) for p in other.parent.iterdir())
    assert cache_path(settings).exists()


def test_the_cache_of_a_folder_that_exists_is_kept_however_old(tmp_path: Path, settings: Settings) -> None:
    _, other = _two_folders(tmp_path, settings)
    _aged(other, 30 * 86_400)
    load_folder(settings)
    assert other.exists()


def test_a_cache_another_process_holds_open_is_never_deleted(tmp_path: Path, settings: Settings) -> None:
    other_settings, other = _two_folders(tmp_path, settings)
    shutil.rmtree(other_settings.articles_dir)
    _aged(other, 2 * 3_600)
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent("""
            import sqlite3, sys
            connection = sqlite3.connect(sys.argv[1])
            connection.execute("SELECT count(*) FROM entries").fetchone()
            print("open", flush=True)
            sys.stdin.read()
        """), str(other)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        for written in (other, Path(f"{other}-wal")):  # its opening made a WAL: unwritten as long too
            _aged(written, 2 * 3_600)
        load_folder(settings)
        assert other.exists()
    finally:
        holder.communicate("", timeout=30)
    load_folder(settings)  # closed now: it goes
    assert not other.exists()


def test_a_cache_this_process_holds_open_is_never_deleted_nor_its_locks_dropped(
    tmp_path: Path, settings: Settings
) -> None:
    # a server whose folder (a symlink to a release) was re-pointed keeps the old folder's cache open
    other_settings, other = _two_folders(tmp_path, settings)
    shutil.rmtree(other_settings.articles_dir)
    _aged(other, 2 * 3_600)
    connection = sqlite3.connect(other)
    try:
        connection.execute("SELECT count(*) FROM entries").fetchone()
        for written in (other, Path(f"{other}-wal")):
            _aged(written, 2 * 3_600)
        load_folder(settings)
        assert other.exists()
        assert connection.execute("SELECT count(*) FROM entries").fetchone()[0] > 0
    finally:
        connection.close()
    load_folder(settings)  # closed now: it goes
    assert not other.exists()


def test_a_cache_of_older_code_that_records_no_folder_goes_after_a_week(settings: Settings) -> None:
    older = settings.cache_dir / "parse-0123456789abcdef-0123456789abcdef.sqlite3"
    settings.cache_dir.mkdir(parents=True)
    with sqlite3.connect(older) as connection:
        connection.execute("CREATE TABLE entries (name BLOB PRIMARY KEY)")
    connection.close()
    _aged(older, 2 * 86_400)
    load_folder(settings)
    assert older.exists()
    _aged(older, 8 * 86_400)
    load_folder(settings)
    assert not older.exists()


def test_reading_the_folder_of_a_database_deleted_meanwhile_makes_no_empty_one(tmp_path: Path) -> None:
    gone = tmp_path / "listed-then-deleted.sqlite3"
    assert cache_files.recorded_folder(gone) is None
    assert not gone.exists()
