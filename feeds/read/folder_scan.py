"""The articles folder's last scan, patched name by name, and its order-free fingerprint.

:class:`FolderScan` keeps the folder's last scan, exactly as
:func:`feeds.read.load.scan_identities` lists it, and patches it by re-stating only
the names a watcher (:mod:`feeds.read.watch`) reports, so a reload at 100,000 files
costs a few system calls instead of one stat per file. Whatever a patch cannot
be sure of (a folder changed, a symlink anywhere in the tree, an unreadable
folder) is answered with a full scan, which stays the reference: a patched scan
always equals a fresh one.
"""

from __future__ import annotations

import bisect
import hashlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from feeds.model import Problem
from feeds.read.article_files import MAX_FILES
from feeds.read.merge import path_key

Identity = tuple[int, int, int, int]
Entry = tuple[str, Identity | None]
Scan = tuple[list, list]  # (relative name, identity) of every file, and folders that could not be listed

_DIGEST_BITS = 256
_MODULUS = 1 << _DIGEST_BITS


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


def _entry_order(entry: Entry) -> tuple[str, ...]:
    return path_key(entry[0])  # walk order: "a/b" before "a-c"


_ABSENT = object()  # a name that walk_article_files would not list


class FolderScan:
    """The last scan of one articles folder, kept current by full scans and by patching single names.

    ``entries`` is what :func:`feeds.read.load.scan_identities` gives for the
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
        """Take a full scan (from :func:`feeds.read.load.scan_identities`) as the new state.

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
        if self.unreadable:  # a folder it cannot list, too deep, or the files past MAX_FILES (the walk names it)
            return "the walk left something out"
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
            if len(self._index) >= MAX_FILES and name not in self._index:  # one more would be left out by the walk
                self.unsure = f"more than {MAX_FILES:,} files"
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
            return None  # a FIFO or socket: not listed but named by walk_article_files, which a full scan runs
        return found.st_size, found.st_mtime_ns, found.st_ctime_ns, found.st_ino

    def _set(self, name: str, identity: Any) -> None:
        before = self._index.get(name, _ABSENT)
        if before == identity:
            return
        entries = self.entries
        at = bisect.bisect_left(entries, path_key(name), key=_entry_order)
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
