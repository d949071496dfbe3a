"""Which files of OUT_DIR's generations may have changed since `export --watch` last looked: inotify on their folders.

An export keeps a document unrendered only when its live files are as the
previous export recorded them ([size, mtime_ns]): a file edited by hand in
OUT_DIR is rendered again at the next change, never carried into later
generations. Checking that is one stat per kept file, ~0.75 s of every change
at a million articles (130,000 files). The watching process instead asks the
kernel to report every change in the folders of both generations it exports to
(about 540 folders each at a million articles, against the 8,192 or more watches
a user may set up), and trusts its own record, and the inode it remembers, for
every file no event named since. It stats every file, as a plain export does,
whenever it cannot be sure: the first export of a generation it had not watched
before that generation's files were recorded, a folder it starts watching only
now (new, or replaced by hand), a watch it could not set up, the kernel's queue
overflowing, a record that is not the one it wrote itself, and for as long as a
name no export made (a file or a folder added by hand) is in either generation.
Events name paths, not who made them: the files of a feed that is gone, removed
by the exports recycling each generation in turn, are such names too, so the two
changes after a feed disappears stat every file.

Limits: names are looked up when the next export runs, not when the events
came, so a name pointed at another kept file by hand and written through, then
pointed back at its own file before that export (unlink and link again, by hand
or, in the standby, by the export recycling it) leaves that other file trusted; and, as for
any inotify watch, a change made through a hard link outside both generations,
or by writing to a memory-mapped file while it stays mapped, raises no event,
and a network file system (NFS, CIFS, FUSE, 9p, virtiofs) reports no change
made on another machine: there a plain export, which stats every kept file, is
the safe choice.
Linux only; elsewhere nothing is watched and every file is stat'ed.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import threading
from collections.abc import Collection, Iterable
from pathlib import Path

_IN_NONBLOCK, _IN_CLOEXEC = os.O_NONBLOCK, 0o2000000
# <sys/inotify.h>: what a hand edit does to a file (write, touch or chmod, replace, remove, create), a
# folder's own end, and how the watch is set (only on a folder, never through a symlink)
_IN_MODIFY, _IN_ATTRIB, _IN_CLOSE_WRITE = 0x2, 0x4, 0x8
_IN_MOVED_FROM, _IN_MOVED_TO, _IN_CREATE, _IN_DELETE = 0x40, 0x80, 0x100, 0x200
_IN_DELETE_SELF, _IN_MOVE_SELF = 0x400, 0x800
_IN_ONLYDIR, _IN_DONT_FOLLOW = 0x01000000, 0x02000000
_MASK = (
    _IN_MODIFY | _IN_ATTRIB | _IN_CLOSE_WRITE | _IN_MOVED_FROM | _IN_MOVED_TO | _IN_CREATE | _IN_DELETE
    | _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_ONLYDIR | _IN_DONT_FOLLOW
)  # fmt: skip
_IN_Q_OVERFLOW, _IN_IGNORED = 0x4000, 0x8000
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len (then the name)


class OutDirWatch:
    """Events on every watched folder since the last export, and this process's record of its live generation.

    Owned by the exporter of one OUT_DIR under `--watch` (see :class:`feeds.folder.export.ExportMemos`);
    used on the one thread that exports. :meth:`close` ends the watch (from any thread: an export still
    running then trusts nothing more).
    """

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._add = libc.inotify_add_watch
        self._add.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32)
        self._fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        self._folders: dict[int, str] = {}  # watch descriptor → the folder it watches, relative to its generation
        self._touched: set[str] = set()  # names events gave since the last export that completed
        # names events gave that no export recorded, file or folder (made by hand): trusting nothing while one is
        # there, in either generation, as a folder made by hand is not watched (a link made in it, and a write
        # through that, raise no event)
        self._foreign: set[str] = set()
        self._lost = False  # events were lost (the queue overflowed): nothing is trusted until an export stat'ed all
        # what the last export left: its record's path, the data it wrote there, every file's inode, and the
        # names of each inode (a file kept from generation to generation is one inode under one name in each)
        self._memo: tuple[Path, dict, dict[str, int], dict[int, list[str]]] | None = None
        self._lock = threading.Lock()  # the descriptor is closed by another thread than the one reading it

    def close(self) -> None:
        """End the watch (idempotent, from any thread): from then on nothing is trusted and every file is stat'ed."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def watch(self, root: Path, folders: Iterable[str]) -> bool:
        """Watch ``root`` and its ``folders`` (relative); True when every one of them already was (same folder).

        A folder watched only now may have changed unseen before: its files are not to be trusted yet.
        """
        with self._lock:
            return self._watch(root, folders)

    def _watch(self, root: Path, folders: Iterable[str]) -> bool:
        every = self._fd >= 0
        for folder in ("", *folders) if every else ():
            path = f"{root}/{folder}" if folder else str(root)
            descriptor = self._add(self._fd, os.fsencode(path), _MASK)
            if descriptor < 0:  # the watch limit (ENOSPC), or a folder gone: not sure of it
                every = False
                continue
            if self._folders.get(descriptor) != folder:
                self._folders[descriptor] = folder
                every = False
        return every

    def trusted(
        self, previous: Path, record: Path | None, data: dict, names: Collection[str], standby: Path | None = None
    ) -> dict[str, int]:
        """The inode of each live file no event named since this process recorded it ({}: stat every file).

        ``previous`` is the live generation, ``record`` and ``data`` its record as read
        back (trusted only when it is the very one this process wrote last), ``names``
        its files, ``standby`` the generation the export will recycle. Watches its folders first, so nothing
        that happens from here on goes unseen; the events so far are taken (given back by :meth:`exported`,
        or kept). An event names the path written through, not the file's other names: a name no export
        made (a hard link or a folder added by hand) trusts nothing, and a named file's inode, in either
        generation, is not trusted under any of its names; and while a name no export made is there, in either
        generation, nothing is trusted (a folder made by hand is not watched).
        """
        memo, self._memo = self._memo, None  # taken: an export that fails leaves nothing to trust
        folders = {name.rpartition("/")[0] for name in names} - {""}
        folders |= {folder.rpartition("/")[0] for folder in folders} - {""}  # site paths are ≤ 3 folders deep
        folders |= {folder.rpartition("/")[0] for folder in folders} - {""}
        with self._lock:
            watched = self._watch(previous, sorted(folders))
            if self._fd >= 0:
                self._drain()
        lingering = {name for name in self._foreign if _exists(previous, name) or _exists(standby, name)}
        self._foreign = lingering | {name for name in self._touched if name not in names and name not in folders}
        if self._foreign or not watched or self._lost or memo is None or memo[0] != record or memo[1] is not data:
            return {}
        recorded, names_of = memo[2], memo[3]
        known = dict(recorded) if self._touched else recorded
        for name in self._touched:
            # looked up now, not when written: a name no export made (a link or folder added by hand) or a live
            # name pointed elsewhere trusts nothing
            inode = recorded.get(name)
            try:
                if inode is None or os.lstat(f"{previous}/{name}").st_ino != inode:
                    return {}
            except OSError:
                return {}
            inodes = [inode]
            if standby is not None:
                try:
                    inodes.append(os.lstat(f"{standby}/{name}").st_ino)
                except OSError:
                    pass
            for inode in inodes:  # every name of the file in either generation (links between kept files)
                for other in names_of.get(inode, ()):
                    known.pop(other, None)
        return known

    def exported(self, record: Path | None, data: dict, inodes: dict[str, int]) -> None:
        """An export completed: ``record`` (and the ``data`` written there) is the new live generation's,
        ``inodes`` its files' (``record`` None: nothing to remember). It checked every name the events so far gave
        (:meth:`trusted` took them, and nothing reads the queue meanwhile); events since wait in the kernel's queue.
        """
        self._touched.clear()
        self._lost = False
        if record is None:
            self._memo = None
            return
        names_of: dict[int, list[str]] = {}
        for name, inode in inodes.items():  # after the flip: off the way of this change's bytes to OUT_DIR
            names_of.setdefault(inode, []).append(name)
        self._memo = (record, data, inodes, names_of)

    def _drain(self) -> None:
        while True:
            try:
                buffer = os.read(self._fd, 1 << 16)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                raise
            at = 0
            while at + _EVENT.size <= len(buffer):
                descriptor, mask, _, length = _EVENT.unpack_from(buffer, at)
                name = buffer[at + _EVENT.size : at + _EVENT.size + length].rstrip(b"\0")
                at += _EVENT.size + length
                if mask & _IN_Q_OVERFLOW:
                    self._lost = True
                elif mask & _IN_IGNORED:
                    self._folders.pop(descriptor, None)  # the folder is gone: its watch with it
                elif name and descriptor in self._folders:
                    folder = self._folders[descriptor]
                    decoded = os.fsdecode(name)
                    self._touched.add(f"{folder}/{decoded}" if folder else decoded)


def _exists(generation: Path | None, name: str) -> bool:
    """Whether ``name`` is in ``generation`` (as anything: a file, a folder, a link)."""
    return generation is not None and os.path.lexists(f"{generation}/{name}")
