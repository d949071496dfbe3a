"""One generation folder of an export being filled: files written, hard-linked or kept, each checked to stay inside.

Sans-policy: :mod:`feeds.folder.export` decides which generation to fill and what goes
in it; this module only places files and records what it placed (size, digest,
[size, mtime_ns]). Paths are plain strings here: an incremental export at 100,000
articles walks tens of thousands of files, and pathlib's per-call overhead was a
third of it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import compress, repeat
from operator import and_, eq, is_, is_not, not_
from pathlib import Path
from typing import TYPE_CHECKING

from feeds.folder.cdn import ENCODINGS, FileInfo
from feeds.folder.listing import Walked, stat_of

if TYPE_CHECKING:  # imported by what renders, not by an export that finds nothing changed (issue 20)
    from feeds.render.writer import Rendered


class ExportError(Exception):
    """The export cannot be written where it was asked to go."""


class ExportWriteError(ExportError):
    """Writing a generation failed (a full disk, an I/O error); it was removed, the live export is intact."""


_SUFFIXES = tuple(encoding.suffix for encoding in ENCODINGS)


def checked_relative(relative: str) -> str:
    """``relative`` itself, once checked structurally to stay inside the folder it is joined to (STYLE §15).

    Lexical, no file-system calls: every part must be a plain name (no ``..``,
    ``.``, empty part, NUL or backslash), and the folder is a generation this
    export created itself, so no symlink inside it can lead elsewhere.
    """
    if any(part in ("", ".", "..") or "\0" in part or "\\" in part for part in relative.split("/")):
        raise ExportError(f"refusing to write {relative!r}: it would leave the output folder")
    return relative


def safe_target(root: Path, relative: str) -> Path:
    """``root / relative``, refused when ``relative`` could leave ``root`` (see :func:`checked_relative`)."""
    return root.joinpath(*checked_relative(relative).split("/"))


def with_encodings(paths: Iterable[str]) -> Iterator[str]:
    """Each site path, then its precompressed copies' names."""
    for path in paths:
        yield path
        yield from (path + encoding.suffix for encoding in ENCODINGS)


@dataclass(frozen=True, slots=True)
class Placed:
    """One file a generation received: its manifest entry, its [size, mtime_ns], and whether it is the live one's."""

    name: str
    info: FileInfo
    stat: list | None
    unchanged: bool
    live_stat: list | None = None  # the live file's, when an unchanged file has an inode of its own (else: stat)
    inode: int = 0  # the placed file's (0: gone again)


class Generation:
    """Fills the next generation folder: a new one, or a recycled standby brought up to date.

    Files equal to the live (previous) generation's are hard links to them, so
    their bytes, inode and mtime stay as they were. Nothing is ever written into
    an existing file: a standby file may be a hard link to a live one, so it is
    unlinked first. Paths are plain strings here: an incremental export at 100,000
    articles walks tens of thousands of files, and pathlib's per-call overhead was
    a third of it. ``old_files`` is what the live generation holds (a file may have
    gone since: every use copes with that). ``stats`` records each placed file's
    [size, mtime_ns]; a hard link keeps both, so a linked file's stat is carried over.
    """

    def __init__(
        self,
        root: Path,
        previous: Path | None,
        old_files: set[str],
        walked: Walked | None = None,
    ) -> None:
        self.root, self.previous, self.old_files = str(root), str(previous) if previous else None, old_files
        # files the folder holds now (``walked``: a recycled standby's) with their inodes, until
        # each is kept, replaced or removed; and its folders, to remove those left empty
        self.present, self._old_folders = walked if walked is not None else ({}, [])
        self.infos: dict[str, FileInfo] = {}
        self.stats: dict[str, list | None] = {}
        # [size, mtime_ns] of the live generation's file, for each file placed equal to it
        self.live_stats: dict[str, list | None] = {}
        self.inodes: dict[str, int] = {}  # each placed file's inode (see feeds.folder.outwatch)
        self.written = self.unchanged = 0
        self._folders: set[str] = set()  # folders already made in this generation

    def _old(self, relative: str) -> str | None:
        if self.previous is None or relative not in self.old_files:
            return None
        return f"{self.previous}/{relative}"

    def _prepared(self, relative: str) -> str:
        """Where ``relative`` goes (checked to stay inside), its folder made and any file there removed.

        Changes no state but the folders made, so a forked render worker can place
        files too (see :meth:`place`); :meth:`absorb` forgets the file removed.
        """
        target = f"{self.root}/{checked_relative(relative)}"
        parent = os.path.dirname(target)
        if parent not in self._folders:
            os.makedirs(parent, exist_ok=True)  # several workers may make the same folder
            self._folders.add(parent)
        if relative in self.present:
            unlink_if_present(target)
        return target

    def _target(self, relative: str) -> str:
        target = self._prepared(relative)
        self.present.pop(relative, None)
        return target

    def _link_or_copy(self, old: str, target: str, inode: int) -> int:
        """``target`` as a hard link to ``old`` (whose inode is ``inode``), or a copy; the inode it has."""
        try:
            os.link(old, target)
        except OSError:  # a file system without hard links: a copy keeps bytes and mtime
            unlink_if_present(target)  # never copy into an existing file: it may be a live one's hard link
            shutil.copy2(old, target)
            return os.stat(target).st_ino
        return inode

    def place(self, relative: str, data: bytes, sha256: str = "", own_inode: bool = False) -> Placed:
        """Write (or link, when it equals the live generation's) one file; what happened, to :meth:`absorb`.

        Only the file system changes here, so a forked render worker places the
        documents it renders (their bytes never cross a pipe) and the export
        absorbs what it reports; in-process, :meth:`put` does both. ``own_inode``: a
        file equal to the live one is written anew all the same (and still counts as
        unchanged), so no other generation shares its inode: the manifest, whose
        ctime names the generation's record (:func:`feeds.folder.records.record_name`)
        and would change when another folder's link to it went.
        """
        target = self._prepared(relative)
        old = self._old(relative)
        info = FileInfo(len(data), sha256) if sha256 else FileInfo.of(data)  # sha256: the renderer's
        unchanged = old is not None and same_bytes(old, data)
        if unchanged and not own_inode:
            self._link_or_copy(old, target, 0)
            return Placed(relative, info, *_stat_and_inode(target, True))
        found = write_new(target, data)
        stat = [found.st_size, found.st_mtime_ns]
        return Placed(relative, info, stat, unchanged, stat_of(old) if unchanged else None, found.st_ino)

    def absorb(self, placed: Placed) -> bool:
        """Record a placed file (see :meth:`place`); True when it is the live generation's file, unchanged."""
        name = placed.name
        self.present.pop(name, None)
        self.infos[name] = placed.info
        self.stats[name] = placed.stat
        self.inodes[name] = placed.inode
        if placed.unchanged:
            self.live_stats[name] = placed.live_stat if placed.live_stat is not None else placed.stat
            self.unchanged += 1
        else:
            self.written += 1
        return placed.unchanged

    def put(self, relative: str, data: bytes, own_inode: bool = False) -> bool:
        """Place one file (see :meth:`place`); True when it equals the live generation's file."""
        return self.absorb(self.place(relative, data, own_inode=own_inode))

    def reuse(
        self, relative: str, old_infos: dict[str, FileInfo], old_stats: dict[str, list], known: dict[str, int]
    ) -> bool:
        """Keep a document (``relative`` and its encodings) unrendered: its signature is unchanged.

        False (and nothing placed) when one of the live generation's files is
        missing or is not as its export left it (size and mtime it recorded): a
        damaged or edited file is rendered again, never kept. Otherwise the live
        files are hard-linked, unless a recycled standby already holds them: the
        same inode under its own name (what it linked, or was linked from, before).
        ``known``: the inode of each live file that is as recorded without a stat
        (:meth:`feeds.folder.outwatch.OutDirWatch.trusted`: no event named it since); the rest are stat'ed.
        Called for every kept document of every change (~130,000 at a million articles), hence plain loops.
        """
        if self.previous is None:
            return False
        old_files, previous = self.old_files, self.previous
        names = [relative, *(relative + suffix for suffix in _SUFFIXES)]
        inodes = []
        for name in names:
            recorded = old_stats.get(name)
            if recorded is None or name not in old_files:
                return False
            inode = known.get(name)
            if inode is None:
                try:
                    found = os.stat(f"{previous}/{name}")
                except OSError:
                    return False
                if [found.st_size, found.st_mtime_ns] != recorded:  # a record read back may hold anything
                    return False
                inode = found.st_ino
            inodes.append(inode)
        present, infos, stats, live_stats, placed = self.present, self.infos, self.stats, self.live_stats, self.inodes
        for name, inode in zip(names, inodes, strict=True):
            old = f"{previous}/{name}"
            if present.get(name) == inode:
                del present[name]  # the live file itself, under the standby's name: keep it
                placed[name] = inode
            else:
                placed[name] = self._link_or_copy(old, self._target(name), inode)
            info = old_infos.get(name)
            infos[name] = info if info is not None else FileInfo.of(read_bytes(old))
            stats[name] = live_stats[name] = old_stats[name]
        self.unchanged += len(names)
        return True

    def reuse_all(
        self, relatives: list[str], old_infos: dict[str, FileInfo], old_stats: dict[str, list], known: dict[str, int]
    ) -> set[str]:
        """:meth:`reuse` of each of ``relatives``: the set of those kept.

        Leaves the same files, makes the same file-system calls on each path and the same records
        and counts as calling :meth:`reuse` on each in turn, with one difference: the records
        (``infos``, ``stats``, ``live_stats``, ``inodes``) get their keys in another order (the
        documents kept one by one first, then the others' names, every document's before every
        ``.gz``). Nothing reads that order: the manifest is written sorted and the export rebuilds
        ``types`` in site order. ``relatives`` must not repeat a path (asserted: a second
        :meth:`reuse` of it would link its files again).

        The documents whose every file is in ``known`` (trusted without a stat) and recorded are
        kept by passes over their names in C, the rest one by one through :meth:`reuse`. Under
        ``export --watch`` that is nearly every document of each change (~65,000 at a million
        articles: 0.32 CPU-s against 0.44 for a call per document, measured alone on the live
        generation; each pass is a dict lookup per file, so it still grows with the site, issue 20).
        """
        if self.previous is None or not relatives:
            return set()
        assert len(set(relatives)) == len(relatives), "reuse_all: a path given twice"
        previous, present = self.previous, self.present
        trusted_live = known.keys() & self.old_files
        columns = [relatives, *([relative + suffix for relative in relatives] for suffix in _SUFFIXES)]
        # fully_trusted[i]: every file of relatives[i] is trusted, in the live generation and recorded
        # (not as null): all reuse checks, with no stat needed, so it is kept
        fully_trusted: list = [True] * len(relatives)
        for column in columns:
            fully_trusted = list(map(and_, fully_trusted, map(trusted_live.__contains__, column)))
            fully_trusted = list(map(and_, fully_trusted, map(is_not, map(old_stats.get, column), repeat(None))))
        kept = set(compress(relatives, fully_trusted))
        # the others: one by one, stat'ed where not trusted, kept or not as reuse decides
        for relative in compress(relatives, map(not_, fully_trusted)):
            if self.reuse(relative, old_infos, old_stats, known):
                kept.add(relative)
        # the fully trusted documents' files, each placed with the live file's inode (``known``'s)
        names = [name for column in columns for name in compress(column, fully_trusted)]
        inodes = list(map(known.__getitem__, names))
        self.inodes.update(zip(names, inodes, strict=True))
        # a name the standby holds as the live file itself stays as it is (no longer to be removed)
        already_live = list(map(eq, map(present.get, names), inodes))
        for name in compress(names, already_live):
            del present[name]
        # every other name: a hard link to the live file (or a copy), replacing what the standby held
        to_link = list(map(not_, already_live))
        for name, inode in zip(compress(names, to_link), compress(inodes, to_link), strict=True):
            self.inodes[name] = self._link_or_copy(f"{previous}/{name}", self._target(name), inode)
        # each file's manifest entry: the live manifest's, or its bytes hashed again when it is not listed
        infos = list(map(old_infos.get, names))
        self.infos.update(zip(names, infos, strict=True))
        for name in compress(names, map(is_, infos, repeat(None))):
            self.infos[name] = FileInfo.of(read_bytes(f"{previous}/{name}"))
        # each file's [size, mtime_ns]: the live record's (a hard link keeps both)
        recorded = list(map(old_stats.__getitem__, names))
        self.stats.update(zip(names, recorded, strict=True))
        self.live_stats.update(zip(names, recorded, strict=True))
        self.unchanged += len(names)
        return kept

    def place_document(self, relative: str, rendered: Rendered, encoded: dict[str, bytes]) -> list[Placed]:
        """:meth:`place` a document and every encoding of it (suffix → bytes), the document first."""
        placed = [self.place(relative, rendered.body, rendered.sha256)]
        placed.extend(self.place(relative + e.suffix, encoded[e.suffix]) for e in ENCODINGS)
        return placed

    def remove_rest(self) -> None:
        """Remove what a standby held that the new site does not (a feed gone, a stray file), then its empty folders."""
        for relative in list(self.present):
            unlink_if_present(f"{self.root}/{relative}")
        self.present.clear()
        for folder in sorted(self._old_folders, key=lambda name: name.count("/"), reverse=True):
            try:
                os.rmdir(f"{self.root}/{folder}")  # only succeeds when empty
            except OSError:
                pass


def unlink_if_present(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def write_new(path: str, data: bytes) -> os.stat_result:
    """A new file at ``path`` holding ``data`` (never an existing file: see :class:`Generation`); its stat.

    Descriptor calls rather than ``open``: a cold export creates every file of the site
    (~5,000 at 10,000 articles), and ``open``'s file object costs three more system
    calls per file (a terminal check, a seek, a second fstat) and a stat by path after it.
    The stat is taken from the open file after the last write: closing a local file
    changes neither its size nor its mtime.
    """
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)  # open(path, "xb")'s
    try:
        view = memoryview(data)
        while view:  # a regular file takes it in one write; a short one is continued, as a buffered file does
            view = view[os.write(descriptor, view) :]
        return os.fstat(descriptor)
    finally:
        os.close(descriptor)


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def same_bytes(path: str, data: bytes) -> bool:
    """True when the file at ``path`` holds exactly ``data`` (False when it is gone)."""
    try:
        return os.stat(path).st_size == len(data) and read_bytes(path) == data
    except OSError:
        return False


def _stat_and_inode(path: str, unchanged: bool, live_stat: list | None = None) -> tuple:
    """(:func:`stat_of`, ``unchanged``, ``live_stat``, inode) of a file just placed: a :class:`Placed`'s last fields."""
    try:
        found = os.stat(path)
    except OSError:
        return None, unchanged, live_stat, 0
    return [found.st_size, found.st_mtime_ns], unchanged, live_stat, found.st_ino
