"""Knowing which article files changed without listing the whole folder.

:class:`FolderWatcher` asks the kernel (inotify, through watchdog) to report
every change under the articles folder and collects the relative names that
changed; :class:`feeds.read.folder_scan.FolderScan` patches the last scan with them.
Whatever the watcher cannot be sure of (a folder changed, lost events, a name
outside the folder) asks for a full scan instead.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_PENDING = 10_000  # more changed names than this in one batch: a full scan is cheaper than patching
FULL_SCAN_INTERVALS = 120  # the safety-net full scan runs every this many reload intervals...
MIN_FULL_SCAN_SECONDS = 30.0  # ...and never more often than this...
FULL_SCAN_SHARE = 100  # ...nor more often than every this many times the last full scan's own seconds
SETTLE_SECONDS = 0.02  # a burst of events (create, write, close) is taken as one batch once this quiet
MAX_SETTLE_SECONDS = 0.2


def full_scan_interval(reload_interval: float, scan_seconds: float = 0.0) -> float:
    """Seconds between safety-net full scans while a watcher runs: 120 reload intervals, at least 30 s,
    and at least 100 times what the last full scan took (``scan_seconds``).

    The watcher makes the full scan unnecessary in principle; this one catches
    what no watcher can see (a change on a network file system, events the
    kernel dropped without saying so) at about 1% of a core. At a million files a
    scan takes ~7 s: every 30 s it took a fifth of a core, and a change that came
    during one waited for it (issue 20), hence the bound by its own cost.
    """
    return max(MIN_FULL_SCAN_SECONDS, FULL_SCAN_INTERVALS * reload_interval, FULL_SCAN_SHARE * scan_seconds)


FOLDER_REPLACED = "the folder was moved, removed or replaced"


class WatchUnavailable(Exception):
    """No watcher on this platform or for this folder (the reason is the message); poll instead."""


@dataclass(frozen=True, slots=True)
class Changes:
    """What happened since the last :meth:`FolderWatcher.take`: changed names, or why to scan it all."""

    names: frozenset[str]
    rescan: str | None = None


_OVERFLOW_LOGGERS = ("watchdog.observers.inotify_c", "watchdog.observers.inotify")


class _OverflowSignal(logging.Handler):
    """watchdog reports a kernel queue overflow only in a log record: turn it into a rescan.

    Each running watcher owns one of these, added to watchdog's loggers when it
    starts and removed when it stops (issue 16: no module-level registry). The
    record does not say which watch overflowed, so every running watcher of the
    process rescans: an overflow is rare and a needless full scan is harmless,
    a missed change is not.
    """

    def __init__(self, watcher: FolderWatcher) -> None:
        super().__init__(logging.WARNING)
        self.watcher = watcher

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.watcher.overflow("the kernel's event queue overflowed")

    def listen(self) -> None:
        for name in _OVERFLOW_LOGGERS:
            logging.getLogger(name).addHandler(self)  # logging locks the handler list itself

    def ignore(self) -> None:
        for name in _OVERFLOW_LOGGERS:
            logging.getLogger(name).removeHandler(self)


class _EndsQuietly:
    """A thread mixin: an exception ends ``run`` with its reason in ``failure``, never a traceback (see _observer)."""

    failure: str | None = None

    def run(self) -> None:
        try:
            super().run()  # type: ignore[misc]  # the watchdog thread class this is mixed into
        except Exception as exc:  # noqa: BLE001 - the thread's end, not a traceback
            self.failure = _reason(exc)


def _observer() -> tuple[Any, Any]:
    """A watchdog inotify observer and its inotify reader thread; WatchUnavailable where there is none.

    watchdog 7 walks every new folder with ``os.walk``, which recurses before
    Python 3.12: a folder 1,000 deep raises RecursionError on watchdog's reader
    (or emitter) thread, which dies printing a traceback to stderr (issue 16).
    Here each of those threads ends quietly instead and keeps the reason in
    ``failure``; :meth:`FolderWatcher.trouble` reports it and the app polls.
    Built from watchdog's public parts (``BaseObserver`` forwards ``inotify_fd``
    to each ``InotifyEmitter``), as ``InotifyObserver`` itself is.
    """
    if not sys.platform.startswith("linux"):
        raise WatchUnavailable(f"no inotify on {sys.platform}")
    try:
        from watchdog.observers.api import BaseObserver
        from watchdog.observers.inotify import InotifyEmitter
        from watchdog.observers.inotify_c import InotifyFD
    except ImportError as exc:  # watchdog missing or broken: polling still works
        raise WatchUnavailable(f"watchdog cannot be imported ({exc})") from None

    class QuietReader(_EndsQuietly, InotifyFD):
        pass

    class QuietEmitter(_EndsQuietly, InotifyEmitter):
        pass

    try:
        reader = QuietReader()
    except OSError as exc:
        raise WatchUnavailable(f"inotify cannot start ({exc.strerror or exc})") from None
    reader.start()
    return BaseObserver(QuietEmitter, inotify_fd=reader), reader


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
        self._reader: Any = None
        self._root_id: tuple[int, int] | None = None
        self._overflows = _OverflowSignal(self)

    def start(self) -> None:
        """Start watching (the watch is in place when this returns); WatchUnavailable when it cannot."""
        try:
            found = os.stat(self._path)
        except OSError as exc:
            raise WatchUnavailable(f"{self.root}: {exc.strerror or exc}") from None
        observer, reader = _observer()
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
            _stop_observer(observer, reader)
            raise WatchUnavailable(f"inotify cannot watch {self.root} ({_reason(exc)})") from None
        self._observer, self._reader, self._root_id = observer, reader, (found.st_dev, found.st_ino)
        self._overflows.listen()

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
        observer, reader = self._observer, self._reader
        if observer is None or not observer.is_alive():
            return "the watch stopped"
        # watchdog reads inotify on a thread of its own that can die alone (see _observer); the
        # observer lives on and would report nothing more
        for thread in (reader, *observer.emitters):
            if thread.failure is not None:
                return f"the watch stopped ({thread.failure})"
            if not thread.is_alive():
                return "the watch stopped"
        return None

    def stop(self) -> None:
        """Stop watching and join watchdog's threads; safe to call twice."""
        self._overflows.ignore()
        observer, reader = self._observer, self._reader
        self._observer = self._reader = None
        _stop_observer(observer, reader)
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


def _stop_observer(observer: Any, reader: Any) -> None:
    try:
        if observer is not None:
            observer.stop()
            if observer.is_alive():
                observer.join(5.0)
        if reader is not None:
            reader.stop()  # what InotifyObserver.on_thread_stop does for the reader it owns
            if reader.is_alive():
                reader.join(5.0)
    except Exception:  # noqa: BLE001 - stopping must never raise into the app
        pass


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__
