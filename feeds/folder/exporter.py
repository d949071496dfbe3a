"""The exporter: one object per OUT_DIR that owns export runs, from the articles folder to a published site.

A run: the input fingerprint (nothing changed since the last export? then
nothing is read), loading (the parse cache; a damaged one is dropped and every
file read again), the catalog, rendering and placing (:func:`feeds.folder.export.export_site`),
then the observers, then the WebSub ping. Under ``--watch`` the same object
keeps running: the live app's reload machinery (:class:`feeds.server.live.Live`: a
file watcher, incremental reads, one catalog per change) hands it each new
catalog, and every memo one export leaves for the next (render signatures,
manifest lines, parsed records: :class:`feeds.folder.export.ExportMemos`) lives here,
as long as the exporter. Nothing of it is module state: two exporters in one
process share nothing.

Observers (:class:`ExportObserver`) see each run after the new generation is
live and before the hub is pinged, so a publisher that uploads the changed
files and purges a CDN in its :meth:`ExportObserver.exported` is done before a
hub fetches the feeds. The command line is one observer: it turns runs into lines.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from feeds.config import Settings
from feeds.folder.generation import ExportError
from feeds.folder.outdir import unchanged_since
from feeds.folder.records import RecordMemo
from feeds.folder.runs import ExportObserver, ExportRun
from feeds.read.incremental_load import IncrementalLoader
from feeds.read.load import (
    CacheDamaged,
    Scan,
    bulk_allocation,
    discard_cache,
    input_fingerprint,
    load_folder,
    scan_folder,
)

if TYPE_CHECKING:  # the render stack is imported when something is rendered (issue 20: an unchanged run's start-up)
    from feeds.folder.export import ExportMemos, ExportSummary
    from feeds.index.catalog import Catalog
    from feeds.model import Problem
    from feeds.read.reader import Folder
    from feeds.server.live import Live
    from feeds.server.snapshot import Snapshot

__all__ = ["Exporter", "read_catalog"]


def read_catalog(
    settings: Settings, *, use_cache: bool = True, scan: Scan | None = None
) -> tuple[Folder, Catalog, tuple[str, ...]]:
    """Every article file read (through the parse cache), the catalog built: (folder, catalog, cache warnings)."""
    from feeds.index.catalog import build_catalog

    folder, stats = load_folder(settings, use_cache=use_cache, scan=scan)
    notes = (stats.cache_warning,) if stats.cache_warning else ()
    return folder, build_catalog(folder.articles, settings), notes


def _read_problems_and_catalog(
    settings: Settings, use_cache: bool, scan: Scan | None
) -> tuple[tuple[Problem, ...], Catalog, tuple[str, ...]]:
    """:func:`read_catalog`, the folder itself dropped: its problems, the catalog, cache warnings."""
    folder, catalog, notes = read_catalog(settings, use_cache=use_cache, scan=scan)
    return folder.problems, catalog, notes


# how long stop_watching waits for the reload thread's export in progress (a full scan and export at a
# million files ~10 s) before it stops without recording the inputs (the next run then loads everything)
STOP_WAIT_SECONDS = 60.0


class Exporter:
    """Exports ``settings``' articles to ``out_dir``, once (:meth:`run`) or after every change (:meth:`start_watching`).

    ``use_cache=False`` reads every file without the parse cache and renders every
    file again (``--no-cache``). ``progress(done, total)`` is called while files are
    placed by :meth:`run`. One exporter per OUT_DIR: a second one in another process
    is refused by the export's lock (:class:`feeds.folder.export.ExportError`).
    """

    def __init__(
        self,
        settings: Settings,
        out_dir: Path,
        *,
        use_cache: bool = True,
        progress: Callable[[int, int], None] | None = None,
        observers: Sequence[ExportObserver] = (),
    ) -> None:
        self.settings, self.out_dir, self.use_cache, self.progress = settings, out_dir, use_cache, progress
        self.observers: list[ExportObserver] = list(observers)
        self._records = RecordMemo()  # all the no-change check needs; the rest of the memos with the first export
        self._all_memos: ExportMemos | None = None
        self._live: Live | None = None
        # the snapshot last exported under --watch, that export's summary and its record as it wrote it
        self._watched: tuple[Snapshot, ExportSummary, object] | None = None

    @property
    def _memos(self) -> ExportMemos:
        if self._all_memos is None:
            from feeds.folder.export import ExportMemos

            self._all_memos = ExportMemos(records=self._records)
        return self._all_memos

    # --- one run ---------------------------------------------------------------------------------------

    def run(self) -> ExportRun:
        """One export: nothing is read when nothing changed since the last one; else load, export, tell, ping."""
        started = time.monotonic()
        settings = self.settings
        # the no-change check allocates a million identities and parses the record: no collector passes over them
        with bulk_allocation():
            scan = scan_folder(settings.articles_dir) if settings.articles_dir.is_dir() else None  # one scan per run
            fingerprint = input_fingerprint(settings, scan)
            prior = unchanged_since(self.out_dir, fingerprint, self._records) if self.use_cache else None
        if prior is not None:
            run = _unchanged_run(self.out_dir, prior, started)
            self._tell(run)
            return run
        notes: list[str] = []
        # Only the folder's problems are kept: its articles the configuration does not publish (half of
        # the benchmark's) would otherwise live, and be shared then copied page by page, in every render
        # worker forked from here (issue 20: -8 MiB of peak PSS in a cold export of 10,000 articles).
        problems, catalog, warned = _read_problems_and_catalog(settings, self.use_cache, scan)
        notes += warned
        for observer in self.observers:
            observer.loaded()
        try:
            summary = self._export(problems, catalog, fingerprint)
        except CacheDamaged as exc:  # damaged, and its file changed since (else it is read again silently)
            notes.append(f"{exc}; reading every file without the cache")
            discard_cache(settings)
            problems, catalog, _ = _read_problems_and_catalog(settings, False, scan)
            summary = self._export(problems, catalog, fingerprint)
        errors = sum(1 for problem in problems if problem.is_error)
        run = ExportRun(
            self.out_dir, summary, len(catalog.feeds), catalog.article_count, errors,
            len(problems) - errors, time.monotonic() - started,
            tuple(str(problem) for problem in problems), tuple(notes),
        )  # fmt: skip
        return self._announce(run)

    def _export(self, problems: tuple[Problem, ...], catalog: Catalog, fingerprint: str) -> ExportSummary:
        from feeds.folder.export import export_site

        return export_site(
            catalog, self.settings, self.out_dir, progress=self.progress,
            inputs=_inputs(fingerprint, problems, catalog), reuse=self.use_cache, memos=self._memos,
        )  # fmt: skip

    def _tell(self, run: ExportRun) -> None:
        for observer in self.observers:
            observer.exported(run)

    def _announce(self, run: ExportRun) -> ExportRun:
        """The observers, then (after the flip and the observers, so the hub fetches the new bytes) the hub."""
        hub = self.settings.websub_hub
        unpingable = hub is not None and run.changed and self.settings.base_url is None
        if unpingable:
            run = dataclasses.replace(
                run, notes=(*run.notes, "websub_hub is set but there is no base URL; the hub was not pinged")
            )
        self._tell(run)
        if hub is None or not run.changed or unpingable:
            return run
        from feeds import websub  # the HTTP client, only when there is a hub to tell

        # a failing hub never fails the export: the report says what happened
        report = websub.ping_hub(
            hub, websub.feed_urls(run.changed, self.settings),
            timeout=websub.TIMEOUT, retries=websub.RETRIES, backoff=websub.BACKOFF,
        )  # fmt: skip
        for observer in self.observers:
            observer.pinged(report)
        return run

    # --- watching ---------------------------------------------------------------------------------------

    def start_watching(self) -> None:
        """Keep the export current until :meth:`stop_watching`: an export after every change of the folder.

        The live app's reload machinery (:class:`feeds.server.live.Live`) reads only what
        changed and builds one catalog per change; each is exported, told and pinged
        like a run. Files that changed since the last run are exported at once. A
        failed export is told (:meth:`ExportObserver.failed`) and retried at the next
        change; the previous export stays published meanwhile. Raises ExportError when
        the articles cannot be loaded at all.
        """
        from feeds.server.live import FIRST_TURN_WAIT_SECONDS, Live  # the reload machinery: imported only for watching

        # this exporter pings the hub after each export itself, as a run does: the reloader must not
        quiet = dataclasses.replace(self.settings, websub_hub=None)
        live = Live(quiet, IncrementalLoader(quiet, use_cache=self.use_cache))
        if live.state.last_error is not None:
            live.stop()
            raise ExportError(live.state.last_error)
        self._live = live
        self._watch_out_dir()
        self._export_snapshot(live.state, quiet_if_unchanged=True)
        live.on_new_snapshot = self._export_snapshot
        live.ensure_polling(ready_within=FIRST_TURN_WAIT_SECONDS)  # watching, caught up, before it says so

    def freeze_loaded(self) -> None:
        """For the command that owns the process: freeze what the watch loaded (see Live.freeze_loaded)."""
        if self._live is not None:
            self._live.freeze_loaded()

    def stop_watching(self) -> None:
        """Stop the watch, then record the inputs of the export live now, so the next run can find nothing changed.

        Their fingerprint costs a pass over every file's identity (~0.8 CPU-s at a million
        files), paid here, once, rather than after every change: its new bytes and the next
        change's are not kept waiting. It is the fingerprint of the scan that export's
        articles were read from, never a fresh one: a file changed since (during the export,
        or after it and not yet exported) does not match it, and the next run exports it.
        """
        if self._live is None:
            return
        # an export in progress ends first (else the lock it holds refuses the record); bounded, so that a stop
        # still ends within a service manager's patience (systemd waits 90 s after SIGTERM)
        self._live.stop(timeout=STOP_WAIT_SECONDS)
        froze, self._live = self._live.process_froze, None
        watch = self._memos.watch
        if watch is not None:
            self._all_memos = dataclasses.replace(self._memos, watch=None)
            watch.close()
        watched, self._watched = self._watched, None
        if watched is None or watched[0].scan is None:
            return
        from feeds.folder.export import record_inputs

        snapshot, summary, written = watched
        # a million identities marshalled: no collector passes over them (nor, once frozen, a walk of the frozen)
        with bulk_allocation(frozen=froze):
            fingerprint = input_fingerprint(self.settings, snapshot.scan)
        record_inputs(summary, written, _inputs(fingerprint, snapshot.found, snapshot.catalog), self._memos)

    def _watch_out_dir(self) -> None:
        """Watch OUT_DIR's generations (inotify) so each export stats only the files an event named."""
        from feeds.folder.outwatch import OutDirWatch

        try:
            watch = OutDirWatch()
        except (OSError, AttributeError):  # no inotify (or none left): each export stats every kept file, as a run does
            return
        self._all_memos = dataclasses.replace(self._memos, watch=watch)

    def _export_snapshot(self, snapshot: Snapshot, *, quiet_if_unchanged: bool = False) -> None:
        from feeds.folder.export import export_site

        started = time.monotonic()
        try:
            summary = export_site(
                snapshot.catalog, self.settings, self.out_dir, reuse=self.use_cache, memos=self._memos
            )
        except Exception as exc:  # told here; Live keeps the old snapshot and retries at the next change
            for observer in self.observers:
                observer.failed(exc)
            raise
        # its inputs are recorded when the watch stops (see stop_watching)
        written = self._memos.records.recall(summary.record) if summary.record is not None else None
        self._watched = (snapshot, summary, written)
        if quiet_if_unchanged and not summary.published:
            return
        run = ExportRun(
            self.out_dir, summary, len(snapshot.catalog.feeds), snapshot.catalog.article_count, snapshot.errors,
            snapshot.problems - snapshot.errors, time.monotonic() - started,
        )  # fmt: skip
        self._announce(run)


def _inputs(fingerprint: str, problems: Sequence[Problem], catalog: Catalog) -> dict:
    """What an export records of its inputs, read back by unchanged_since: the next run reports these unread."""
    errors = sum(1 for problem in problems if problem.is_error)
    return {
        "fingerprint": fingerprint, "problems": [str(p) for p in problems], "errors": errors,
        "warnings": len(problems) - errors, "feeds": len(catalog.feeds), "articles": catalog.article_count,
    }  # fmt: skip


def _unchanged_run(out_dir: Path, prior: dict, started: float) -> ExportRun:
    """A run that found nothing changed since the last export: its recorded figures, nothing read."""
    problems = prior.get("problems", [])
    return ExportRun(
        out_dir, None, int(prior.get("feeds", 0)), int(prior.get("articles", 0)), int(prior.get("errors", 0)),
        int(prior.get("warnings", 0)), time.monotonic() - started,
        tuple(str(line) for line in problems) if isinstance(problems, list) else (),
    )  # fmt: skip
