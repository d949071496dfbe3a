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
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from pathlib import Path

from feeds import code_fingerprint
from feeds.config import Settings
from feeds.model import Article, Image, Problem, Provider, Related, Severity
from feeds.reader import Folder, ReadResult, collect, missing_folder, read_article, walk_article_files

CACHE_MAGIC = b"feeds-parse-cache\n"
CACHE_VERSION = 2
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
    """One cache file per articles folder, reader-relevant settings and code (:func:`feeds.code_fingerprint`)."""
    folder = str(settings.articles_dir.resolve())
    reader_settings = (settings.max_file_bytes, settings.max_title_chars, settings.max_summary_chars)
    place = hashlib.sha256(folder.encode()).hexdigest()[:16]
    version = hashlib.sha256(repr((reader_settings, code_fingerprint())).encode()).hexdigest()[:16]
    return (settings.cache_dir or default_cache_dir()) / f"parse-{place}-{version}.cache"


# ----- records: an Article as builtin values marshal can store ------------------------------------


def _ts(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _dt(micros: int | None) -> datetime | None:
    return None if micros is None else _EPOCH + timedelta(microseconds=micros)


def _provider_record(provider: Provider | None):
    return None if provider is None else (provider.name, provider.domain)


def _image_record(image: Image | None):
    return None if image is None else (image.url, image.width, image.height)


def article_record(a: Article) -> tuple:
    """An Article as a tuple of builtins (the inverse of :func:`article_from_record`)."""
    return (
        a.source, a.uid, a.title, a.link, _ts(a.published_at), a.summary, a.original_url,
        a.web_url, a.amp_url, a.cdn_amp_url, a.category, a.kind, a.quality, a.heat, a.published,
        _provider_record(a.provider), a.topics, tuple(_image_record(i) for i in a.images),
        tuple(
            (r.title, r.link, r.summary, _ts(r.published_at), _provider_record(r.provider), _image_record(r.image))
            for r in a.related
        ),
        a.featured_embed_url, a.body,
    )  # fmt: skip


def article_from_record(r: tuple, providers: dict | None = None) -> Article:
    """Rebuild an Article; ``providers`` (shared across calls) makes equal Providers one object."""
    cache = providers if providers is not None else {}

    def provider(value):
        if value is None:
            return None
        found = cache.get(value)
        if found is None:
            found = cache[value] = Provider(*value)
        return found

    images = tuple(Image(*i) for i in r[17])
    related = tuple(
        Related(x[0], x[1], x[2], _dt(x[3]), provider(x[4]), Image(*x[5]) if x[5] else None) for x in r[18]
    )
    return Article(
        r[0], r[1], r[2], r[3], _dt(r[4]), r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
        provider(r[15]), r[16], images, related, r[19], r[20],
    )  # fmt: skip


def _result_record(result: ReadResult) -> tuple:
    problems = tuple((p.path, p.severity.value, p.message, p.line) for p in result.problems)
    return (None if result.article is None else article_record(result.article), problems)


def _result_from_record(record: tuple, providers: dict | None = None) -> ReadResult:
    article = None if record[0] is None else article_from_record(record[0], providers)
    problems = tuple(Problem(p[0], Severity(p[1]), p[2], p[3]) for p in record[1])
    return ReadResult(article, problems)


# ----- the cache file ------------------------------------------------------------------------------


def _read_cache(path: Path) -> tuple[dict, str | None]:
    """The cached entries, or {} and a warning when the file is corrupt or foreign."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}, None
    except OSError as exc:
        return {}, f"parse cache {path} unreadable ({exc.strerror}); rebuilding it"
    header = CACHE_MAGIC + CACHE_VERSION.to_bytes(4, "big")
    if not data.startswith(header):
        return {}, f"parse cache {path} is not a cache of this version; rebuilding it"
    try:
        entries = marshal.loads(data[len(header) :])
    except (ValueError, EOFError, TypeError):
        return {}, f"parse cache {path} is corrupt; rebuilding it"
    if not isinstance(entries, dict):
        return {}, f"parse cache {path} is corrupt; rebuilding it"
    return entries, None


def _write_cache(path: Path, entries: dict) -> str | None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        temporary.write_bytes(CACHE_MAGIC + CACHE_VERSION.to_bytes(4, "big") + marshal.dumps(entries))
        os.replace(temporary, path)
        place = path.name.rsplit("-", 1)[0]
        for outdated in path.parent.glob(f"{place}-*.cache"):  # same folder, older code or settings
            if outdated != path:
                outdated.unlink(missing_ok=True)
    except OSError as exc:
        return f"parse cache {path} not written ({exc.strerror}); the next run reads every file"
    return None


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


def input_fingerprint(settings: Settings) -> str:
    """A digest of everything a build depends on: every article file's identity, the settings, the code.

    Equal fingerprints mean an equal build, so a run can tell that nothing
    changed from one scan of file identities, without reading an article.
    """
    unreadable: list[Problem] = []
    scanned = scan_identities(settings.articles_dir, unreadable)
    digest = hashlib.sha256(code_fingerprint().encode())
    digest.update(repr(dataclasses.astuple(settings)).encode("utf-8", "surrogateescape"))
    digest.update(repr((scanned, [str(p) for p in unreadable])).encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class _Loaded:
    names: list[str]
    identities: list[Identity | None]
    results: list[ReadResult]
    stats: LoadStats
    unreadable: list[Problem]


def _load_results(settings: Settings, use_cache: bool, workers: int | None) -> _Loaded:
    """Every file's result in path order, from the cache where fresh, parsed on all cores otherwise."""
    root = settings.articles_dir
    workers = workers if workers is not None else (os.cpu_count() or 1)
    path = cache_path(settings)
    warning = _check_cache_location(path, settings) if use_cache else None
    use_cache = use_cache and warning is None
    entries, read_warning = _read_cache(path) if use_cache else ({}, None)
    warning = warning or read_warning

    with _bulk_allocation():
        unreadable: list[Problem] = []
        scanned = scan_identities(root, unreadable)
        names = [name for name, _ in scanned]
        identities = [identity for _, identity in scanned]
        records: list[tuple | None] = [None] * len(names)
        misses: list[int] = []
        for index, (name, identity) in enumerate(zip(names, identities, strict=True)):
            cached = entries.get(name)
            if identity is not None and isinstance(cached, tuple) and len(cached) == 2 and cached[0] == identity:
                records[index] = cached[1]
            else:
                misses.append(index)
        parsed = _parse(root, [names[i] for i in misses], settings, workers)
        for index, record in zip(misses, parsed, strict=True):
            records[index] = record
        try:
            providers: dict = {}
            results = [_result_from_record(record, providers) for record in records]
        except (TypeError, ValueError, IndexError):
            # a foreign cache with the right header: never trust it, read everything again
            warning = f"parse cache {path} holds unreadable entries; rebuilding it"
            records = _parse(root, names, settings, workers)
            results = [_result_from_record(record) for record in records]
            misses = list(range(len(names)))
    if use_cache and (misses or len(entries) != len(names)):
        fresh = {
            name: (identity, record)
            for name, identity, record in zip(names, identities, records, strict=True)
            if identity is not None
        }
        write_warning = _write_cache(path, fresh)
        warning = warning or write_warning
    stats = LoadStats(len(names), len(names) - len(misses), len(misses), warning)
    return _Loaded(names, identities, results, stats, unreadable)


def load_folder(
    settings: Settings, *, use_cache: bool = True, workers: int | None = None
) -> tuple[Folder, LoadStats]:
    """Read every article file under ``settings.articles_dir``, from the cache where it is fresh.

    The Folder is the same as :func:`feeds.reader.read_folder` gives, whatever
    the cache state and the number of workers.
    """
    if not settings.articles_dir.is_dir():
        return missing_folder(settings.articles_dir), LoadStats(0, 0, 0)
    loaded = _load_results(settings, use_cache, workers)
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
            self._known = None
            return missing_folder(root)
        if self._known is None:
            # all cores only for the first load: later ones may run on a thread of a
            # threaded server, where forking a process pool is unsafe
            self._loads += 1
            loaded = _load_results(self.settings, self.use_cache, None if self._loads == 1 else 1)
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
        stale = [(name, identity) for name, identity in current if name not in known or known[name][0] != identity]
        gone = known.keys() - {name for name, _ in current}
        if not stale and not gone and unreadable == self._unreadable:
            return None
        for name in gone:
            del known[name]
        for name, identity in stale:
            known[name] = (identity, read_article(root / name, self.settings, root=root))
        self.last_stats = LoadStats(len(current), len(current) - len(stale), len(stale))
        self._unreadable = unreadable
        return collect([known[name][1] for name, _ in current], unreadable)
