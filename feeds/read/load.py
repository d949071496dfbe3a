"""Loading a whole articles folder fast: the parse cache and parallel cold reads.

The reader turns one file into one result; this module decides which files
need reading at all. Each file's result is kept in the parse cache
(:mod:`feeds.read.parsecache`) under its identity (relative path, size, mtime, ctime,
inode), in a database of the reader's code and settings, and is used only when
all of those match, so a stale entry can never reach a feed. Files that miss are
read across all cores; the result is identical to reading them one by one,
because every file is read by the same pure ``read_article`` and merged in path order.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import marshal
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from feeds import code_fingerprint
from feeds.config import Settings
from feeds.model import (
    Article,
    Problem,
    Severity,
    details_record,
    head_record,
    pack_details,
    record_digest,
    unpack_details,
)
from feeds.read.article_files import walk_article_files
from feeds.read.cached_details import CacheDamaged, unpack_located
from feeds.read.parse_pool import Parsed, parse_files
from feeds.read.parsecache import (
    Damaged,
    Located,
    Lookup,
    ParseCache,
    default_cache_dir,
    discard_cache,
    is_damage,
    not_forgotten,
    settled_before,
)
from feeds.read.reader import Folder, ReadResult, collect, missing_folder

__all__ = [  # with what callers of the parse cache need from feeds.read.parsecache
    "CacheDamaged", "LoadStats", "Loaded", "Scan", "default_cache_dir", "discard_cache", "input_fingerprint",
    "load_folder", "load_results", "scan_folder",
]  # fmt: skip


CHECKPOINT_AFTER = 1_000  # files stored by a load after which it folds the WAL into the database itself


@dataclass(frozen=True, slots=True)
class LoadStats:
    """How a load went: files seen, cache hits, files parsed, and the cache's own trouble."""

    files: int
    cached: int
    parsed: int
    cache_warning: str | None = None


# ----- records: what a parse produces and the cache stores -----------------------------------------
#
# A file's record is (head, packed details, digest, problems) (:func:`feeds.read.parsecache.result_record`):
# the catalog's fields as builtins, the renderer's fields as canonical bytes or where the cache
# keeps them (decoded only when rendered, see Article.restore), the article's digest (signatures),
# and the file's problems. A file that gave no article has (None, None, None, problems).


def article_record(a: Article) -> tuple:
    """An Article as a tuple of builtins (the inverse of :func:`article_from_record`)."""
    return (head_record(a), details_record(a))


def article_from_record(r: tuple) -> Article:
    """Rebuild an Article from :func:`article_record`, its details left packed until read."""
    head, details = r
    packed = pack_details(details)
    article = _results_from_records([(head, packed, record_digest(head, packed), ())])[0].article
    assert article is not None
    return article


def _results_from_records(records: list) -> list[ReadResult]:
    """Every record's ReadResult (articles restored, details left encoded), checking each record's shape.

    The hot loop of a warm load (100,000 records): one pass, no helper calls per
    record. Raises TypeError/ValueError for anything not shaped like
    :func:`~feeds.read.parsecache.result_record`'s output, so a foreign cache is never trusted.
    """
    restore = Article.restore
    results = []
    append = results.append
    for record in records:
        if type(record) is not tuple or len(record) != 4:
            raise TypeError("not a parse record")
        head, packed, digest, problems = record
        article = None
        if head is not None:
            if type(digest) is not bytes or type(head) is not tuple:
                raise TypeError("not a parse record")
            if type(packed) is bytes:  # just parsed
                unpack = unpack_details
            elif type(packed) is Located:  # in the cache's database
                unpack = unpack_located
            else:
                raise TypeError("not a parse record")
            article = restore(head, packed, unpack, digest)
        if problems:
            problems = tuple(Problem(p[0], Severity(p[1]), p[2], p[3]) for p in problems)
        append(ReadResult(article, problems))
    return results


# ----- reading -------------------------------------------------------------------------------------


@contextmanager
def bulk_allocation(frozen: bool | None = None) -> Iterator[None]:
    """Pause the cyclic garbage collector while allocating many long-lived objects, then age them.

    Articles hold no reference cycles; collecting repeatedly during a bulk load
    only re-walks the growing heap. The collector's state is restored afterwards
    (nothing stays frozen: that would outlast this call and change what later calls do).
    What the load allocated is then moved to the oldest generation at once
    (``gc.freeze()`` then ``gc.unfreeze()``, which puts the frozen objects back there):
    otherwise the young generations' next collections each walk all of it again,
    ~40 ms of a 0.45 s one-change export at 10,000 articles (issue 20). Skipped when
    the process froze objects itself (``feeds serve`` before forking): unfreezing
    would undo that. ``frozen``: whether it did, when the caller knows (asking the
    collector walks every frozen object: ~0.3 s of each change at a million articles).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if not (gc.get_freeze_count() > 0 if frozen is None else frozen):
                gc.freeze()
                gc.unfreeze()  # everything frozen goes to the oldest generation
            gc.enable()


Identity = tuple[int, int, int, int]


def _identity(entry: os.DirEntry) -> Identity | None:
    """(size, mtime_ns, ctime_ns, inode): ctime changes on every write and chmod, and no
    tool can set it back, so a rewrite that keeps size and mtime is still noticed."""
    try:
        stat = entry.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino


def scan_identities(root: Path, unreadable: list[Problem] | None = None) -> list[tuple[str, Identity | None]]:
    """(relative name, identity) of every article file, in path order: one stat each."""
    return [(name, _identity(entry)) for name, entry in walk_article_files(root, unreadable)]


Scan = tuple[list[tuple[str, "Identity | None"]], list[Problem]]


def scan_folder(root: Path) -> Scan:
    """(relative name, identity) of every article file in path order, and the folders that
    could not be listed: one stat per file, no reads. One scan serves a whole run."""
    unreadable: list[Problem] = []
    with bulk_allocation():  # a million identities: the collector re-walked them ~1.3 s of a 6 s scan (issue 20)
        return scan_identities(root, unreadable), unreadable


def input_fingerprint(settings: Settings, scan: Scan | None = None) -> str:
    """A digest of everything a build depends on: every article file's identity, the settings, the code.

    Equal fingerprints mean an equal build, so a run can tell that nothing
    changed from one scan of file identities, without reading an article.
    """
    scanned, unreadable = scan if scan is not None else scan_folder(settings.articles_dir)
    digest = hashlib.sha256(code_fingerprint().encode())
    digest.update(repr(dataclasses.astuple(settings)).encode("utf-8", "surrogateescape"))
    digest.update(marshal.dumps(scanned, 0))  # canonical bytes (format 0), ~5x faster than repr at 100k files
    digest.update(repr([str(p) for p in unreadable]).encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Loaded:
    """What :func:`load_results` gives: every file's name, identity and result in path order, how the
    load went, and the folders that could not be listed (an IncrementalLoader keeps them all)."""

    names: list[str]
    identities: list[Identity | None]
    results: list[ReadResult]
    stats: LoadStats
    unreadable: list[Problem]


def load_results(settings: Settings, use_cache: bool, workers: int | None, scan: Scan | None = None) -> Loaded:
    """Every file's result in path order, from the cache where fresh, parsed on all cores otherwise."""
    root = settings.articles_dir
    started_ns = time.time_ns()  # before any file is read: what changed since may be read but not stored
    workers = workers if workers is not None else (os.cpu_count() or 1)
    cache, warning = ParseCache.open(settings) if use_cache else (None, None)
    with bulk_allocation():
        scanned, unreadable = scan if scan is not None else scan_folder(root)
        names = [name for name, _ in scanned]
        identities = [identity for _, identity in scanned]
        misses: list[int] = list(range(len(names)))
        records: list[tuple | None] = [None] * len(names)
        lookup: Lookup | None = None
        if cache is not None:
            try:
                lookup = cache.lookup(scanned)
                records, misses = lookup.records, lookup.misses
            except (Damaged, sqlite3.Error) as exc:
                warning, cache = _cache_trouble(cache, exc)
        before_ns = settled_before(started_ns)
        missed = [names[i] for i in misses], [identities[i] for i in misses]
        parsed = parse_files(root, *missed, settings, workers, cache, before_ns)
        _place(records, misses, parsed, cache, names)
        try:
            results = _results_from_records(records)
        except (TypeError, ValueError, IndexError, OverflowError):
            # entries of the right shape on the outside but not inside: never trust them, read everything again
            warning, cache = _cache_trouble(cache, Damaged("it holds unreadable entries"))
            misses, lookup = list(range(len(names))), None
            parsed = parse_files(root, names, identities, settings, workers, cache, before_ns)
            _place(records, misses, parsed, cache, names)
            results = _results_from_records(records)
    warning = warning or parsed.warning
    if cache is not None and lookup is not None:
        warning = warning or _forget(cache, lookup, len(misses))
    if cache is not None and len(parsed.stored) >= CHECKPOINT_AFTER:
        cache.checkpoint()
    stats = LoadStats(len(names), len(names) - len(misses), len(misses), warning)
    return Loaded(names, identities, results, stats, unreadable)


def _place(records: list, misses: list[int], parsed: Parsed, cache: ParseCache | None, names: list[str]) -> None:
    """Put the parsed records at their files' places, each stored article pointed at its details in
    the cache's database (:class:`~feeds.read.parse_pool.Parsed`: they did not come back)."""
    for index, record in zip(misses, parsed.records, strict=True):
        records[index] = record
    for position in parsed.stored:
        index = misses[position]
        head, _, digest, problems = records[index]
        if head is not None:
            records[index] = (head, Located((cache, digest, head, names[index])), digest, problems)


def _cache_trouble(cache: ParseCache | None, exc: Exception) -> tuple[str | None, ParseCache | None]:
    """The warning for a cache that failed while read, and the cache to write to (rebuilt when damaged)."""
    if cache is None:
        return None, None
    if not isinstance(exc, sqlite3.Error) or is_damage(exc):
        try:
            cache.rebuild()
        except (OSError, sqlite3.Error) as again:
            return f"parse cache {cache.path} is damaged ({exc}) and cannot be rebuilt ({again})", None
        return f"parse cache {cache.path} is damaged ({exc}); rebuilding it", cache
    return f"parse cache {cache.path} unusable ({exc}); reading every file", None


def _forget(cache: ParseCache, lookup: Lookup, misses: int) -> str | None:
    """Forget the entries of the files gone since ``lookup`` (:meth:`~feeds.read.parsecache.ParseCache.forget`);
    a warning when the cache refused."""
    if len(lookup.stored) == len(lookup.keys) - misses:
        return None  # as many entries as hits: each is a hit's, none of a file gone
    try:
        cache.forget(lookup)
    except sqlite3.Error as exc:
        return not_forgotten(cache.path, exc)
    return None


def load_folder(
    settings: Settings, *, use_cache: bool = True, workers: int | None = None, scan: Scan | None = None
) -> tuple[Folder, LoadStats]:
    """Read every article file under ``settings.articles_dir``, from the cache where it is fresh.

    The Folder is the same as :func:`feeds.read.reader.read_folder` gives, whatever
    the cache state and the number of workers. ``scan`` is this run's
    :func:`scan_folder`, when the caller already made one. The cache is written
    before this returns.
    """
    if not settings.articles_dir.is_dir():
        return missing_folder(settings.articles_dir), LoadStats(0, 0, 0)
    loaded = load_results(settings, use_cache, workers, scan)
    return collect(loaded.results, loaded.unreadable), loaded.stats
