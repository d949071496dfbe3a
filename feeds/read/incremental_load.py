"""Loading a folder again and again in one long-running process: only what changed is read.

An :class:`IncrementalLoader` keeps every file's result in memory after its first load
(:func:`feeds.read.load.load_results`: the parse cache, all cores); each later call scans
the files' identities and reads only the files whose identity changed, then patches the
merge of every result (:class:`feeds.read.merge.Merge`). The Folder it gives is the one a
fresh :func:`~feeds.read.load.load_folder` of the same files would give.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterable

from feeds.config import Settings
from feeds.model import Problem
from feeds.read.load import Identity, LoadStats, load_results, scan_identities
from feeds.read.merge import Merge
from feeds.read.reader import Folder, ReadResult, missing_folder, read_article


def _not_kept(previous: list, current: list) -> list:
    """``current``'s entries that may differ from ``previous``'s: place by place when both are as long, else
    what lies between their longest common start and end (a file added or removed shifts the rest by one)."""
    shorter = min(len(previous), len(current))
    if len(previous) == len(current):
        return list(itertools.compress(current, map(operator.is_not, previous, current)))
    places = itertools.count
    head = next(itertools.compress(places(), map(operator.is_not, previous, current)), shorter)
    tail = next(itertools.compress(places(), map(operator.is_not, reversed(previous), reversed(current))), shorter)
    return current[head : len(current) - min(tail, shorter - head)]


class IncrementalLoader:
    """Keeps every file's result in memory and re-reads only what changed since the last call.

    For a long-running process (the live app): after the first load (through the
    parse cache, on all cores), a refresh costs one scan of file identities plus
    reading the changed files, not a re-read of the folder.
    """

    def __init__(self, settings: Settings, *, use_cache: bool = True, cores: int | None = None) -> None:
        """``cores``: the processes the first load may parse on (None: every core); later loads use one."""
        self.settings = settings
        self.use_cache = use_cache
        self.cores = cores
        self.last_stats: LoadStats | None = None
        self._known: dict[str, tuple[Identity | None, ReadResult]] | None = None
        self._folder: Folder | None = None
        self._loads = 0
        self._unreadable: list[Problem] = []
        self._scanned: list | None = None  # the scan the last completed refresh applied (see refresh)
        self._merge: Merge | None = None  # the merge of every known result, patched per change (see refresh)

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
            loaded = load_results(self.settings, self.use_cache, self.cores if self._loads == 1 else 1, scan)
            self.last_stats = loaded.stats
            self._known = dict(zip(loaded.names, zip(loaded.identities, loaded.results, strict=True), strict=True))
            self._unreadable = loaded.unreadable
            self._merge = self._merged(zip(loaded.names, loaded.results, strict=True))
            if scan is not None:  # the scan applied, whose very pairs a watcher's next one keeps (see below): the
                # first change then compares only what it replaced (1M articles: ~1.3 s more for the first one)
                self._scanned = list(scan[0])
            return self._merge.folder(loaded.unreadable, len(loaded.results))
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
        merge, self._merge = self._merge, None  # taken: one that missed a change is never patched again
        # the pairs that are not the previous scan's very objects at the same place (in C: at a million files
        # a loop over the places took ~0.15 s, and a lookup of every name after a new file ~1 s, issue 20)
        candidates = current if previous is None else _not_kept(previous, current)
        stale = [(name, identity) for name, identity in candidates if name not in known or known[name][0] != identity]
        # names are unique, so nothing is gone when the known ones and the new ones add up to
        # the scan: no set of 100,000 names to build for a change that removed nothing
        added = sum(1 for name, _ in stale if name not in known)
        gone = known.keys() - {name for name, _ in current} if len(known) + added != len(current) else set()
        if not stale and not gone and unreadable == self._unreadable:
            self._scanned, self._merge = list(current), merge  # a copy: the caller may reuse its list
            return None
        changes = {name: (known.pop(name)[1], None) for name in gone}
        for name, identity in stale:
            before = known.get(name)
            known[name] = (identity, read_article(root / name, self.settings, root=root))
            changes[name] = (before[1] if before is not None else None, known[name][1])
        self.last_stats = LoadStats(len(current), len(current) - len(stale), len(stale))
        self._unreadable = unreadable
        if merge is None:  # the first refresh after one that failed: merged afresh
            merge = self._merged((name, known[name][1]) for name, _ in current)
        else:
            merge.changed(changes)
        self._scanned, self._merge = list(current), merge
        return merge.folder(unreadable, len(current))

    def _merged(self, named: Iterable[tuple[str, ReadResult]]) -> Merge:
        known: dict = self._known  # type: ignore[assignment]  # set before a merge is made
        return Merge(named, lambda name: known[name][1])
