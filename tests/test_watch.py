"""The inotify watcher and the patched scan: every change is seen, the scan always equals a fresh one."""

from __future__ import annotations

import errno
import gc
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from feeds.config import Settings
from feeds.read import watch
from feeds.read.folder_scan import FolderScan, scan_digest
from feeds.read.load import input_fingerprint, scan_folder, scan_identities
from feeds.read.watch import FolderWatcher, WatchUnavailable, full_scan_interval
from feeds.server import live as live_module
from feeds.server.live import Live
from feeds.server.web import create_app
from tests.conftest import BASE_URL, PROJECT
from tests.test_reader import deep_folder
from tests.test_web import ARTICLES, make_articles, wait_for, write_article

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux only")


def fresh(root: Path) -> list:
    return scan_identities(root)


def make_settings(tmp_path: Path, reload_interval: float) -> Settings:
    return Settings(
        base_url=BASE_URL,
        articles_dir=make_articles(tmp_path / "articles"),
        reload_interval=reload_interval,
        cache_dir=tmp_path / "cache",
    )


def start(settings: Settings) -> tuple[Flask, FlaskClient, Live]:
    """An app whose reload thread runs, once its watcher made the first full scan (or gave up)."""
    app = create_app(settings)
    client = app.test_client()
    live: Live = app.extensions["feeds"]
    client.get("/healthz")  # starts the reload thread
    # Live.__init__ made the first full scan; a started watcher makes the second (with its census)
    wait_for(lambda: live.watching.startswith("polling") or live.folder_scan.full_scans >= 2)
    return app, client, live


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[FlaskClient, Live, Path]]:
    # an hour between polls: anything seen within the test was seen through the watcher
    settings = make_settings(tmp_path, reload_interval=3600)
    app, client, live = start(settings)
    assert live.watching == "inotify"
    yield client, live, settings.articles_dir
    live.stop()


def newest(root: Path, name: str, title: str) -> None:
    """An article dated after every other, so it is at the top of /all.rss."""
    write_article(root, name, title, ["Science"], "Wired", published_at="2099-01-01T00:00:00Z")


def served(client: FlaskClient, text: str) -> bool:
    return text.encode() in client.get("/all.rss").data


def settled(live: Live, root: Path) -> bool:
    """The patched scan is a fresh one's, and so is what the snapshot was read from: `export --watch` records
    input_fingerprint of the snapshot's scan for the next plain export, which computes it from a fresh scan."""
    state = live.state
    return (
        live.folder_scan.entries == fresh(root)
        and state.fingerprint == scan_digest(fresh(root))
        and state.scan is not None
        and input_fingerprint(live.settings, state.scan) == input_fingerprint(live.settings, scan_folder(root))
    )


# ----- the live app with a watcher ---------------------------------------------------------------


def test_the_watcher_sees_each_kind_of_change_and_patches_the_scan_to_a_fresh_one(watched):
    client, live, root = watched
    scan = live.folder_scan
    assert scan.entries == fresh(root)
    full = scan.full_scans

    newest(root, "new.md", "Volcano sensors go online")
    wait_for(lambda: served(client, "Volcano sensors go online") and settled(live, root))

    newest(root, "new.md", "Volcano sensors go offline")
    wait_for(lambda: served(client, "Volcano sensors go offline") and settled(live, root))
    assert not served(client, "Volcano sensors go online")

    (root / "a1.md").unlink()
    wait_for(lambda: not served(client, ARTICLES[0][1]) and settled(live, root))

    (root / "a2.md").rename(root / "renamed.md")
    wait_for(lambda: "renamed.md" in dict(live.folder_scan.entries) and settled(live, root))
    assert served(client, ARTICLES[1][1])
    assert scan.full_scans == full, "files were patched, never rescanned"
    assert scan.patches >= 4

    (root / "sub").mkdir()
    write_article(root / "sub", "deep.md", "Deep sea cables", ["Science"], "Wired", published_at="2099-02-01T00:00:00Z")
    wait_for(lambda: served(client, "Deep sea cables") and settled(live, root))
    assert scan.full_scans > full, "a new folder is a full scan"

    full = scan.full_scans
    write_article(root / "sub", "deeper.md", "Deeper still", ["Science"], "Wired", published_at="2099-03-01T00:00:00Z")
    (root / ".draft.md").write_text("---\ntitle: hidden\n---\n")  # a dotfile: never listed
    wait_for(lambda: served(client, "Deeper still") and settled(live, root))
    assert scan.full_scans == full, "a file in a known folder is patched"
    assert client.get("/healthz").json["last_error"] is None


def test_a_symlink_in_the_folder_makes_every_change_a_full_scan(tmp_path):
    settings = make_settings(tmp_path, reload_interval=3600)
    root = settings.articles_dir
    (root / "sub").mkdir()
    write_article(root / "sub", "target.md", "Linked story", ["Science"], "Wired")
    (root / "link.md").symlink_to("sub/target.md")  # listed under both names: a patch could not know
    app, client, live = start(settings)
    try:
        assert live.folder_scan.unsure == "link.md is a symlink"
        full = live.folder_scan.full_scans
        write_article(root / "sub", "target.md", "Linked story, updated", ["Science"], "Wired")
        wait_for(lambda: served(client, "Linked story, updated") and settled(live, root))
        assert live.folder_scan.full_scans > full
    finally:
        live.stop()


def test_an_overflow_makes_a_full_scan_that_finds_what_the_lost_events_hid(watched, monkeypatch):
    client, live, root = watched
    full = live.folder_scan.full_scans
    with monkeypatch.context() as lost:
        lost.setattr(FolderWatcher, "_event", lambda self, event: None)  # the kernel drops every event
        newest(root, "lost.md", "Never announced")
    assert not served(client, "Never announced")
    # what watchdog logs when the kernel's queue overflowed
    logging.getLogger("watchdog.observers.inotify_c").warning("Inotify queue overflowed; filesystem events were lost")
    wait_for(lambda: served(client, "Never announced") and settled(live, root))
    assert live.folder_scan.full_scans > full


@pytest.mark.parametrize(
    "failure",
    [
        WatchUnavailable("injected: no watcher here"),
        OSError(errno.EMFILE, "Too many open files (injected)"),
    ],
)
def test_a_watcher_that_cannot_start_falls_back_to_polling(tmp_path, monkeypatch, failure):
    def broken(*args, **kwargs):
        raise failure

    if isinstance(failure, WatchUnavailable):
        monkeypatch.setattr(watch, "_observer", broken)
    else:  # inotify_init(2) failing: the process has no inotify instance left
        monkeypatch.setattr("watchdog.observers.inotify_c.InotifyFD._create_inotify_fd", classmethod(broken))
    settings = make_settings(tmp_path, reload_interval=0.2)
    app, client, live = start(settings)
    try:
        assert live.watching.startswith("polling every 0.2 s:") and "injected" in live.watching
        root = settings.articles_dir
        newest(root, "new.md", "Polled in")
        wait_for(lambda: served(client, "Polled in") and settled(live, root))
        assert client.get("/healthz").json["last_error"] is None  # polling works: nothing to report
    finally:
        live.stop()


def test_a_watch_that_dies_is_replaced_by_polling_and_changes_are_still_seen(tmp_path):
    settings = make_settings(tmp_path, reload_interval=0.2)
    app, client, live = start(settings)
    try:
        assert live.watching == "inotify"
        live._watcher._observer.stop()  # the watch ends under the app
        wait_for(lambda: live.watching.startswith("polling"))
        assert "the watch stopped" in live.watching
        root = settings.articles_dir
        newest(root, "new.md", "Still seen")
        wait_for(lambda: served(client, "Still seen") and settled(live, root))
    finally:
        live.stop()


def test_a_folder_moved_away_and_back_gets_a_new_watch(tmp_path):
    settings = make_settings(tmp_path, reload_interval=0.2)
    app, client, live = start(settings)
    root = settings.articles_dir
    try:
        first = live._watcher
        root.rename(tmp_path / "away")
        wait_for(lambda: client.get("/healthz").json["last_error"] is not None)
        (tmp_path / "away").rename(root)
        wait_for(lambda: live.watching == "inotify" and live._watcher is not first and live._watcher is not None)
        wait_for(lambda: client.get("/healthz").json["last_error"] is None)
        newest(root, "new.md", "Back again")
        wait_for(lambda: served(client, "Back again") and settled(live, root))
    finally:
        live.stop()


def test_a_worker_that_waits_for_its_first_turn_is_watching_and_caught_up_when_it_serves(tmp_path):
    # issue 20: the first change after start waited behind the catch-up scan of every file
    settings = make_settings(tmp_path, reload_interval=3600)
    app = create_app(settings)  # the first load: as in a server's master, before the fork
    live: Live = app.extensions["feeds"]
    root = settings.articles_dir
    newest(root, "between.md", "Written between the load and the watch")  # no watcher saw this one
    try:
        live.ensure_polling(ready_within=60)  # what serve's post-fork hook and export --watch do
        assert live.watching == "inotify" and live.folder_scan.unsure is None  # names are patched from now on
        assert served(app.test_client(), "Written between the load and the watch") and settled(live, root)
        newest(root, "after.md", "Written once it serves")
        wait_for(lambda: served(app.test_client(), "Written once it serves") and settled(live, root))
        assert live.folder_scan.full_scans == 2  # the load's and the catch-up: the later change was a patch
    finally:
        live.stop()


def test_stopping_leaves_no_thread_and_a_request_starts_watching_again(tmp_path):
    before = set(threading.enumerate())
    settings = make_settings(tmp_path, reload_interval=3600)
    app, client, live = start(settings)
    assert live.watching == "inotify"
    assert {t.name for t in set(threading.enumerate()) - before} >= {"feeds-reload", "feeds-watch"}
    live.stop()
    assert set(threading.enumerate()) == before
    client.get("/healthz")
    wait_for(lambda: live._watcher is not None)
    live.stop()
    assert set(threading.enumerate()) == before


def test_only_the_live_app_imports_watchdog_and_only_when_it_watches():
    code = "import sys, feeds.cli, feeds.folder.export, feeds.server.web, feeds.server.serve\n"
    code += "print('watchdog' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT, check=True)
    assert result.stdout.strip() == "False"


# ----- the patched scan on its own --------------------------------------------------------------


def census_scan(root: Path) -> FolderScan:
    scan = FolderScan(root)
    unreadable: list = []
    scan.replace((scan_identities(root, unreadable), unreadable), census=True)
    return scan


def test_patching_names_gives_exactly_a_fresh_scan_and_its_digest(tmp_path):
    root = make_articles(tmp_path / "articles")
    (root / "a").mkdir()
    write_article(root / "a", "b.md", "In a folder", ["X"], "Wired")
    scan = census_scan(root)
    assert scan.unsure is None and scan.folders == {"a"}
    steps = [
        (lambda: write_article(root, "a-c.md", "Sorts after a/ in a walk", ["X"], "Wired"), ["a-c.md"]),
        (lambda: write_article(root / "a", "0.md", "First in a", ["X"], "Wired"), ["a/0.md"]),
        (lambda: (root / "a3.md").write_text("changed"), ["a3.md"]),
        (lambda: (root / "a1.md").unlink(), ["a1.md"]),
        (lambda: (root / "a2.md").rename(root / "z.md"), ["a2.md", "z.md"]),
        (lambda: (root / ".hidden.md").write_text("x"), [".hidden.md"]),
        (lambda: None, ["never-existed.md"]),
    ]
    for change, names in steps:
        change()
        assert scan.patch(names)
        assert scan.entries == fresh(root)
        assert scan.fingerprint == scan_digest(fresh(root))


@pytest.mark.parametrize(
    "names, why",
    [
        (["newdir/x.md"], "a folder the census did not see"),
        (["a"], "a known folder"),
        ([""], "the folder itself"),
        (["a//x.md"], "not a name a walk makes"),
    ],
)
def test_a_patch_refuses_what_it_cannot_be_sure_of(tmp_path, names, why):
    root = make_articles(tmp_path / "articles")
    (root / "a").mkdir()
    scan = census_scan(root)
    (root / "newdir").mkdir()  # after the census: its watch may have come too late
    write_article(root / "newdir", "x.md", "Unseen", ["X"], "Wired")
    assert not scan.patch(names), why


def test_a_patch_refuses_a_new_symlink_or_fifo_and_a_scan_without_census(tmp_path):
    root = make_articles(tmp_path / "articles")
    scan = census_scan(root)
    os.mkfifo(root / "pipe.md")
    assert not scan.patch(["pipe.md"])  # the full scan's walk names it: patched away, it went unreported
    (root / "pipe.md").unlink()
    (root / "link.md").symlink_to("a1.md")
    assert not scan.patch(["link.md"])
    assert census_scan(root).unsure == "link.md is a symlink"
    plain = FolderScan(root)
    plain.replace((scan_identities(root), []), census=False)
    assert plain.unsure is not None and not plain.patch(["a1.md"])


def test_a_folder_of_exactly_max_files_patches_and_one_more_makes_a_full_scan(tmp_path, monkeypatch):
    """At exactly MAX_FILES nothing is left out, so changes are patched (a reviewer found every change of
    a folder at the limit scanned in full); the file past it is the walk's named problem."""
    root = make_articles(tmp_path / "articles")
    count = len(list(root.iterdir()))
    for module in ("feeds.read.article_files", "feeds.read.folder_scan"):
        monkeypatch.setattr(f"{module}.MAX_FILES", count)
    scan = census_scan(root)
    assert scan.unsure is None
    (root / "a1.md").write_text("changed")
    assert scan.patch(["a1.md"]) and scan.entries == fresh(root)
    write_article(root, "zz.md", "One more than the limit", ["X"], "Wired")
    assert not scan.patch(["zz.md"])
    unreadable: list = []
    scan.replace((scan_identities(root, unreadable), unreadable), census=True)
    assert scan.unsure is not None and any("article files" in problem.message for problem in unreadable)


def test_a_full_scan_updates_the_digest_incrementally_to_the_same_value(tmp_path):
    root = make_articles(tmp_path / "articles")
    scan = census_scan(root)
    (root / "a1.md").unlink()
    write_article(root, "b.md", "New", ["X"], "Wired")
    scan.replace((scan_identities(root), []), census=True)
    assert scan.fingerprint == scan_digest(fresh(root)) == scan_digest(reversed(fresh(root)))
    assert scan.fingerprint != scan_digest([])


def test_the_safety_scan_interval_follows_the_reload_interval():
    assert full_scan_interval(0.2) == 30.0
    assert full_scan_interval(0.5) == 60.0
    assert full_scan_interval(3.0) == 360.0
    # a scan that takes seconds (~7 s at a million files) spaces them by its own cost: ~1% of a core
    assert full_scan_interval(0.2, 7.0) == 700.0
    assert full_scan_interval(3.0, 0.5) == 360.0


def test_the_safety_scan_is_spaced_by_the_scan_just_made(tmp_path, monkeypatch):
    """The catch-up scan as the watcher starts spaces the next full scan by its own cost (at a million
    files it takes ~7 s; the next was due 30 s on, spaced by the first load's scan, which nothing timed)."""
    settings = make_settings(tmp_path, reload_interval=0.05)
    live = Live(settings)
    real = live_module.scan_folder

    def slow(root: Path):  # a scan of half a second, as of a big folder
        time.sleep(0.5)
        return real(root)

    monkeypatch.setattr(live_module, "scan_folder", slow)
    watcher, _, full_at = live._poll_once(None, 0.0, 0.0, threading.Event())
    try:
        assert watcher is not None and live.folder_scan.full_scans == 2 and live.full_scan_seconds >= 0.5
        assert full_at - time.monotonic() > 40  # ~100 times 0.5 s, not the 30 s the reload interval gives
    finally:
        if watcher is not None:
            watcher.stop()


def test_a_failed_watcher_is_retried_as_often_as_a_cheap_scan_would_be(tmp_path, monkeypatch):
    """Polling scans the whole folder every interval until a watcher starts: a slow full scan (a big
    folder) must not space the retries by its cost too (7 s scans: 700 s of polling between tries)."""
    settings = make_settings(tmp_path, reload_interval=0.05)
    live = Live(settings)
    live.full_scan_seconds = 7.0

    def refuse(self):
        raise WatchUnavailable("no inotify watches left")

    monkeypatch.setattr(FolderWatcher, "start", refuse)
    watcher, retry_at, _ = live._poll_once(None, 0.0, 0.0, threading.Event())
    assert watcher is None and live.watching.startswith("polling every")
    assert 0 < retry_at - time.monotonic() <= full_scan_interval(settings.reload_interval)


def test_a_1000_deep_folder_and_a_fifo_never_freeze_reloads(tmp_path):
    """Issue 16: the deep folder killed the reload thread (RecursionError), a FIFO blocked it in open()."""
    settings = make_settings(tmp_path, reload_interval=0.5)
    root = settings.articles_dir
    app, client, live = start(settings)
    try:
        with deep_folder(root, 1000) as deep:
            (deep / "bottom.md").write_text("---\ntitle: Too deep\n---\n")
            os.mkfifo(root / "fifo.md")
            newest(root, "fresh.md", "Served despite the folder")
            wait_for(lambda: served(client, "Served despite the folder"), timeout=30)
            health = client.get("/healthz").json
            assert health["status"] == "ok" and health["errors"] >= 1  # the deep folder, named
            assert live._thread is not None and live._thread.is_alive()
            os.unlink(root / "fifo.md")
            (root / "fifo.md").symlink_to("/dev/zero")  # never read: it leads out of the folder
            newest(root, "fresher.md", "Served after the swap")
            wait_for(lambda: served(client, "Served after the swap"), timeout=30)
    finally:
        live.stop()


def test_reloads_stop_asking_the_collector_once_the_process_froze_what_it_loaded(tmp_path, monkeypatch):
    """Asking (``gc.get_freeze_count``) walks every frozen object: ~0.3 s of each change at a million articles
    (issue 20). Once the process froze what it loaded (``export --watch``), a reload asks no more, and what was
    frozen stays frozen (a reload's ageing would unfreeze it)."""
    settings = make_settings(tmp_path, reload_interval=3600)
    live = Live(settings)
    asked: list[int] = []
    real = gc.get_freeze_count
    monkeypatch.setattr(gc, "get_freeze_count", lambda: asked.append(1) or real())
    gc.unfreeze()
    gc.freeze()
    try:
        for step in range(3):
            newest(settings.articles_dir, f"frozen-{step}.txt", f"Frozen {step}")
            assert live.refresh()
            assert real() > 0 and gc.isenabled()
        assert len(asked) == 1
        told = Live(settings)  # the process froze through it (`export --watch`, a server worker): never asks
        told.freeze_loaded()
        asked.clear()
        newest(settings.articles_dir, "frozen-told.txt", "Frozen, told")
        assert told.refresh()
        assert asked == [] and real() > 0 and gc.isenabled()
    finally:
        gc.unfreeze()
