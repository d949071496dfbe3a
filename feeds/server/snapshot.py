"""One generation of the live app: a :class:`Snapshot`, and how one is built from the articles folder.

A snapshot is every selected article with its catalog, problem counts and load
time, replaced whole, never changed (:class:`feeds.server.live.Live` holds the
current one and swaps in the next). Building one scans the folder's file
identities once (its fingerprint), reads through a loader, and checks the folder
was still there afterwards, so a folder that vanished mid-read is never taken
for an empty one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feeds.config import Settings
from feeds.index.catalog import Catalog, build_catalog
from feeds.index.catalog_update import update_catalog
from feeds.model import Article, Problem
from feeds.read.folder_scan import scan_digest
from feeds.read.incremental_load import IncrementalLoader
from feeds.read.load import Scan
from feeds.read.load import scan_folder as scan_identities
from feeds.read.reader import Folder, read_folder

Loader = Callable[[Settings], Folder]


class LoadError(Exception):
    """The articles folder cannot be listed; the last good snapshot stays."""


def read_articles_folder(settings: Settings) -> Folder:
    """A loader that reads every file under ``settings.articles_dir`` each time (no incremental state)."""
    return read_folder(settings.articles_dir, settings)


def check_listable(root: Path) -> None:
    """Raise :class:`LoadError` naming ``root`` when it cannot be listed (missing, unreadable, not a folder)."""
    try:
        with os.scandir(root):
            pass
    except OSError as exc:
        raise LoadError(f"{root}: cannot list the articles folder ({exc.strerror or exc})") from None


def scan_folder(root: Path) -> Scan:
    """One pass over the folder's file identities (one stat each, no reads), shared by the
    fingerprint and the incremental loader so a reload scans once.

    Raises :class:`LoadError` when the folder itself cannot be listed: a missing
    or unreadable folder must not look like an empty one and wipe every feed.
    """
    check_listable(root)
    return scan_identities(root)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one generation of the live app serves; replaced whole, never changed.

    ``articles`` is every selected article, newest first (filtered feeds need
    them all). ``memo`` is the web layer's cache of rendered responses for this
    generation only, so a new generation can never serve old bytes.
    ``last_error`` is the latest reload failure, None once a reload succeeds.
    """

    catalog: Catalog
    articles: tuple[Article, ...]
    problems: int
    errors: int
    files: int
    generation: int
    fingerprint: str | None
    loaded_at: datetime | None
    last_error: str | None = None
    last_error_at: datetime | None = None
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)
    # the folder's articles in path order, which the catalog was built from (see update_catalog)
    read: tuple[Article, ...] = field(default=(), compare=False, repr=False)
    # the process that read it: a server's workers each read their own, none serves its master's (issue 16)
    read_by_pid: int = field(default_factory=os.getpid, compare=False)
    # the scan of file identities its articles were read from (None when the loader listed the folder itself),
    # and every problem found: what `export --watch` records for the next export's no-change check. Never
    # changed once taken (FolderScan.scan hands out copies): a later change's scan recorded with this
    # snapshot's generation would hide that change from the next run
    scan: Scan | None = field(default=None, compare=False, repr=False)
    found: tuple[Problem, ...] = field(default=(), compare=False, repr=False)


def empty_snapshot(settings: Settings, error: str | None = None) -> Snapshot:
    """What is served before any successful load: no articles, the reason in ``last_error``."""
    return Snapshot(build_catalog((), settings), (), 0, 0, 0, 0, None, None, error, now_utc() if error else None)


def build_snapshot(
    settings: Settings,
    loader: Loader,
    generation: int,
    mark: str | None = None,
    scan: Scan | None = None,
    previous: Snapshot | None = None,
) -> Snapshot:
    """Read and index the folder whose fingerprint is ``mark`` (taken now when None).

    The fingerprint (:func:`feeds.read.folder_scan.scan_digest`: equal folders give equal ones in every
    process, so workers agree on a change) is taken before reading, so a file changed during the read
    makes the next poll rebuild again. ``previous``, the snapshot being replaced,
    lets an edit that moves no article keep its catalog (:func:`update_catalog`).
    Raises LoadError, or whatever the loader raises.
    """
    if mark is None:
        scan = scan_folder(settings.articles_dir)
        mark = scan_digest(scan[0])
    if isinstance(loader, IncrementalLoader):
        folder = loader(settings, scan=scan)
    else:
        folder, scan = loader(settings), None  # it lists the folder itself: read from no scan of ours
    check_listable(settings.articles_dir)  # vanished during the read: not an empty folder
    if previous is not None and previous.read:
        catalog = update_catalog(previous.catalog, previous.read, folder.articles, settings)
    else:
        catalog = build_catalog(folder.articles, settings)
    # every selected article, newest first: the all feed's items, then its older ones newest first
    everything = catalog.everything
    articles = everything.items + everything.older[::-1] if everything is not None else ()
    errors = sum(1 for p in folder.problems if p.is_error)
    return Snapshot(
        catalog, articles, len(folder.problems), errors, folder.files, generation, mark, now_utc(),
        read=folder.articles, scan=scan, found=folder.problems,
    )  # fmt: skip


def now_utc() -> datetime:
    # the clock only stamps /healthz, never a feed
    return datetime.now(UTC).replace(microsecond=0)
