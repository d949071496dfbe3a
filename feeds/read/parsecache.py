"""The parse cache: every article file's parse result, in one SQLite database.

One database per articles folder, reader settings (:data:`feeds.config.READER_SETTINGS`)
and reader code (:func:`feeds.reader_fingerprint`): other settings or other reader
code open another file, so their entries can never be mixed up. An entry is the
file's name, identity (size, mtime, ctime, inode), head record (what the catalog
reads), article digest and problems, and is used only when the scanned identity is
the very same. The details (what only the renderer reads) are a row of their own,
keyed by the article's digest: a load reads the entries with one query (~30 MB at
100,000 files), and a restored article reads its details with one point query when
it is first rendered (the item pass: a chunk's articles with one query), checking them against its digest.

SQLite in WAL mode gives the transactions and the concurrency: the live app's
workers, an export and ``feeds check`` may read and write one database at once;
a writer's entries are committed together with their details, so a reader sees
both or neither. Nothing is fsynced (a cache is rebuilt, never restored): an OS
crash may damage the file, and damage is never trusted: each entry carries a
CRC-32 over its identity and record together, details must give the article's
digest, and a database SQLite calls malformed is deleted and built again with a
warning; what the damage hid is read from the files.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sqlite3
import threading
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from feeds import reader_fingerprint
from feeds.cache_dir import default_cache_dir
from feeds.config import READER_SETTINGS, Settings
from feeds.model import details_record, head_record, pack_details, record_digest
from feeds.read.cache_files import delete_database, remove_orphaned, remove_outdated
from feeds.read.cache_writes import rows_in, write_entries
from feeds.read.reader import ReadResult
from feeds.sqlite_wal import connect_wal

SCHEMA_VERSION = 2  # PRAGMA user_version of a database this code wrote (2: the meta table)
PAGE_SIZE = 16_384  # bytes per database page (SQLite's default is 4,096)
BUSY_TIMEOUT_SECONDS = 60  # how long a statement waits for other connections' locks
CHECKPOINT_WAIT_MS = 1_000  # and a checkpoint after a load (see ParseCache.checkpoint)
_CHUNK = 4_096  # files per write transaction: keeps the WAL small, each chunk is whole on its own
# A file changed this close to (or after) the moment a load started is "racily clean" (git's term): a
# second write within the same timestamp tick (the kernel stamps files from a clock that moves every few
# ms; some file systems by the second, FAT by 2 s) can keep its size, mtime, ctime and inode, so its
# identity cannot tell the version read from a later one. Such a file is parsed, but not stored.
RACY_SECONDS = 2.0

_SCHEMA = (
    """CREATE TABLE entries (
        name BLOB PRIMARY KEY,  -- the file's relative path, UTF-8 (undecodable bytes surrogate-escaped)
        digest BLOB,            -- its article's digest (a key of details), NULL when it gave none
        entry BLOB NOT NULL     -- marshal (identity, head record, digest, problems), then its CRC-32
    )""",  # the CRC (little-endian) because SQLite does not check its pages' contents
    "CREATE INDEX entries_by_digest ON entries(digest)",
    """CREATE TABLE details (
        digest BLOB PRIMARY KEY,
        packed BLOB NOT NULL,   -- feeds.model.pack_details bytes: record_digest(head, packed) == digest
        unused_since INTEGER    -- when the last entry naming it went (Unix seconds), NULL while named
    )""",
    "CREATE INDEX details_unused ON details(unused_since) WHERE unused_since IS NOT NULL",
    # "folder": the articles folder's resolved path (UTF-8, surrogate-escaped), for cache_files.recorded_folder
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL)",
)


def not_written(path: Path, exc: sqlite3.Error) -> str:
    """The warning of a load whose parse-cache write failed (nothing else is lost)."""
    return f"parse cache {path} not written ({exc}); the next run reads those files again"


def not_forgotten(path: Path, exc: sqlite3.Error) -> str:
    """The warning of a load that could not delete the entries of files gone (:meth:`ParseCache.forget`)."""
    return f"parse cache {path}: the entries of files gone not deleted ({exc}); the next run tries again"


def _folder(settings: Settings) -> str:
    return str(settings.articles_dir.resolve())


_KEYED_SOURCES = ("parsecache.py", "cache_writes.py")  # beside this module; cached_details only reads


def cache_path(settings: Settings) -> Path:
    """The database of one articles folder, reader settings and reader code."""
    folder = _folder(settings)
    reader_settings = tuple(getattr(settings, name) for name in READER_SETTINGS)
    place = hashlib.sha256(folder.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    # this module's own source and its write transaction's (cache_writes): they decide what an entry holds
    sources = tuple(Path(__file__).with_name(name).read_bytes() for name in _KEYED_SOURCES)
    key = repr((reader_settings, reader_fingerprint(), sources, SCHEMA_VERSION)).encode()
    return (settings.cache_dir or default_cache_dir()) / f"parse-{place}-{hashlib.sha256(key).hexdigest()[:16]}.sqlite3"


def discard_cache(settings: Settings) -> None:
    """Delete the database of ``settings`` (its WAL and shared-memory files first, see
    :func:`feeds.read.cache_files.delete_database`)."""
    delete_database(cache_path(settings))


def settled_before(started_ns: int) -> int:
    """The newest change time (ns) a file may have for its entry to be stored by a load that
    started at ``started_ns`` (:func:`time.time_ns`, taken before any file was read): see RACY_SECONDS."""
    return started_ns - int(RACY_SECONDS * 1e9)


def is_settled(identity: tuple, before_ns: int) -> bool:
    """Whether a scanned identity (size, mtime_ns, ctime_ns, inode) last changed before ``before_ns``
    (:func:`settled_before`), so that any later write gives another identity. ctime is the kernel's
    own stamp of every change (no tool sets it back); mtime counts too, for file systems that fake ctime,
    unless it lies after the load's start: a date set ahead (``touch -d``, an archive made on a machine
    whose clock ran fast) would keep the file out of the cache until then, read again by every run."""
    mtime, ctime = identity[1], identity[2]
    set_ahead = mtime > before_ns + int(RACY_SECONDS * 1e9)
    return (ctime if set_ahead else max(mtime, ctime)) < before_ns


def result_record(result: ReadResult) -> tuple:
    """A file's record: (head record, packed details, digest, problems); (None, None, None, problems)
    for a file that gave no article. What a parse produces and the cache stores."""
    problems = tuple((p.path, p.severity.value, p.message, p.line) for p in result.problems)
    article = result.article
    if article is None:
        return (None, None, None, problems)
    head = head_record(article)
    packed = pack_details(details_record(article))
    return (head, packed, record_digest(head, packed), problems)


_CRC_RESIDUE = 0x2144DF1C  # zlib.crc32 of any bytes followed by their own CRC-32, little-endian


def _key(name: str) -> bytes:
    return name.encode("utf-8", "surrogateescape")


class Lookup(NamedTuple):
    """What :meth:`ParseCache.lookup` found: a record or None per scanned file, the misses' indexes,
    every stored entry (by UTF-8 name) and the scanned names' keys."""

    records: list[tuple | None]
    misses: list[int]
    stored: dict[bytes, bytes]
    keys: list[bytes]


class Damaged(Exception):
    """The database cannot be trusted (SQLite says so, or an entry fails its CRC)."""


def is_damage(exc: sqlite3.Error) -> bool:
    """Whether SQLite refused the file itself (corrupt, or not a database), not the moment (locked, full disk)."""
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB


class ParseCache:
    """An open parse cache database. Safe to share between threads; a forked child opens its own
    connection (an SQLite connection must not cross a fork). ``root`` and ``settings`` are what
    its entries were read with: a file is read again when its cached details turn out damaged."""

    def __init__(self, path: Path, root: Path, settings: Settings) -> None:
        self.path = path
        self.root = root
        self.settings = settings
        self._opened: tuple[int, sqlite3.Connection, threading.Lock] | None = None
        self._inherited: list[sqlite3.Connection] = []  # never closed in a child: the parent still uses it
        self._guard = threading.Lock()

    @classmethod
    def open(cls, settings: Settings) -> tuple[ParseCache | None, str | None]:
        """The cache of ``settings`` (created or rebuilt as needed), or None and why not."""
        path = cache_path(settings)
        if path.resolve().is_relative_to(settings.articles_dir.resolve()):
            return None, f"parse cache {path} would be inside the articles folder; not using a cache"
        cache = cls(path, settings.articles_dir, settings)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            cache._prepare()
        except Damaged as exc:
            return cache._rebuilt(f"parse cache {path} is damaged ({exc}); rebuilding it")
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                return None, f"parse cache {path} unusable ({exc}); reading every file"
            return cache._rebuilt(f"parse cache {path} is damaged ({exc}); rebuilding it")
        except (OSError, sqlite3.Error) as exc:
            return None, f"parse cache {path} unusable ({exc}); reading every file"
        remove_outdated(path)
        remove_orphaned(path)
        return cache, None

    def _rebuilt(self, warning: str) -> tuple[ParseCache | None, str | None]:
        try:
            self.rebuild()
        except (OSError, sqlite3.Error, Damaged) as exc:
            return None, f"{warning}; failed too ({exc}), reading every file"
        return self, warning

    def rebuild(self) -> None:
        """Delete the database (it is damaged) and create an empty one. Raises sqlite3.Error, OSError."""
        self.close()  # before the files go: it must not fold its WAL into the new database
        delete_database(self.path)
        self._prepare()

    def _connection(self) -> tuple[sqlite3.Connection, threading.Lock]:
        with self._guard:
            opened = self._opened
            if opened is None or opened[0] != os.getpid():
                if opened is not None:
                    self._inherited.append(opened[1])
                # page_size for a database this creates (an existing one keeps its own): a details row
                # (~2 KB) is written in a third less CPU than on 4 KB pages, read back ~1 µs slower
                # (10,000 files). WAL: readers never wait for a writer.
                connection = connect_wal(
                    self.path,
                    timeout=BUSY_TIMEOUT_SECONDS,
                    pragmas=(f"PRAGMA page_size={PAGE_SIZE}",),
                    check_same_thread=False,
                )
                # No fsync at all: a cold run writes ~2 KB of details per file, and each automatic
                # checkpoint's two fsyncs cost ~0.1 s of a 10,000-file export's 4 s (more on a busy
                # disk). A killed process loses nothing; only an OS crash or power loss can damage the
                # file, and damage is never trusted: SQLite's own checks (a malformed database is
                # rebuilt), each entry's CRC and each article's digest over its details (see above).
                connection.execute("PRAGMA synchronous=OFF")
                opened = self._opened = (os.getpid(), connection, threading.Lock())
            return opened[1], opened[2]

    def _prepare(self) -> None:
        """Create the tables in an empty database; a database of another schema counts as damaged."""
        connection, lock = self._connection()
        with lock:
            if connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
                return
            connection.execute("BEGIN IMMEDIATE")
            try:
                version = connection.execute("PRAGMA user_version").fetchone()[0]
                tables = connection.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
                if version == 0 and tables == 0:
                    for statement in _SCHEMA:
                        connection.execute(statement)
                    folder = _folder(self.settings).encode("utf-8", "surrogateescape")
                    connection.execute("INSERT INTO meta(key, value) VALUES ('folder', ?)", (folder,))
                    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                elif version != SCHEMA_VERSION:
                    raise Damaged(f"schema version {version}, not {SCHEMA_VERSION}")
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise

    def lookup(self, scanned: list[tuple[str, tuple | None]]) -> Lookup:
        """Each scanned (name, identity)'s record where the stored entry is for this very file
        version (records as :func:`result_record` gives them, details left in the database), the
        indexes of the others (misses), and what is stored. Raises :class:`Damaged` when SQLite
        finds the database malformed, or an entry this load would use fails its CRC."""
        connection, lock = self._connection()
        try:
            with lock:
                stored = dict(connection.execute("SELECT name, entry FROM entries"))
        except sqlite3.DatabaseError as exc:
            if is_damage(exc):
                raise Damaged(str(exc)) from None
            raise
        # the hot loop of a warm load (100,000 files): no helper calls per file
        loads, crc32, residue = marshal.loads, zlib.crc32, _CRC_RESIDUE
        keys = [name.encode("utf-8", "surrogateescape") for name, _ in scanned]
        records: list[tuple | None] = [None] * len(scanned)
        misses = []
        try:
            for index, (name, identity) in enumerate(scanned):
                blob = stored.get(keys[index])
                if blob is None or identity is None:
                    misses.append(index)
                    continue
                if type(blob) is not bytes or crc32(blob) != residue:
                    raise Damaged(f"the entry of {name} fails its CRC")
                stored_identity, head, digest, problems = loads(blob)  # the CRC's 4 bytes are ignored
                if stored_identity != identity:
                    misses.append(index)
                    continue
                records[index] = (head, None if head is None else Located((self, digest, head, name)), digest, problems)
        except (ValueError, EOFError, TypeError):
            raise Damaged("an entry is not one this code writes") from None
        return Lookup(records, misses, stored, keys)

    def save(self, written: Iterable[tuple[str, tuple, tuple]]) -> None:
        """Store ``(name, identity, record)`` entries (records as :func:`result_record` gives them)
        with their details. The details an entry replaced named are marked unused in the same
        transaction where no entry names them any more (deleted an hour later). Each chunk of files
        is one transaction, whole on its own. Raises sqlite3.Error."""
        connection, lock = self._connection()
        rows: list[tuple] = []
        details: list[tuple[bytes, bytes]] = []
        with lock:
            for name, identity, (head, packed, digest, problems) in written:
                payload = marshal.dumps((identity, head, digest, problems))
                rows.append((_key(name), digest, payload + zlib.crc32(payload).to_bytes(4, "little")))
                if head is not None:
                    details.append((digest, packed))
                if len(rows) >= _CHUNK:
                    write_entries(connection, rows, details, ())
                    rows, details = [], []
            if rows:
                write_entries(connection, rows, details, ())

    def forget(self, lookup: Lookup) -> None:
        """Delete the entries of the files gone since ``lookup`` was made, and mark unused the details
        they named where no entry names them any more. One transaction. Raises sqlite3.Error."""
        scanned = set(lookup.keys)
        # a file another writer added since this scan may have its entry already: only a name that
        # is not there any more goes (an entry kept for a file that failed to stat is never fresh)
        gone = [
            key for key in lookup.stored
            if key not in scanned and not os.path.lexists(self.root / key.decode("utf-8", "surrogateescape"))
        ]  # fmt: skip
        if gone:
            connection, lock = self._connection()
            with lock:
                write_entries(connection, [], [], gone)

    def keep_open(self) -> None:
        """Open this process's connection now, if it is not and can be (a failure shows at the next use)."""
        try:
            self._connection()
        except sqlite3.Error:
            return

    def checkpoint(self) -> None:
        """Fold the WAL into the database and truncate it, waiting at most CHECKPOINT_WAIT_MS for other
        connections' transactions (then SQLite does what it can and leaves the rest). After a load that
        stored many files: a cold 100k export left a ~30 MB WAL, and the live server started from that
        cache 2–3 s later than from a folded one (bench_serve: 12.2–12.7 s against 9.8–9.9 s)."""
        try:
            connection, lock = self._connection()
            with lock:
                connection.execute(f"PRAGMA busy_timeout = {CHECKPOINT_WAIT_MS}")
                try:
                    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                finally:
                    connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
        except sqlite3.Error:
            return

    def close(self) -> None:
        """Close this process's connection (a new one opens when the cache is used again)."""
        with self._guard:
            opened, self._opened = self._opened, None
        if opened is None:
            return
        if opened[0] != os.getpid():  # inherited across a fork: the parent still uses it, never close it here
            self._inherited.append(opened[1])
            return
        with opened[2]:
            opened[1].close()

    def details(self, digest: bytes) -> bytes | None:
        """The packed details stored under ``digest``, or None (gone, or the database unreadable)."""
        try:
            connection, lock = self._connection()
            with lock:
                row = connection.execute("SELECT packed FROM details WHERE digest = ?", (digest,)).fetchone()
        except sqlite3.Error:
            return None
        return row[0] if row is not None and type(row[0]) is bytes else None

    def details_of(self, digests: list[bytes]) -> dict[bytes, bytes]:
        """:meth:`details` of several digests with one query (a chunk of the item pass): the packed
        details found, by digest; a digest gone, or every one when the database is unreadable, is
        left out, where :meth:`details` gives None."""
        try:
            connection, lock = self._connection()
            with lock:
                query = "SELECT digest, packed FROM details WHERE digest IN ({marks})"
                found = dict(rows_in(connection, query, digests))
        except sqlite3.Error:
            return {}
        return {digest: packed for digest, packed in found.items() if type(packed) is bytes}


class Located(tuple):
    """(cache, digest, head record, file name): where a restored article's details are."""

    __slots__ = ()
