"""Loading a whole articles folder fast: a parse cache and parallel cold reads.

The reader turns one file into one result; this module decides which files
need reading at all. Each file's result is cached under its identity (relative
path, size, mtime_ns) plus the cache format version and the settings that
change what the reader produces. A cache entry is used only when all of those
match, so a stale entry can never reach a feed. Files that miss are read across
all cores; the result is identical to reading them one by one, because every
file is read by the same pure ``read_article`` and merged in path order.
"""

from __future__ import annotations

import ctypes
import dataclasses
import gc
import hashlib
import marshal
import os
import shutil
import signal
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
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
from feeds.reader import Folder, ReadResult, collect, missing_folder, read_article, walk_article_files

CACHE_MAGIC = b"feeds-parse-cache\n"
CACHE_VERSION = 4
CACHE_SHARDS = 16
PARALLEL_THRESHOLD = 400  # fewer misses than this are read in-process: a pool costs more
_BATCH = 256


@dataclass(frozen=True, slots=True)
class LoadStats:
    """How a load went: files seen, cache hits, files parsed, and the cache's own trouble."""

    files: int
    cached: int
    parsed: int
    cache_warning: str | None = None


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/feeds``, or ``~/.cache/feeds`` when that is unset."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "feeds"


def cache_path(settings: Settings) -> Path:
    """The cache folder of one articles folder, reader-relevant settings and code (:func:`feeds.code_fingerprint`).

    It holds :data:`CACHE_SHARDS` files; a file's entry lives in the shard its
    name hashes to, so one changed article rewrites one shard, not the whole cache.
    """
    folder = str(settings.articles_dir.resolve())
    reader_settings = (settings.max_file_bytes, settings.max_title_chars, settings.max_summary_chars)
    place = hashlib.sha256(folder.encode()).hexdigest()[:16]
    version = hashlib.sha256(repr((reader_settings, code_fingerprint(), CACHE_VERSION)).encode()).hexdigest()[:16]
    return (settings.cache_dir or default_cache_dir()) / f"parse-{place}-{version}"


def shard_paths(settings: Settings) -> list[Path]:
    """The cache's shard files, in shard order."""
    folder = cache_path(settings)
    return [folder / f"{index:02x}.cache" for index in range(CACHE_SHARDS)]


def _shard_of(name: str) -> int:
    return zlib.crc32(name.encode("utf-8", "surrogateescape")) % CACHE_SHARDS


# ----- records: what a parse produces and the cache stores -----------------------------------------
#
# A file's record is (head, packed details, digest, problems): the catalog's fields as
# builtins, the renderer's fields as canonical bytes (decoded only when rendered, see
# Article.restore), the article's digest (signatures), and the file's problems. A file
# that gave no article has (None, None, None, problems).


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


def _result_record(result: ReadResult) -> tuple:
    problems = tuple((p.path, p.severity.value, p.message, p.line) for p in result.problems)
    article = result.article
    if article is None:
        return (None, None, None, problems)
    head = head_record(article)
    packed = pack_details(details_record(article))
    return (head, packed, record_digest(head, packed), problems)


def _results_from_records(records: list) -> list[ReadResult]:
    """Every record's ReadResult (articles deferred), checking each record's shape.

    The hot loop of a warm load (100,000 records): one pass, no helper calls per
    record. Raises TypeError/ValueError for anything not shaped like
    :func:`_result_record`'s output, so a foreign cache is never trusted.
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
            elif type(packed) is _Located:  # in a cache shard's details file
                unpack = _unpack_located
            else:
                raise TypeError("not a parse record")
            article = restore(head, packed, unpack, digest)
        if problems:
            problems = tuple(Problem(p[0], Severity(p[1]), p[2], p[3]) for p in problems)
        append(ReadResult(article, problems))
    return results


# ----- the cache file ------------------------------------------------------------------------------
#
# Shard k is two files: ``kk.cache`` (the entries: name → (identity, record), each record's
# details replaced by their (offset, length) in the details file, CRC-checked as a whole) and
# ``kk.<token>.details`` (every entry's packed details, back to back), named by the entries
# file. A warm load reads only the entries (~15% of the bytes); an article's details are read
# with one pread when it is rendered, and checked against its digest then.


class CacheDamaged(RuntimeError):
    """A cached article's details do not match its digest: the cache was damaged after it was written."""


class _DetailsFile:
    """An open shard details file, and the articles folder and settings its entries were read
    with (to read a file again when its cached details turn out damaged). Closed when no
    deferred article needs it any more."""

    __slots__ = ("fd", "path", "origin", "__weakref__")

    def __init__(self, path: Path, origin: tuple[Path, Settings] | None = None) -> None:
        self.path = path
        self.origin = origin
        self.fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))

    def read(self, offset: int, length: int) -> bytes:
        data = os.pread(self.fd, length, offset)
        if len(data) != length:
            raise CacheDamaged(f"parse cache {self.path} is shorter than its index says")
        return data

    def __del__(self) -> None:
        try:
            os.close(self.fd)
        except (OSError, AttributeError):
            pass


class _Located(tuple):
    """(details file, offset, length, head record, digest, file name): where a cached article's details are."""

    __slots__ = ()


def _located_bytes(located: _Located) -> bytes:
    """The packed details, checked against the article's digest.

    Damaged bytes (a short file, flipped bits) are never used: the article's
    file is read again instead, and its details are taken when they give the
    very same digest; otherwise CacheDamaged.
    """
    details, offset, length, head, digest, name = located
    try:
        data = details.read(offset, length)
        if record_digest(head, data) == digest:
            return data
    except (CacheDamaged, OSError, ValueError, OverflowError):
        pass
    if details.origin is not None:
        root, settings = details.origin
        record = _result_record(read_article(root / name, settings, root=root))
        if record[0] is not None and record[2] == digest:
            return record[1]
    raise CacheDamaged(f"parse cache {details.path} is damaged and {name} changed since; delete {details.path.parent}")


def _unpack_located(located: _Located) -> tuple:
    return unpack_details(_located_bytes(located))


def _packed_bytes(packed: object) -> bytes:
    """A record's packed details as bytes, wherever they are (checked, see :func:`_located_bytes`)."""
    if type(packed) is _Located:
        return _located_bytes(packed)  # type: ignore[arg-type]
    return packed  # type: ignore[return-value]


def _read_cache(path: Path, origin: tuple[Path, Settings] | None = None) -> tuple[dict, str | None]:
    """One shard's entries (records' details located in its details file), or {} and a warning
    when it is corrupt or foreign. A CRC-32 guards the entries; each article's digest guards its details.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}, None
    except OSError as exc:
        return {}, f"parse cache {path} unreadable ({exc.strerror}); rebuilding it"
    header = CACHE_MAGIC + CACHE_VERSION.to_bytes(4, "big")
    if not data.startswith(header):
        return {}, f"parse cache {path} is not a cache of this version; rebuilding it"
    checksum, payload = data[len(header) : len(header) + 4], memoryview(data)[len(header) + 4 :]
    if len(checksum) != 4 or zlib.crc32(payload) != int.from_bytes(checksum, "big"):
        return {}, f"parse cache {path} is corrupt; rebuilding it"
    try:
        stored = marshal.loads(payload)
    except (ValueError, EOFError, TypeError):
        return {}, f"parse cache {path} is corrupt; rebuilding it"
    if type(stored) is not tuple or len(stored) != 2 or type(stored[0]) is not str or type(stored[1]) is not dict:
        return {}, f"parse cache {path} is corrupt; rebuilding it"
    details_name, entries = stored
    if "/" in details_name or not details_name.endswith(".details"):
        return {}, f"parse cache {path} is corrupt; rebuilding it"
    try:
        details = _DetailsFile(path.parent / details_name, origin)
    except OSError as exc:
        return {}, f"parse cache {path.parent / details_name} unreadable ({exc.strerror}); rebuilding it"
    located = {}
    for name, entry in entries.items():
        try:
            identity, (head, (offset, length), digest, problems) = entry
        except (TypeError, ValueError):
            located[name] = entry  # a wrong shape: _fresh or the record check refuses it
            continue
        if head is None or type(offset) is not int or type(length) is not int:
            located[name] = entry
        else:
            where = _Located((details, offset, length, head, digest, name))
            located[name] = (identity, (head, where, digest, problems))
    return located, None


def _write_cache(path: Path, entries: dict) -> str | None:
    """Write one shard: its details file first, then its entries file naming it, each atomically
    (temporary file + rename); a run that dies in between leaves the old pair in use."""
    try:
        details_name, stored = _write_details(path, entries)
        _write_index(path, details_name, stored)
    except OSError as exc:
        return f"parse cache {path} not written ({exc.strerror}); the next run reads every file"
    return None


def _write_details(path: Path, entries: dict) -> tuple[str, dict]:
    """A new details file for shard ``path``: (its name, the entries with (offset, length) for details).

    An entry whose old details are damaged and whose file changed since is left
    out (the next run reads that file again). The file's name carries this
    process's id, so a concurrent writer never deletes it while it is in use.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    details_name = f"{path.name.split('.', 1)[0]}.{os.getpid()}-{os.urandom(6).hex()}.details"
    stored: dict = {}
    temporary = path.with_name(f"{details_name}.{os.getpid()}.tmp")
    try:
        offset = 0
        with temporary.open("wb") as handle:
            for name, (identity, record) in entries.items():
                if type(record) is tuple and len(record) == 4 and record[0] is not None:
                    try:
                        data = _packed_bytes(record[1])
                    except CacheDamaged:
                        continue
                    handle.write(data)
                    record = (record[0], (offset, len(data)), record[2], record[3])
                    offset += len(data)
                stored[name] = (identity, record)
        os.replace(temporary, path.with_name(details_name))
    except BaseException:
        temporary.unlink(missing_ok=True)  # a full disk must not stay full of our leftovers
        raise
    return details_name, stored


def _write_index(path: Path, details_name: str, stored: dict) -> None:
    """The shard's index naming ``details_name``; then the shard's details files nobody uses go."""
    payload = marshal.dumps((details_name, stored))
    header = CACHE_MAGIC + CACHE_VERSION.to_bytes(4, "big") + zlib.crc32(payload).to_bytes(4, "big")
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("wb") as handle:
            handle.write(header)
            handle.write(payload)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    stem = path.name.split(".", 1)[0]
    for old in path.parent.glob(f"{stem}.*"):
        if old.name != details_name and old.name != path.name and _abandoned(old.name):
            old.unlink(missing_ok=True)  # an open reader keeps its copy until it closes it


def _abandoned(name: str) -> bool:
    """A details or temporary file of this process, or of a process that is gone.

    Another live process's files may be its index's details or a write in
    progress: they stay until that process writes again or ends.
    """
    parts = name.split(".")
    if len(parts) < 3 or parts[-1] not in ("details", "tmp"):
        return False
    owner = parts[-2] if parts[-1] == "tmp" else parts[1].split("-", 1)[0]
    if not owner.isdigit():
        return True  # not a name this code makes
    pid = int(owner)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return False


OUTDATED_AFTER_SECONDS = 7 * 86_400


def _remove_outdated(folder: Path) -> None:
    """Caches of the same articles folder for other code or settings, unused for a week, are dead
    weight: delete them. (A second config on the same folder, used now and then, keeps its own.)"""
    place = folder.name.rsplit("-", 1)[0]
    now = time.time()
    for outdated in folder.parent.glob(f"{place}-*"):
        try:
            idle = now - outdated.stat().st_mtime
        except OSError:
            continue
        if outdated != folder and idle > OUTDATED_AFTER_SECONDS:
            if outdated.is_dir() and not outdated.is_symlink():
                shutil.rmtree(outdated, ignore_errors=True)
            else:
                outdated.unlink(missing_ok=True)


def _check_cache_location(path: Path, settings: Settings) -> str | None:
    """The cache must never live inside the articles folder (it would be read as an article)."""
    if path.resolve().is_relative_to(settings.articles_dir.resolve()):
        return f"parse cache {path} would be inside the articles folder; not using a cache"
    return None


# ----- reading -------------------------------------------------------------------------------------


@contextmanager
def _bulk_allocation() -> Iterator[None]:
    """Pause the cyclic garbage collector while allocating many long-lived objects.

    Articles hold no reference cycles; collecting repeatedly during a bulk load
    only re-walks the growing heap. One collection afterwards, then freeze the
    survivors so later collections skip them.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.freeze()


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


def die_with_parent() -> None:
    """A worker's initializer: be killed when the process that forked it dies.

    A pool worker blocks reading its task pipe, which it holds open itself, so
    it would outlive a parent killed with SIGKILL forever. Linux's
    PR_SET_PDEATHSIG ends it instead; elsewhere this does nothing.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the parent died before prctl took effect
        os._exit(1)


def _read_batch(job: tuple[Path, list[str], Settings]) -> list[tuple]:
    root, names, settings = job
    return [_result_record(read_article(root / name, settings, root=root)) for name in names]


def _parse(root: Path, names: list[str], settings: Settings, workers: int) -> list[tuple]:
    if workers <= 1 or len(names) < PARALLEL_THRESHOLD:
        return _read_batch((root, names, settings))
    jobs = [(root, names[i : i + _BATCH], settings) for i in range(0, len(names), _BATCH)]
    context = get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with context.Pool(processes=workers, initializer=die_with_parent) as pool:
        return [record for batch in pool.imap(_read_batch, jobs) for record in batch]


Scan = tuple[list[tuple[str, "Identity | None"]], list[Problem]]


def scan_folder(root: Path) -> Scan:
    """(relative name, identity) of every article file in path order, and the folders that
    could not be listed: one stat per file, no reads. One scan serves a whole run."""
    unreadable: list[Problem] = []
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
class _Loaded:
    names: list[str]
    identities: list[Identity | None]
    results: list[ReadResult]
    stats: LoadStats
    unreadable: list[Problem]


def _fresh(cached: object, identity: Identity | None) -> tuple | None:
    """The cached record when the entry is for this very file version, else None."""
    if identity is None or type(cached) is not tuple or len(cached) != 2 or cached[0] != identity:
        return None
    return cached[1]


def _load_results(
    settings: Settings, use_cache: bool, workers: int | None, scan: Scan | None = None, background: bool = False
) -> _Loaded:
    """Every file's result in path order, from the cache where fresh, parsed on all cores otherwise.

    ``background``: write the cache's index files on a thread of their own (see
    :func:`finish_cache_writes`); the details files are written first, always.
    """
    root = settings.articles_dir
    workers = workers if workers is not None else (os.cpu_count() or 1)
    folder = cache_path(settings)
    warning = _check_cache_location(folder, settings) if use_cache else None
    use_cache = use_cache and warning is None
    shards: list[dict] = []
    with _bulk_allocation():
        for path in shard_paths(settings) if use_cache else ():
            entries, read_warning = _read_cache(path, (root, settings))
            shards.append(entries)
            warning = warning or read_warning
        scanned, unreadable = scan if scan is not None else scan_folder(root)
        names = [name for name, _ in scanned]
        identities = [identity for _, identity in scanned]
        records: list[tuple | None] = [None] * len(names)
        shard_of = [_shard_of(name) for name in names] if use_cache else []
        misses: list[int] = []
        if use_cache:
            for index, (name, identity) in enumerate(scanned):
                record = _fresh(shards[shard_of[index]].get(name), identity)
                if record is None:
                    misses.append(index)
                else:
                    records[index] = record
        else:
            misses = list(range(len(names)))
        parsed = _parse(root, [names[i] for i in misses], settings, workers)
        for index, record in zip(misses, parsed, strict=True):
            records[index] = record
        try:
            results = _results_from_records(records)
        except (TypeError, ValueError, IndexError, OverflowError):
            # a foreign cache with the right header: never trust it, read everything again
            warning = f"parse cache {folder} holds unreadable entries; rebuilding it"
            records = _parse(root, names, settings, workers)
            results = _results_from_records(records)
            misses = list(range(len(names)))
            shards = [{} for _ in shards]
    if use_cache:
        saved = _save_shards(
            folder, shards, names, identities, records, misses, shard_of, results, background, (root, settings)
        )
        warning = warning or saved
    stats = LoadStats(len(names), len(names) - len(misses), len(misses), warning)
    return _Loaded(names, identities, results, stats, unreadable)


_pending_writes: list[threading.Thread] = []
_write_warnings: list[str] = []


def _save_in_background(folder: Path, written: dict[int, tuple[str, dict]]) -> None:
    warning = _write_indexes(folder, written)
    if warning:
        _write_warnings.append(warning)


def finish_cache_writes() -> list[str]:
    """Wait for cache writes started by ``load_folder(background=True)``; their warnings, if any."""
    while _pending_writes:
        _pending_writes.pop().join()
    warnings = list(_write_warnings)
    _write_warnings.clear()
    return warnings


def _save_shards(
    folder: Path, shards: list[dict], names: list[str], identities: list, records: list, misses: list[int],
    shard_of: list[int], results: list[ReadResult], background: bool, origin: tuple[Path, Settings],
) -> str | None:
    """Rewrite only the shards whose entries changed (a parsed file, a file gone).

    First every changed shard's details file; the articles just parsed then read
    their details from it, so the copies in memory are freed before a render
    pool forks (which would otherwise share, then copy, ~2 KB per article).
    Then the index files, on a thread of their own when ``background``.
    """
    dirty = {shard_of[index] for index in misses}
    kept = [0] * CACHE_SHARDS
    for index in range(len(names)):
        kept[shard_of[index]] += 1
    dirty.update(shard for shard in range(CACHE_SHARDS) if len(shards[shard]) != kept[shard])
    if not dirty:
        return None
    fresh: list[dict] = [{} for _ in range(CACHE_SHARDS)]
    for index, name in enumerate(names):
        if shard_of[index] in dirty and identities[index] is not None:
            fresh[shard_of[index]][name] = (identities[index], records[index])
    written: dict[int, tuple[str, dict]] = {}
    try:
        for shard in sorted(dirty):
            written[shard] = _write_details(folder / f"{shard:02x}.cache", fresh[shard])
    except OSError as exc:
        return f"parse cache {folder} not written ({exc.strerror}); the next run reads every file"
    _relocate(folder, written, names, records, misses, shard_of, results, origin)
    if background:
        thread = threading.Thread(target=_save_in_background, args=(folder, written), name="feeds-cache-write")
        _pending_writes.append(thread)
        thread.start()
        return None
    return _write_indexes(folder, written)


def _relocate(
    folder: Path, written: dict[int, tuple[str, dict]], names: list[str], records: list, misses: list[int],
    shard_of: list[int], results: list[ReadResult], origin: tuple[Path, Settings],
) -> None:
    """Point each just-parsed article at its details in the new details file (same bytes)."""
    opened: dict[int, _DetailsFile] = {}
    for index in misses:
        shard = shard_of[index]
        article = results[index].article
        if article is None or shard not in written:
            continue
        details_name, stored = written[shard]
        entry = stored.get(names[index])
        if entry is None:
            continue
        head, (offset, length), digest, problems = entry[1]
        if shard not in opened:
            try:
                opened[shard] = _DetailsFile(folder / details_name, origin)
            except OSError:
                continue
        located = _Located((opened[shard], offset, length, head, digest, names[index]))
        article.relocate_details(_unpack_located, located)
        records[index] = (head, located, digest, problems)


def _write_indexes(folder: Path, written: dict[int, tuple[str, dict]]) -> str | None:
    warning = None
    for shard, (details_name, stored) in sorted(written.items()):
        path = folder / f"{shard:02x}.cache"
        try:
            _write_index(path, details_name, stored)
        except OSError as exc:
            warning = warning or f"parse cache {path} not written ({exc.strerror}); the next run reads every file"
    _remove_outdated(folder)
    return warning


def load_folder(
    settings: Settings,
    *,
    use_cache: bool = True,
    workers: int | None = None,
    scan: Scan | None = None,
    background: bool = False,
) -> tuple[Folder, LoadStats]:
    """Read every article file under ``settings.articles_dir``, from the cache where it is fresh.

    The Folder is the same as :func:`feeds.reader.read_folder` gives, whatever
    the cache state and the number of workers. ``scan`` is this run's
    :func:`scan_folder`, when the caller already made one. ``background=True``
    leaves the cache write running: call :func:`finish_cache_writes` before exiting.
    """
    if not settings.articles_dir.is_dir():
        return missing_folder(settings.articles_dir), LoadStats(0, 0, 0)
    loaded = _load_results(settings, use_cache, workers, scan, background)
    return collect(loaded.results, loaded.unreadable), loaded.stats


class IncrementalLoader:
    """Keeps every file's result in memory and re-reads only what changed since the last call.

    For a long-running process (the live app): after the first load (through the
    parse cache, on all cores), a refresh costs one scan of file identities plus
    reading the changed files, not a re-read of the folder.
    """

    def __init__(self, settings: Settings, *, use_cache: bool = True) -> None:
        self.settings = settings
        self.use_cache = use_cache
        self.last_stats: LoadStats | None = None
        self._known: dict[str, tuple[Identity | None, ReadResult]] | None = None
        self._folder: Folder | None = None
        self._loads = 0
        self._unreadable: list[Problem] = []
        self._scanned: list | None = None  # the scan the last completed refresh applied (see refresh)

    def __call__(self, settings: Settings, *, scan: tuple[list, list] | None = None) -> Folder:
        """The current Folder, changed or not: the live app's loader interface.

        ``scan`` is a fresh (identities, unreadable folders) from :func:`scan_identities`
        when the caller already made one, so one reload lists the folder once.
        """
        if settings != self.settings:
            raise ValueError("an IncrementalLoader serves the settings it was made with")
        folder = self.refresh(scan)
        if folder is not None:
            self._folder = folder
        assert self._folder is not None  # refresh() returns a Folder on the first call
        return self._folder

    def refresh(self, scan: tuple[list, list] | None = None) -> Folder | None:
        """The current Folder, or None when nothing changed since the previous call."""
        root = self.settings.articles_dir
        if not root.is_dir():
            self._known = self._scanned = None
            return missing_folder(root)
        if self._known is None:
            # all cores only for the first load: later ones may run on a thread of a
            # threaded server, where forking a process pool is unsafe
            self._loads += 1
            loaded = _load_results(self.settings, self.use_cache, None if self._loads == 1 else 1, scan)
            self.last_stats = loaded.stats
            self._known = dict(zip(loaded.names, zip(loaded.identities, loaded.results, strict=True), strict=True))
            self._unreadable = loaded.unreadable
            return collect(loaded.results, loaded.unreadable)
        if scan is None:
            unreadable: list[Problem] = []
            current = scan_identities(root, unreadable)
        else:
            current, unreadable = scan
        known = self._known
        # The scan the last *completed* refresh applied: ``known`` then holds exactly its names
        # and identities, so the very (name, identity) pair at the same place needs no lookup,
        # and after a watcher's patch only its few new pairs are compared. Forgotten until this
        # refresh completes: one that fails while reading must leave nothing marked as seen.
        previous, self._scanned = self._scanned, None
        if previous is not None and len(previous) == len(current):
            candidates = [entry for before, entry in zip(previous, current, strict=True) if before is not entry]
        else:
            candidates = current
        stale = [(name, identity) for name, identity in candidates if name not in known or known[name][0] != identity]
        # names are unique, so nothing is gone when the known ones and the new ones add up to
        # the scan: no set of 100,000 names to build for a change that removed nothing
        added = sum(1 for name, _ in stale if name not in known)
        gone = known.keys() - {name for name, _ in current} if len(known) + added != len(current) else set()
        if not stale and not gone and unreadable == self._unreadable:
            self._scanned = list(current)  # a copy: the caller may reuse its list
            return None
        for name in gone:
            del known[name]
        for name, identity in stale:
            known[name] = (identity, read_article(root / name, self.settings, root=root))
        self.last_stats = LoadStats(len(current), len(current) - len(stale), len(stale))
        self._unreadable = unreadable
        folder = collect([known[name][1] for name, _ in current], unreadable)
        self._scanned = list(current)
        return folder
