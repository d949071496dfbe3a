"""The exporter object: one per OUT_DIR, its runs told to observers before the hub, its memos its own."""

from __future__ import annotations

import fcntl
import json
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from feeds.config import Settings
from feeds.folder.export import site_files
from feeds.folder.exporter import Exporter
from feeds.folder.outdir import store_of
from feeds.folder.records import INPUTS_KEY, record_of
from feeds.folder.runs import ExportObserver, ExportRun
from feeds.index.catalog import build_catalog
from feeds.read.reader import read_folder
from feeds.websub import PingReport
from tests.conftest import BASE_URL, SAMPLES, Hub
from tests.test_websub import _retitle


class Recorder(ExportObserver):
    """Records what it is told, and what the live site held when it was told."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.events: list[tuple[str, object]] = []

    def loaded(self) -> None:
        self.events.append(("loaded", None))

    def exported(self, run: ExportRun) -> None:
        live = {path: (self.out / path).read_bytes() for path in run.changed}
        self.events.append(("exported", (run, live)))

    def pinged(self, report: PingReport) -> None:
        self.events.append(("pinged", report))


def _settings(tmp_path: Path, articles: Path, **overrides: object) -> Settings:
    return Settings(base_url=BASE_URL, articles_dir=articles, cache_dir=tmp_path / "cache", **overrides)


def _published(out: Path) -> dict[str, bytes]:
    """Every file the export published, metadata aside."""
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name[0] != "_"}


def test_observers_see_each_run_loaded_then_after_the_flip_and_before_the_hub(tmp_path: Path) -> None:
    articles = Path(shutil.copytree(SAMPLES, tmp_path / "articles"))
    out = tmp_path / "public"
    hub = Hub()
    try:
        recorder = Recorder(out)
        exporter = Exporter(_settings(tmp_path, articles, websub_hub=hub.url), out, observers=[recorder])
        first = exporter.run()
        assert first.summary is not None and first.summary.published and first.changed
        assert [kind for kind, _ in recorder.events] == ["loaded", "exported", "pinged"]
        _, (told, live) = recorder.events[1]
        assert told is first and set(live) == set(first.changed)  # every changed feed was live when told

        recorder.events.clear()
        _retitle(articles)
        second = exporter.run()
        assert second.summary is not None and 0 < len(second.changed) < len(first.changed)
        assert [kind for kind, _ in recorder.events] == ["loaded", "exported", "pinged"]
        _, (_, live) = recorder.events[1]
        assert all(b"A retitled story for WebSub" in body for body in live.values())
        assert len(hub.urls()) == len(first.changed) + len(second.changed)  # pinged after being told, each once

        recorder.events.clear()
        third = exporter.run()
        assert third.summary is None and third.changed == ()  # nothing changed: nothing read, nothing pinged
        assert third.articles == second.articles and third.feeds == second.feeds
        assert [kind for kind, _ in recorder.events] == ["exported"]  # nor loaded
    finally:
        hub.server.shutdown()
        hub.server.server_close()


def test_an_exporter_kept_across_changes_publishes_what_a_fresh_export_would(tmp_path: Path) -> None:
    """Its memos (signatures, manifest lines, records) only save work: same files as a new process's export."""
    articles = Path(shutil.copytree(SAMPLES, tmp_path / "articles"))
    settings = _settings(tmp_path, articles)
    kept = Exporter(settings, tmp_path / "kept")
    kept.run()
    _retitle(articles)
    kept.run()
    Exporter(settings, tmp_path / "fresh").run()  # a new object: nothing carried over
    catalog = build_catalog(read_folder(articles, settings).articles, settings)
    assert _published(tmp_path / "kept") == _published(tmp_path / "fresh") == site_files(catalog, settings)
    assert (tmp_path / "kept" / "_manifest.json").read_bytes() == (tmp_path / "fresh" / "_manifest.json").read_bytes()


def _newest(articles: Path, name: str, title: str, day: int) -> None:
    """An article dated after every sample, so it is at the top of all.rss."""
    (articles / name).write_text(
        f"---\ntitle: {title}\noriginalUrl: https://w.example/{name}\n"
        f"publishedDateTime: 2099-01-{day:02}T00:00:00Z\n---\n",
        encoding="utf-8",
    )


def _wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_file_changed_during_a_watched_export_is_not_hidden_from_the_next_run(tmp_path: Path) -> None:
    """What the watch records when it stops is the fingerprint of the scan its last export read, never of the
    folder as it is then: a file written during that export (so after its scan), which the watch stopped before
    exporting, makes the next run export it. A fingerprint of a fresh scan at the stop would say nothing changed."""
    articles = Path(shutil.copytree(SAMPLES, tmp_path / "articles"))
    out = tmp_path / "public"
    settings = _settings(tmp_path, articles)
    during, release = threading.Event(), threading.Event()

    class WritesDuringTheExport(ExportObserver):
        def exported(self, run: ExportRun) -> None:  # on the reload thread, the export of the first change
            if b"First change" in (out / "all.rss").read_bytes() and not during.is_set():
                _newest(articles, "zz-b.md", "Written during the export", 2)
                during.set()
                release.wait(10)  # until the watch was told to stop: the reload thread ends after this export

    exporter = Exporter(settings, out)
    exporter.run()
    exporter.start_watching()
    exporter.observers.append(WritesDuringTheExport())
    try:
        _newest(articles, "zz-a.md", "First change", 1)
        assert during.wait(30)
    finally:
        threading.Timer(0.5, release.set).start()
        exporter.stop_watching()  # stops the reload thread at once, records when its export ends
    assert b"Written during the export" not in (out / "all.rss").read_bytes()  # the watch never exported it
    record = json.loads(record_of(store_of(out), out).read_text(encoding="utf-8"))  # type: ignore[union-attr]
    assert record[INPUTS_KEY]["articles"] == _articles(articles) - 1  # recorded: the folder before zz-b.md

    again = Exporter(settings, out).run()  # a new process's run
    assert again.summary is not None and again.summary.written > 0, "the change made during the export was hidden"
    assert b"Written during the export" in (out / "all.rss").read_bytes()
    catalog = build_catalog(read_folder(articles, settings).articles, settings)
    assert _published(out) == site_files(catalog, settings)
    assert Exporter(settings, out).run().summary is None  # and now nothing changed


def test_a_change_the_watch_read_but_could_not_export_is_exported_by_the_next_run(tmp_path: Path) -> None:
    """The watch reads change B, but its export fails (another export holds the lock); when it stops, what it
    records is of the export live then (change A's), never of the folder it last read: the next run exports B.
    Holds only while a snapshot's scan is never patched after it was taken (a scan shared with the loader, which
    patches its own for every change, would record B's scan with A's generation and hide B for good)."""
    articles = Path(shutil.copytree(SAMPLES, tmp_path / "articles"))
    out = tmp_path / "public"
    settings = _settings(tmp_path, articles)
    failures: list[Exception] = []

    class Failed(ExportObserver):
        def failed(self, exc: Exception) -> None:
            failures.append(exc)

    Exporter(settings, out).run()
    exporter = Exporter(settings, out, observers=[Failed()])
    exporter.start_watching()
    try:
        _newest(articles, "zz-a.md", "Change A", 1)
        _wait_for(lambda: b"Change A" in (out / "all.rss").read_bytes())
        with open(next(store_of(out).glob("*lock*")), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another export is running: the watch's export of B fails
            _newest(articles, "zz-b.md", "Change B", 2)
            _wait_for(lambda: bool(failures))
    finally:
        exporter.stop_watching()
    assert b"Change B" not in (out / "all.rss").read_bytes()
    again = Exporter(settings, out).run()
    assert again.summary is not None and again.summary.written > 0, "the change read but never exported was hidden"
    assert b"Change B" in (out / "all.rss").read_bytes()


def _articles(articles: Path) -> int:
    settings = Settings(base_url=BASE_URL, articles_dir=articles)
    return build_catalog(read_folder(articles, settings).articles, settings).article_count
