"""What the live app serves: one immutable snapshot, rebuilt off the request path.

A :class:`Live` holds the current :class:`Snapshot` (catalog, every selected
article, problem counts, load time and a per-generation memo for the web
layer). A background thread per process keeps it fresh: an inotify watcher
(:mod:`feeds.read.watch`) wakes it as soon as files change and names them, so a
reload re-stats only those files; where no watcher can run it polls the whole
folder every ``reload_interval`` instead. When the folder's fingerprint
changed it reads the changed files and builds a new catalog, then swaps the
snapshot in one assignment: requests keep getting the old bytes until the new
ones are ready, and a failed rebuild keeps the last good snapshot and is
reported. Filtered feeds (``/filter.rss?topic=ai``) are built by
:mod:`feeds.index.filters` from the snapshot's full article list, since catalog
feeds hold only the newest N.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime

from feeds.config import Settings
from feeds.read.folder_scan import FolderScan
from feeds.read.incremental_load import IncrementalLoader
from feeds.read.load import CacheDamaged, Scan, bulk_allocation, discard_cache
from feeds.read.watch import FOLDER_REPLACED, FolderWatcher, WatchUnavailable, full_scan_interval
from feeds.server.hub_pings import HubPings
from feeds.server.snapshot import (
    Loader,
    LoadError,
    Snapshot,
    build_snapshot,
    check_listable,
    empty_snapshot,
    now_utc,
    scan_folder,
)

# how long a server worker or `export --watch` waits, as it starts, for its reload thread's first turn
# (watcher started, changes since the first load read: ~0.5 s at 100,000 files), so that the first change
# after it answers is not queued behind that full scan; bounded, so a slow disk only delays, never blocks
FIRST_TURN_WAIT_SECONDS = 10.0
# what /healthz's "reloading" says a refresh re-reads when it lists the whole folder
_FULL_SCAN = "every file's identity (a full scan)"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, LoadError) else f"{type(exc).__name__}: {text}"


class Live:
    """The current snapshot of one process, and the reload thread that keeps it fresh.

    The reload thread (and its watcher) is started lazily by
    :meth:`ensure_polling` (on a request, or from a server's post-fork hook),
    never at import or in :meth:`__init__`, so a pre-forking server's master
    holds no thread and no inotify watch, and every worker watches for itself.
    ``watching`` says how this process notices changes: ``"inotify"``, or
    ``"polling ..."`` with the reason the watcher could not run.
    """

    def __init__(self, settings: Settings, loader: Loader | None = None, *, read: bool = True) -> None:
        """``read``: read the folder now; False starts with an empty snapshot, for a pre-forking server's
        master (issue 16): each worker reads its own with :meth:`load_afresh`, on one core."""
        self.settings = settings
        # by default only changed files are read again on a reload (and the first
        # load goes through the parse cache on all cores: in a forked worker, on one, no pool forked
        # from a threaded server)
        self.loader = loader if loader is not None else IncrementalLoader(settings, cores=None if read else 1)
        self._rebuild = threading.Lock()  # one rebuild at a time
        self._starting = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        # set once the reload thread's first turn is done: its watcher runs and the changes made
        # since the first load (before the watch began) are read
        self._ready = threading.Event()
        self._failed_mark: str | None = None
        # the last scan could not list the folder: poll it every interval until it can (a watcher may
        # follow a folder moved away and back and never report it back)
        self._unlistable = False
        # why the next turn discards the parse cache and reads every file again (a page found the cache
        # damaged: reread_without_cache); set by any thread, taken by the reload thread
        self._reread: str | None = None
        # called with each new snapshot before it goes live (the web app pre-renders hot pages)
        self.on_new_snapshot: Callable[[Snapshot], None] | None = None
        # called with each snapshot and the one it replaced right after the swap, on the reload thread (the
        # web app derives its filter index there: requests are served meanwhile); a failure is reported,
        # the swap stands
        self.on_swapped: Callable[[Snapshot, Snapshot], None] | None = None
        # WebSub: the pings of this process's swaps, and the latest report (for /healthz)
        self.pings = HubPings(settings)
        # the process froze what it loaded (`export --watch`, `feeds serve`): once seen, never asked again, as
        # asking walks every frozen object (~0.3 s of each change at a million articles, issue 20)
        self._process_froze = False
        # the folder's last scan, patched from the watcher's names between full scans
        self.folder_scan = FolderScan(settings.articles_dir)
        self._watcher: FolderWatcher | None = None
        self.watching = "not started"
        self.full_scan_seconds = 0.0  # what the last full scan of the folder took
        # /healthz: the refresh running now (monotonic start, wall-clock start, what it re-reads), the last one's
        # seconds (issue 20: at a million articles a reload that never ended showed nothing), and the seconds
        # of the last one that swapped in new feeds (a check that found nothing new is quick: it must not hide it)
        self.reloading: tuple[float, datetime, str] | None = None
        self.last_refresh_seconds: float | None = None
        self.last_rebuild_seconds: float | None = None
        self.state = self._first_snapshot() if read else empty_snapshot(settings)

    def _first_snapshot(self) -> Snapshot:
        """Generation 1, read through the loader; an empty snapshot naming the reason when the load fails."""
        try:
            scan = scan_folder(self.settings.articles_dir)
            self.folder_scan.replace(scan, census=False)
            return build_snapshot(self.settings, self.loader, 1, self.folder_scan.fingerprint, scan)
        except Exception as exc:  # noqa: BLE001 - a bad first load must still let the app start
            return empty_snapshot(self.settings, _one_line(exc))

    def load_afresh(self) -> None:
        """Read the folder as a new process would and swap the result in: a server's worker, before it
        serves (issue 16: served, articles its master had read and it inherited were shared only until
        each request wrote reference counts into their pages; a crawl gave each worker its own copy).

        The hooks run as on a reload: ``on_new_snapshot`` before the swap, ``on_swapped`` after
        it. A hook's failure is shown in /healthz and the snapshot served all the same (its pages
        render on request); a damaged parse cache is read again on the reload thread's first turn.
        """
        with self._rebuild:
            old, new = self.state, self._first_snapshot()
            try:
                if self.on_new_snapshot is not None:
                    self.on_new_snapshot(new)
                self.state = new
                if self.on_swapped is not None:
                    self.on_swapped(new, old)
            except Exception as exc:  # noqa: BLE001 - see the docstring
                if isinstance(exc, CacheDamaged):
                    self._reread = str(exc)
                self.state = new
                self._keep(new, exc)

    def refresh(self, changed: Iterable[str] | None = None) -> bool:
        """Rebuild when the folder's fingerprint changed; True when a new snapshot was swapped in.

        ``changed`` names the files (relative, "/"-separated) a watcher saw
        change: only those are stat'ed again. None, or a patch the scan cannot
        be sure of, scans the whole folder.

        The one place that catches any exception: it runs on the reload thread,
        which must outlive every bad rebuild (the error shows in /healthz). A
        rebuild that failed is not retried until the files change again.
        """
        with self._rebuild:
            started = time.monotonic()
            names = None if changed is None else list(changed)
            what = _FULL_SCAN if names is None else f"{len(names)} changed file(s)"
            self.reloading = (started, now_utc(), what)
            swapped = False
            try:
                # the collector paused while a rebuild allocates: at a million articles each of its passes walked
                # the young heap again, and after a process froze what it loaded (`export --watch`, `feeds serve`)
                # it counts nothing as long-lived, so every promotion set off a full collection (issue 20)
                self._process_froze = self._process_froze or gc.get_freeze_count() > 0
                with bulk_allocation(frozen=self._process_froze):
                    swapped = self._refresh(names)
                return swapped
            finally:
                self.reloading, self.last_refresh_seconds = None, time.monotonic() - started
                if swapped:
                    self.last_rebuild_seconds = self.last_refresh_seconds

    def _refresh(self, changed: list[str] | None) -> bool:  # refresh's work, under the rebuild lock
        old = self.state
        reread, self._reread = self._reread, None
        try:
            scan, mark = self._scan(changed)
        except Exception as exc:  # noqa: BLE001 - see refresh's docstring (issue 16: a scan's failure killed the thread)
            self._unlistable = True
            self._keep(old, exc)
            return False
        self._unlistable = False
        if mark == old.fingerprint and reread is None:
            if old.last_error is not None:  # the folder is back as it was
                self.state = dataclasses.replace(old, last_error=None, last_error_at=None)
            return False
        if mark == self._failed_mark and reread is None:
            return False
        try:
            if reread is not None:
                self._forget_cache()
            previous = old if reread is None else None  # every article is a new object: no catalog to update
            new = build_snapshot(self.settings, self.loader, old.generation + 1, mark, scan, previous)
            if self.on_new_snapshot is not None:
                self.on_new_snapshot(new)
        except Exception as exc:  # noqa: BLE001 - see refresh's docstring
            if isinstance(exc, CacheDamaged):  # hot pages met the damage: read it all again next turn
                self._reread = str(exc)
            else:
                self._failed_mark = mark
            self._keep(old, exc)
            return False
        self._failed_mark = None
        self.state = new  # the swap: one assignment
        if self.settings.websub_hub is not None:
            self.pings.ping_later(old, new, self._stop)
        if self.on_swapped is not None:
            try:
                self.on_swapped(new, old)
            except Exception as exc:  # noqa: BLE001 - see refresh's docstring; the new snapshot is served
                self._keep(new, exc)
        return True

    def reread_without_cache(self, damage: CacheDamaged) -> None:
        """A page found the parse cache damaged: the reload thread's next turn discards the cache and
        reads every file again (as ``feeds export`` does), then swaps in the new snapshot; the old one
        is served meanwhile. Returns at once (any thread; only the reload thread replaces the snapshot)."""
        self._reread = str(damage)
        self.ensure_polling()
        watcher = self._watcher
        if watcher is not None:
            watcher.wake()

    def _forget_cache(self) -> None:
        """Discard the parse cache's database and the loader's memory of every file (see reread_without_cache)."""
        discard_cache(self.settings)
        if isinstance(self.loader, IncrementalLoader):
            # on the reload thread: its first load must fork no pool from a threaded process (cores=1)
            self.loader = IncrementalLoader(self.settings, use_cache=self.loader.use_cache, cores=1)

    def _scan(self, changed: Iterable[str] | None) -> tuple[Scan, str]:
        """The folder's scan and fingerprint now: patched from ``changed`` when it can be, else a full scan."""
        root = self.settings.articles_dir
        check_listable(root)  # a vanished folder must not patch into an empty one
        folder = self.folder_scan
        if changed is None or not folder.patch(changed):
            if changed is not None and self.reloading is not None:  # /healthz: the patch fell back to a full scan
                self.reloading = (*self.reloading[:2], _FULL_SCAN)
            # the census (for later patches) is only worth its listing while a watcher runs
            started = time.monotonic()
            folder.replace(scan_folder(root), census=self._watcher is not None)
            self.full_scan_seconds = time.monotonic() - started  # spaces the safety-net scans (full_scan_interval)
        return folder.scan(), folder.fingerprint

    def _keep(self, old: Snapshot, exc: Exception) -> None:
        """Keep serving ``old``; record why the reload failed (once per distinct reason)."""
        message = _one_line(exc)
        if message != old.last_error:
            self.state = dataclasses.replace(old, last_error=message, last_error_at=now_utc())

    @property
    def process_froze(self) -> bool:
        """Whether the process froze what it loaded (:meth:`freeze_loaded`, or seen at a rebuild)."""
        return self._process_froze

    def freeze_loaded(self) -> None:
        """Freeze what the process loaded (``gc.freeze()``), for the process that owns this Live: its rebuilds then
        need not ask the collector (asking walks every frozen object, ~0.3 s at a million articles, paid by the
        first change). Between two rebuilds: one running now would end by ageing, so unfreezing, what it froze."""
        with self._rebuild:
            gc.freeze()
            self._process_froze = True

    def ensure_polling(self, *, ready_within: float = 0.0) -> None:
        """Start this process's poller thread if it is not running (cheap when it is).

        ``ready_within``: wait up to this many seconds for the thread's first turn (its
        watcher started and the changes since the first load read): a change made after
        this returns is then picked up at once, never behind that catch-up scan of every
        file (issue 20: the first change after ``export --watch`` started took 1.7-2.6 s at 100k).
        """
        pid = os.getpid()
        if self._pid == pid and self._thread is not None and self._thread.is_alive():
            return
        with self._starting:
            if self._pid == pid and self._thread is not None and self._thread.is_alive():
                return
            if self._pid == pid and self._thread is not None:  # the reload thread died: say so, start another
                self._keep(self.state, RuntimeError("the reload thread stopped; started again"))
            if self._thread is not None and self._pid != pid:  # inherited through fork: the threads did not come along
                self._rebuild = threading.Lock()  # (a lock held by a thread that died in this process was released)
                self._watcher = None
            self._stop = threading.Event()
            self._ready = threading.Event()
            thread = threading.Thread(target=self._poll, name="feeds-reload", daemon=True)
            thread.start()
            self._thread, self._pid = thread, pid
        if ready_within > 0:
            self._ready.wait(ready_within)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the reload thread and its watcher (tests and orderly shutdown); a later request starts it again."""
        self._stop.set()
        if self._thread is not None and self._pid == os.getpid():
            watcher = self._watcher
            if watcher is not None:
                watcher.wake()
            self._thread.join(timeout)
        self._thread, self._pid = None, None

    def _poll(self) -> None:
        """The reload thread: wait for the watcher's names (or poll when there is none), then refresh.

        A full scan runs when the watcher starts (events before it are not
        known), whenever it asks for one, and every :func:`feeds.read.watch.full_scan_interval`
        as a safety net. A watcher that fails or ends (the folder moved away)
        is replaced; until then, and where none can run, the folder is polled.
        """
        stop, ready = self._stop, self._ready
        interval = self.settings.reload_interval
        watcher: FolderWatcher | None = None
        retry_at = full_at = 0.0
        try:
            while not stop.is_set():
                try:
                    watcher, retry_at, full_at = self._poll_once(watcher, retry_at, full_at, ready)
                except Exception as exc:  # noqa: BLE001 - the reload thread outlives every failure (issue 16)
                    self._keep(self.state, exc)
                    if watcher is not None:  # a fresh watcher and full scan next time
                        watcher.stop()
                        watcher = self._watcher = None
                    ready.set()
                    stop.wait(interval)
        finally:
            if watcher is not None:
                watcher.stop()
            self._watcher = None

    def _poll_once(
        self, watcher: FolderWatcher | None, retry_at: float, full_at: float, ready: threading.Event
    ) -> tuple[FolderWatcher | None, float, float]:
        """One turn of :meth:`_poll`: (watcher, when to retry starting one, when the next full scan is due).

        Sets ``ready`` once the folder was refreshed (with a watcher running, when one can)."""
        stop = self._stop
        interval = self.settings.reload_interval
        # retries of a watcher that failed to start: not spaced by the full scan's cost, as polling scans the
        # whole folder every interval meanwhile (at a million files ~7 s a scan: retrying sooner costs less)
        every = full_scan_interval(interval)
        trouble = watcher.trouble() if watcher is not None else None
        if watcher is not None and trouble is not None:
            watcher.stop()
            watcher = self._watcher = None
            self.watching = f"polling every {interval:g} s: {trouble}"
            # a failed watch would likely fail again: poll for a while before the next try
            retry_at = 0.0 if trouble == FOLDER_REPLACED else time.monotonic() + every
        if watcher is None and time.monotonic() >= retry_at:
            watcher, retry_at = self._start_watching(every)
            full_at = 0.0
        if watcher is None:
            self.refresh()
            ready.set()
            stop.wait(interval)
            return watcher, retry_at, full_at
        changes = watcher.take()
        if changes.rescan is not None or time.monotonic() >= full_at or self._unlistable or self._reread:
            self.refresh()
            # spaced by the scan just made, not the one before it: the catch-up scan at the watcher's
            # start (~7 s at a million files) followed the first load's, untimed, and the next came 30 s on
            full_at = time.monotonic() + full_scan_interval(interval, self.full_scan_seconds)
        elif changes.names:
            self.refresh(changes.names)
        ready.set()
        watcher.wait(interval)
        return watcher, retry_at, full_at

    def _start_watching(self, every: float) -> tuple[FolderWatcher | None, float]:
        """A running watcher, or None and when to try again; ``watching`` says which."""
        root = self.settings.articles_dir
        watcher = FolderWatcher(root)
        try:
            watcher.start()
        except WatchUnavailable as exc:
            self.watching = f"polling every {self.settings.reload_interval:g} s: {exc}"
            # a missing folder may be back any moment; other reasons do not pass soon
            wait = self.settings.reload_interval if not root.is_dir() else every
            return None, time.monotonic() + wait
        self._watcher = watcher
        self.watching = "inotify"
        return watcher, 0.0
