"""Knowing which article files changed without listing the whole folder.

:class:`FolderWatcher` asks the kernel (inotify, through watchdog) to report
every change under the articles folder and collects the relative names that
changed. :class:`FolderScan` keeps the folder's last scan, exactly as
:func:`feeds.load.scan_identities` lists it, and patches it by re-stating only
those names, so a reload at 100,000 files costs a few system calls instead of
one stat per file. Whatever a patch cannot be sure of (a folder changed, a
symlink anywhere in the tree, an unreadable folder, lost events) is answered
with a full scan, which stays the reference: a patched scan always equals a
fresh one.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import os
import stat
import sys
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from feeds.model import Problem
from feeds.reader import MAX_FILES

Identity = tuple[int, int, int, int]
Entry = tuple[str, Identity | None]
Scan = tuple[list, list]  # (relative name, identity) of every file, and folders that could not be listed

_DIGEST_BITS = 256
_MODULUS = 1 << _DIGEST_BITS
MAX_PENDING = 10_000  # more changed names than this in one batch: a full scan is cheaper than patching
FULL_SCAN_INTERVALS = 120  # the safety-net full scan runs every this many reload intervals...
MIN_FULL_SCAN_SECONDS = 30.0  # ...and never more often than this
SETTLE_SECONDS = 0.02  # a burst of events (create, write, close) is taken as one batch once this quiet
MAX_SETTLE_SECONDS = 0.2


def full_scan_interval(reload_interval: float) -> float:
    """Seconds between safety-net full scans while a watcher runs: 120 reload intervals, at least 30 s.

    The watcher makes the full scan unnecessary in principle; this one catches
    what no watcher can see (a change on a network file system, events the
    kernel dropped without saying so) at about 1% of a core at 100,000 files.
    """
    return max(MIN_FULL_SCAN_SECONDS, FULL_SCAN_INTERVALS * reload_interval)


# ----- the scan and its fingerprint ---------------------------------------------------------------


def _part(name: str, identity: Identity) -> int:
    data = f"{name}\0{identity}".encode("utf-8", "surrogateescape")
    return int.from_bytes(hashlib.blake2b(data, digest_size=_DIGEST_BITS // 8).digest(), "big")


def scan_digest(entries: Iterable[Entry]) -> str:
    """A digest of the (relative name, identity) of every file: equal folders give equal digests.

    The sum of one hash per file (modulo 2**256), so it does not depend on the
    order and a patch updates it by subtracting and adding single files.
    Entries without an identity (removed between listing and stat) are left out.
    """
    return _hex(sum(_part(name, identity) for name, identity in entries if identity is not None) % _MODULUS)


def _hex(value: int) -> str:
    return f"{value:0{_DIGEST_BITS // 4}x}"


def _order(name: str) -> list[str]:
    # walk_article_files sorts each folder's entries by name, so "a/b" comes before "a-c"
    return name.split("/")


def _entry_order(entry: Entry) -> list[str]:
    return entry[0].split("/")


_ABSENT = object()  # a name that walk_article_files would not list


class FolderScan:
    """The last scan of one articles folder, kept current by full scans and by patching single names.

    ``entries`` is what :func:`feeds.load.scan_identities` gives for the
    folder: (relative name, identity) in walk order. ``fingerprint`` is
    :func:`scan_digest` of it, kept up to date incrementally. :meth:`patch` is
    only trusted after a full scan that also took a census of the tree
    (``census=True``): no symlink, no unreadable folder, the set of folders.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.entries: list[Entry] = []
        self.unreadable: list[Problem] = []
        self.folders: set[str] = set()
        self.full_scans = 0
        self.patches = 0
        # why patch() must refuse, or None when it may patch (set by a full scan with a census)
        self.unsure: str | None = "no full scan with a census yet"
        self._index: dict[str, Identity | None] = {}
        self._sum = 0

    @property
    def fingerprint(self) -> str:
        """:func:`scan_digest` of ``entries``."""
        return _hex(self._sum)

    def scan(self) -> Scan:
        """A copy of (entries, unreadable folders), the form the incremental loader takes."""
        return list(self.entries), list(self.unreadable)

    def replace(self, scan: Scan, *, census: bool) -> None:
        """Take a full scan (from :func:`feeds.load.scan_identities`) as the new state.

        ``census`` lists the tree once more (no stat) to learn its folders and
        whether it holds a symlink, which patching needs; without it, patch() refuses.
        """
        entries, unreadable = scan
        self.full_scans += 1
        if entries != self.entries:
            self._apply_full(entries)
        self.unreadable = list(unreadable)
        self.unsure = self._census() if census else "no census (not watching)"

    def _apply_full(self, entries: list[Entry]) -> None:
        index = dict(entries)
        old = self._index
        total = self._sum
        for name, identity in entries:
            before = old.get(name, _ABSENT)
            if before != identity:
                if before is not _ABSENT and before is not None:
                    total -= _part(name, before)  # type: ignore[arg-type]
                if identity is not None:
                    total += _part(name, identity)
        for name in old.keys() - index.keys():
            if old[name] is not None:
                total -= _part(name, old[name])  # type: ignore[arg-type]
        self.entries = list(entries)
        self._index = index
        self._sum = total % _MODULUS

    def _census(self) -> str | None:
        """Learn every folder walk_article_files enters; the reason patching cannot be trusted, or None."""
        if self.unreadable:
            return "a folder cannot be listed"
        if len(self.entries) >= MAX_FILES:
            return f"more than {MAX_FILES} files"
        folders: set[str] = set()
        pending = [(str(self.root), "")]
        while pending:
            folder, prefix = pending.pop()
            try:
                with os.scandir(folder) as listing:
                    for entry in listing:
                        if entry.name.startswith("."):
                            continue
                        if entry.is_symlink():
                            return f"{prefix}{entry.name} is a symlink"
                        if entry.is_dir(follow_symlinks=False):
                            name = f"{prefix}{entry.name}"
                            folders.add(name)
                            pending.append((entry.path, f"{name}/"))
            except OSError:
                return "a folder cannot be listed"
        self.folders = folders
        return None

    def patch(self, names: Iterable[str]) -> bool:
        """Re-stat only ``names`` (relative, as the watcher reports them); False when unsure.

        False means the scan may now be wrong and the caller must make a full
        scan (:meth:`replace`): a folder was involved, a symlink appeared, a
        name lies in a folder the census did not see, or the census refused.
        """
        if self.unsure is not None:
            return False
        root = str(self.root)
        for name in names:
            if len(self.entries) >= MAX_FILES:
                self.unsure = f"more than {MAX_FILES} files"
                return False
            identity = self._current(root, name)
            if identity is None:
                return False
            self._set(name, identity)
        self.patches += 1
        return True

    def _current(self, root: str, name: str) -> Any:
        """What walk_article_files would list for ``name`` now: an identity, _ABSENT, or None when unsure."""
        parts = name.split("/")
        if not all(parts):
            return None  # the folder itself, or not a name walk_article_files makes
        if any(part.startswith(".") for part in parts):
            return _ABSENT  # a dotfile or inside a dot-folder: never listed
        if name in self.folders:
            return None  # was a folder
        parent = "/".join(parts[:-1])
        if parent and parent not in self.folders:
            return None  # a folder the census did not see
        try:
            found = os.lstat(os.path.join(root, name))
        except (FileNotFoundError, NotADirectoryError):
            return _ABSENT
        except OSError:
            return None
        if stat.S_ISLNK(found.st_mode) or stat.S_ISDIR(found.st_mode):
            return None
        if not stat.S_ISREG(found.st_mode):
            return _ABSENT  # a fifo or socket: walk_article_files lists regular files only
        return found.st_size, found.st_mtime_ns, found.st_ctime_ns, found.st_ino

    def _set(self, name: str, identity: Any) -> None:
        before = self._index.get(name, _ABSENT)
        if before == identity:
            return
        entries = self.entries
        at = bisect.bisect_left(entries, _order(name), key=_entry_order)
        if before is not _ABSENT:
            if before is not None:
                self._sum -= _part(name, before)  # type: ignore[arg-type]
            if identity is _ABSENT:
                del entries[at]
                del self._index[name]
            else:
                entries[at] = (name, identity)
                self._index[name] = identity
        else:
            entries.insert(at, (name, identity))
            self._index[name] = identity
        if identity is not _ABSENT:
            self._sum += _part(name, identity)
        self._sum %= _MODULUS


# ----- the watcher --------------------------------------------------------------------------------


FOLDER_REPLACED = "the folder was moved, removed or replaced"


class WatchUnavailable(Exception):
    """No watcher on this platform or for this folder (the reason is the message); poll instead."""


@dataclass(frozen=True, slots=True)
class Changes:
    """What happened since the last :meth:`FolderWatcher.take`: changed names, or why to scan it all."""

    names: frozenset[str]
    rescan: str | None = None


_WATCHERS: weakref.WeakSet[FolderWatcher] = weakref.WeakSet()
_OVERFLOW_LOGGERS = ("watchdog.observers.inotify_c", "watchdog.observers.inotify")


class _OverflowSignal(logging.Handler):
    """watchdog reports a kernel queue overflow only in a log record: turn it into a rescan.

    Every running watcher of the process rescans: an overflow is rare and a
    needless full scan is harmless, a missed change is not.
    """

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            for watcher in list(_WATCHERS):
                watcher.overflow("the kernel's event queue overflowed")


_SIGNAL = _OverflowSignal(logging.WARNING)
_SIGNAL_LOCK = threading.Lock()


def _listen_for_overflows() -> None:
    with _SIGNAL_LOCK:
        for name in _OVERFLOW_LOGGERS:
            logger = logging.getLogger(name)
            if _SIGNAL not in logger.handlers:
                logger.addHandler(_SIGNAL)


def _observer() -> Any:
    """A watchdog inotify observer; WatchUnavailable where there is none."""
    if not sys.platform.startswith("linux"):
        raise WatchUnavailable(f"no inotify on {sys.platform}")
    try:
        from watchdog.observers.inotify import InotifyObserver
    except ImportError as exc:  # watchdog missing or broken: polling still works
        raise WatchUnavailable(f"watchdog cannot be imported ({exc})") from None
    try:
        return InotifyObserver()
    except OSError as exc:
        raise WatchUnavailable(f"inotify cannot start ({exc.strerror or exc})") from None


class FolderWatcher:
    """An inotify watch of a folder tree, collecting changed relative names until :meth:`take`.

    Only changes are watched (create, write, close after write, attributes,
    delete, move): reading the files, as every reload does, makes no event.
    Any folder event asks for a full scan; so does an overflow, a burst of
    more than MAX_PENDING names, or a name outside the folder.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._path = os.path.abspath(root)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._names: set[str] = set()
        self._rescan: str | None = None
        self._last_event = 0.0
        self._observer: Any = None
        self._root_id: tuple[int, int] | None = None

    def start(self) -> None:
        """Start watching (the watch is in place when this returns); WatchUnavailable when it cannot."""
        try:
            found = os.stat(self._path)
        except OSError as exc:
            raise WatchUnavailable(f"{self.root}: {exc.strerror or exc}") from None
        observer = _observer()
        try:
            from watchdog import events
            from watchdog.events import FileSystemEventHandler

            watcher = self

            class Handler(FileSystemEventHandler):
                def on_any_event(self, event: events.FileSystemEvent) -> None:
                    watcher._event(event)

            wanted = [
                events.FileCreatedEvent, events.DirCreatedEvent, events.FileDeletedEvent, events.DirDeletedEvent,
                events.FileMovedEvent, events.DirMovedEvent, events.FileModifiedEvent, events.FileAttribEvent,
                events.DirAttribEvent, events.FileClosedEvent,
            ]  # fmt: skip
            observer.schedule(Handler(), self._path, recursive=True, event_filter=wanted)
            observer.name = "feeds-watch"
            observer.start()  # adds the inotify watches before it returns
        except Exception as exc:  # noqa: BLE001 - any failure to start means polling, never a crash
            _stop_observer(observer)
            raise WatchUnavailable(f"inotify cannot watch {self.root} ({_reason(exc)})") from None
        self._observer, self._root_id = observer, (found.st_dev, found.st_ino)
        _listen_for_overflows()
        _WATCHERS.add(self)

    def trouble(self) -> str | None:
        """None while the watch runs on the folder it started on; else why it cannot be trusted.

        :data:`FOLDER_REPLACED` when the folder was moved, removed or replaced
        (a new watcher may start at once); anything else means the watch itself failed.
        """
        try:
            found = os.stat(self._path)
        except OSError:
            return FOLDER_REPLACED
        if (found.st_dev, found.st_ino) != self._root_id:
            return FOLDER_REPLACED
        observer = self._observer
        if observer is None or not observer.is_alive() or not all(e.is_alive() for e in observer.emitters):
            return "the watch stopped"
        return None

    def stop(self) -> None:
        """Stop watching and join watchdog's threads; safe to call twice."""
        _WATCHERS.discard(self)
        observer, self._observer = self._observer, None
        _stop_observer(observer)
        self._wake.set()

    def wake(self) -> None:
        """Wake a :meth:`wait` early (to stop)."""
        self._wake.set()

    def wait(self, timeout: float) -> bool:
        """Block until something changed or ``timeout`` passed; True when there is something to take."""
        woken = self._wake.wait(timeout)
        if woken:  # let a burst (create, write, close) arrive whole before it is taken
            deadline = time.monotonic() + MAX_SETTLE_SECONDS
            while True:
                quiet = time.monotonic() - self._last_event
                if quiet >= SETTLE_SECONDS or time.monotonic() >= deadline:
                    break
                time.sleep(SETTLE_SECONDS - quiet)
        return woken

    def take(self) -> Changes:
        """Everything collected since the last take, and forget it."""
        with self._lock:
            names, rescan = frozenset(self._names), self._rescan
            self._names, self._rescan = set(), None
            self._wake.clear()
        return Changes(frozenset() if rescan else names, rescan)

    def overflow(self, reason: str) -> None:
        """Events were lost: the next take asks for a full scan."""
        with self._lock:
            self._rescan = self._rescan or reason
            self._names = set()
        self._wake.set()

    def _event(self, event: Any) -> None:
        """Called on watchdog's thread for each event."""
        paths = [event.src_path, getattr(event, "dest_path", "")]
        names = [self._relative(os.fsdecode(p)) for p in paths if p]
        if all(name is not None and _hidden(name) for name in names):
            return  # inside a dot-folder, or a dotfile: walk_article_files never lists it
        if event.is_directory:
            self._need_rescan("a folder changed")
        elif any(name is None for name in names):
            self._need_rescan("an event outside the folder")
        else:
            with self._lock:
                if self._rescan is None:
                    self._names.update(name for name in names if name)
                    if len(self._names) > MAX_PENDING:
                        self._rescan, self._names = f"more than {MAX_PENDING} files changed at once", set()
                self._last_event = time.monotonic()
            self._wake.set()

    def _need_rescan(self, reason: str) -> None:
        with self._lock:
            self._rescan = self._rescan or reason
            self._names = set()
            self._last_event = time.monotonic()
        self._wake.set()

    def _relative(self, path: str) -> str | None:
        if path == self._path:
            return ""
        prefix = self._path.rstrip(os.sep) + os.sep
        return path[len(prefix) :].replace(os.sep, "/") if path.startswith(prefix) else None


def _hidden(name: str) -> bool:
    return any(part.startswith(".") for part in name.split("/"))


def _stop_observer(observer: Any) -> None:
    if observer is None:
        return
    try:
        observer.stop()  # also ends the inotify thread an observer runs from construction
        if observer.is_alive():
            observer.join(5.0)
    except Exception:  # noqa: BLE001 - stopping must never raise into the app
        pass


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__
